//! Writing: the user's write API, and the engine that hands queued data to the kernel
//! and reports it with `bytes_written`.

use std::rc::Rc;

use rustix::io::Errno;
use rustix::net::SendFlags;

use super::{AbstractSocket, Inner, KEEP_WRITE_BUFFER};
use crate::net::buffer::Buffer;
use crate::{SocketError, SocketKind, SocketState};

impl AbstractSocket {
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
        if inner.kind == SocketKind::Packet && data.len() > inner.write_chunk.get() {
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
            inner.write.borrow_mut().queue(rest);
        }
        inner.update_interest();
        Ok(data.len())
    }

    /// Bytes queued and not yet handed to the kernel (Qt: `bytesToWrite`).
    pub fn bytes_to_write(&self) -> usize {
        self.inner.queued_writes()
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

    /// The largest piece handed to the kernel per write.
    pub fn max_write_chunk(&self) -> usize {
        self.inner.write_chunk.get()
    }
}

impl Inner {
    pub(super) fn queued_writes(&self) -> usize {
        self.write.borrow().len()
    }

    /// Writes queued data to the kernel until it would block; returns the bytes written.
    pub(super) fn write_to_kernel(&self) -> usize {
        let Some(fd) = self.fd() else { return 0 };
        let chunk = self.write_chunk.get();
        let mut total = 0;
        loop {
            let result = {
                let mut write = self.write.borrow_mut();
                match &mut *write {
                    Buffer::Stream(bytes) => {
                        let data = bytes.as_slice();
                        if data.is_empty() {
                            break;
                        }
                        let piece = &data[..data.len().min(chunk)];
                        let r = rustix::net::send(&*fd, piece, SendFlags::NOSIGNAL);
                        if let Ok(n) = r {
                            bytes.consume(n);
                        }
                        r
                    }
                    Buffer::Packet(packets) => {
                        let Some(packet) = packets.front() else {
                            break;
                        };
                        let r = rustix::net::send(&*fd, packet, SendFlags::NOSIGNAL);
                        if let Ok(n) = r {
                            debug_assert_eq!(n, packet.len(), "packets go whole");
                            packets.pop();
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
            if let Buffer::Stream(bytes) = &mut *self.write.borrow_mut() {
                bytes.shrink_if_idle(KEEP_WRITE_BUFFER);
            }
        }
        total
    }

    /// Sends from `data` without queueing it, until the kernel would block; a packet goes
    /// whole or not at all. Returns the bytes sent.
    pub(super) fn send_direct(&self, data: &[u8]) -> usize {
        let Some(fd) = self.fd() else { return 0 };
        let chunk = match self.kind {
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
    pub(super) fn note_written_later(self: &Rc<Self>, n: usize) {
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
}
