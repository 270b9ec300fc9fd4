//! Bluetooth UUIDs: the SIG base UUID, 16- and 32-bit short forms, and the UUIDs SDP
//! records use most (Qt's `QBluetoothUuid` and its `ServiceClassUuid`/`ProtocolUuid`
//! enums).

pub use uuid::Uuid;

/// `00000000-0000-1000-8000-00805F9B34FB`: the SIG base; a 16- or 32-bit UUID `x` is
/// this with `x` in the first 32 bits.
pub const BASE_UUID: Uuid = Uuid::from_u128(0x0000_0000_0000_1000_8000_0080_5f9b_34fb);

const BASE_LOW: u128 = 0x0000_1000_8000_0080_5f9b_34fb;

/// The 128-bit UUID of a 16-bit short form (Qt: `QBluetoothUuid(quint16)`).
pub const fn uuid16(short: u16) -> Uuid {
    uuid32(short as u32)
}

/// The 128-bit UUID of a 32-bit short form (Qt: `QBluetoothUuid(quint32)`).
pub const fn uuid32(short: u32) -> Uuid {
    Uuid::from_u128(((short as u128) << 96) | BASE_LOW)
}

/// The 32-bit short form of `uuid`, if it is built on the SIG base (Qt: `toUInt32`).
pub fn short32(uuid: Uuid) -> Option<u32> {
    let v = uuid.as_u128();
    (v & ((1u128 << 96) - 1) == BASE_LOW).then_some((v >> 96) as u32)
}

/// The 16-bit short form of `uuid`, if it has one (Qt: `toUInt16`).
pub fn short16(uuid: Uuid) -> Option<u16> {
    short32(uuid).and_then(|s| u16::try_from(s).ok())
}

/// UUIDs of protocols in SDP protocol descriptor lists (Qt's
/// `QBluetoothUuid::ProtocolUuid`).
pub mod protocol {
    use super::{uuid16, Uuid};

    /// SDP itself (0x0001).
    pub const SDP: Uuid = uuid16(0x0001);
    /// RFCOMM (0x0003).
    pub const RFCOMM: Uuid = uuid16(0x0003);
    /// OBEX (0x0008).
    pub const OBEX: Uuid = uuid16(0x0008);
    /// L2CAP (0x0100).
    pub const L2CAP: Uuid = uuid16(0x0100);
}

/// UUIDs of service classes and browse groups (Qt's `QBluetoothUuid::ServiceClassUuid`).
pub mod service_class {
    use super::{uuid16, Uuid};

    /// The SDP server's own record (0x1000).
    pub const SERVICE_DISCOVERY_SERVER: Uuid = uuid16(0x1000);
    /// The public browse group, root of what a browse lists (0x1002, Qt:
    /// `PublicBrowseGroup`).
    pub const PUBLIC_BROWSE_GROUP: Uuid = uuid16(0x1002);
    /// Serial Port Profile (0x1101, Qt: `SerialPort`).
    pub const SERIAL_PORT: Uuid = uuid16(0x1101);
    /// OBEX Object Push (0x1105).
    pub const OBEX_OBJECT_PUSH: Uuid = uuid16(0x1105);
    /// PnP information (0x1200).
    pub const PNP_INFORMATION: Uuid = uuid16(0x1200);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let spp = uuid16(0x1101);
        assert_eq!(
            spp.to_string(),
            "00001101-0000-1000-8000-00805f9b34fb",
            "SerialPort"
        );
        assert_eq!(short16(spp), Some(0x1101));
        assert_eq!(short32(spp), Some(0x1101));
        let big = uuid32(0x1234_5678);
        assert_eq!(short32(big), Some(0x1234_5678));
        assert_eq!(short16(big), None);
        let custom: Uuid = "e8e10f95-1a70-4b27-9ccf-02010264e9c8".parse().unwrap();
        assert_eq!(short32(custom), None);
        assert_eq!(short32(BASE_UUID), Some(0));
    }
}
