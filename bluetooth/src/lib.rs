//! Qt's Bluetooth sockets on Linux BlueZ, driven by [`sigloop_core`]'s event loop.
//!
//! This release has the addressing layer: [`BluetoothAddress`] and [`Protocol`]. The
//! socket and server objects build on it.
//!
//! ```
//! use sigloop_bluetooth::{BluetoothAddress, Protocol};
//!
//! let peer: BluetoothAddress = "00:AA:01:01:00:01".parse()?;
//! assert_eq!(peer.to_string(), "00:AA:01:01:00:01");
//! assert_ne!(Protocol::Rfcomm, Protocol::L2cap);
//! # Ok::<(), sigloop_bluetooth::AddressParseError>(())
//! ```
#![warn(missing_docs, missing_debug_implementations)]

mod address;
mod protocol;
// The socket objects are built on `sys` next; today only the test-bed smoke tests use it.
#[cfg_attr(not(test), allow(dead_code))]
mod sys;

#[cfg(test)]
mod testbed_smoke;

pub use address::{AddressParseError, BluetoothAddress};
pub use protocol::Protocol;
