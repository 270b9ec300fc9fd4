//! [`DeviceInfo`] (Qt's `QBluetoothDeviceInfo`): a remote device as bluetoothd knows it.

use uuid::Uuid;

use crate::BluetoothAddress;

/// A remote device found by discovery or known to bluetoothd (Qt's
/// `QBluetoothDeviceInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The device's address (Qt: `address`).
    pub address: BluetoothAddress,
    /// Its name, or its address as text when it has not told one (Qt: `name`).
    pub name: String,
    /// The Class of Device, 24 bits (Qt splits it into `majorDeviceClass`,
    /// `minorDeviceClass` and `serviceClasses`); 0 when unknown.
    pub class: u32,
    /// Signal strength of the last inquiry result, in dBm (Qt: `rssi`); `None` when the
    /// device was not seen in this discovery (known from before).
    pub rssi: Option<i16>,
    /// Service UUIDs the device advertised or bluetoothd resolved (Qt:
    /// `serviceUuids`).
    pub service_uuids: Vec<Uuid>,
    /// Whether it is paired with this adapter.
    pub paired: bool,
}

impl DeviceInfo {
    /// The major device class, bits 8–12 of the class (Qt: `majorDeviceClass`; 1 is
    /// computer, 2 phone).
    pub fn major_device_class(&self) -> u8 {
        ((self.class >> 8) & 0x1f) as u8
    }

    /// The minor device class, bits 2–7 (Qt: `minorDeviceClass`).
    pub fn minor_device_class(&self) -> u8 {
        ((self.class >> 2) & 0x3f) as u8
    }

    /// The service class bits, 13–23 (Qt: `serviceClasses`).
    pub fn service_classes(&self) -> u16 {
        ((self.class >> 13) & 0x7ff) as u16
    }

    /// Reads what bluetoothd knows of `device`.
    pub(crate) async fn read(device: &bluer::Device) -> Result<DeviceInfo, bluer::Error> {
        let address = crate::bluez::from_bluer(device.address());
        let mut service_uuids: Vec<Uuid> = device
            .uuids()
            .await?
            .unwrap_or_default()
            .into_iter()
            .collect();
        service_uuids.sort();
        Ok(DeviceInfo {
            address,
            name: device.name().await?.unwrap_or_else(|| address.to_string()),
            class: device.class().await?.unwrap_or(0),
            rssi: device.rssi().await?,
            service_uuids,
            paired: device.is_paired().await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_of_device_fields() {
        // 0x5a020c: a smartphone (major 2, minor 3) with several service bits.
        let info = DeviceInfo {
            address: BluetoothAddress::ANY,
            name: String::new(),
            class: 0x5a_020c,
            rssi: None,
            service_uuids: Vec::new(),
            paired: false,
        };
        assert_eq!(info.major_device_class(), 2);
        assert_eq!(info.minor_device_class(), 3);
        assert_eq!(info.service_classes(), 0x2d0);
    }
}
