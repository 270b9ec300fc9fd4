//! sigloop: Qt-style signals and slots for Rust on a calloop event loop.
//!
//! This facade re-exports the workspace's crates:
//! - [`core`] (`sigloop-core`): objects, typed signals, the event loop, timers and fd
//!   notifiers.
//! - `bluetooth` (`sigloop-bluetooth`, default feature `bluetooth`): Qt Bluetooth on
//!   BlueZ: sockets and servers, services by UUID (SDP), discovery and local adapters.
//!
//! Porting from Qt: the [`porting`] guide maps every Qt Bluetooth, signal, timer and event
//! loop member to its counterpart here.
//!
//! ```
//! use sigloop::core::{Signal, SignalSpy};
//!
//! let clicked = Signal::<()>::new();
//! let spy = SignalSpy::new(&clicked);
//! clicked.emit(&());
//! assert_eq!(spy.count(), 1);
//! ```
#![warn(missing_docs, missing_debug_implementations)]

pub use sigloop_core as core;

#[cfg(feature = "bluetooth")]
pub use sigloop_bluetooth as bluetooth;

#[cfg(feature = "bluetooth")]
#[doc = include_str!("../PORTING.md")]
pub mod porting {}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
