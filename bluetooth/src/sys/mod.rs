//! Every `unsafe` call of the crate, one concern per file: AF_BLUETOOTH sockets, socket
//! options and the descriptors bluer hands over (here); the RFCOMM and L2CAP addresses
//! ([`addr`]); L2CAP's own options, LE addresses and LE links ([`l2cap`]); the HCI
//! adapter list ([`hci`]).
#![allow(unsafe_code)]

mod addr;
mod hci;
mod l2cap;

pub use addr::{bind, connect, local_name, peer_name};
pub(crate) use addr::{BDADDR_LE_PUBLIC, BDADDR_LE_RANDOM};
pub(crate) use hci::le_link_up_to;
pub use hci::{adapters, Adapter};
pub(crate) use l2cap::{
    apply_l2cap_settings, bind_l2cap, connect_l2cap, l2cap_options, le_link_up, le_mtus,
    set_le_incoming_mtu,
};

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::Protocol;

const BTPROTO_L2CAP: libc::c_int = 0;
const BTPROTO_RFCOMM: libc::c_int = 3;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `socket(AF_BLUETOOTH, SOCK_STREAM | SOCK_SEQPACKET, BTPROTO_*)`, close-on-exec.
///
/// # Errors
/// `EAFNOSUPPORT` without Bluetooth in the kernel; other OS errors.
pub fn socket(protocol: Protocol, nonblocking: bool) -> io::Result<OwnedFd> {
    let (ty, proto) = match protocol {
        Protocol::Rfcomm => (libc::SOCK_STREAM, BTPROTO_RFCOMM),
        Protocol::L2cap => (libc::SOCK_SEQPACKET, BTPROTO_L2CAP),
    };
    let flags = libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe { libc::socket(libc::AF_BLUETOOTH, ty | flags, proto) })?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

const SOL_BLUETOOTH: libc::c_int = 274;
const BT_SECURITY: libc::c_int = 4;

/// `struct bt_security` (`include/net/bluetooth/bluetooth.h`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct BtSecurity {
    level: u8,
    key_size: u8,
}

fn getsockopt<T: Copy + Default>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    let mut value = T::default();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a plain `repr(C)` structure with room for `len` bytes; the
    // kernel writes at most that many and updates `len`.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &mut len,
        )
    })?;
    // A shorter answer left part of `value` at its default: refuse it rather than
    // return a value the kernel did not give.
    if len as usize != size_of::<T>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "getsockopt({level}, {name}) gave {len} bytes, expected {}",
                size_of::<T>()
            ),
        ));
    }
    Ok(value)
}

fn setsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to an initialised `repr(C)` value of the given size that
    // lives across the call.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `BT_SECURITY` level: 0 SDP, 1 low, 2 medium, 3 high, 4 FIPS.
pub(crate) fn security_level(fd: BorrowedFd<'_>) -> io::Result<u8> {
    getsockopt::<BtSecurity>(fd, SOL_BLUETOOTH, BT_SECURITY).map(|s| s.level)
}

/// Sets the socket's `BT_SECURITY` level (`BT_SECURITY_LOW` 1, `MEDIUM` 2, `HIGH` 3,
/// `FIPS` 4); a connect then asks the link for it.
///
/// # Errors
/// The OS error (`EINVAL` for a level the kernel does not know).
pub fn set_security_level(fd: BorrowedFd<'_>, level: u8) -> io::Result<()> {
    setsockopt(
        fd,
        SOL_BLUETOOTH,
        BT_SECURITY,
        &BtSecurity { level, key_size: 0 },
    )
}

/// Whether the kernel has handed everything written on `fd` to the controller: for
/// Bluetooth sockets `TIOCOUTQ` answers the free send space (`sk_sndbuf` minus the
/// memory still held by unsent data), so everything is out when it equals `SO_SNDBUF`.
///
/// # Errors
/// The OS error.
pub fn send_queue_empty(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut free: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one int into `free`, which outlives the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &raw mut free) })?;
    let sndbuf: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF)?;
    Ok(free >= sndbuf)
}

/// How many bytes written on the local socket `fd` the peer has not read yet: for Unix
/// sockets `SIOCOUTQ` (`TIOCOUTQ`) answers the memory still held by sent messages, which
/// the kernel frees as the peer reads them. Used on the socket bluetoothd hands out for
/// writes without response (`AcquireWrite`): at 0, bluetoothd has taken every write.
///
/// # Errors
/// The OS error.
pub(crate) fn unread_by_peer(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut held: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one int into `held`, which outlives the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &raw mut held) })?;
    Ok(usize::try_from(held).unwrap_or(0))
}

/// [`unread_by_peer`] on the socket of bluer's write handle (`AcquireWrite`).
///
/// # Errors
/// The OS error.
pub(crate) fn writer_unread(writer: &bluer::gatt::CharacteristicWriter) -> io::Result<usize> {
    // SAFETY: the writer owns this open descriptor and outlives the borrow, which ends
    // with this call.
    let fd = unsafe { BorrowedFd::borrow_raw(writer.as_raw_fd()) };
    unread_by_peer(fd)
}

/// The descriptor of bluer's notify reader (bluetoothd's `AcquireNotify`), owned.
///
/// # Errors
/// bluer could not hand it over.
pub(crate) fn notify_fd(reader: bluer::gatt::CharacteristicReader) -> io::Result<OwnedFd> {
    let fd = reader.into_raw_fd()?;
    // SAFETY: `into_raw_fd` gave up its ownership of the open descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_have_the_kernel_sizes() {
        assert_eq!(size_of::<BtSecurity>(), 2);
    }

    #[test]
    fn unread_by_peer_counts_until_the_peer_reads() {
        use std::os::fd::AsFd;
        use std::os::unix::net::UnixDatagram;
        // A datagram pair behaves as bluetoothd's SEQPACKET pair does here.
        let (ours, theirs) = UnixDatagram::pair().unwrap();
        assert_eq!(unread_by_peer(ours.as_fd()).unwrap(), 0);
        ours.send(&[7; 20]).unwrap();
        ours.send(&[8; 20]).unwrap();
        assert!(unread_by_peer(ours.as_fd()).unwrap() >= 40);
        let mut buf = [0; 64];
        assert_eq!(theirs.recv(&mut buf).unwrap(), 20);
        assert!(unread_by_peer(ours.as_fd()).unwrap() > 0);
        assert_eq!(theirs.recv(&mut buf).unwrap(), 20);
        assert_eq!(unread_by_peer(ours.as_fd()).unwrap(), 0);
    }
}
