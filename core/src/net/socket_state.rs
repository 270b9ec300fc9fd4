//! The socket's state, error and kind enums (Qt's `QAbstractSocket::SocketState`,
//! `SocketError`).

use std::fmt;
use std::io;

/// Where a socket is in its life (Qt's `QAbstractSocket::SocketState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SocketState {
    /// Not connected (Qt: `UnconnectedState`).
    #[default]
    Unconnected,
    /// Resolving a host name (Qt: `HostLookupState`).
    HostLookup,
    /// Looking up a service's channel or port (Qt's `QBluetoothSocket::ServiceLookupState`).
    ServiceLookup,
    /// Connection in progress (Qt: `ConnectingState`).
    Connecting,
    /// Connected (Qt: `ConnectedState`).
    Connected,
    /// Bound to an address, not connected (Qt: `BoundState`).
    Bound,
    /// Closing: pending writes are being sent before the close (Qt: `ClosingState`).
    Closing,
    /// Listening, for servers (Qt: `ListeningState`).
    Listening,
}

/// What went wrong (Qt's `QAbstractSocket::SocketError`; the proxy and TLS variants have
/// no counterpart here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketError {
    /// The peer refused the connection or timed it out (Qt: `ConnectionRefusedError`).
    ConnectionRefused,
    /// The peer closed the connection (Qt: `RemoteHostClosedError`).
    RemoteHostClosed,
    /// The host address was not found (Qt: `HostNotFoundError`).
    HostNotFound,
    /// The operation was not permitted (Qt: `SocketAccessError`).
    SocketAccess,
    /// Out of resources: file descriptors, memory (Qt: `SocketResourceError`).
    SocketResource,
    /// The operation timed out (Qt: `SocketTimeoutError`).
    SocketTimeout,
    /// A packet was larger than the transport allows (Qt: `DatagramTooLargeError`).
    DatagramTooLarge,
    /// The network failed, e.g. the link went down (Qt: `NetworkError`).
    Network,
    /// The address is already in use (Qt: `AddressInUseError`).
    AddressInUse,
    /// The address does not belong to this host (Qt: `SocketAddressNotAvailableError`).
    SocketAddressNotAvailable,
    /// The operation is not supported here (Qt: `UnsupportedSocketOperationError`).
    UnsupportedSocketOperation,
    /// An operation of this kind is still in progress (Qt:
    /// `UnfinishedSocketOperationError`).
    UnfinishedSocketOperation,
    /// The operation is not allowed in the socket's state, e.g. writing while
    /// unconnected (Qt: `OperationError`).
    Operation,
    /// A transient error; try again (Qt: `TemporaryError`).
    Temporary,
    /// The service looked up (by UUID, say) does not exist on the peer (Qt's
    /// `QBluetoothSocket::ServiceNotFoundError`).
    ServiceNotFound,
    /// The protocol is not supported here, e.g. no Bluetooth in the kernel (Qt's
    /// `QBluetoothSocket::UnsupportedProtocolError`).
    UnsupportedProtocol,
    /// Anything else (Qt: `UnknownSocketError`).
    UnknownSocket,
}

impl SocketError {
    /// Maps an OS error to the variant Qt would report for it.
    pub fn from_io(e: &io::Error) -> SocketError {
        use rustix::io::Errno;
        let Some(raw) = e.raw_os_error() else {
            return match e.kind() {
                io::ErrorKind::TimedOut => SocketError::SocketTimeout,
                io::ErrorKind::WouldBlock => SocketError::Temporary,
                _ => SocketError::UnknownSocket,
            };
        };
        match Errno::from_raw_os_error(raw) {
            Errno::CONNREFUSED => SocketError::ConnectionRefused,
            Errno::CONNRESET | Errno::PIPE | Errno::CONNABORTED => SocketError::RemoteHostClosed,
            Errno::TIMEDOUT => SocketError::SocketTimeout,
            Errno::ACCESS | Errno::PERM => SocketError::SocketAccess,
            Errno::ADDRINUSE => SocketError::AddressInUse,
            Errno::ADDRNOTAVAIL => SocketError::SocketAddressNotAvailable,
            Errno::NETUNREACH | Errno::HOSTUNREACH | Errno::HOSTDOWN | Errno::NETDOWN => {
                SocketError::Network
            }
            Errno::NOMEM | Errno::NOBUFS | Errno::MFILE | Errno::NFILE => {
                SocketError::SocketResource
            }
            Errno::MSGSIZE => SocketError::DatagramTooLarge,
            Errno::AFNOSUPPORT | Errno::PROTONOSUPPORT => SocketError::UnsupportedProtocol,
            Errno::OPNOTSUPP | Errno::INVAL => SocketError::UnsupportedSocketOperation,
            Errno::ALREADY | Errno::INPROGRESS => SocketError::UnfinishedSocketOperation,
            Errno::NOENT => SocketError::HostNotFound,
            Errno::AGAIN | Errno::INTR | Errno::BUSY => SocketError::Temporary,
            _ => SocketError::UnknownSocket,
        }
    }

    /// A short English description.
    pub fn description(self) -> &'static str {
        match self {
            SocketError::ConnectionRefused => "connection refused",
            SocketError::RemoteHostClosed => "the remote host closed the connection",
            SocketError::HostNotFound => "host not found",
            SocketError::SocketAccess => "permission denied",
            SocketError::SocketResource => "out of resources",
            SocketError::SocketTimeout => "operation timed out",
            SocketError::DatagramTooLarge => "packet too large",
            SocketError::Network => "network error",
            SocketError::AddressInUse => "address already in use",
            SocketError::SocketAddressNotAvailable => "address not available",
            SocketError::UnsupportedSocketOperation => "unsupported socket operation",
            SocketError::UnfinishedSocketOperation => "operation already in progress",
            SocketError::Operation => "operation not allowed in this state",
            SocketError::Temporary => "temporary error",
            SocketError::ServiceNotFound => "service not found",
            SocketError::UnsupportedProtocol => "protocol not supported",
            SocketError::UnknownSocket => "unknown socket error",
        }
    }
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for SocketError {}

impl From<SocketError> for io::Error {
    fn from(e: SocketError) -> io::Error {
        let kind = match e {
            SocketError::ConnectionRefused => io::ErrorKind::ConnectionRefused,
            SocketError::RemoteHostClosed => io::ErrorKind::ConnectionReset,
            SocketError::SocketTimeout => io::ErrorKind::TimedOut,
            SocketError::SocketAccess => io::ErrorKind::PermissionDenied,
            SocketError::AddressInUse => io::ErrorKind::AddrInUse,
            SocketError::SocketAddressNotAvailable => io::ErrorKind::AddrNotAvailable,
            SocketError::Operation => io::ErrorKind::NotConnected,
            SocketError::Temporary => io::ErrorKind::WouldBlock,
            SocketError::UnsupportedSocketOperation => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Whether a socket carries a byte stream or packets with kept boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketKind {
    /// A byte stream (TCP, `AF_UNIX` `SOCK_STREAM`, RFCOMM).
    Stream,
    /// Reliable packets (`SOCK_SEQPACKET`: `AF_UNIX`, L2CAP): one write is one packet, one
    /// [`read_packet`](crate::AbstractSocket::read_packet) returns one packet.
    Packet,
}
