//! Bluetooth Low Energy, central role (Qt's `QLowEnergyController`, `QLowEnergyService`,
//! `QLowEnergyCharacteristic`, `QLowEnergyDescriptor`) on bluetoothd's GATT client.
//!
//! The D-Bus work runs on the crate's bluer helper thread; every result is a signal on
//! the loop's thread. Notifications that bluetoothd hands out as a socket
//! (`AcquireNotify`) are read on the loop itself.

mod characteristic;
mod controller;
mod error;
mod gatt;
mod service;
mod types;

pub use characteristic::{
    LowEnergyCharacteristic, LowEnergyDescriptor, CLIENT_CHARACTERISTIC_CONFIGURATION,
};
pub use controller::LowEnergyController;
pub use error::{ControllerError, RequestError, ServiceError};
pub use service::{LowEnergyService, MAX_ATTRIBUTE_LENGTH};
pub use types::{
    ControllerState, DiscoveryMode, PropertyTypes, RemoteAddressType, Role, ServiceState, WriteMode,
};
