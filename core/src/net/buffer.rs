//! The socket's read and write buffers: a byte window for streams, a packet queue for
//! packet transports, and [`Buffer`], one or the other as the socket's kind decides once.

use std::collections::VecDeque;

use crate::SocketKind;

/// A socket's read or write buffer, of the socket's kind (chosen when the socket is
/// made, never changed): what differs between streams and packets is decided here.
#[derive(Debug)]
pub(crate) enum Buffer {
    Stream(ByteWindow),
    Packet(PacketQueue),
}

impl Buffer {
    pub(crate) fn new(kind: SocketKind) -> Buffer {
        match kind {
            SocketKind::Stream => Buffer::Stream(ByteWindow::default()),
            SocketKind::Packet => Buffer::Packet(PacketQueue::default()),
        }
    }

    /// Bytes held.
    pub(crate) fn len(&self) -> usize {
        match self {
            Buffer::Stream(b) => b.len(),
            Buffer::Packet(q) => q.len_bytes(),
        }
    }

    /// Whole packets held (0 on a stream).
    pub(crate) fn packet_count(&self) -> usize {
        match self {
            Buffer::Stream(_) => 0,
            Buffer::Packet(q) => q.count(),
        }
    }

    pub(crate) fn clear(&mut self) {
        match self {
            Buffer::Stream(b) => b.clear(),
            Buffer::Packet(q) => q.clear(),
        }
    }

    /// What a read would start from: every byte of a stream, the rest of the first packet.
    pub(crate) fn front(&self) -> &[u8] {
        match self {
            Buffer::Stream(b) => b.as_slice(),
            Buffer::Packet(q) => q.front().unwrap_or(&[]),
        }
    }

    /// Copies up to `out.len()` bytes out and consumes them, never across a packet
    /// boundary.
    pub(crate) fn read_into(&mut self, out: &mut [u8]) -> usize {
        match self {
            Buffer::Stream(b) => b.read_into(out),
            Buffer::Packet(q) => q.read_into(out),
        }
    }

    /// Every byte held, packets concatenated; the buffer is left empty.
    pub(crate) fn take_all(&mut self) -> Vec<u8> {
        match self {
            Buffer::Stream(b) => {
                let out = b.as_slice().to_vec();
                b.clear();
                out
            }
            Buffer::Packet(q) => {
                let mut out = Vec::with_capacity(q.len_bytes());
                while let Some(p) = q.pop() {
                    out.extend_from_slice(&p);
                }
                out
            }
        }
    }

    /// One whole packet; on a stream, every byte held (`None` when empty).
    pub(crate) fn take_packet(&mut self) -> Option<Vec<u8>> {
        match self {
            Buffer::Packet(q) => q.pop(),
            Buffer::Stream(b) if b.len() > 0 => {
                let out = b.as_slice().to_vec();
                b.clear();
                Some(out)
            }
            Buffer::Stream(_) => None,
        }
    }

    /// Queues `data`: appended to a stream, one packet on a packet socket.
    pub(crate) fn queue(&mut self, data: &[u8]) {
        match self {
            Buffer::Stream(b) => b.extend(data),
            Buffer::Packet(q) => q.push(data.to_vec()),
        }
    }
}

/// Bytes `buf[start..end]`; the rest of `buf` is zero-initialised room that the kernel
/// can read into directly, so a stream read costs one copy (kernel → here → user).
#[derive(Debug, Default)]
pub(crate) struct ByteWindow {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ByteWindow {
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Room of at least `min` and at most `max` bytes after the data, for a kernel read;
    /// confirm what was filled with [`commit`](Self::commit).
    pub(crate) fn spare(&mut self, min: usize, max: usize) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buf.len() - self.end < min {
            if self.start > 0 && self.buf.len() - self.len() >= min {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let want = (self.len() + min).max(self.buf.len() * 2);
                self.buf.resize(want, 0);
            }
        }
        let room = (self.buf.len() - self.end).min(max);
        &mut self.buf[self.end..self.end + room]
    }

    pub(crate) fn commit(&mut self, n: usize) {
        debug_assert!(self.end + n <= self.buf.len());
        self.end += n;
    }

    pub(crate) fn extend(&mut self, data: &[u8]) {
        let room = self.spare(data.len(), data.len());
        room.copy_from_slice(data);
        self.commit(data.len());
    }

    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Copies up to `out.len()` bytes out and consumes them.
    pub(crate) fn read_into(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len());
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.consume(n);
        n
    }

    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Gives memory back once a burst is over.
    pub(crate) fn shrink_if_idle(&mut self, keep: usize) {
        if self.start == self.end && self.buf.len() > keep {
            self.buf = Vec::new();
            self.start = 0;
            self.end = 0;
        }
    }
}

/// Whole packets; `front_offset` bytes of the first one were already read by `read`.
#[derive(Debug, Default)]
pub(crate) struct PacketQueue {
    packets: VecDeque<Vec<u8>>,
    front_offset: usize,
    bytes: usize,
}

impl PacketQueue {
    pub(crate) fn len_bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn count(&self) -> usize {
        self.packets.len()
    }

    pub(crate) fn push(&mut self, packet: Vec<u8>) {
        self.bytes += packet.len();
        self.packets.push_back(packet);
    }

    /// The rest of the first packet.
    pub(crate) fn front(&self) -> Option<&[u8]> {
        self.packets.front().map(|p| &p[self.front_offset..])
    }

    pub(crate) fn pop(&mut self) -> Option<Vec<u8>> {
        let mut p = self.packets.pop_front()?;
        if self.front_offset > 0 {
            p.drain(..self.front_offset);
            self.front_offset = 0;
        }
        self.bytes -= p.len();
        Some(p)
    }

    /// Copies from the first packet only (never across a boundary) and consumes that.
    pub(crate) fn read_into(&mut self, out: &mut [u8]) -> usize {
        let Some(front) = self.front() else { return 0 };
        let n = out.len().min(front.len());
        out[..n].copy_from_slice(&front[..n]);
        self.front_offset += n;
        self.bytes -= n;
        if self.front().is_some_and(|f| f.is_empty()) {
            self.packets.pop_front();
            self.front_offset = 0;
        }
        n
    }

    pub(crate) fn clear(&mut self) {
        self.packets.clear();
        self.front_offset = 0;
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_reads_writes_compacts_and_grows() {
        let mut w = ByteWindow::default();
        w.extend(b"hello ");
        w.extend(b"world");
        let mut out = [0u8; 6];
        assert_eq!(w.read_into(&mut out), 6);
        assert_eq!(&out, b"hello ");
        assert_eq!(w.as_slice(), b"world");
        let room = w.spare(1000, 10);
        assert_eq!(room.len(), 10);
        room[..3].copy_from_slice(b"!!!");
        w.commit(3);
        assert_eq!(w.as_slice(), b"world!!!");
        w.consume(8);
        assert_eq!(w.len(), 0);
        w.shrink_if_idle(0);
        assert_eq!(w.buf.len(), 0);
    }

    #[test]
    fn packets_keep_boundaries_and_partial_reads() {
        let mut q = PacketQueue::default();
        q.push(b"abc".to_vec());
        q.push(b"defg".to_vec());
        assert_eq!(q.len_bytes(), 7);
        let mut out = [0u8; 2];
        assert_eq!(q.read_into(&mut out), 2);
        assert_eq!(&out, b"ab");
        assert_eq!(q.pop().unwrap(), b"c");
        let mut big = [0u8; 10];
        assert_eq!(
            q.read_into(&mut big),
            4,
            "never crosses into the next packet"
        );
        assert_eq!(q.count(), 0);
        assert_eq!(q.len_bytes(), 0);
    }
}
