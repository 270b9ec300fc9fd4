//! [`BluetoothAddress`] (Qt's `QBluetoothAddress`).

use std::error::Error;
use std::fmt;
use std::str::FromStr;

/// A 48-bit Bluetooth device address, `AA:BB:CC:DD:EE:FF` (Qt's `QBluetoothAddress`).
///
/// ```
/// use sigloop_bluetooth::BluetoothAddress;
///
/// let a: BluetoothAddress = "00:AA:01:00:00:23".parse()?;
/// assert_eq!(a.to_string(), "00:AA:01:00:00:23");
/// assert!(!a.is_null());
/// assert!(BluetoothAddress::ANY.is_null());
/// assert!("00:AA:01".parse::<BluetoothAddress>().is_err());
/// # Ok::<(), sigloop_bluetooth::AddressParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BluetoothAddress([u8; 6]);

impl BluetoothAddress {
    /// `00:00:00:00:00:00`: "any adapter" when binding (BlueZ's `BDADDR_ANY`); Qt's null
    /// address.
    pub const ANY: BluetoothAddress = BluetoothAddress([0; 6]);

    /// The address from its six bytes, most significant first (as written).
    pub const fn new(bytes: [u8; 6]) -> Self {
        BluetoothAddress(bytes)
    }

    /// The six bytes, most significant first.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }

    /// Whether this is `00:00:00:00:00:00` (Qt's `QBluetoothAddress::isNull`).
    pub fn is_null(self) -> bool {
        self.0 == [0; 6]
    }

    /// The address as a 48-bit integer (Qt's `QBluetoothAddress::toUInt64`).
    pub fn to_u64(self) -> u64 {
        self.0.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b))
    }

    /// The address from the low 48 bits of `value` (Qt's `QBluetoothAddress(quint64)`).
    pub fn from_u64(value: u64) -> Self {
        let b = value.to_be_bytes();
        BluetoothAddress([b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// The kernel's `bdaddr_t` byte order (least significant first).
    pub(crate) fn to_kernel(self) -> [u8; 6] {
        let mut b = self.0;
        b.reverse();
        b
    }

    pub(crate) fn from_kernel(mut b: [u8; 6]) -> Self {
        b.reverse();
        BluetoothAddress(b)
    }
}

impl fmt::Display for BluetoothAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for BluetoothAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BluetoothAddress({self})")
    }
}

/// Why a string is not a Bluetooth address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressParseError {
    input: String,
}

impl fmt::Display for AddressParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid Bluetooth address {:?}: expected six hex pairs like AA:BB:CC:DD:EE:FF",
            self.input
        )
    }
}

impl Error for AddressParseError {}

impl FromStr for BluetoothAddress {
    type Err = AddressParseError;

    /// Parses `AA:BB:CC:DD:EE:FF` (either case; `-` is accepted as separator too).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddressParseError {
            input: s.to_owned(),
        };
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut out {
            let part = parts.next().ok_or_else(err)?;
            if part.len() != 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(BluetoothAddress(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders() {
        let a: BluetoothAddress = "0a:1B:2c:3D:4e:5F".parse().unwrap();
        assert_eq!(a.to_string(), "0A:1B:2C:3D:4E:5F");
        assert_eq!(a.to_u64(), 0x0A1B_2C3D_4E5F);
        assert_eq!(BluetoothAddress::from_u64(0x0A1B_2C3D_4E5F), a);
        assert_eq!(a.to_kernel(), [0x5F, 0x4E, 0x3D, 0x2C, 0x1B, 0x0A]);
        assert_eq!(BluetoothAddress::from_kernel(a.to_kernel()), a);
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            "00:11:22:33:44",
            "00:11:22:33:44:55:66",
            "00:11:22:33:44:5",
            "00:11:22:33:44:5G",
            "001:1:22:33:44:55",
            "+0:11:22:33:44:55",
        ] {
            assert!(bad.parse::<BluetoothAddress>().is_err(), "{bad:?}");
        }
    }
}
