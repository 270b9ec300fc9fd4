//! sigloop: Qt-style signals and slots for Rust on a calloop event loop.
//!
//! This facade re-exports the workspace's crates:
//! - [`core`] (`sigloop-core`): objects, typed signals, the event loop, timers and fd
//!   notifiers.
//! - `bluetooth` (`sigloop-bluetooth`, default feature `bluetooth`): Bluetooth addresses
//!   and AF_BLUETOOTH sockets on BlueZ.
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

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
