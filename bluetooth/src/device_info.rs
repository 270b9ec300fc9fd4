//! [`DeviceInfo`] (Qt's `QBluetoothDeviceInfo`): a remote device as bluetoothd knows it.

use std::collections::BTreeMap;

use bitflags::bitflags;
use uuid::Uuid;

use crate::low_energy::RemoteAddressType;
use crate::BluetoothAddress;

bitflags! {
    /// Which Bluetooth a device speaks (Qt's `QBluetoothDeviceInfo::CoreConfigurations`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct CoreConfigurations: u8 {
        /// Low Energy (Qt: `LowEnergyCoreConfiguration`).
        const LOW_ENERGY = 0x01;
        /// Classic BR/EDR (Qt: `BaseRateCoreConfiguration`).
        const BASE_RATE = 0x02;
    }
}

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
    /// Signal strength of the last inquiry result or advertisement, in dBm (Qt: `rssi`);
    /// `None` when the device was not heard in this discovery (known from before). 127
    /// is HCI's "not available", passed on as bluetoothd gives it (the bed's emulated
    /// controllers report it for every advertisement).
    pub rssi: Option<i16>,
    /// Service UUIDs the device advertised or bluetoothd resolved (Qt:
    /// `serviceUuids`), as bluetoothd lists them: for a device whose services it has
    /// resolved (a bonded one), the advertised UUIDs were seen missing from that list.
    pub service_uuids: Vec<Uuid>,
    /// Whether it is paired with this adapter.
    pub paired: bool,
    /// The LE address type (Qt keeps it in the controller: `remoteAddressType`);
    /// `Public` for a classic device.
    pub address_type: RemoteAddressType,
    /// LE, classic or both, as far as bluetoothd's view tells (Qt:
    /// `coreConfigurations`): LE when the address is random or the device sent LE
    /// advertising data (flags, manufacturer or service data, appearance); classic when
    /// it has a Class of Device or its advertising flags do not say "BR/EDR not
    /// supported". bluetoothd shows the advertising flags only when run with
    /// `--experimental`; a device heard in an LE-only (classic-only) discovery run is
    /// LE (classic) all the same. Empty when neither is known.
    pub core_configurations: CoreConfigurations,
    /// The advertised transmit power in dBm (Qt: none; bluetoothd's `TxPower`).
    pub tx_power: Option<i16>,
    /// Manufacturer-specific advertising data by company ID, every one bluetoothd kept
    /// (Qt: `manufacturerData`).
    pub manufacturer_data: BTreeMap<u16, Vec<u8>>,
    /// Service data from advertising, by service UUID (Qt: `serviceData`).
    pub service_data: BTreeMap<Uuid, Vec<u8>>,
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
        let class = device.class().await?.unwrap_or(0);
        let address_type = match device.address_type().await? {
            bluer::AddressType::LeRandom => RemoteAddressType::Random,
            _ => RemoteAddressType::Public,
        };
        let manufacturer_data: BTreeMap<u16, Vec<u8>> = device
            .manufacturer_data()
            .await?
            .unwrap_or_default()
            .into_iter()
            .collect();
        let service_data: BTreeMap<Uuid, Vec<u8>> = device
            .service_data()
            .await?
            .unwrap_or_default()
            .into_iter()
            .collect();
        let flags = device.advertising_flags().await?.unwrap_or_default();
        let appearance = device.appearance().await?;
        let mut core = CoreConfigurations::empty();
        let advertised = !flags.is_empty()
            || !manufacturer_data.is_empty()
            || !service_data.is_empty()
            || appearance.is_some();
        if address_type == RemoteAddressType::Random || advertised {
            core |= CoreConfigurations::LOW_ENERGY;
        }
        // Bit 2 of the advertising flags: "BR/EDR Not Supported".
        let no_bredr = flags.first().is_some_and(|f| f & 0x04 != 0);
        if class != 0 || (!flags.is_empty() && !no_bredr) {
            core |= CoreConfigurations::BASE_RATE;
        }
        Ok(DeviceInfo {
            address,
            name: device.name().await?.unwrap_or_else(|| address.to_string()),
            class,
            rssi: device.rssi().await?,
            service_uuids,
            paired: device.is_paired().await?,
            address_type,
            core_configurations: core,
            tx_power: device.tx_power().await?,
            manufacturer_data,
            service_data,
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
            address_type: RemoteAddressType::Public,
            core_configurations: CoreConfigurations::BASE_RATE,
            tx_power: None,
            manufacturer_data: BTreeMap::new(),
            service_data: BTreeMap::new(),
        };
        assert_eq!(info.major_device_class(), 2);
        assert_eq!(info.minor_device_class(), 3);
        assert_eq!(info.service_classes(), 0x2d0);
    }
}
