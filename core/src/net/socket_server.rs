//! [`SocketServer`]: the accepting half of Qt's `QTcpServer`/`QBluetoothServer`, over any
//! listening socket fd.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{OwnedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::SocketFlags;

use super::transport::SocketTransport;
use super::watched_fd::WatchedFd;
use crate::{
    single_shot, AbstractSocket, Interest, LoopHandle, Signal, SocketError, SocketKind,
    SocketState, WeakLoopHandle,
};

/// Qt's default `maxPendingConnections`.
const DEFAULT_MAX_PENDING: usize = 30;
/// Pause before accepting again after an error such as running out of fds.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

struct Inner {
    event_loop: WeakLoopHandle,
    kind: SocketKind,
    listener: RefCell<Option<WatchedFd>>,
    pending: RefCell<VecDeque<AbstractSocket>>,
    max_pending: Cell<usize>,
    paused: Cell<bool>,
    error: Cell<Option<SocketError>>,
    error_string: RefCell<String>,
    new_connection: Signal<()>,
    error_occurred: Signal<SocketError>,
}

/// Accepts connections on a listening socket and queues them as connected
/// [`AbstractSocket`]s (the machinery of Qt's `QTcpServer` and `QBluetoothServer`).
///
/// Transports ([`TcpServer`](crate::TcpServer), [`UnixServer`](crate::UnixServer),
/// Bluetooth servers) create, bind and `listen()` the fd and hand it to
/// [`listen_fd`](Self::listen_fd). At most
/// [`max_pending_connections`](Self::max_pending_connections) accepted sockets wait in the
/// queue; beyond that the server stops accepting, so further connections wait in the
/// kernel's backlog (or are refused by it) and are never accepted and then lost.
/// `new_connection` is emitted once per accepted connection.
///
/// A cheap handle (`Clone`). Dropping the last handle closes the listening socket and the
/// queued connections.
#[must_use = "dropping the last handle of a server closes it and its pending connections"]
#[derive(Clone)]
pub struct SocketServer {
    inner: Rc<Inner>,
}

impl fmt::Debug for SocketServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketServer")
            .field("fd", &self.socket_descriptor())
            .field("pending", &self.inner.pending.borrow().len())
            .field("max_pending", &self.inner.max_pending.get())
            .finish()
    }
}

impl SocketServer {
    /// A server that is not listening yet; accepted sockets are of `kind`.
    pub fn new(event_loop: &LoopHandle, kind: SocketKind) -> SocketServer {
        SocketServer {
            inner: Rc::new(Inner {
                event_loop: event_loop.downgrade(),
                kind,
                listener: RefCell::new(None),
                pending: RefCell::new(VecDeque::new()),
                max_pending: Cell::new(DEFAULT_MAX_PENDING),
                paused: Cell::new(false),
                error: Cell::new(None),
                error_string: RefCell::new(String::new()),
                new_connection: Signal::new(),
                error_occurred: Signal::new(),
            }),
        }
    }

    /// Emitted once per accepted connection (Qt: `newConnection`).
    pub fn new_connection(&self) -> &Signal<()> {
        &self.inner.new_connection
    }

    /// Emitted when accepting fails (Qt: `acceptError` / `errorOccurred`).
    pub fn error_occurred(&self) -> &Signal<SocketError> {
        &self.inner.error_occurred
    }

    /// Starts accepting on `fd`, a socket on which `listen()` was called. It is made
    /// non-blocking.
    ///
    /// # Errors
    /// `Operation` if already listening (nothing changes); the OS error if the fd cannot
    /// be watched.
    pub fn listen_fd(&self, fd: OwnedFd) -> Result<(), SocketError> {
        if self.is_listening() {
            return Err(SocketError::Operation);
        }
        let handle = self
            .inner
            .event_loop
            .upgrade()
            .ok_or(SocketError::Operation)?;
        rustix::io::ioctl_fionbio(&fd, true).map_err(|e| self.set_error(e))?;
        let weak = Rc::downgrade(&self.inner);
        let listener = WatchedFd::new(&handle, fd, Interest::READ, move |_| {
            if let Some(inner) = weak.upgrade() {
                inner.accept_ready();
            }
        })
        .map_err(|e| self.set_error(Errno::from_io_error(&e).unwrap_or(Errno::INVAL)))?;
        self.inner.error.set(None);
        self.inner.paused.set(false);
        *self.inner.listener.borrow_mut() = Some(listener);
        Ok(())
    }

    fn set_error(&self, e: Errno) -> SocketError {
        let io: std::io::Error = e.into();
        let err = SocketError::from_io(&io);
        self.inner.error.set(Some(err));
        *self.inner.error_string.borrow_mut() = io.to_string();
        err
    }

    /// Whether the server is listening (Qt: `isListening`).
    pub fn is_listening(&self) -> bool {
        self.inner.listener.borrow().is_some()
    }

    /// `Listening` or `Unconnected`.
    pub fn state(&self) -> SocketState {
        if self.is_listening() {
            SocketState::Listening
        } else {
            SocketState::Unconnected
        }
    }

    /// The listening fd (Qt: `socketDescriptor`).
    pub fn socket_descriptor(&self) -> Option<RawFd> {
        self.inner.listener.borrow().as_ref().map(WatchedFd::raw_fd)
    }

    /// Runs `f` with the listening fd (for `getsockname` and socket options).
    pub fn with_fd<R>(&self, f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> R) -> Option<R> {
        let fd = self
            .inner
            .listener
            .borrow()
            .as_ref()
            .map(|l| l.fd().clone())?;
        Some(f(std::os::fd::AsFd::as_fd(&*fd)))
    }

    /// Stops listening and closes the connections not yet taken (Qt: `close`).
    pub fn close(&self) {
        let listener = self.inner.listener.borrow_mut().take();
        drop(listener);
        let pending = std::mem::take(&mut *self.inner.pending.borrow_mut());
        drop(pending);
    }

    /// How many accepted connections may wait for [`next_pending_connection`]
    /// (Qt: `setMaxPendingConnections`, default 30). Also the `listen()` backlog that
    /// transports pass to the kernel.
    ///
    /// [`next_pending_connection`]: Self::next_pending_connection
    pub fn set_max_pending_connections(&self, n: usize) {
        self.inner.max_pending.set(n.max(1));
        self.inner.update_interest();
    }

    /// See [`set_max_pending_connections`](Self::set_max_pending_connections).
    pub fn max_pending_connections(&self) -> usize {
        self.inner.max_pending.get()
    }

    /// Whether accepted connections are waiting (Qt: `hasPendingConnections`).
    pub fn has_pending_connections(&self) -> bool {
        !self.inner.pending.borrow().is_empty()
    }

    /// Takes the oldest accepted connection, a socket in `Connected` state (Qt:
    /// `nextPendingConnection`).
    pub fn next_pending_connection(&self) -> Option<AbstractSocket> {
        let socket = self.inner.pending.borrow_mut().pop_front();
        if socket.is_some() {
            self.inner.update_interest();
        }
        socket
    }

    /// The last error (Qt: `serverError`).
    pub fn error(&self) -> Option<SocketError> {
        self.inner.error.get()
    }

    /// Text of the last error (Qt: `errorString`).
    pub fn error_string(&self) -> String {
        self.inner.error_string.borrow().clone()
    }
}

impl Inner {
    fn update_interest(&self) {
        let listener = self.listener.borrow();
        let Some(l) = listener.as_ref() else { return };
        let room = self.pending.borrow().len() < self.max_pending.get();
        if let Err(e) = l.set_enabled(room && !self.paused.get()) {
            log::error!("listening fd {}: {e}", l.raw_fd());
        }
    }

    fn accept_ready(self: Rc<Self>) {
        let Some(handle) = self.event_loop.upgrade() else {
            return;
        };
        let mut accepted = 0;
        loop {
            if self.pending.borrow().len() >= self.max_pending.get() {
                break;
            }
            let Some(fd) = self.listener.borrow().as_ref().map(|l| l.fd().clone()) else {
                return;
            };
            match rustix::net::accept_with(&*fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
                Ok(conn) => {
                    let socket = AbstractSocket::new(&handle, self.kind);
                    if let Err(e) = socket.adopt_descriptor(conn, SocketState::Connected) {
                        self.report(e, "could not watch an accepted connection");
                        continue;
                    }
                    self.pending.borrow_mut().push_back(socket);
                    accepted += 1;
                }
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR | Errno::CONNABORTED) => continue,
                Err(e) => {
                    let io: std::io::Error = e.into();
                    self.report(SocketError::from_io(&io), &io.to_string());
                    // Out of fds and the like: the listener stays readable, so pause
                    // instead of spinning.
                    self.paused.set(true);
                    let weak = Rc::downgrade(&self);
                    single_shot(&handle, ACCEPT_BACKOFF, move || {
                        if let Some(inner) = weak.upgrade() {
                            inner.paused.set(false);
                            inner.update_interest();
                        }
                    });
                    break;
                }
            }
        }
        self.update_interest();
        for _ in 0..accepted {
            self.new_connection.emit(&());
        }
    }

    fn report(&self, e: SocketError, message: &str) {
        self.error.set(Some(e));
        *self.error_string.borrow_mut() = message.to_owned();
        self.error_occurred.emit(&e);
    }
}
