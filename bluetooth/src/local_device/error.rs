//! [`LocalDeviceError`] and [`PairingError`]: what a [`LocalDevice`](super::LocalDevice)
//! reports through `error_occurred`.

use std::error::Error;
use std::fmt;

use crate::bluez::BluezError;
use crate::BluetoothAddress;

/// Why a pairing request failed. Where bluetoothd gave a reason, it is kept
/// ([`BluezError::Failed`]: its D-Bus error name and message).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PairingError {
    /// The peer, or an agent on either side, refused (bluetoothd's
    /// `AuthenticationRejected` or `AuthenticationCanceled`).
    Refused(BluezError),
    /// The peer did not finish in time: bluetoothd's `AuthenticationTimeout`, or no
    /// answer within [`PAIRING_TIMEOUT`](super::PAIRING_TIMEOUT) (the pairing was then
    /// cancelled; the reason is [`BluezError::Timeout`]).
    TimedOut(BluezError),
    /// Both sides answered, and the keys did not match (bluetoothd's
    /// `AuthenticationFailed`: a wrong PIN or passkey, a numeric comparison one side
    /// did not confirm in the controller's time, or a peer that cannot meet the
    /// security asked for).
    AuthenticationFailed(BluezError),
    /// The pairing failed as [`Refused`](Self::Refused) or
    /// [`AuthenticationFailed`](Self::AuthenticationFailed) would say, while this
    /// program had no [`PairingAgent`](crate::PairingAgent): bluetoothd then pairs as a
    /// device with no input and no output (Just Works), which a peer that wants a PIN,
    /// a passkey or a confirmation refuses. Register an agent and ask again.
    NoAgent(BluezError),
    /// The device could not be reached (bluetoothd's `ConnectionAttemptFailed`: a page
    /// timeout, the device is off or out of range).
    ConnectionFailed(BluezError),
    /// bluetoothd does not know the address: it learns devices by discovery
    /// ([`DeviceDiscoveryAgent`](crate::DeviceDiscoveryAgent)) or by a connection.
    /// Nothing was changed.
    UnknownDevice,
    /// A pairing with this device is already running (asked through this
    /// `LocalDevice`, or bluetoothd's `InProgress`). Nothing was changed.
    InProgress,
    /// Any other failure of bluetoothd or of the D-Bus exchange.
    Bluez(BluezError),
}

impl PairingError {
    /// The error for bluetoothd's answer to `Pair`; `agent` tells whether this program
    /// had a [`PairingAgent`](crate::PairingAgent) registered.
    pub(crate) fn from_pair(e: BluezError, agent: bool) -> PairingError {
        let name = match &e {
            BluezError::Failed { name, .. } => name.as_str(),
            BluezError::Timeout => return PairingError::TimedOut(e),
            _ => return PairingError::Bluez(e),
        };
        match name {
            "AuthenticationRejected" | "AuthenticationCanceled" | "AuthenticationFailed"
                if !agent =>
            {
                PairingError::NoAgent(e)
            }
            "AuthenticationRejected" | "AuthenticationCanceled" => PairingError::Refused(e),
            "AuthenticationFailed" => PairingError::AuthenticationFailed(e),
            "AuthenticationTimeout" => PairingError::TimedOut(e),
            "ConnectionAttemptFailed" => PairingError::ConnectionFailed(e),
            "InProgress" => PairingError::InProgress,
            _ => PairingError::Bluez(e),
        }
    }

    /// bluetoothd's reason, where it gave one.
    pub fn reason(&self) -> Option<&BluezError> {
        match self {
            PairingError::Refused(e)
            | PairingError::TimedOut(e)
            | PairingError::AuthenticationFailed(e)
            | PairingError::NoAgent(e)
            | PairingError::ConnectionFailed(e)
            | PairingError::Bluez(e) => Some(e),
            PairingError::UnknownDevice | PairingError::InProgress => None,
        }
    }
}

impl fmt::Display for PairingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            PairingError::Refused(_) => "pairing refused",
            PairingError::TimedOut(_) => "pairing timed out",
            PairingError::AuthenticationFailed(_) => "pairing failed: authentication failed",
            PairingError::NoAgent(_) => {
                "pairing failed while this program had no pairing agent (bluetoothd paired as Just Works)"
            }
            PairingError::ConnectionFailed(_) => "pairing failed: the device could not be reached",
            PairingError::UnknownDevice => {
                return f.write_str("bluetoothd does not know this device (discover it first)")
            }
            PairingError::InProgress => {
                return f.write_str("a pairing with this device is already running")
            }
            PairingError::Bluez(_) => "pairing failed",
        };
        match self.reason() {
            Some(reason) => write!(f, "{what} ({reason})"),
            None => f.write_str(what),
        }
    }
}

impl Error for PairingError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.reason().map(|e| e as &(dyn Error + 'static))
    }
}

/// What [`LocalDevice::error_occurred`](super::LocalDevice::error_occurred) reports
/// (Qt's `QBluetoothLocalDevice::Error`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalDeviceError {
    /// A pairing request failed (Qt: `PairingError`).
    Pairing {
        /// The device the request was for.
        address: BluetoothAddress,
        /// Why.
        error: PairingError,
    },
    /// A call to bluetoothd or the adapter's watch failed (Qt: `UnknownError`).
    Bluez(BluezError),
}

impl fmt::Display for LocalDeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalDeviceError::Pairing { address, error } => write!(f, "{address}: {error}"),
            LocalDeviceError::Bluez(e) => e.fmt(f),
        }
    }
}

impl Error for LocalDeviceError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            LocalDeviceError::Pairing { error, .. } => Some(error),
            LocalDeviceError::Bluez(e) => Some(e),
        }
    }
}

impl From<BluezError> for LocalDeviceError {
    fn from(e: BluezError) -> Self {
        LocalDeviceError::Bluez(e)
    }
}
