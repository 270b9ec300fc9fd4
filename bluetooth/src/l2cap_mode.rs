//! [`L2capMode`]: the L2CAP channel mode asked for, basic or flow-controlled.

/// The mode of an L2CAP channel (`L2CAP_OPTIONS.mode`, Bluetooth Core Vol 3 Part A §5.4).
///
/// Qt has no such setting: it always uses the kernel's default, [`Basic`](Self::Basic).
/// The choice matters for bulk transfers. In basic mode L2CAP has no flow control of its
/// own: when the receiving socket's buffer is full, the kernel **drops** the packets that
/// arrive (`l2cap_sock_recv_cb`). In [`Ertm`](Self::Ertm) the receiver answers "not
/// ready" instead and the sender waits, so nothing is lost however slowly the peer reads.
///
/// Both ends must ask for the mode. The kernel negotiates it at connect time and, when
/// the peer does not take it (a server left in basic mode, for one), settles on basic
/// mode rather than failing the connect: check
/// [`BluetoothSocket::l2cap_mode`](crate::BluetoothSocket::l2cap_mode) once connected if
/// the transfer relies on flow control. On the test bed (Debian's 6.1 kernel), an ERTM
/// client connected to a basic-mode server gets basic mode on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum L2capMode {
    /// No retransmission or flow control (the kernel's and Qt's default).
    #[default]
    Basic,
    /// Enhanced Retransmission Mode: acknowledged, retransmitted and flow-controlled.
    Ertm,
    /// Streaming mode: segmented and checked, but neither acknowledged nor
    /// retransmitted; late or damaged frames are dropped.
    Streaming,
    /// LE credit-based flow control: the mode of every LE channel
    /// ([`BluetoothSocket::connect_to_le_channel`](crate::BluetoothSocket::connect_to_le_channel),
    /// [`BluetoothServer::listen_le`](crate::BluetoothServer::listen_le)); reported, not
    /// asked for (the kernel picks it for an LE address). Flow-controlled: nothing is
    /// dropped when the reader is slow.
    LeCreditBased,
}

impl L2capMode {
    /// The kernel's value (`L2CAP_MODE_*` in `include/net/bluetooth/l2cap.h`).
    pub(crate) fn to_raw(self) -> u8 {
        match self {
            L2capMode::Basic => 0x00,
            L2capMode::Ertm => 0x03,
            L2capMode::Streaming => 0x04,
            L2capMode::LeCreditBased => 0x80,
        }
    }

    /// The mode for a kernel value; `None` for the modes this crate does not ask for
    /// (LE credit-based, the retired retransmission and flow-control modes).
    pub(crate) fn from_raw(raw: u8) -> Option<L2capMode> {
        match raw {
            0x00 => Some(L2capMode::Basic),
            0x03 => Some(L2capMode::Ertm),
            0x04 => Some(L2capMode::Streaming),
            0x80 => Some(L2capMode::LeCreditBased),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_round_trip_and_unknown_ones_are_none() {
        for mode in [
            L2capMode::Basic,
            L2capMode::Ertm,
            L2capMode::Streaming,
            L2capMode::LeCreditBased,
        ] {
            assert_eq!(L2capMode::from_raw(mode.to_raw()), Some(mode));
        }
        assert_eq!(L2capMode::from_raw(0x01), None);
        assert_eq!(L2capMode::from_raw(0x81), None);
        assert_eq!(L2capMode::default(), L2capMode::Basic);
    }
}
