//! The interface a transport (TCP, Unix, Bluetooth, or yours) drives an
//! [`AbstractSocket`](crate::AbstractSocket) with: handing over a connecting or connected fd, the lookup state
//! before a connect, its own error mapping, a graceful close that waits for the kernel,
//! and the write size. User code never needs it; import [`SocketTransport`] to write a
//! transport.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use super::{SocketError, SocketState};

/// Whether the kernel has sent everything queued on an fd (see
/// [`SocketTransport::set_close_drain`]).
pub type DrainCheck = fn(BorrowedFd<'_>) -> io::Result<bool>;

pub(crate) mod sealed {
    /// Only the crate's own socket implements [`SocketTransport`](super::SocketTransport).
    pub trait Sealed {}
}

/// A transport's hooks into an [`AbstractSocket`](crate::AbstractSocket), apart from its user API so that a
/// socket type built on it (`TcpSocket`, `BluetoothSocket`) does not hand them to its
/// users. Implemented by [`AbstractSocket`](crate::AbstractSocket) only.
pub trait SocketTransport: sealed::Sealed {
    /// Adopts `fd`, a socket already connected (`SocketState::Connected`) or whose
    /// non-blocking connect is in progress (`SocketState::Connecting`) (Qt:
    /// `setSocketDescriptor`). The fd is made non-blocking. Emits `state_changed`; a
    /// connecting socket then completes as in [`begin_connect`](SocketTransport::begin_connect).
    ///
    /// # Errors
    /// `Operation` if the socket is not unconnected or `state` is neither of the two
    /// (nothing changes); the OS error if the fd cannot be watched.
    fn adopt_descriptor(&self, fd: OwnedFd, state: SocketState) -> Result<(), SocketError>;

    /// Enters a lookup state (`HostLookup` or `ServiceLookup`) before a connect, so the
    /// socket reports it (Qt emits `stateChanged` for it too).
    ///
    /// # Errors
    /// `Operation` if the socket is not unconnected or `state` is not a lookup state.
    fn begin_lookup(&self, state: SocketState) -> Result<(), SocketError>;

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
    fn begin_connect(&self, fd: OwnedFd, result: io::Result<()>) -> Result<(), SocketError>;

    /// Replaces the mapping from OS errors to [`SocketError`]s (default
    /// [`SocketError::from_io`]), for transports whose errnos mean something more
    /// specific (a Bluetooth page timeout, `EHOSTDOWN`, is "host not found").
    fn set_error_mapping(&self, mapping: fn(&io::Error) -> SocketError);

    /// Makes a graceful close wait, after the socket's own queue is empty, until
    /// `drained(fd)` says the kernel has sent everything too, polling every
    /// 10 ms for up to a minute. For transports whose `close()` discards data the kernel
    /// still holds (Bluetooth L2CAP and RFCOMM do).
    fn set_close_drain(&self, drained: DrainCheck);

    /// Reports an error found by the transport before or during a connect (a failed
    /// lookup, say): `error_occurred(error)`, then back to `Unconnected`.
    fn fail_connect(&self, error: SocketError, message: &str);

    /// Sets the largest piece handed to the kernel per write: the packet size limit
    /// (MTU) on packet sockets. Bluetooth sockets stall on oversized writes; their
    /// transports set this.
    fn set_max_write_chunk(&self, bytes: usize);
}
