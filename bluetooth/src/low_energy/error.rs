//! What the LE classes report: [`ControllerError`] and [`ServiceError`] through their
//! `error_occurred` signals, [`RequestError`] at once from a call refused before it leaves.

use std::error::Error;
use std::fmt;

use uuid::Uuid;

use super::{ControllerState, ServiceState};
use crate::bluez::BluezError;

/// Why a [`LowEnergyController`](super::LowEnergyController) failed (Qt's
/// `QLowEnergyController::Error`, without `NoError`: no error is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ControllerError {
    /// Something not covered below (Qt: `UnknownError`).
    Unknown,
    /// The remote device could not be found: no answer to the connection request within
    /// its timeout (Qt: `UnknownRemoteDeviceError`).
    UnknownRemoteDevice,
    /// Reading from or writing to the device failed (Qt: `NetworkError`).
    Network,
    /// The local adapter does not exist or is off (Qt: `InvalidBluetoothAdapterError`).
    InvalidBluetoothAdapter,
    /// The connection could not be made (Qt: `ConnectionError`).
    Connection,
    /// The remote device closed the link (Qt: `RemoteHostClosedError`).
    RemoteHostClosed,
    /// The link's security requirements were not met: pairing refused or failed (Qt:
    /// `AuthorizationError`).
    Authorization,
    /// The signal strength could not be read (Qt: `RssiReadError`).
    RssiRead,
}

impl fmt::Display for ControllerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ControllerError::Unknown => "unknown error",
            ControllerError::UnknownRemoteDevice => "the remote device could not be found",
            ControllerError::Network => "reading from or writing to the device failed",
            ControllerError::InvalidBluetoothAdapter => {
                "the local Bluetooth adapter does not exist or is off"
            }
            ControllerError::Connection => "the connection could not be made",
            ControllerError::RemoteHostClosed => "the remote device closed the connection",
            ControllerError::Authorization => "the security requirements were not met",
            ControllerError::RssiRead => "the signal strength could not be read",
        })
    }
}

impl Error for ControllerError {}

/// Why an operation of a [`LowEnergyService`](super::LowEnergyService) failed (Qt's
/// `QLowEnergyService::ServiceError`, without `NoError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceError {
    /// The service's link is gone or the operation failed otherwise (Qt:
    /// `OperationError`).
    Operation,
    /// A characteristic write failed (Qt: `CharacteristicWriteError`).
    CharacteristicWrite,
    /// A descriptor write failed (Qt: `DescriptorWriteError`).
    DescriptorWrite,
    /// A characteristic read failed (Qt: `CharacteristicReadError`).
    CharacteristicRead,
    /// A descriptor read failed (Qt: `DescriptorReadError`).
    DescriptorRead,
    /// Something else (Qt: `UnknownError`).
    Unknown,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceError::Operation => "the operation failed",
            ServiceError::CharacteristicWrite => "writing the characteristic failed",
            ServiceError::DescriptorWrite => "writing the descriptor failed",
            ServiceError::CharacteristicRead => "reading the characteristic failed",
            ServiceError::DescriptorRead => "reading the descriptor failed",
            ServiceError::Unknown => "unknown error",
        })
    }
}

impl Error for ServiceError {}

/// Why a call was refused before anything was sent; nothing changed. Qt prints a
/// warning and ignores such calls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The controller is not in a state that allows the call.
    ControllerState(ControllerState),
    /// The service is not in a state that allows the call.
    ServiceState(ServiceState),
    /// No service with that UUID was discovered on this controller.
    UnknownService,
    /// The characteristic or descriptor does not belong to this service (another
    /// service's or controller's, or one from before a reconnect).
    ForeignObject,
    /// The characteristic does not allow the operation (for example a read on one
    /// without the Read property).
    NotPermitted(&'static str),
    /// The operation is not available on BlueZ (signed writes).
    NotSupported(&'static str),
    /// An attribute value is at most 512 bytes (Bluetooth Core, Vol 3, Part F, 3.2.9).
    ValueTooLong(usize),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::ControllerState(s) => {
                write!(f, "not allowed while the controller is {s:?}")
            }
            RequestError::ServiceState(s) => write!(f, "not allowed while the service is {s:?}"),
            RequestError::UnknownService => f.write_str("no service with that UUID was discovered"),
            RequestError::ForeignObject => {
                f.write_str("the attribute does not belong to this service")
            }
            RequestError::NotPermitted(what) => {
                write!(f, "the characteristic does not allow {what}")
            }
            RequestError::NotSupported(what) => write!(f, "{what} is not supported on BlueZ"),
            RequestError::ValueTooLong(n) => {
                write!(
                    f,
                    "a value of {n} bytes is longer than the 512 an attribute holds"
                )
            }
        }
    }
}

impl Error for RequestError {}

/// Why a peripheral's call failed ([`LowEnergyPeripheral`](super::LowEnergyPeripheral),
/// [`LocalService`](super::LocalService)). Every variant but
/// [`Bluez`](Self::Bluez) is found before anything reaches bluetoothd; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeripheralError {
    /// The service, characteristic, descriptor or advertising data is malformed; says
    /// how.
    InvalidData(&'static str),
    /// A service UUID already added to this peripheral, or a characteristic or
    /// descriptor UUID twice in one service or characteristic.
    DuplicateUuid(Uuid),
    /// An attribute value is at most 512 bytes.
    ValueTooLong(usize),
    /// A value outside its characteristic's length bounds.
    ValueLength {
        /// The value's length.
        len: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// What BlueZ's D-Bus API cannot do; says what.
    NotSupported(&'static str),
    /// The advertising data does not fit a legacy advertising payload.
    AdvertisingDataTooLong {
        /// The bytes it needs.
        len: usize,
        /// The bytes there are.
        limit: usize,
    },
    /// `start_advertising` while advertising.
    AlreadyAdvertising,
    /// No characteristic with this UUID in the service.
    UnknownCharacteristic(Uuid),
    /// No such descriptor on the characteristic.
    UnknownDescriptor(Uuid),
    /// The peripheral is gone (its last handle was dropped).
    Closed,
    /// bluetoothd refused or did not answer.
    Bluez(BluezError),
}

impl fmt::Display for PeripheralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeripheralError::InvalidData(what) => write!(f, "invalid data: {what}"),
            PeripheralError::DuplicateUuid(u) => write!(f, "UUID {u} given twice"),
            PeripheralError::ValueTooLong(n) => {
                write!(
                    f,
                    "a value of {n} bytes is longer than the 512 an attribute holds"
                )
            }
            PeripheralError::ValueLength { len, min, max } => {
                write!(
                    f,
                    "a value of {len} bytes is outside its bounds ({min} to {max})"
                )
            }
            PeripheralError::NotSupported(what) => write!(f, "{what} is not supported on BlueZ"),
            PeripheralError::AdvertisingDataTooLong { len, limit } => {
                write!(f, "the advertising data needs {len} bytes; {limit} fit")
            }
            PeripheralError::AlreadyAdvertising => f.write_str("already advertising"),
            PeripheralError::UnknownCharacteristic(u) => {
                write!(f, "the service has no characteristic {u}")
            }
            PeripheralError::UnknownDescriptor(u) => {
                write!(f, "the characteristic has no descriptor {u}")
            }
            PeripheralError::Closed => f.write_str("the peripheral is gone"),
            PeripheralError::Bluez(e) => write!(f, "bluetoothd: {e}"),
        }
    }
}

impl Error for PeripheralError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PeripheralError::Bluez(e) => Some(e),
            _ => None,
        }
    }
}
