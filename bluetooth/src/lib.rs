//! Qt's Bluetooth sockets on Linux BlueZ, driven by [`sigloop_core`]'s event loop.
//!
//! [`BluetoothSocket`] and [`BluetoothServer`] are Qt's `QBluetoothSocket` and
//! `QBluetoothServer` over non-blocking AF_BLUETOOTH sockets (RFCOMM and L2CAP), driven by
//! the core's socket machinery ([`sigloop_core::AbstractSocket`]).
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
mod agent;
pub mod bluez;
mod device_discovery;
mod device_info;
mod l2cap_mode;
mod local_device;
pub mod low_energy;
mod port;
mod protocol;
pub mod raw;
pub mod sdp;
mod security;
mod server;
mod service_discovery;
mod service_info;
mod socket;
mod sys;
pub mod uuids;

pub use address::{AddressParseError, BluetoothAddress};
pub use agent::{
    AgentError, AnswerError, DisplayCode, IoCapability, PairingAgent, PairingDisplay,
    PairingRequest, Question, DEFAULT_ANSWER_TIMEOUT,
};
pub use device_discovery::{
    DeviceDiscoveryAgent, DiscoveryMethods, UnsupportedDiscoveryMethod, UpdatedFields,
    DEFAULT_DISCOVERY_TIMEOUT,
};
pub use device_info::{CoreConfigurations, DeviceInfo};
pub use l2cap_mode::L2capMode;
pub use local_device::{
    HostInfo, HostMode, LocalDevice, LocalDeviceError, Pairing, PairingError, PAIRING_TIMEOUT,
};
pub use low_energy::{
    LocalService, LowEnergyCharacteristic, LowEnergyController, LowEnergyDescriptor,
    LowEnergyPeripheral, LowEnergyService,
};
pub use port::valid_port;
pub use protocol::Protocol;
pub use security::SecurityFlags;
pub use server::{BluetoothServer, ListenError, ServerError};
pub use service_discovery::{ServiceDiscoveryAgent, ServiceDiscoveryError};
pub use service_info::{attribute, ServiceInfo};
pub use socket::{BluetoothSocket, RFCOMM_WRITE_CHUNK};
