//! The blocking helpers (Qt's `waitFor*`): they run the socket's loop until something
//! happens or the time is up.

use std::time::{Duration, Instant};

use super::AbstractSocket;
use crate::SocketState;

impl AbstractSocket {
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
