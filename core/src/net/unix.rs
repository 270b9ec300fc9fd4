//! [`UnixSocket`] and [`UnixServer`]: `AF_UNIX` stream and packet sockets (Qt's
//! `QLocalSocket`, `QLocalServer`).

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use std::os::fd::OwnedFd;

use super::transport::SocketTransport;
use crate::{AbstractSocket, LoopHandle, SocketError, SocketKind, SocketServer, SocketState};

fn socket_type(kind: SocketKind) -> SocketType {
    match kind {
        SocketKind::Stream => SocketType::STREAM,
        SocketKind::Packet => SocketType::SEQPACKET,
    }
}

fn os(e: rustix::io::Errno) -> SocketError {
    SocketError::from_io(&e.into())
}

fn unix_addr(path: &Path) -> Result<SocketAddrUnix, SocketError> {
    SocketAddrUnix::new(path).map_err(|_| SocketError::HostNotFound)
}

/// An `AF_UNIX` connection, stream (`SOCK_STREAM`) or packets (`SOCK_SEQPACKET`) (Qt's
/// `QLocalSocket`, which has streams only). The [`AbstractSocket`] is reached through
/// `Deref`.
///
/// A cheap handle (`Clone`); dropping the last handle closes the connection at once, as
/// [`AbstractSocket`] describes.
#[must_use = "dropping the last handle of a socket closes it at once"]
#[derive(Clone)]
pub struct UnixSocket {
    socket: AbstractSocket,
}

impl fmt::Debug for UnixSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnixSocket").field(&self.socket).finish()
    }
}

impl Deref for UnixSocket {
    type Target = AbstractSocket;
    fn deref(&self) -> &AbstractSocket {
        &self.socket
    }
}

impl UnixSocket {
    /// An unconnected socket of `kind`.
    pub fn new(event_loop: &LoopHandle, kind: SocketKind) -> UnixSocket {
        UnixSocket {
            socket: AbstractSocket::new(event_loop, kind),
        }
    }

    /// A connected pair (`socketpair(2)`), both in `Connected` state.
    ///
    /// # Errors
    /// The OS error (out of fds).
    pub fn pair(
        event_loop: &LoopHandle,
        kind: SocketKind,
    ) -> Result<(UnixSocket, UnixSocket), SocketError> {
        let (a, b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            socket_type(kind),
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .map_err(os)?;
        let left = UnixSocket::new(event_loop, kind);
        left.set_socket_descriptor(a, SocketState::Connected)?;
        let right = UnixSocket::new(event_loop, kind);
        right.set_socket_descriptor(b, SocketState::Connected)?;
        Ok((left, right))
    }

    /// Adopts `fd`, a Unix-domain socket already connected (`SocketState::Connected`) or whose
    /// non-blocking connect is in progress (`SocketState::Connecting`) (Qt:
    /// `setSocketDescriptor`). The fd is made non-blocking.
    ///
    /// # Errors
    /// `Operation` if the socket is not unconnected or `state` is neither of the two
    /// (nothing changes); the OS error if the fd cannot be watched.
    pub fn set_socket_descriptor(
        &self,
        fd: OwnedFd,
        state: SocketState,
    ) -> Result<(), SocketError> {
        self.socket.adopt_descriptor(fd, state)
    }

    /// The underlying [`AbstractSocket`].
    pub fn as_abstract_socket(&self) -> &AbstractSocket {
        &self.socket
    }

    /// Starts connecting to the server listening at `path` (Qt: `connectToServer`).
    ///
    /// # Errors
    /// At once, with no signal and no state change: `Operation` if not unconnected,
    /// `HostNotFound` for a path too long for a socket address. A refused connection
    /// (nobody listening: `ConnectionRefused`; no such file: `HostNotFound`) is also
    /// reported through `error_occurred`.
    pub fn connect_to_server(&self, path: impl AsRef<Path>) -> Result<(), SocketError> {
        if self.state() != SocketState::Unconnected || self.socket_descriptor().is_some() {
            return Err(SocketError::Operation);
        }
        let addr = unix_addr(path.as_ref())?;
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            socket_type(self.socket_kind()),
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .map_err(os)?;
        let result = rustix::net::connect(&fd, &addr).map_err(Into::into);
        self.socket.begin_connect(fd, result)
    }
}

/// An `AF_UNIX` server (Qt's `QLocalServer`).
///
/// A cheap handle (`Clone`); dropping the last handle closes the listening socket and the
/// connections not yet taken.
#[must_use = "dropping the last handle of a server closes it and its pending connections"]
#[derive(Clone)]
pub struct UnixServer {
    server: SocketServer,
    kind: SocketKind,
    path: std::rc::Rc<std::cell::RefCell<Option<PathBuf>>>,
}

impl fmt::Debug for UnixServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixServer")
            .field("path", &*self.path.borrow())
            .field("server", &self.server)
            .finish()
    }
}

impl Deref for UnixServer {
    type Target = SocketServer;
    fn deref(&self) -> &SocketServer {
        &self.server
    }
}

impl UnixServer {
    /// A server for connections of `kind`, not listening yet.
    pub fn new(event_loop: &LoopHandle, kind: SocketKind) -> UnixServer {
        UnixServer {
            server: SocketServer::new(event_loop, kind),
            kind,
            path: Default::default(),
        }
    }

    /// Listens at `path` (Qt: `listen`). An existing file there is not removed.
    ///
    /// # Errors
    /// `Operation` if already listening (nothing changes); `AddressInUse` if `path`
    /// exists; `HostNotFound` for a path too long; other OS errors.
    pub fn listen(&self, path: impl AsRef<Path>) -> Result<(), SocketError> {
        if self.is_listening() {
            return Err(SocketError::Operation);
        }
        let path = path.as_ref();
        let addr = unix_addr(path)?;
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            socket_type(self.kind),
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .map_err(os)?;
        rustix::net::bind(&fd, &addr).map_err(os)?;
        let backlog = i32::try_from(self.max_pending_connections()).unwrap_or(i32::MAX);
        rustix::net::listen(&fd, backlog).map_err(os)?;
        self.server.listen_fd(fd)?;
        *self.path.borrow_mut() = Some(path.to_owned());
        Ok(())
    }

    /// The path listened at (Qt: `fullServerName`).
    pub fn path(&self) -> Option<PathBuf> {
        self.path.borrow().clone()
    }

    /// Takes the oldest accepted connection (Qt: `nextPendingConnection`).
    pub fn next_pending_connection(&self) -> Option<UnixSocket> {
        self.server
            .next_pending_connection()
            .map(|socket| UnixSocket { socket })
    }

    /// Stops listening, closes the connections not yet taken, and removes the socket
    /// file (Qt: `close`).
    pub fn close(&self) {
        self.server.close();
        if let Some(path) = self.path.borrow_mut().take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
