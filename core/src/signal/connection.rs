//! [`Connection`] tokens and the RAII guards [`ScopedConnection`] and [`SignalBlocker`].

use std::fmt;
use std::num::NonZeroU64;
use std::rc::Weak;

/// Identifies one slot connected to one signal (Qt's `QMetaObject::Connection`).
///
/// A small `Copy` token: ids are never reused, so disconnecting twice, disconnecting with
/// a token from another signal, or keeping a token after the slot went away is harmless
/// and reported as `false` by [`Signal::disconnect`](crate::Signal::disconnect).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Connection {
    id: NonZeroU64,
}

impl Connection {
    pub(crate) fn from_id(id: NonZeroU64) -> Self {
        Connection { id }
    }

    pub(crate) fn id(self) -> NonZeroU64 {
        self.id
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Connection({})", self.id)
    }
}

/// A connection that disconnects its slot when dropped.
///
/// Returned by [`Signal::connect_scoped`](crate::Signal::connect_scoped). Dropping the
/// guard disconnects the slot at once (a no-op if the signal is gone or the slot was
/// already disconnected); [`release`](Self::release) keeps the connection and returns its
/// plain token. The guard holds only a weak reference to the signal.
#[must_use = "dropping a ScopedConnection disconnects its slot at once"]
pub struct ScopedConnection {
    signal: Weak<dyn SignalControl>,
    connection: Option<Connection>,
}

impl ScopedConnection {
    pub(crate) fn new(signal: Weak<dyn SignalControl>, connection: Connection) -> Self {
        ScopedConnection {
            signal,
            connection: Some(connection),
        }
    }

    /// The plain token of this connection.
    pub fn connection(&self) -> Connection {
        self.connection.expect("present until drop or release")
    }

    /// Keeps the slot connected for good and returns its token.
    pub fn release(mut self) -> Connection {
        self.connection
            .take()
            .expect("present until drop or release")
    }

    /// Disconnects now; returns whether the slot was still connected.
    pub fn disconnect(mut self) -> bool {
        self.disconnect_inner()
    }

    fn disconnect_inner(&mut self) -> bool {
        match (self.connection.take(), self.signal.upgrade()) {
            (Some(c), Some(signal)) => signal.disconnect_id(c.id()),
            _ => false,
        }
    }
}

impl Drop for ScopedConnection {
    fn drop(&mut self) {
        self.disconnect_inner();
    }
}

impl fmt::Debug for ScopedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedConnection")
            .field("connection", &self.connection)
            .finish()
    }
}

/// Blocks a signal while it lives (Qt's `QSignalBlocker`).
///
/// Returned by [`Signal::blocker`](crate::Signal::blocker). Dropping it restores the
/// blocked state the signal had before, so blockers nest. [`unblock`](Self::unblock)
/// restores early.
#[must_use = "dropping a SignalBlocker unblocks the signal at once"]
pub struct SignalBlocker {
    signal: Weak<dyn SignalControl>,
    previous: Option<bool>,
}

impl SignalBlocker {
    pub(crate) fn new(signal: Weak<dyn SignalControl>, previous: bool) -> Self {
        SignalBlocker {
            signal,
            previous: Some(previous),
        }
    }

    /// Restores the previous state now (Qt's `QSignalBlocker::unblock`).
    pub fn unblock(mut self) {
        self.restore();
    }

    fn restore(&mut self) {
        if let (Some(previous), Some(signal)) = (self.previous.take(), self.signal.upgrade()) {
            signal.set_blocked(previous);
        }
    }
}

impl Drop for SignalBlocker {
    fn drop(&mut self) {
        self.restore();
    }
}

impl fmt::Debug for SignalBlocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalBlocker")
            .field("previous", &self.previous)
            .finish()
    }
}

/// What guards need from a signal without knowing its argument type.
pub(crate) trait SignalControl {
    fn disconnect_id(&self, id: NonZeroU64) -> bool;
    fn set_blocked(&self, blocked: bool);
}
