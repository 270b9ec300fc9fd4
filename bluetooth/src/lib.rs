//! Qt's Bluetooth sockets on Linux BlueZ, driven by [`sigloop_core`]'s event loop.
//!
//! [`BluetoothSocket`] and [`BluetoothServer`] are Qt's `QBluetoothSocket` and
//! `QBluetoothServer` over non-blocking AF_BLUETOOTH sockets (RFCOMM and L2CAP), driven by
//! the core's socket machinery ([`sigloop_core::AbstractSocket`]); [`testbed`] helps tests
//! that run on the project's BlueZ test bed.
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
mod port;
mod protocol;
pub mod raw;
mod security;
mod server;
mod socket;
mod sys;
pub mod testbed;

#[cfg(test)]
mod testbed_smoke;

pub use address::{AddressParseError, BluetoothAddress};
pub use port::valid_port;
pub use protocol::Protocol;
pub use security::SecurityFlags;
pub use server::{BluetoothServer, ServerError};
pub use socket::{BluetoothSocket, RFCOMM_WRITE_CHUNK};
