//! [`AgentError`]: why a [`PairingAgent`](super::PairingAgent) could not be registered.

use std::error::Error;
use std::fmt;

use crate::bluez::BluezError;

/// Why [`PairingAgent::new`](super::PairingAgent::new) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentError {
    /// This program already has a pairing agent: bluetoothd takes one agent per D-Bus
    /// connection, and the program has one connection. Drop the other first.
    AlreadyRegistered,
    /// bluetoothd refused the registration, or could not be reached.
    Bluez(BluezError),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::AlreadyRegistered => {
                f.write_str("this program already has a pairing agent")
            }
            AgentError::Bluez(e) => write!(f, "registering the pairing agent: {e}"),
        }
    }
}

impl Error for AgentError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            AgentError::AlreadyRegistered => None,
            AgentError::Bluez(e) => Some(e),
        }
    }
}

impl From<BluezError> for AgentError {
    fn from(e: BluezError) -> Self {
        AgentError::Bluez(e)
    }
}
