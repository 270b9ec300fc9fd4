//! [`TcpSocket`] and [`TcpServer`] (Qt's `QTcpSocket`, `QTcpServer`).

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::ops::Deref;

use rustix::net::{AddressFamily, SocketFlags, SocketType};

use std::os::fd::OwnedFd;

use super::transport::SocketTransport;
use crate::{AbstractSocket, LoopHandle, SocketError, SocketKind, SocketServer, SocketState};

/// A TCP connection (Qt's `QTcpSocket`): an [`AbstractSocket`] (reached through `Deref`,
/// as `QTcpSocket` inherits `QAbstractSocket`) plus addressing.
///
/// ```no_run
/// use sigloop_core::{EventLoop, TcpSocket};
///
/// let event_loop = EventLoop::new()?;
/// let socket = TcpSocket::new(&event_loop.handle());
/// let s = socket.clone();
/// socket.connected().connect(move |()| {
///     s.write(b"GET / HTTP/1.0\r\n\r\n").unwrap();
/// });
/// socket.connect_to_host("127.0.0.1", 8080)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A cheap handle (`Clone`); dropping the last handle closes the connection at once, as
/// [`AbstractSocket`] describes.
#[must_use = "dropping the last handle of a socket closes it at once"]
#[derive(Clone)]
pub struct TcpSocket {
    socket: AbstractSocket,
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpSocket").field(&self.socket).finish()
    }
}

impl Deref for TcpSocket {
    type Target = AbstractSocket;
    fn deref(&self) -> &AbstractSocket {
        &self.socket
    }
}

/// Whether `host` could be a DNS name at all (letters, digits, `-`, `.`).
fn plausible_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Resolves `host` (an IP literal, or a name that passed [`plausible_host_name`]) with
/// the system resolver.
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, SocketError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| SocketError::HostNotFound)?
        .collect();
    if addrs.is_empty() {
        return Err(SocketError::HostNotFound);
    }
    Ok(addrs)
}

fn family(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

impl TcpSocket {
    /// An unconnected TCP socket on `event_loop`.
    pub fn new(event_loop: &LoopHandle) -> TcpSocket {
        TcpSocket {
            socket: AbstractSocket::new(event_loop, SocketKind::Stream),
        }
    }

    /// Wraps a socket accepted by a [`TcpServer`].
    fn from_socket(socket: AbstractSocket) -> TcpSocket {
        TcpSocket { socket }
    }

    /// The underlying [`AbstractSocket`].
    pub fn as_abstract_socket(&self) -> &AbstractSocket {
        &self.socket
    }

    /// Starts connecting to `host` (an IP address or a host name) on `port` (Qt:
    /// `connectToHost`). Host names are resolved here, with the system's resolver, in
    /// the `HostLookup` state; the connection itself completes on the loop: watch
    /// `connected` and `error_occurred`.
    ///
    /// # Errors
    /// Returned at once, with no signal and no state change: `Operation` if the socket
    /// is not unconnected; `HostNotFound` for a host that is not an address and does not
    /// resolve. A connect the OS refuses at once (no route, say) is also reported through
    /// `error_occurred`.
    pub fn connect_to_host(&self, host: &str, port: u16) -> Result<(), SocketError> {
        if self.state() != SocketState::Unconnected || self.socket_descriptor().is_some() {
            return Err(SocketError::Operation);
        }
        let literal = host.parse::<IpAddr>().is_ok();
        let addrs = if literal {
            resolve(host, port)?
        } else {
            if !plausible_host_name(host) {
                return Err(SocketError::HostNotFound);
            }
            self.socket.begin_lookup(SocketState::HostLookup)?;
            match resolve(host, port) {
                Ok(a) => a,
                Err(e) => {
                    self.socket
                        .fail_connect(e, &format!("host {host:?} not found"));
                    return Err(e);
                }
            }
        };
        self.connect_to_address(addrs[0])
    }

    /// Starts connecting to `addr`. See [`connect_to_host`](Self::connect_to_host).
    ///
    /// # Errors
    /// As `connect_to_host`.
    pub fn connect_to_address(&self, addr: SocketAddr) -> Result<(), SocketError> {
        let fd = rustix::net::socket_with(
            family(&addr),
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| SocketError::from_io(&e.into()))?;
        let result = rustix::net::connect(&fd, &addr).map_err(Into::into);
        self.socket.begin_connect(fd, result)
    }

    /// Adopts `fd`, a TCP socket already connected (`SocketState::Connected`) or whose
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

    /// The local address while the socket has one (Qt: `localAddress` + `localPort`).
    pub fn local_address(&self) -> Option<SocketAddr> {
        self.with_fd(|fd| rustix::net::getsockname(fd).ok())
            .flatten()
            .and_then(|a| SocketAddr::try_from(a).ok())
    }

    /// The peer's address while connected (Qt: `peerAddress` + `peerPort`).
    pub fn peer_address(&self) -> Option<SocketAddr> {
        self.with_fd(|fd| rustix::net::getpeername(fd).ok().flatten())
            .flatten()
            .and_then(|a| SocketAddr::try_from(a).ok())
    }

    /// Sets `TCP_NODELAY` (Qt: `setSocketOption(LowDelayOption)`).
    ///
    /// # Errors
    /// `Operation` without a connection; the OS error otherwise.
    pub fn set_no_delay(&self, on: bool) -> Result<(), SocketError> {
        self.with_fd(|fd| rustix::net::sockopt::set_tcp_nodelay(fd, on))
            .ok_or(SocketError::Operation)?
            .map_err(|e| SocketError::from_io(&e.into()))
    }
}

/// A TCP server (Qt's `QTcpServer`).
///
/// A cheap handle (`Clone`); dropping the last handle closes the listening socket and the
/// connections not yet taken.
#[must_use = "dropping the last handle of a server closes it and its pending connections"]
#[derive(Clone)]
pub struct TcpServer {
    server: SocketServer,
    event_loop: LoopHandle,
}

impl fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpServer").field(&self.server).finish()
    }
}

impl Deref for TcpServer {
    type Target = SocketServer;
    fn deref(&self) -> &SocketServer {
        &self.server
    }
}

impl TcpServer {
    /// A server that is not listening yet.
    pub fn new(event_loop: &LoopHandle) -> TcpServer {
        TcpServer {
            server: SocketServer::new(event_loop, SocketKind::Stream),
            event_loop: event_loop.clone(),
        }
    }

    /// Listens on `addr`; port 0 picks a free port (see
    /// [`server_address`](Self::server_address)) (Qt: `listen`). `SO_REUSEADDR` is set.
    ///
    /// # Errors
    /// `Operation` if already listening (nothing changes); `AddressInUse`,
    /// `SocketAddressNotAvailable`, `SocketAccess` and the like from the OS.
    pub fn listen(&self, addr: SocketAddr) -> Result<(), SocketError> {
        if self.is_listening() {
            return Err(SocketError::Operation);
        }
        let os = |e: rustix::io::Errno| SocketError::from_io(&e.into());
        let fd = rustix::net::socket_with(
            family(&addr),
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .map_err(os)?;
        rustix::net::sockopt::set_socket_reuseaddr(&fd, true).map_err(os)?;
        rustix::net::bind(&fd, &addr).map_err(os)?;
        let backlog = i32::try_from(self.max_pending_connections()).unwrap_or(i32::MAX);
        rustix::net::listen(&fd, backlog).map_err(os)?;
        self.server.listen_fd(fd)
    }

    /// The address listened on, with the real port (Qt: `serverAddress` +
    /// `serverPort`).
    pub fn server_address(&self) -> Option<SocketAddr> {
        self.with_fd(|fd| rustix::net::getsockname(fd).ok())
            .flatten()
            .and_then(|a| SocketAddr::try_from(a).ok())
    }

    /// Takes the oldest accepted connection (Qt: `nextPendingConnection`).
    pub fn next_pending_connection(&self) -> Option<TcpSocket> {
        self.server
            .next_pending_connection()
            .map(TcpSocket::from_socket)
    }

    /// The loop the server and its connections run on.
    pub fn event_loop(&self) -> &LoopHandle {
        &self.event_loop
    }
}
