//! [`SocketIo`]: a socket seen through `std::io`'s traits.

use std::io;

use super::AbstractSocket;

/// A socket as [`io::Read`] and [`io::Write`] (from [`AbstractSocket::io`]), so that
/// code written against them works on the loop's sockets.
///
/// Nothing blocks: `read` gives buffered bytes, `WouldBlock` when none are buffered and
/// more may come, and `Ok(0)` once the connection is over and the buffer is empty;
/// `write` queues (errors as the socket's own [`write`](AbstractSocket::write), turned
/// into [`io::Error`]s that carry the [`SocketError`](crate::SocketError)); `flush` hands
/// queued data to the kernel as far as it takes it now, and succeeds on a socket with no
/// descriptor (there is nothing to flush). Drive the loop to move data.
#[derive(Debug, Clone, Copy)]
pub struct SocketIo<'a> {
    socket: &'a AbstractSocket,
}

impl AbstractSocket {
    /// The socket as [`std::io::Read`] and [`std::io::Write`], for code written against
    /// them (`BufReader`, `write!`, `io::copy`). The socket's own `read`, `write` and
    /// `flush` are Qt's, with Qt's results; the adapter's follow the io traits: see
    /// [`SocketIo`].
    pub fn io(&self) -> SocketIo<'_> {
        SocketIo { socket: self }
    }
}

impl io::Read for SocketIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let s = self.socket;
        let n = s.read(buf);
        if n > 0 || !s.is_valid() || s.peer_closed() {
            Ok(n)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

impl io::Write for SocketIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.socket.write(buf).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Nothing queued, or nothing open: nothing to hand over.
        let _ = self.socket.flush();
        Ok(())
    }
}
