//! [`AbstractSocket`]: Qt's `QAbstractSocket` machinery over any non-blocking stream or
//! packet socket fd.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};

use super::buffer::{ByteWindow, PacketQueue};
use super::SocketIo;
use crate::{
    single_shot, Interest, LoopHandle, Readiness, Signal, SocketError, SocketKind, SocketNotifier,
    SocketState, WeakLoopHandle,
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

struct Io {
    fd: Rc<OwnedFd>,
    notifier: SocketNotifier,
}

#[derive(Default)]
struct Buffers {
    bytes: ByteWindow,
    packets: PacketQueue,
}

struct Signals {
    connected: Signal<()>,
    disconnected: Signal<()>,
    ready_read: Signal<()>,
    bytes_written: Signal<usize>,
    state_changed: Signal<SocketState>,
    error_occurred: Signal<SocketError>,
    read_channel_finished: Signal<()>,
}

/// Whether the kernel has sent everything queued on an fd (see
/// [`AbstractSocket::set_close_drain`]).
pub type DrainCheck = fn(BorrowedFd<'_>) -> io::Result<bool>;

/// What one [`Inner::pull`] found.
#[derive(Default)]
struct Pull {
    got: usize,
    eof: bool,
    failure: Option<io::Error>,
}

struct Inner {
    event_loop: WeakLoopHandle,
    io: RefCell<Option<Io>>,
    /// Bumped whenever the fd changes, so stale timers and queued work can tell.
    generation: Cell<u64>,
    kind: Cell<SocketKind>,
    state: Cell<SocketState>,
    error: Cell<Option<SocketError>>,
    error_string: RefCell<String>,
    read: RefCell<Buffers>,
    write: RefCell<Buffers>,
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
#[derive(Clone)]
pub struct AbstractSocket {
    inner: Rc<Inner>,
}

impl fmt::Debug for AbstractSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbstractSocket")
            .field("fd", &self.socket_descriptor())
            .field("kind", &self.inner.kind.get())
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
                generation: Cell::new(0),
                kind: Cell::new(kind),
                state: Cell::new(SocketState::Unconnected),
                error: Cell::new(None),
                error_string: RefCell::new(String::new()),
                read: RefCell::new(Buffers::default()),
                write: RefCell::new(Buffers::default()),
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
        self.inner.kind.get()
    }
    /// Whether the socket is connected (or closing) and so can be read and written
    /// (Qt: `isValid` / `isOpen`).
    pub fn is_valid(&self) -> bool {
        matches!(self.state(), SocketState::Connected | SocketState::Closing)
    }
    /// The fd, while the socket has one (Qt: `socketDescriptor`, which says -1 for none).
    pub fn socket_descriptor(&self) -> Option<RawFd> {
        self.inner.io.borrow().as_ref().map(|io| io.fd.as_raw_fd())
    }

    /// Runs `f` with the fd, while the socket has one (for socket options).
    pub fn with_fd<R>(&self, f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> R) -> Option<R> {
        let fd = self.inner.io.borrow().as_ref().map(|io| io.fd.clone())?;
        Some(f(fd.as_fd()))
    }

    // ---- adopting and connecting (for transports) ----

    /// Adopts `fd`, a socket already connected (`SocketState::Connected`) or whose
    /// non-blocking connect is in progress (`SocketState::Connecting`) (Qt:
    /// `setSocketDescriptor`). The fd is made non-blocking. Emits `state_changed`; a
    /// connecting socket then completes as in [`begin_connect`](Self::begin_connect).
    ///
    /// # Errors
    /// `Operation` if the socket is not unconnected or `state` is neither of the two
    /// (nothing changes); the OS error if the fd cannot be watched.
    pub fn set_socket_descriptor(
        &self,
        fd: OwnedFd,
        state: SocketState,
    ) -> Result<(), SocketError> {
        if !matches!(state, SocketState::Connected | SocketState::Connecting) {
            return Err(SocketError::Operation);
        }
        self.check_unconnected()?;
        rustix::io::ioctl_fionbio(&fd, true).map_err(|e| self.os_error(e.into()))?;
        self.install(fd, state)?;
        self.set_state(state);
        if state == SocketState::Connected {
            self.inner.update_interest();
        }
        Ok(())
    }

    /// Enters a lookup state (`HostLookup` or `ServiceLookup`) before a connect, so the
    /// socket reports it (Qt emits `stateChanged` for it too).
    ///
    /// # Errors
    /// `Operation` if the socket is not unconnected or `state` is not a lookup state.
    pub fn begin_lookup(&self, state: SocketState) -> Result<(), SocketError> {
        if !matches!(state, SocketState::HostLookup | SocketState::ServiceLookup) {
            return Err(SocketError::Operation);
        }
        self.check_unconnected()?;
        self.clear_for_new_connection();
        self.set_state(state);
        Ok(())
    }

    /// Takes over `fd` after the transport started a non-blocking `connect()` on it;
    /// `result` is what `connect()` returned (`EINPROGRESS` counts as started). The socket
    /// enters `Connecting` and completes from write readiness, checking the real outcome
    /// (`SO_ERROR`, and that the peer address is there: some sockets poll writable before
    /// they are connected).
    ///
    /// # Errors
    /// `Operation` if the socket is not unconnected or in a lookup state. A `result` that
    /// is an error other than `EINPROGRESS` (`EAGAIN`, a full `AF_UNIX` backlog, gives
    /// `Temporary`) is reported through
    /// `error_occurred` (the connect failed), and also returned.
    pub fn begin_connect(&self, fd: OwnedFd, result: io::Result<()>) -> Result<(), SocketError> {
        if !matches!(
            self.state(),
            SocketState::Unconnected | SocketState::HostLookup | SocketState::ServiceLookup
        ) {
            return Err(SocketError::Operation);
        }
        if self.state() == SocketState::Unconnected {
            self.clear_for_new_connection();
        }
        let started = match result {
            Ok(()) => true,
            Err(e) => {
                let errno = e.raw_os_error().map(Errno::from_raw_os_error);
                // EAGAIN is not "started": AF_UNIX says so when the server's backlog
                // is full, and the connect did not happen (Qt: TemporaryError).
                if errno == Some(Errno::INPROGRESS) {
                    true
                } else {
                    let err = (self.inner.error_mapping.get())(&e);
                    close_off_thread(Rc::new(fd), &self.inner.event_loop);
                    self.inner.fail_connect(err, &e.to_string());
                    return Err(err);
                }
            }
        };
        debug_assert!(started);
        if let Err(e) = self.install(fd, SocketState::Connecting) {
            self.inner.fail_connect(e, &self.error_string());
            return Err(e);
        }
        self.set_state(SocketState::Connecting);
        self.inner.update_interest();
        Ok(())
    }

    /// Replaces the mapping from OS errors to [`SocketError`]s (default
    /// [`SocketError::from_io`]), for transports whose errnos mean something more
    /// specific (a Bluetooth page timeout, `EHOSTDOWN`, is "host not found").
    pub fn set_error_mapping(&self, mapping: fn(&io::Error) -> SocketError) {
        self.inner.error_mapping.set(mapping);
    }

    /// Makes a graceful close wait, after the socket's own queue is empty, until
    /// `drained(fd)` says the kernel has sent everything too, polling every
    /// 10 ms for up to a minute. For transports whose `close()` discards data the kernel
    /// still holds (Bluetooth L2CAP and RFCOMM do).
    pub fn set_close_drain(&self, drained: DrainCheck) {
        self.inner.close_drain.set(Some(drained));
    }

    /// Reports an error found by the transport before or during a connect (a failed
    /// lookup, say): `error_occurred(error)`, then back to `Unconnected`.
    pub fn fail_connect(&self, error: SocketError, message: &str) {
        self.inner.fail_connect(error, message);
    }

    fn check_unconnected(&self) -> Result<(), SocketError> {
        if self.state() != SocketState::Unconnected || self.inner.io.borrow().is_some() {
            return Err(SocketError::Operation);
        }
        Ok(())
    }

    fn clear_for_new_connection(&self) {
        let inner = &self.inner;
        inner.error.set(None);
        inner.error_string.borrow_mut().clear();
        inner.peer_closed.set(false);
        inner.write_failed.set(None);
        let mut read = inner.read.borrow_mut();
        read.bytes.clear();
        read.packets.clear();
        drop(read);
        let mut write = inner.write.borrow_mut();
        write.bytes.clear();
        write.packets.clear();
    }

    fn install(&self, fd: OwnedFd, state: SocketState) -> Result<(), SocketError> {
        let handle = self
            .inner
            .event_loop
            .upgrade()
            .ok_or(SocketError::Operation)?;
        if state == SocketState::Connected {
            self.clear_for_new_connection();
        }
        let fd = Rc::new(fd);
        let notifier = SocketNotifier::new(&handle, fd.clone(), Interest::NONE)
            .map_err(|e| self.os_error(e))?;
        let weak = Rc::downgrade(&self.inner);
        notifier.activated().connect(move |r| {
            if let Some(inner) = weak.upgrade() {
                inner.on_ready(*r);
            }
        });
        self.inner.generation.set(self.inner.generation.get() + 1);
        *self.inner.io.borrow_mut() = Some(Io { fd, notifier });
        Ok(())
    }

    fn os_error(&self, e: io::Error) -> SocketError {
        let err = (self.inner.error_mapping.get())(&e);
        self.inner.error.set(Some(err));
        *self.inner.error_string.borrow_mut() = e.to_string();
        err
    }

    fn set_state(&self, state: SocketState) {
        self.inner.set_state(state);
    }

    // ---- reading ----

    /// Bytes buffered and ready to read (Qt: `bytesAvailable`). During a bulk transfer
    /// more may wait in the kernel while a `ready_read` slot runs: [`read`](Self::read)
    /// and [`read_all`](Self::read_all) take it too (straight into the caller's memory),
    /// and what the slots leave is buffered and announced again when they return.
    pub fn bytes_available(&self) -> usize {
        let read = self.inner.read.borrow();
        read.bytes.len() + read.packets.len_bytes()
    }

    /// Whole packets buffered (packet sockets).
    pub fn pending_packets(&self) -> usize {
        self.inner.read.borrow().packets.count()
    }

    /// Reads up to `buf.len()` buffered bytes; 0 when nothing is buffered (Qt: `read`).
    /// On a packet socket it reads from the first packet only.
    pub fn read(&self, buf: &mut [u8]) -> usize {
        let n = {
            let mut read = self.inner.read.borrow_mut();
            match self.inner.kind.get() {
                SocketKind::Stream => read.bytes.read_into(buf),
                SocketKind::Packet => read.packets.read_into(buf),
            }
        };
        if n > 0 {
            self.inner.after_user_read();
            return n;
        }
        // Nothing buffered: take what the kernel has straight into `buf`.
        self.inner.read_direct(buf)
    }

    /// Takes every buffered byte (Qt: `readAll`). On a packet socket the packets'
    /// contents are concatenated: use [`read_packet`](Self::read_packet) to keep them
    /// apart.
    pub fn read_all(&self) -> Vec<u8> {
        self.inner.fill();
        let out = {
            let mut read = self.inner.read.borrow_mut();
            let mut out = read.bytes.as_slice().to_vec();
            read.bytes.clear();
            while let Some(p) = read.packets.pop() {
                out.extend_from_slice(&p);
            }
            out
        };
        if !out.is_empty() {
            self.inner.after_user_read();
        }
        out
    }

    /// Takes one whole packet (packet sockets); on a stream socket, everything buffered.
    pub fn read_packet(&self) -> Option<Vec<u8>> {
        self.inner.fill();
        let p = {
            let mut read = self.inner.read.borrow_mut();
            match self.inner.kind.get() {
                SocketKind::Packet => read.packets.pop(),
                SocketKind::Stream if read.bytes.len() > 0 => {
                    let v = read.bytes.as_slice().to_vec();
                    read.bytes.clear();
                    Some(v)
                }
                SocketKind::Stream => None,
            }
        };
        if p.is_some() {
            self.inner.after_user_read();
        }
        p
    }

    /// Copies up to `buf.len()` buffered bytes without consuming them (Qt: `peek`).
    pub fn peek(&self, buf: &mut [u8]) -> usize {
        self.inner.fill();
        let read = self.inner.read.borrow();
        let src = match self.inner.kind.get() {
            SocketKind::Stream => read.bytes.as_slice(),
            SocketKind::Packet => read.packets.front().unwrap_or(&[]),
        };
        let n = buf.len().min(src.len());
        buf[..n].copy_from_slice(&src[..n]);
        n
    }

    /// Whether a whole line (ending in `\n`) is buffered (Qt: `canReadLine`).
    pub fn can_read_line(&self) -> bool {
        self.inner.fill();
        let read = self.inner.read.borrow();
        match self.inner.kind.get() {
            SocketKind::Stream => read.bytes.as_slice().contains(&b'\n'),
            SocketKind::Packet => read.packets.front().is_some_and(|p| p.contains(&b'\n')),
        }
    }

    /// Takes one line, `\n` included (Qt: `readLine`). Without a whole line buffered it
    /// returns `None`, except after the peer closed, when the unterminated rest is the
    /// last line.
    pub fn read_line(&self) -> Option<Vec<u8>> {
        self.inner.fill();
        let line = {
            let mut read = self.inner.read.borrow_mut();
            let src = match self.inner.kind.get() {
                SocketKind::Stream => read.bytes.as_slice(),
                SocketKind::Packet => read.packets.front().unwrap_or(&[]),
            };
            let end = match src.iter().position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if self.inner.peer_closed.get() && !src.is_empty() => src.len(),
                None => return None,
            };
            let mut line = vec![0; end];
            match self.inner.kind.get() {
                SocketKind::Stream => read.bytes.read_into(&mut line),
                SocketKind::Packet => read.packets.read_into(&mut line),
            };
            line
        };
        self.inner.after_user_read();
        Some(line)
    }

    /// Limits the read buffer to `size` bytes; 0 means unbounded (Qt:
    /// `setReadBufferSize`). While the buffer is full nothing more is read from the
    /// kernel, so the peer is slowed down (TCP window, Bluetooth flow control) and memory
    /// stays bounded; reading from the buffer resumes it. Packets are read whole, so on a
    /// packet socket the buffer may pass the limit by less than one packet.
    pub fn set_read_buffer_size(&self, size: usize) {
        self.inner.read_limit.set(size);
        self.inner.update_interest();
    }

    /// The read buffer limit; 0 is unbounded (Qt: `readBufferSize`).
    pub fn read_buffer_size(&self) -> usize {
        self.inner.read_limit.get()
    }

    // ---- writing ----

    /// Queues `data` for writing and returns at once (Qt: `write`). On a packet socket
    /// `data` is one packet.
    ///
    /// # Errors
    /// `Operation` if the socket is not connected; `DatagramTooLarge` for a packet larger
    /// than [`max_write_chunk`](Self::max_write_chunk). Nothing is queued then.
    pub fn write(&self, data: &[u8]) -> Result<usize, SocketError> {
        let inner = &self.inner;
        if inner.state.get() != SocketState::Connected {
            return Err(SocketError::Operation);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let kind = inner.kind.get();
        if kind == SocketKind::Packet && data.len() > inner.write_chunk.get() {
            return Err(SocketError::DatagramTooLarge);
        }
        let mut rest = data;
        if self.bytes_to_write() == 0 {
            // Nothing queued: straight to the kernel from the caller's buffer (no copy,
            // no poll round trip); only what it does not take is queued.
            let sent = inner.send_direct(data);
            inner.note_written_later(sent);
            rest = &data[sent..];
        }
        if !rest.is_empty() {
            let mut write = inner.write.borrow_mut();
            match kind {
                SocketKind::Stream => write.bytes.extend(rest),
                SocketKind::Packet => write.packets.push(rest.to_vec()),
            }
        }
        inner.update_interest();
        Ok(data.len())
    }

    /// Bytes queued and not yet handed to the kernel (Qt: `bytesToWrite`).
    pub fn bytes_to_write(&self) -> usize {
        let write = self.inner.write.borrow();
        write.bytes.len() + write.packets.len_bytes()
    }

    /// Hands as much queued data to the kernel as it takes now, without blocking;
    /// returns whether anything was written (Qt: `flush`, whose `false` also means "not
    /// open").
    ///
    /// # Errors
    /// `Operation` if the socket has no descriptor (nothing was ever opened, or it is
    /// closed).
    pub fn flush(&self) -> Result<bool, SocketError> {
        if !self.is_valid() {
            return Err(SocketError::Operation);
        }
        let written = self.inner.write_to_kernel();
        self.inner.note_written_later(written);
        self.inner.update_interest();
        Ok(written > 0)
    }

    /// The socket as [`std::io::Read`] and [`std::io::Write`], for code written against
    /// them (`BufReader`, `write!`, `io::copy`). The socket's own `read`, `write` and
    /// `flush` are Qt's, with Qt's results; the adapter's follow the io traits: see
    /// [`SocketIo`].
    pub fn io(&self) -> SocketIo<'_> {
        SocketIo { socket: self }
    }

    /// Whether the peer has closed its side (nothing more will arrive).
    pub(super) fn peer_closed(&self) -> bool {
        self.inner.peer_closed.get()
    }

    /// Sets the largest piece handed to the kernel per write: the packet size limit
    /// (MTU) on packet sockets. Bluetooth sockets stall on oversized writes; their
    /// transports set this.
    pub fn set_max_write_chunk(&self, bytes: usize) {
        self.inner.write_chunk.set(bytes.max(1));
    }

    /// The largest piece handed to the kernel per write.
    pub fn max_write_chunk(&self) -> usize {
        self.inner.write_chunk.get()
    }

    // ---- closing ----

    /// Closes gracefully (Qt: `disconnectFromHost`): `Closing` until every queued byte is
    /// written, then `Unconnected` and `disconnected`. Aborts a connect in progress.
    pub fn disconnect_from_host(&self) {
        let inner = &self.inner;
        match inner.state.get() {
            SocketState::Connected => {
                inner.closing_since.set(Some(Instant::now()));
                inner.set_state(SocketState::Closing);
                if inner.state.get() != SocketState::Closing {
                    return; // a slot of state_changed closed it meanwhile
                }
                if self.bytes_to_write() == 0 {
                    inner.close_when_drained();
                } else {
                    inner.update_interest();
                }
            }
            SocketState::Closing | SocketState::Unconnected => {}
            _ => inner.finish_close(false),
        }
    }

    /// Closes at once, discarding queued writes (Qt: `abort`). Emits `disconnected` if
    /// the socket was connected; never twice.
    pub fn abort(&self) {
        let inner = &self.inner;
        {
            let mut write = inner.write.borrow_mut();
            write.bytes.clear();
            write.packets.clear();
        }
        inner.finish_close(false);
    }

    /// Closes the socket as a device (Qt: `close`): like
    /// [`disconnect_from_host`](Self::disconnect_from_host), and also discards what is
    /// buffered for reading.
    pub fn close(&self) {
        {
            let mut read = self.inner.read.borrow_mut();
            read.bytes.clear();
            read.packets.clear();
        }
        self.disconnect_from_host();
    }

    // ---- waiting ----

    fn wait(&self, timeout: Duration, mut done: impl FnMut(&AbstractSocket) -> bool) -> bool {
        let Some(handle) = self.inner.event_loop.upgrade() else {
            return done(self);
        };
        let deadline = Instant::now() + timeout;
        handle.wait_until(deadline, || done(self)).unwrap_or(false)
    }

    /// Runs the loop until connected, for at most `timeout`; returns whether it is (Qt:
    /// `waitForConnected`).
    pub fn wait_for_connected(&self, timeout: Duration) -> bool {
        self.wait(timeout, |s| {
            !matches!(
                s.state(),
                SocketState::Connecting | SocketState::HostLookup | SocketState::ServiceLookup
            )
        });
        self.state() == SocketState::Connected
    }

    /// Runs the loop until new data is buffered (or the connection ends), for at most
    /// `timeout`; returns whether new data came (Qt: `waitForReadyRead`).
    pub fn wait_for_ready_read(&self, timeout: Duration) -> bool {
        let spy = crate::SignalSpy::new(self.ready_read());
        self.wait(timeout, |s| spy.count() > 0 || !s.is_valid());
        spy.count() > 0
    }

    /// Runs the loop until `bytes_written` is emitted, for at most `timeout`; returns
    /// whether it was (Qt: `waitForBytesWritten`).
    pub fn wait_for_bytes_written(&self, timeout: Duration) -> bool {
        if self.inner.unreported_written.get() > 0 || self.bytes_to_write() > 0 {
            let spy = crate::SignalSpy::new(self.bytes_written());
            self.wait(timeout, |s| spy.count() > 0 || !s.is_valid());
            return spy.count() > 0;
        }
        false
    }

    /// Runs the loop until the socket is unconnected, for at most `timeout`; returns
    /// whether it is (Qt: `waitForDisconnected`).
    pub fn wait_for_disconnected(&self, timeout: Duration) -> bool {
        self.wait(timeout, |s| s.state() == SocketState::Unconnected);
        self.state() == SocketState::Unconnected
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
        self.io.borrow().as_ref().map(|io| io.fd.clone())
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

    fn read_full(&self) -> bool {
        let limit = self.read_limit.get();
        limit > 0 && {
            let read = self.read.borrow();
            read.bytes.len() + read.packets.len_bytes() >= limit
        }
    }

    fn update_interest(&self) {
        let state = self.state.get();
        let interest = match state {
            SocketState::Connecting => Interest::WRITE,
            SocketState::Connected | SocketState::Closing => {
                let write = self.write.borrow();
                Interest {
                    readable: !self.peer_closed.get() && !self.read_full(),
                    writable: write.bytes.len() + write.packets.len_bytes() > 0,
                }
            }
            _ => Interest::NONE,
        };
        let io = self.io.borrow();
        let Some(io) = io.as_ref() else { return };
        // With no interest at all the poller would still report hang-ups, level-triggered:
        // switch the notifier off instead.
        let enabled = interest != Interest::NONE;
        let result = if enabled {
            io.notifier
                .set_interest(interest)
                .and_then(|()| io.notifier.set_enabled(true))
        } else {
            io.notifier.set_enabled(false)
        };
        if let Err(e) = result {
            log::error!(
                "socket fd {}: updating poll interest: {e}",
                io.fd.as_raw_fd()
            );
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

    fn queued_writes(&self) -> usize {
        let write = self.write.borrow();
        write.bytes.len() + write.packets.len_bytes()
    }

    fn check_connect(self: &Rc<Self>) {
        let Some(fd) = self.fd() else { return };
        let outcome = match rustix::net::sockopt::socket_error(&*fd) {
            Ok(Ok(())) => match rustix::net::getpeername(&*fd) {
                Ok(_) => Ok(true),
                Err(Errno::NOTCONN) => Ok(false),
                Err(e) => Err(io::Error::from(e)),
            },
            Ok(Err(errno)) => Err(io::Error::from(errno)),
            Err(e) => Err(io::Error::from(e)),
        };
        // Let go of this clone before a failure closes the fd: `close_off_thread` can
        // hand the fd to its thread only while it holds the last reference, and would
        // otherwise leave the close to this thread.
        drop(fd);
        match outcome {
            Ok(true) => {
                self.set_state(SocketState::Connected);
                if self.state.get() == SocketState::Connected {
                    self.signals.connected.emit(&());
                }
            }
            Ok(false) => {
                // Writable but not connected yet: look again shortly instead of spinning
                // on a level-triggered writable fd.
                if let Some(io) = self.io.borrow().as_ref() {
                    let _ = io.notifier.set_enabled(false);
                }
                let Some(handle) = self.event_loop.upgrade() else {
                    return;
                };
                let weak = Rc::downgrade(self);
                let generation = self.generation.get();
                single_shot(&handle, CONNECT_RECHECK, move || {
                    if let Some(inner) = weak.upgrade() {
                        if inner.generation.get() == generation
                            && inner.state.get() == SocketState::Connecting
                        {
                            inner.check_connect();
                            inner.update_interest();
                        }
                    }
                });
            }
            Err(e) => self.fail_connect((self.error_mapping.get())(&e), &e.to_string()),
        }
    }

    fn fail_connect(&self, error: SocketError, message: &str) {
        let io = self.io.borrow_mut().take();
        if let Some(Io { fd, notifier }) = io {
            drop(notifier);
            close_off_thread(fd, &self.event_loop);
        }
        self.set_error(error, message);
        self.signals.error_occurred.emit(&error);
        self.set_state(SocketState::Unconnected);
    }

    /// Moves what the kernel has into the read buffer, up to the limit, without
    /// emitting anything.
    fn pull(&self, max_total: usize) -> Pull {
        let mut out = Pull::default();
        let Some(fd) = self.fd() else { return out };
        let kind = self.kind.get();
        loop {
            let limit = self.read_limit.get();
            let available = {
                let read = self.read.borrow();
                read.bytes.len() + read.packets.len_bytes()
            };
            if (limit > 0 && available >= limit) || out.got >= max_total {
                break;
            }
            let mut short_read = false;
            let result = match kind {
                SocketKind::Stream => {
                    let max = if limit > 0 {
                        limit - available
                    } else {
                        READ_CHUNK
                    };
                    let want = max.min(READ_CHUNK).min(max_total - out.got);
                    let mut read = self.read.borrow_mut();
                    let room = read.bytes.spare(want, want);
                    let r = rustix::io::read(&*fd, room);
                    if let Ok(n) = r {
                        read.bytes.commit(n);
                        // A read that did not fill its room emptied the kernel's queue.
                        short_read = n > 0 && n < want;
                    }
                    r
                }
                SocketKind::Packet => match recv_packet(&fd) {
                    Ok(packet) if packet.len() > MAX_PACKET => {
                        out.failure = Some(io::Error::from(Errno::MSGSIZE));
                        break;
                    }
                    Ok(packet) => {
                        let n = packet.len();
                        if n > 0 {
                            self.read.borrow_mut().packets.push(packet);
                        }
                        Ok(n)
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(0) => {
                    out.eof = true;
                    self.kernel_drained.set(true);
                    break;
                }
                Ok(n) => out.got += n,
                Err(Errno::AGAIN) => {
                    self.kernel_drained.set(true);
                    break;
                }
                Err(Errno::INTR) => continue,
                Err(e) => {
                    out.failure = Some(e.into());
                    break;
                }
            }
            if short_read {
                self.kernel_drained.set(true);
                break;
            }
        }
        out
    }

    /// Emits `ready_read` unless it is already being emitted (Qt never nests it).
    fn announce(&self) {
        if self.in_ready_read.replace(true) {
            return;
        }
        struct Reset<'a>(&'a Cell<bool>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _reset = Reset(&self.in_ready_read);
        self.signals.ready_read.emit(&());
    }

    /// On readability: buffers new data, announces it, and handles end of file and
    /// errors.
    ///
    /// At most one chunk is buffered before the announcement. When the kernel holds more
    /// (a bulk transfer), the slots' `read` calls take the rest straight from the kernel
    /// into their own memory, with no copy through the buffer; what they leave is
    /// buffered afterwards and announced again, so nothing waits unseen.
    fn read_from_kernel(self: &Rc<Self>) {
        self.kernel_drained.set(false);
        let first = self.pull(READ_CHUNK);
        if first.got > 0 {
            self.announce();
            if !self.is_open() {
                return;
            }
        }
        let mut end = (first.eof, first.failure);
        if !self.kernel_drained.get() && !first.eof && end.1.is_none() {
            let rest = self.pull(usize::MAX);
            if rest.got > 0 {
                self.announce();
                if !self.is_open() {
                    return;
                }
            }
            end = (rest.eof, rest.failure);
        }
        match end {
            (true, _) => self.remote_closed(SocketError::RemoteHostClosed, ""),
            (false, Some(e)) => self.remote_closed((self.error_mapping.get())(&e), &e.to_string()),
            (false, None) => {}
        }
    }

    /// Reads straight from the kernel into `buf` (stream sockets with an empty buffer).
    /// End of file and errors are left for the readiness path, which meets them again.
    fn read_direct(&self, buf: &mut [u8]) -> usize {
        if self.kind.get() != SocketKind::Stream
            || !self.is_open()
            || self.peer_closed.get()
            || self.kernel_drained.get()
            || buf.is_empty()
        {
            return 0;
        }
        let Some(fd) = self.fd() else { return 0 };
        loop {
            match rustix::io::read(&*fd, &mut *buf) {
                Ok(n) => {
                    if n < buf.len() {
                        self.kernel_drained.set(true);
                    }
                    return n;
                }
                Err(Errno::INTR) => continue,
                Err(_) => {
                    self.kernel_drained.set(true);
                    return 0;
                }
            }
        }
    }

    fn remote_closed(&self, error: SocketError, message: &str) {
        self.peer_closed.set(true);
        self.signals.read_channel_finished.emit(&());
        if !self.is_open() {
            return;
        }
        self.set_error(error, message);
        self.signals.error_occurred.emit(&error);
        if !self.is_open() {
            return;
        }
        let dropped = self.queued_writes();
        if dropped > 0 {
            log::warn!("peer closed with {dropped} bytes still queued for writing");
        }
        {
            let mut write = self.write.borrow_mut();
            write.bytes.clear();
            write.packets.clear();
        }
        self.finish_close(false);
    }

    /// Writes queued data to the kernel until it would block; returns the bytes written.
    fn write_to_kernel(&self) -> usize {
        let Some(fd) = self.fd() else { return 0 };
        let chunk = self.write_chunk.get();
        let mut total = 0;
        loop {
            let result = {
                let mut write = self.write.borrow_mut();
                match self.kind.get() {
                    SocketKind::Stream => {
                        let data = write.bytes.as_slice();
                        if data.is_empty() {
                            break;
                        }
                        let piece = &data[..data.len().min(chunk)];
                        let r = rustix::net::send(&*fd, piece, SendFlags::NOSIGNAL);
                        if let Ok(n) = r {
                            write.bytes.consume(n);
                        }
                        r
                    }
                    SocketKind::Packet => {
                        let Some(packet) = write.packets.front() else {
                            break;
                        };
                        let r = rustix::net::send(&*fd, packet, SendFlags::NOSIGNAL);
                        if let Ok(n) = r {
                            debug_assert_eq!(n, packet.len(), "packets go whole");
                            write.packets.pop();
                        }
                        r
                    }
                }
            };
            match result {
                Ok(n) => total += n,
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR) => continue,
                Err(e) => {
                    // Reported from the notifier's slot (never from inside `write`).
                    self.write_failed.set(Some(e));
                    break;
                }
            }
        }
        if total > 0 {
            // Keep a moderate buffer for the next burst; give back a huge one.
            let mut write = self.write.borrow_mut();
            write.bytes.shrink_if_idle(KEEP_WRITE_BUFFER);
        }
        total
    }

    /// Sends from `data` without queueing it, until the kernel would block; a packet goes
    /// whole or not at all. Returns the bytes sent.
    fn send_direct(&self, data: &[u8]) -> usize {
        let Some(fd) = self.fd() else { return 0 };
        let chunk = match self.kind.get() {
            SocketKind::Stream => self.write_chunk.get(),
            SocketKind::Packet => data.len(),
        };
        let mut sent = 0;
        while sent < data.len() {
            let end = (sent + chunk).min(data.len());
            match rustix::net::send(&*fd, &data[sent..end], SendFlags::NOSIGNAL) {
                Ok(n) => sent += n,
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR) => continue,
                Err(e) => {
                    self.write_failed.set(Some(e));
                    break;
                }
            }
        }
        sent
    }

    /// Reports bytes written outside the notifier's slot on a later iteration, so
    /// `bytes_written` is never emitted from inside `write`.
    fn note_written_later(self: &Rc<Self>, n: usize) {
        if n == 0 {
            return;
        }
        self.unreported_written
            .set(self.unreported_written.get() + n);
        if self.report_posted.replace(true) {
            return;
        }
        let Some(handle) = self.event_loop.upgrade() else {
            return;
        };
        let weak = Rc::downgrade(self);
        handle.post(move || {
            if let Some(inner) = weak.upgrade() {
                inner.report_posted.set(false);
                let n = inner.unreported_written.take();
                if n > 0 {
                    inner.signals.bytes_written.emit(&n);
                }
                if inner.state.get() == SocketState::Closing && inner.queued_writes() == 0 {
                    inner.close_when_drained();
                }
            }
        });
    }

    /// Buffers what the kernel holds (up to the limit) for the APIs that look into the
    /// buffer, since slots may find it empty while the data still sits in the kernel.
    fn fill(&self) {
        if self.is_open() && !self.peer_closed.get() && !self.kernel_drained.get() {
            self.pull(usize::MAX);
        }
    }

    fn after_user_read(&self) {
        if self.read_limit.get() > 0 {
            self.update_interest();
        }
    }

    /// Finishes a graceful close once the kernel has sent what it holds (see
    /// [`AbstractSocket::set_close_drain`]); until then looks again every 10 ms.
    fn close_when_drained(self: &Rc<Self>) {
        let drained = match (self.close_drain.get(), self.fd()) {
            (Some(check), Some(fd)) => check(fd.as_fd()).unwrap_or(true),
            _ => true,
        };
        let waited = self
            .closing_since
            .get()
            .map_or(Duration::ZERO, |t| t.elapsed());
        if drained || waited > CLOSE_DRAIN_LIMIT {
            if !drained {
                log::warn!("closing after {waited:?} with data still in the kernel's queue");
            }
            self.finish_close(true);
            return;
        }
        let Some(handle) = self.event_loop.upgrade() else {
            self.finish_close(true);
            return;
        };
        let (weak, generation) = (Rc::downgrade(self), self.generation.get());
        single_shot(&handle, CLOSE_DRAIN_POLL, move || {
            if let Some(inner) = weak.upgrade() {
                if inner.generation.get() == generation
                    && inner.state.get() == SocketState::Closing
                    && inner.queued_writes() == 0
                {
                    inner.close_when_drained();
                }
            }
        });
    }

    /// Ends the connection: drops the fd (after moving whatever the kernel still holds
    /// for us into the read buffer, when `graceful`), enters `Unconnected`, and emits
    /// `disconnected` if the socket was connected. Idempotent.
    fn finish_close(&self, graceful: bool) {
        let previous = self.state.get();
        if previous == SocketState::Unconnected && self.io.borrow().is_none() {
            return;
        }
        let io = self.io.borrow_mut().take();
        if let Some(io) = io.as_ref() {
            if graceful {
                let _ = rustix::net::shutdown(&*io.fd, rustix::net::Shutdown::Write);
                self.drain_kernel(&io.fd);
            }
        }
        drop(io);
        self.generation.set(self.generation.get() + 1);
        self.set_state(SocketState::Unconnected);
        if matches!(previous, SocketState::Connected | SocketState::Closing) {
            self.signals.disconnected.emit(&());
        }
    }

    /// Moves data the kernel already received into the read buffer, so closing does not
    /// discard it (and does not make the kernel reset the connection).
    fn drain_kernel(&self, fd: &OwnedFd) {
        let mut read = self.read.borrow_mut();
        loop {
            let r = match self.kind.get() {
                SocketKind::Stream => {
                    let room = read.bytes.spare(READ_CHUNK, READ_CHUNK);
                    let r = rustix::io::read(fd, room);
                    if let Ok(n) = r {
                        read.bytes.commit(n);
                    }
                    r
                }
                SocketKind::Packet => recv_packet(fd).map(|mut packet| {
                    let n = packet.len();
                    if n > 0 {
                        packet.truncate(MAX_PACKET);
                        read.packets.push(packet);
                    }
                    n
                }),
            };
            match r {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

thread_local! {
    /// The buffer packets are received into, one per thread (a loop's sockets all read on
    /// its thread): allocated and zeroed once, not per read. Each packet is copied out at
    /// its own size.
    static PACKET_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Receives one packet. A packet longer than `MAX_PACKET` comes back `MAX_PACKET + 1`
/// bytes long (the rest is discarded by the kernel), for the caller to refuse.
fn recv_packet(fd: &OwnedFd) -> rustix::io::Result<Vec<u8>> {
    PACKET_SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.len() < MAX_PACKET + 1 {
            scratch.resize(MAX_PACKET + 1, 0);
        }
        let (n, _) = rustix::net::recv(fd, &mut scratch[..], RecvFlags::empty())?;
        Ok(scratch[..n].to_vec())
    })
}

/// Closes the fd of a failed connect on a short-lived helper thread.
///
/// Some kernels fail in `close()` there: on Debian's Linux 6.1, releasing an L2CAP
/// socket whose connect ended in a page timeout (`EHOSTDOWN`) hits a kernel BUG (list
/// corruption in `hci_chan_del`), and the thread that closed it never comes back. The
/// loop thread must not be that thread; a helper thread that is leaks only itself.
fn close_off_thread(fd: Rc<OwnedFd>, event_loop: &WeakLoopHandle) {
    PendingClose {
        fd: Some(fd),
        event_loop: event_loop.clone(),
        attempts: CLOSE_ATTEMPTS,
    }
    .attempt();
}

/// How many loop iterations a failed connect's fd may wait for its other holders (the
/// notifier's activation still running when the connect failed) before it is closed on
/// the loop thread after all.
const CLOSE_ATTEMPTS: u32 = 8;

/// A failed connect's fd on its way to a closing thread. Dropped before it got there
/// (its loop went away with the retry still queued), it makes one last attempt.
struct PendingClose {
    fd: Option<Rc<OwnedFd>>,
    event_loop: WeakLoopHandle,
    attempts: u32,
}

impl PendingClose {
    /// Hands the fd over now if nothing else holds it (the drop does that), or posts
    /// itself to look again on the next iteration.
    fn attempt(mut self) {
        let shared = self.fd.as_ref().is_some_and(|fd| Rc::strong_count(fd) > 1);
        if shared && self.attempts > 0 {
            let retry = PendingClose {
                fd: self.fd.take(),
                event_loop: self.event_loop.clone(),
                attempts: self.attempts - 1,
            };
            // If the loop is gone, the retry is dropped at once: its `Drop` tries.
            self.event_loop.post(move || retry.attempt());
        }
    }
}

impl Drop for PendingClose {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take() {
            match Rc::try_unwrap(fd) {
                Ok(fd) => spawn_close(fd),
                Err(fd) => {
                    log::warn!("a failed socket is closed on the loop thread: still shared");
                    drop(fd);
                }
            }
        }
    }
}

fn spawn_close(fd: OwnedFd) {
    let spawned = std::thread::Builder::new()
        .name("sigloop-close".into())
        .spawn(move || drop(fd));
    if let Err(e) = spawned {
        log::warn!("could not start a thread to close a failed socket: {e}");
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let queued = {
            let write = self.write.borrow();
            write.bytes.len() + write.packets.len_bytes()
        };
        if queued > 0 && self.io.borrow().is_some() {
            log::warn!("socket dropped with {queued} bytes not yet written");
        }
    }
}
