//! [`BluezError`]: what a D-Bus exchange with bluetoothd can end in.

use std::error::Error;
use std::fmt;

use sigloop_core::SocketError;

use crate::sdp::SdpError;
use crate::ServerError;

/// Why a call to bluetoothd failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BluezError {
    /// bluetoothd is not running: nobody owns `org.bluez` on the system bus.
    NotRunning,
    /// The D-Bus system bus could not be reached; the text is the bus library's.
    NoSystemBus(String),
    /// bluetoothd did not answer within [`CALL_TIMEOUT`](super::CALL_TIMEOUT).
    Timeout,
    /// The adapter asked for does not exist.
    NoAdapter,
    /// The adapter is off, or the operation needs it on (BlueZ's `NotReady`).
    NotReady,
    /// bluetoothd refused the call; `name` is the D-Bus error (`org.bluez.Error.…`),
    /// `message` its text.
    Failed {
        /// The D-Bus error name or bluer's kind.
        name: String,
        /// bluetoothd's message.
        message: String,
    },
    /// A record this crate cannot express in BlueZ's XML form.
    InvalidRecord(SdpError),
    /// The helper thread or its runtime could not be started.
    Runtime(String),
}

impl fmt::Display for BluezError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BluezError::NotRunning => {
                f.write_str("bluetoothd is not running (org.bluez is not on the system bus)")
            }
            BluezError::NoSystemBus(e) => write!(f, "cannot reach the D-Bus system bus: {e}"),
            BluezError::Timeout => write!(
                f,
                "bluetoothd did not answer within {} s",
                super::CALL_TIMEOUT.as_secs()
            ),
            BluezError::NoAdapter => f.write_str("no such Bluetooth adapter"),
            BluezError::NotReady => {
                f.write_str("the Bluetooth adapter is not ready (powered off?)")
            }
            BluezError::Failed { name, message } => write!(f, "bluetoothd: {name}: {message}"),
            BluezError::InvalidRecord(e) => write!(f, "record not registrable: {e}"),
            BluezError::Runtime(e) => write!(f, "D-Bus helper thread: {e}"),
        }
    }
}

impl Error for BluezError {}

impl From<bluer::Error> for BluezError {
    fn from(e: bluer::Error) -> Self {
        use bluer::ErrorKind as K;
        match &e.kind {
            K::NotReady => BluezError::NotReady,
            K::NotFound | K::DoesNotExist => BluezError::NoAdapter,
            K::Internal(bluer::InternalErrorKind::DBus(name))
                if name.ends_with("ServiceUnknown")
                    || name.ends_with("NameHasNoOwner")
                    || name.contains(".Spawn.") =>
            {
                BluezError::NotRunning
            }
            kind => BluezError::Failed {
                name: format!("{kind:?}"),
                message: e.message.clone(),
            },
        }
    }
}

impl BluezError {
    /// The server error this becomes where Qt reports one.
    pub fn server_error(&self) -> ServerError {
        match self {
            BluezError::NotReady | BluezError::NoAdapter => ServerError::PoweredOff,
            _ => ServerError::Unknown,
        }
    }

    /// The socket error this becomes where Qt reports one.
    pub fn socket_error(&self) -> SocketError {
        match self {
            BluezError::Timeout => SocketError::SocketTimeout,
            BluezError::NoAdapter | BluezError::NotReady => SocketError::SocketAddressNotAvailable,
            _ => SocketError::UnknownSocket,
        }
    }
}
