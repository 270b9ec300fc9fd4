//! Bluetooth Low Energy (Qt's `QLowEnergyController`, `QLowEnergyService`,
//! `QLowEnergyCharacteristic`, `QLowEnergyDescriptor`): the central role on bluetoothd's
//! GATT client, and the peripheral role (local services, advertising) on its GATT server
//! and advertising manager.
//!
//! The D-Bus work runs on the crate's bluer helper thread; every result is a signal on
//! the loop's thread. Notifications that bluetoothd hands out as a socket
//! (`AcquireNotify`) are read on the loop itself.

mod advertising;
mod characteristic;
mod controller;
mod error;
mod gatt;
mod gatt_server;
mod peripheral;
mod service;
mod service_data;
mod types;
mod writers;

pub use advertising::{
    AdvertisingMode, Discoverability, LowEnergyAdvertisingData, LowEnergyAdvertisingParameters,
    MAX_ADVERTISING_DATA,
};
pub use characteristic::{
    LowEnergyCharacteristic, LowEnergyDescriptor, CLIENT_CHARACTERISTIC_CONFIGURATION,
};
pub use controller::LowEnergyController;
pub use error::{ControllerError, PeripheralError, RequestError, ServiceError};
pub use peripheral::{LocalService, LowEnergyPeripheral};
pub use service::{LowEnergyService, MAX_ATTRIBUTE_LENGTH};
pub use service_data::{
    AttAccessConstraints, LowEnergyCharacteristicData, LowEnergyDescriptorData,
    LowEnergyServiceData, ServiceType,
};
pub use types::{
    ControllerState, DiscoveryMode, PropertyTypes, RemoteAddressType, Role, ServiceState, WriteMode,
};
