//! [`SecurityFlags`] (Qt's `QBluetooth::SecurityFlags`) and their kernel levels.

bitflags::bitflags! {
    /// Link security a socket asks for (Qt's `QBluetooth::SecurityFlags`).
    ///
    /// The kernel knows levels, not flags (`BT_SECURITY`); the mapping is:
    ///
    /// | flags | `BT_SECURITY` level | meaning |
    /// |---|---|---|
    /// | none, or `AUTHORIZATION` alone | low (1) | no pairing needed |
    /// | `AUTHENTICATION` and/or `ENCRYPTION` | medium (2) | paired (Just Works is enough), encrypted |
    /// | `SECURE` | high (3) | paired with man-in-the-middle protection, encrypted |
    ///
    /// `AUTHORIZATION` is granted by bluetoothd's agent for registered profiles and has no
    /// kernel level; on a plain socket it changes nothing. Reading the flags back maps
    /// each level to the flags above (level 4, FIPS, reads as `SECURE`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SecurityFlags: u8 {
        /// Qt: `Authorization`.
        const AUTHORIZATION = 0x01;
        /// Qt: `Authentication`.
        const AUTHENTICATION = 0x02;
        /// Qt: `Encryption`.
        const ENCRYPTION = 0x04;
        /// Qt: `Secure`.
        const SECURE = 0x08;
    }
}

impl SecurityFlags {
    /// Qt: `NoSecurity`.
    pub const NO_SECURITY: SecurityFlags = SecurityFlags::empty();

    /// The `BT_SECURITY` level these flags ask for.
    pub(crate) fn to_level(self) -> u8 {
        if self.contains(SecurityFlags::SECURE) {
            3
        } else if self.intersects(SecurityFlags::AUTHENTICATION | SecurityFlags::ENCRYPTION) {
            2
        } else {
            1
        }
    }

    /// The flags a `BT_SECURITY` level stands for.
    pub(crate) fn from_level(level: u8) -> SecurityFlags {
        match level {
            0 | 1 => SecurityFlags::NO_SECURITY,
            2 => SecurityFlags::AUTHENTICATION | SecurityFlags::ENCRYPTION,
            _ => SecurityFlags::AUTHENTICATION | SecurityFlags::ENCRYPTION | SecurityFlags::SECURE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip() {
        for level in 1..=3 {
            assert_eq!(SecurityFlags::from_level(level).to_level(), level);
        }
        assert_eq!(SecurityFlags::AUTHORIZATION.to_level(), 1);
        assert_eq!(SecurityFlags::ENCRYPTION.to_level(), 2);
        assert_eq!(SecurityFlags::from_level(4).to_level(), 3);
    }
}
