//! Checks of RFCOMM channels and L2CAP PSMs.

use crate::Protocol;

/// Whether `port` is a channel or PSM a socket of `protocol` can connect to: RFCOMM
/// channels are 1–30; an L2CAP PSM is odd in its low octet and even in its high octet
/// (Bluetooth Core, Vol 3, Part A, 4.2), e.g. 0x0001–0x00FF or 0x1001.
pub fn valid_port(protocol: Protocol, port: u16) -> bool {
    match protocol {
        Protocol::Rfcomm => (1..=30).contains(&port),
        Protocol::L2cap => port & 0x0101 == 0x0001,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_psms() {
        assert!(!valid_port(Protocol::Rfcomm, 0));
        assert!(valid_port(Protocol::Rfcomm, 1));
        assert!(valid_port(Protocol::Rfcomm, 30));
        assert!(!valid_port(Protocol::Rfcomm, 31));
        assert!(valid_port(Protocol::L2cap, 1));
        assert!(valid_port(Protocol::L2cap, 0x1001));
        assert!(valid_port(Protocol::L2cap, 0x1003));
        assert!(!valid_port(Protocol::L2cap, 0));
        assert!(!valid_port(Protocol::L2cap, 0x1002));
        assert!(!valid_port(Protocol::L2cap, 0x0101));
    }
}
