//! [`Protocol`]: RFCOMM or L2CAP.

/// The transport of a Bluetooth socket (Qt's `QBluetoothServiceInfo::Protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// RFCOMM: a reliable byte stream on channels 1–30 (Qt: `RfcommProtocol`).
    Rfcomm,
    /// L2CAP: reliable packets with boundaries kept, on a PSM (Qt: `L2capProtocol`).
    L2cap,
}
