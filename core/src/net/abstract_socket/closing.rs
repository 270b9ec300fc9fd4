//! Closing: graceful (after every queued byte, and for some transports after the
//! kernel's own queue), at once, and when the peer closes; data the kernel already
//! received is kept.

use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::reading::recv_packet;
use super::{AbstractSocket, Inner, CLOSE_DRAIN_LIMIT, CLOSE_DRAIN_POLL, MAX_PACKET, READ_CHUNK};
use crate::net::buffer::Buffer;
use crate::{single_shot, SocketError, SocketState};

impl AbstractSocket {
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
            inner.write.borrow_mut().clear();
        }
        inner.finish_close(false);
    }

    /// Closes the socket as a device (Qt: `close`): like
    /// [`disconnect_from_host`](Self::disconnect_from_host), and also discards what is
    /// buffered for reading.
    pub fn close(&self) {
        {
            self.inner.read.borrow_mut().clear();
        }
        self.disconnect_from_host();
    }
}

impl Inner {
    pub(super) fn remote_closed(&self, error: SocketError, message: &str) {
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
            self.write.borrow_mut().clear();
        }
        self.finish_close(false);
    }

    /// Finishes a graceful close once the kernel has sent what it holds (see
    /// [`AbstractSocket::set_close_drain`]); until then looks again every 10 ms.
    pub(super) fn close_when_drained(self: &Rc<Self>) {
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
        let (weak, generation) = (Rc::downgrade(self), self.generation.stamp());
        single_shot(&handle, CLOSE_DRAIN_POLL, move || {
            if let Some(inner) = weak.upgrade() {
                if inner.generation.is_current(generation)
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
    pub(super) fn finish_close(&self, graceful: bool) {
        let previous = self.state.get();
        if previous == SocketState::Unconnected && self.io.borrow().is_none() {
            return;
        }
        let io = self.io.borrow_mut().take();
        if let Some(io) = io.as_ref() {
            if graceful {
                let _ = rustix::net::shutdown(&**io.fd(), rustix::net::Shutdown::Write);
                self.drain_kernel(io.fd());
            }
        }
        drop(io);
        self.generation.bump();
        self.set_state(SocketState::Unconnected);
        if matches!(previous, SocketState::Connected | SocketState::Closing) {
            self.signals.disconnected.emit(&());
        }
    }

    /// Moves data the kernel already received into the read buffer, so closing does not
    /// discard it (and does not make the kernel reset the connection).
    pub(super) fn drain_kernel(&self, fd: &OwnedFd) {
        let mut read = self.read.borrow_mut();
        loop {
            let r = match &mut *read {
                Buffer::Stream(bytes) => {
                    let room = bytes.spare(READ_CHUNK, READ_CHUNK);
                    let r = rustix::io::read(fd, room);
                    if let Ok(n) = r {
                        bytes.commit(n);
                    }
                    r
                }
                Buffer::Packet(packets) => recv_packet(fd).map(|mut packet| {
                    let n = packet.len();
                    if n > 0 {
                        packet.truncate(MAX_PACKET);
                        packets.push(packet);
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
