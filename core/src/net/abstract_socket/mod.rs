//! [`AbstractSocket`]: Qt's `QAbstractSocket` machinery over any non-blocking stream or
//! packet socket fd. This file holds the socket's state, its signals and its readiness
//! handling; the rest is one concern per file: [`connecting`] (the transport hooks and
//! completing a connect), [`reading`] and [`writing`] (the user's API with the engines
//! behind it), [`closing`], [`waiting`] (the blocking helpers) and [`closer`] (failed
//! connects closed off the loop's thread).

mod closer;
mod closing;
mod connecting;
mod reading;
mod waiting;
mod writing;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use rustix::io::Errno;

use super::buffer::Buffer;
use super::transport::DrainCheck;
use super::watched_fd::WatchedFd;
use crate::generation::Generation;
use crate::{
    Interest, LoopHandle, Readiness, Signal, SocketError, SocketKind, SocketState, WeakLoopHandle,
};

/// Bytes asked of the kernel per stream read.
const READ_CHUNK: usize = 64 * 1024;
/// Largest packet a packet socket reads (larger ones are truncated by the kernel and
/// reported as an error).
const MAX_PACKET: usize = 64 * 1024;
/// How often a graceful close looks whether the kernel has sent everything, and for how
/// long at most.
const CLOSE_DRAIN_POLL: Duration = Duration::from_millis(10);
const CLOSE_DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// A write buffer that emptied keeps up to this much memory for the next burst.
const KEEP_WRITE_BUFFER: usize = 4 << 20;
/// Default largest piece handed to the kernel per write.
const DEFAULT_WRITE_CHUNK: usize = 64 * 1024;
/// How long to wait before looking again when a connecting socket polled writable but is
/// not connected yet (fresh Bluetooth sockets do that).
const CONNECT_RECHECK: Duration = Duration::from_millis(5);

struct Signals {
    connected: Signal<()>,
    disconnected: Signal<()>,
    ready_read: Signal<()>,
    bytes_written: Signal<usize>,
    state_changed: Signal<SocketState>,
    error_occurred: Signal<SocketError>,
    read_channel_finished: Signal<()>,
}

struct Inner {
    event_loop: WeakLoopHandle,
    io: RefCell<Option<WatchedFd>>,
    /// Bumped whenever the fd changes, so stale timers and queued work can tell.
    generation: Generation,
    kind: SocketKind,
    state: Cell<SocketState>,
    error: Cell<Option<SocketError>>,
    error_string: RefCell<String>,
    read: RefCell<Buffer>,
    write: RefCell<Buffer>,
    read_limit: Cell<usize>,
    write_chunk: Cell<usize>,
    /// The peer closed its side (end of file seen).
    peer_closed: Cell<bool>,
    /// The last look at the kernel found nothing more (until the next readiness).
    kernel_drained: Cell<bool>,
    /// `ready_read` is being emitted: Qt never emits it recursively.
    in_ready_read: Cell<bool>,
    /// Written to the kernel by `write`/`flush` and not yet reported by `bytes_written`.
    unreported_written: Cell<usize>,
    report_posted: Cell<bool>,
    /// Whether the kernel has sent everything queued on the fd; a graceful close waits for
    /// it (transports whose `close()` discards unsent data set this).
    close_drain: Cell<Option<DrainCheck>>,
    /// When the current graceful close started.
    closing_since: Cell<Option<Instant>>,
    /// Turns OS errors into socket errors; transports may refine it.
    error_mapping: Cell<fn(&io::Error) -> SocketError>,
    /// A write to the kernel failed (peer gone); handled on the next readiness.
    write_failed: Cell<Option<Errno>>,
    signals: Signals,
}

/// A connected (or connecting) socket with Qt's `QAbstractSocket` behaviour, over any
/// non-blocking stream or packet socket: buffers, states, signals, back-pressure.
///
/// Transports ([`TcpSocket`](crate::TcpSocket), [`UnixSocket`](crate::UnixSocket),
/// Bluetooth sockets) create and connect the fd and hand it over; everything else lives
/// here. `AbstractSocket` is a cheap handle (`Clone`): clones are the same socket.
///
/// # Signals, in Qt's order
/// - Connecting: `state_changed(Connecting)` (when the connect starts), then
///   `state_changed(Connected)`, `connected`. On failure: `error_occurred(e)`, then
///   `state_changed(Unconnected)`.
/// - Data: `ready_read` once per batch read from the kernel (never recursively);
///   `bytes_written(n)` as written bytes reach the kernel, always after `write` returned.
/// - Remote close: `read_channel_finished`, `error_occurred(RemoteHostClosed)`,
///   `state_changed(Unconnected)`, `disconnected` — exactly once.
/// - [`disconnect_from_host`](Self::disconnect_from_host): `state_changed(Closing)`, then
///   once every pending byte is written `state_changed(Unconnected)`, `disconnected`.
/// - [`abort`](Self::abort): `state_changed(Unconnected)`, `disconnected`, at once.
///
/// # Unlike Qt
/// - Bytes that arrived before the peer closed stay readable after `disconnected`.
/// - [`set_read_buffer_size`](Self::set_read_buffer_size) stops reading from the kernel
///   while the buffer is full, so a slow reader back-pressures the peer; no byte is
///   dropped.
/// - On packet sockets ([`SocketKind::Packet`]) every `write` is one packet and
///   [`read_packet`](Self::read_packet) returns one whole packet; `read` never crosses a
///   packet boundary.
///
/// Any method may be called from inside any of the socket's slots, including dropping
/// the last handle: the socket keeps itself alive until the slot returns. Dropping the
/// last handle closes the fd at once, like [`abort`](Self::abort) but without signals;
/// bytes still waiting to be written are then lost (a `log` warning says how many): call
/// [`disconnect_from_host`](Self::disconnect_from_host) and keep the handle until
/// `disconnected` to deliver them.
#[must_use = "dropping the last handle of a socket closes it at once"]
#[derive(Clone)]
pub struct AbstractSocket {
    inner: Rc<Inner>,
}

impl fmt::Debug for AbstractSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbstractSocket")
            .field("fd", &self.socket_descriptor())
            .field("kind", &self.inner.kind)
            .field("state", &self.inner.state.get())
            .field("error", &self.inner.error.get())
            .field("bytes_available", &self.bytes_available())
            .field("bytes_to_write", &self.bytes_to_write())
            .finish()
    }
}

impl AbstractSocket {
    /// An unconnected socket of `kind` on `event_loop`.
    pub fn new(event_loop: &LoopHandle, kind: SocketKind) -> AbstractSocket {
        AbstractSocket {
            inner: Rc::new(Inner {
                event_loop: event_loop.downgrade(),
                io: RefCell::new(None),
                generation: Generation::default(),
                kind,
                state: Cell::new(SocketState::Unconnected),
                error: Cell::new(None),
                error_string: RefCell::new(String::new()),
                read: RefCell::new(Buffer::new(kind)),
                write: RefCell::new(Buffer::new(kind)),
                read_limit: Cell::new(0),
                write_chunk: Cell::new(DEFAULT_WRITE_CHUNK),
                peer_closed: Cell::new(false),
                kernel_drained: Cell::new(false),
                in_ready_read: Cell::new(false),
                unreported_written: Cell::new(0),
                report_posted: Cell::new(false),
                write_failed: Cell::new(None),
                error_mapping: Cell::new(SocketError::from_io),
                close_drain: Cell::new(None),
                closing_since: Cell::new(None),
                signals: Signals {
                    connected: Signal::new(),
                    disconnected: Signal::new(),
                    ready_read: Signal::new(),
                    bytes_written: Signal::new(),
                    state_changed: Signal::new(),
                    error_occurred: Signal::new(),
                    read_channel_finished: Signal::new(),
                },
            }),
        }
    }

    /// The loop the socket runs on; `None` once that loop is gone.
    pub fn event_loop(&self) -> Option<LoopHandle> {
        self.inner.event_loop.upgrade()
    }

    /// A weak handle, for slots that must not keep the socket alive.
    pub fn downgrade(&self) -> WeakAbstractSocket {
        WeakAbstractSocket {
            inner: Rc::downgrade(&self.inner),
        }
    }

    // ---- signals ----

    /// Emitted when a connection is established (Qt: `connected`).
    pub fn connected(&self) -> &Signal<()> {
        &self.inner.signals.connected
    }

    /// Emitted once when a connection ends, however it ends (Qt: `disconnected`).
    pub fn disconnected(&self) -> &Signal<()> {
        &self.inner.signals.disconnected
    }

    /// Emitted when new data can be read (Qt: `readyRead`).
    pub fn ready_read(&self) -> &Signal<()> {
        &self.inner.signals.ready_read
    }

    /// Emitted with the number of bytes that reached the kernel (Qt: `bytesWritten`).
    pub fn bytes_written(&self) -> &Signal<usize> {
        &self.inner.signals.bytes_written
    }

    /// Emitted on every state change (Qt: `stateChanged`).
    pub fn state_changed(&self) -> &Signal<SocketState> {
        &self.inner.signals.state_changed
    }

    /// Emitted when an error occurs (Qt: `errorOccurred`).
    pub fn error_occurred(&self) -> &Signal<SocketError> {
        &self.inner.signals.error_occurred
    }

    /// Emitted when the peer closed its side: no more data will arrive (Qt:
    /// `readChannelFinished`).
    pub fn read_channel_finished(&self) -> &Signal<()> {
        &self.inner.signals.read_channel_finished
    }

    // ---- state ----

    /// The current state (Qt: `state`).
    pub fn state(&self) -> SocketState {
        self.inner.state.get()
    }

    /// The last error, if any (Qt: `error`, which says `UnknownSocketError` for none).
    pub fn error(&self) -> Option<SocketError> {
        self.inner.error.get()
    }

    /// A human-readable description of the last error, with the OS's words where there
    /// were some (Qt: `errorString`).
    pub fn error_string(&self) -> String {
        self.inner.error_string.borrow().clone()
    }

    /// Stream or packets.
    pub fn socket_kind(&self) -> SocketKind {
        self.inner.kind
    }

    /// Whether the socket is connected (or closing) and so can be read and written
    /// (Qt: `isValid` / `isOpen`).
    pub fn is_valid(&self) -> bool {
        matches!(self.state(), SocketState::Connected | SocketState::Closing)
    }

    /// The fd, while the socket has one (Qt: `socketDescriptor`, which says -1 for none).
    pub fn socket_descriptor(&self) -> Option<RawFd> {
        self.inner.io.borrow().as_ref().map(WatchedFd::raw_fd)
    }

    /// Runs `f` with the fd, while the socket has one (for socket options).
    pub fn with_fd<R>(&self, f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> R) -> Option<R> {
        let fd = self.inner.io.borrow().as_ref().map(|io| io.fd().clone())?;
        Some(f(fd.as_fd()))
    }

    fn set_state(&self, state: SocketState) {
        self.inner.set_state(state);
    }

    /// Whether the peer has closed its side (nothing more will arrive).
    pub(super) fn peer_closed(&self) -> bool {
        self.inner.peer_closed.get()
    }
}

/// A weak [`AbstractSocket`] handle.
#[derive(Clone, Debug, Default)]
pub struct WeakAbstractSocket {
    inner: Weak<Inner>,
}

impl WeakAbstractSocket {
    /// The socket, if a handle to it still exists.
    pub fn upgrade(&self) -> Option<AbstractSocket> {
        self.inner.upgrade().map(|inner| AbstractSocket { inner })
    }
}

impl Inner {
    fn set_state(&self, state: SocketState) {
        if self.state.replace(state) != state {
            self.signals.state_changed.emit(&state);
        }
    }

    fn fd(&self) -> Option<Rc<OwnedFd>> {
        self.io.borrow().as_ref().map(|io| io.fd().clone())
    }

    fn set_error(&self, error: SocketError, message: &str) {
        self.error.set(Some(error));
        let mut s = self.error_string.borrow_mut();
        s.clear();
        s.push_str(if message.is_empty() {
            error.description()
        } else {
            message
        });
    }

    fn update_interest(&self) {
        let state = self.state.get();
        let interest = match state {
            SocketState::Connecting => Interest::WRITE,
            SocketState::Connected | SocketState::Closing => {
                let write = self.write.borrow();
                Interest {
                    readable: !self.peer_closed.get() && !self.read_full(),
                    writable: write.len() > 0,
                }
            }
            _ => Interest::NONE,
        };
        let io = self.io.borrow();
        let Some(io) = io.as_ref() else { return };
        if let Err(e) = io.watch(interest) {
            log::error!("socket fd {}: updating poll interest: {e}", io.raw_fd());
        }
    }

    fn on_ready(self: Rc<Self>, r: Readiness) {
        if let Some(e) = self.write_failed.take() {
            if self.is_open() {
                let e = io::Error::from(e);
                self.remote_closed((self.error_mapping.get())(&e), &e.to_string());
                return;
            }
        }
        match self.state.get() {
            SocketState::Connecting => self.check_connect(),
            SocketState::Connected | SocketState::Closing => {
                if r.writable {
                    let n = self.write_to_kernel();
                    if n > 0 {
                        self.signals.bytes_written.emit(&n);
                    }
                    if self.state.get() == SocketState::Closing && self.queued_writes() == 0 {
                        self.close_when_drained();
                        return;
                    }
                }
                if (r.readable || r.error) && self.is_open() {
                    self.read_from_kernel();
                }
            }
            _ => {}
        }
        self.update_interest();
    }

    fn is_open(&self) -> bool {
        matches!(
            self.state.get(),
            SocketState::Connected | SocketState::Closing
        )
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let queued = self.write.borrow().len();
        if queued > 0 && self.io.borrow().is_some() {
            log::warn!("socket dropped with {queued} bytes not yet written");
        }
    }
}
