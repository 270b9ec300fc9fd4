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

mod event_loop;
mod generation;
mod net;
mod object;
mod signal;
mod spy;

pub use event_loop::{
    single_shot, EventLoop, Interest, LoopClosed, LoopHandle, LoopSender, Readiness, RemoteEmitter,
    SocketNotifier, Timer, WeakLoopHandle,
};
pub use net::transport;
pub use net::{
    AbstractSocket, SocketError, SocketIo, SocketKind, SocketServer, SocketState, TcpServer,
    TcpSocket, UnixServer, UnixSocket, WeakAbstractSocket,
};
pub use object::ObjectBase;
pub use signal::{
    Connection, Lagged, NextEmission, ScopedConnection, Signal, SignalBlocker, SignalStream,
};
pub use spy::SignalSpy;
