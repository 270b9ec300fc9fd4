//! Reading: the user's read API, and the engine that moves data from the kernel into
//! the read buffer and announces it.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use rustix::io::Errno;
use rustix::net::RecvFlags;

use super::{AbstractSocket, Inner, MAX_PACKET, READ_CHUNK};
use crate::net::buffer::Buffer;
use crate::{SocketError, SocketKind};

/// What one [`Inner::pull`] found.
#[derive(Default)]
struct Pull {
    got: usize,
    eof: bool,
    failure: Option<io::Error>,
}

impl AbstractSocket {
    /// Bytes buffered and ready to read (Qt: `bytesAvailable`). During a bulk transfer
    /// more may wait in the kernel while a `ready_read` slot runs: [`read`](Self::read)
    /// and [`read_all`](Self::read_all) take it too (straight into the caller's memory),
    /// and what the slots leave is buffered and announced again when they return.
    pub fn bytes_available(&self) -> usize {
        self.inner.read.borrow().len()
    }

    /// Whole packets buffered (packet sockets).
    pub fn pending_packets(&self) -> usize {
        self.inner.read.borrow().packet_count()
    }

    /// Reads up to `buf.len()` buffered bytes; 0 when nothing is buffered (Qt: `read`).
    /// On a packet socket it reads from the first packet only.
    pub fn read(&self, buf: &mut [u8]) -> usize {
        let n = self.inner.read.borrow_mut().read_into(buf);
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
        let out = self.inner.read.borrow_mut().take_all();
        if !out.is_empty() {
            self.inner.after_user_read();
        }
        out
    }

    /// Takes one whole packet (packet sockets); on a stream socket, everything buffered.
    pub fn read_packet(&self) -> Option<Vec<u8>> {
        self.inner.fill();
        let p = self.inner.read.borrow_mut().take_packet();
        if p.is_some() {
            self.inner.after_user_read();
        }
        p
    }

    /// Copies up to `buf.len()` buffered bytes without consuming them (Qt: `peek`).
    pub fn peek(&self, buf: &mut [u8]) -> usize {
        self.inner.fill();
        let read = self.inner.read.borrow();
        let src = read.front();
        let n = buf.len().min(src.len());
        buf[..n].copy_from_slice(&src[..n]);
        n
    }

    /// Whether a whole line (ending in `\n`) is buffered (Qt: `canReadLine`).
    pub fn can_read_line(&self) -> bool {
        self.inner.fill();
        self.inner.read.borrow().front().contains(&b'\n')
    }

    /// Takes one line, `\n` included (Qt: `readLine`). Without a whole line buffered it
    /// returns `None`, except after the peer closed, when the unterminated rest is the
    /// last line.
    pub fn read_line(&self) -> Option<Vec<u8>> {
        self.inner.fill();
        let line = {
            let mut read = self.inner.read.borrow_mut();
            let src = read.front();
            let end = match src.iter().position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if self.inner.peer_closed.get() && !src.is_empty() => src.len(),
                None => return None,
            };
            let mut line = vec![0; end];
            read.read_into(&mut line);
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
}

impl Inner {
    pub(super) fn read_full(&self) -> bool {
        let limit = self.read_limit.get();
        limit > 0 && self.read.borrow().len() >= limit
    }

    /// Moves what the kernel has into the read buffer, up to the limit, without
    /// emitting anything.
    fn pull(&self, max_total: usize) -> Pull {
        let mut out = Pull::default();
        let Some(fd) = self.fd() else { return out };
        loop {
            let limit = self.read_limit.get();
            let mut read = self.read.borrow_mut();
            let available = read.len();
            if (limit > 0 && available >= limit) || out.got >= max_total {
                break;
            }
            let mut short_read = false;
            let result = match &mut *read {
                Buffer::Stream(bytes) => {
                    let max = if limit > 0 {
                        limit - available
                    } else {
                        READ_CHUNK
                    };
                    let want = max.min(READ_CHUNK).min(max_total - out.got);
                    let room = bytes.spare(want, want);
                    let r = rustix::io::read(&*fd, room);
                    if let Ok(n) = r {
                        bytes.commit(n);
                        // A read that did not fill its room emptied the kernel's queue.
                        short_read = n > 0 && n < want;
                    }
                    r
                }
                Buffer::Packet(packets) => match recv_packet(&fd) {
                    Ok(packet) if packet.len() > MAX_PACKET => {
                        out.failure = Some(io::Error::from(Errno::MSGSIZE));
                        break;
                    }
                    Ok(packet) => {
                        let n = packet.len();
                        if n > 0 {
                            packets.push(packet);
                        }
                        Ok(n)
                    }
                    Err(e) => Err(e),
                },
            };
            drop(read);
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
    pub(super) fn announce(&self) {
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
    pub(super) fn read_from_kernel(self: &Rc<Self>) {
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
    pub(super) fn read_direct(&self, buf: &mut [u8]) -> usize {
        if self.kind != SocketKind::Stream
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

    /// Buffers what the kernel holds (up to the limit) for the APIs that look into the
    /// buffer, since slots may find it empty while the data still sits in the kernel.
    pub(super) fn fill(&self) {
        if self.is_open() && !self.peer_closed.get() && !self.kernel_drained.get() {
            self.pull(usize::MAX);
        }
    }

    pub(super) fn after_user_read(&self) {
        if self.read_limit.get() > 0 {
            self.update_interest();
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
pub(super) fn recv_packet(fd: &OwnedFd) -> rustix::io::Result<Vec<u8>> {
    PACKET_SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.len() < MAX_PACKET + 1 {
            scratch.resize(MAX_PACKET + 1, 0);
        }
        let (n, _) = rustix::net::recv(fd, &mut scratch[..], RecvFlags::empty())?;
        Ok(scratch[..n].to_vec())
    })
}
