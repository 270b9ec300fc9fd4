//! Receiving several packets in one system call (`recvmmsg`).

use std::os::fd::{AsRawFd, BorrowedFd};

use rustix::io::Errno;

/// The most packets one call receives.
pub(crate) const MAX_BATCH: usize = 4;

/// Receives up to `bufs.len()` (at most [`MAX_BATCH`]) queued packets from `fd` without
/// blocking, one into each buffer, and stores each packet's received length in `lens`.
/// Returns how many packets came; fewer than `bufs.len()` means the socket's queue was
/// empty after the last one. A packet longer than its buffer is cut to the buffer's
/// length.
///
/// `EAGAIN` when nothing is queued. Errors met after the first packet are kept by the
/// kernel for the next call.
pub(crate) fn recv_packets(
    fd: BorrowedFd<'_>,
    bufs: &mut [&mut [u8]],
    lens: &mut [usize],
) -> rustix::io::Result<usize> {
    let count = bufs.len();
    assert!(
        count <= MAX_BATCH && lens.len() >= count,
        "at most MAX_BATCH buffers, each with a length"
    );
    let mut iovs = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_BATCH];
    for (iov, b) in iovs.iter_mut().zip(bufs.iter_mut()) {
        iov.iov_base = b.as_mut_ptr().cast();
        iov.iov_len = b.len();
    }
    // SAFETY: `mmsghdr` is plain data (integers and raw pointers); all zeroes is a valid
    // value: no name, no control data, no iovec.
    let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    loop {
        // SAFETY: the first `count` headers of `msgs` each point at one iovec of `iovs`,
        // and each of those at a buffer of `bufs` of exactly its length. All of them are
        // borrowed mutably for this call and outlive it; the kernel writes at most
        // `iov_len` bytes into each buffer and fills in `msg_len` and `msg_flags`. No
        // timeout is passed.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                count as _,
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        if n >= 0 {
            let n = n as usize;
            for (len, m) in lens.iter_mut().zip(&msgs[..n]) {
                *len = m.msg_len as usize;
            }
            return Ok(n);
        }
        let errno = Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO);
        if errno != Errno::INTR {
            return Err(errno);
        }
    }
}
