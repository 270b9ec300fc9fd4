//! Qt's objects, typed signals and slots, and event loop, the Rust way, on
//! [calloop](https://docs.rs/calloop).
//!
//! ```
//! use sigloop_core::{EventLoop, Signal, SignalSpy, Timer};
//! use std::{rc::Rc, time::Duration};
//!
//! let event_loop = EventLoop::new()?;
//! let handle = event_loop.handle();
//!
//! // A typed signal; slots are closures, called in connection order.
//! let greeted: Rc<Signal<String>> = Rc::new(Signal::new());
//! let spy = SignalSpy::new(&greeted);
//! greeted.connect(|name| assert!(!name.is_empty()));
//!
//! // A queued slot runs on a later loop iteration with a clone of the argument.
//! let h = handle.clone();
//! greeted.connect_queued(&handle, move |name| {
//!     if name == "world" {
//!         h.exit(3);
//!     }
//! });
//!
//! // A timer emits `greeted` after 10 ms; the queued slot then stops the loop.
//! let timer = Timer::new(&handle);
//! timer.set_single_shot(true);
//! let g = greeted.clone();
//! timer.timeout().connect(move |()| g.emit(&"world".to_string()));
//! timer.start(Duration::from_millis(10));
//!
//! assert_eq!(event_loop.run()?, 3);
//! assert_eq!(spy.take(), vec!["world".to_string()]);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The pieces:
//! - [`Signal`], [`Connection`], [`ScopedConnection`], [`SignalBlocker`]: signals and
//!   slots, with receivers held weakly ([`Signal::connect_to`]) and queued connections.
//! - [`ObjectBase`]: the pattern for a `QObject` subclass.
//! - [`EventLoop`], [`LoopHandle`], [`LoopSender`], [`RemoteEmitter`]: the loop, nested
//!   waits, posting work, and cross-thread delivery.
//! - [`Timer`], [`single_shot`], [`SocketNotifier`]: `QTimer` and `QSocketNotifier`.
//! - [`AbstractSocket`], [`SocketServer`]: `QAbstractSocket`'s machinery (states,
//!   buffers, signals, back-pressure) over any stream or packet socket, with
//!   [`TcpSocket`]/[`TcpServer`] and [`UnixSocket`]/[`UnixServer`] on it.
//! - [`SignalSpy`]: `QSignalSpy` for tests.
//! - [`Signal::stream`] and [`Signal::next_emission`] ([`SignalStream`],
//!   [`NextEmission`], [`Lagged`]): emissions for `async` code, on any executor of the
//!   loop's thread.
#![warn(missing_docs, missing_debug_implementations)]

mod abstract_socket;
mod buffer;
mod connection;
mod event_loop;
mod notifier;
mod object;
mod remote;
mod signal;
mod socket_server;
mod socket_state;
mod spy;
mod stream;
mod sys;
mod tcp;
mod timer;
mod unix;

pub use abstract_socket::{AbstractSocket, DrainCheck, WeakAbstractSocket};
pub use connection::{Connection, ScopedConnection, SignalBlocker};
pub use event_loop::{EventLoop, LoopHandle, WeakLoopHandle};
pub use notifier::{Interest, Readiness, SocketNotifier};
pub use object::ObjectBase;
pub use remote::{LoopClosed, LoopSender, RemoteEmitter};
pub use signal::Signal;
pub use socket_server::SocketServer;
pub use socket_state::{SocketError, SocketKind, SocketState};
pub use spy::SignalSpy;
pub use stream::{Lagged, NextEmission, SignalStream};
pub use tcp::{TcpServer, TcpSocket};
pub use timer::{single_shot, Timer};
pub use unix::{UnixServer, UnixSocket};
