//! Every `unsafe` call of the crate: AF_BLUETOOTH sockets and their addresses.
//!
//! The kernel's address structures (`include/net/bluetooth/rfcomm.h`, `l2cap.h`):
//! `sockaddr_rc { sa_family_t; bdaddr_t; u8 channel }` and
//! `sockaddr_l2 { sa_family_t; __le16 psm; bdaddr_t; __le16 cid; u8 bdaddr_type }`, with
//! `bdaddr_t` stored least significant byte first.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::{BluetoothAddress, Protocol};

const BTPROTO_L2CAP: libc::c_int = 0;
const BTPROTO_RFCOMM: libc::c_int = 3;
/// `BDADDR_BREDR`: the address type of a classic (BR/EDR) device.
const BDADDR_BREDR: u8 = 0;

#[repr(C)]
#[derive(Clone, Copy)]
struct SockaddrRc {
    family: libc::sa_family_t,
    bdaddr: [u8; 6],
    channel: u8,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SockaddrL2 {
    family: libc::sa_family_t,
    psm: u16,
    bdaddr: [u8; 6],
    cid: u16,
    bdaddr_type: u8,
}

/// Room for either address structure.
#[repr(C)]
union SockaddrBt {
    rc: SockaddrRc,
    l2: SockaddrL2,
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn encode(
    protocol: Protocol,
    address: BluetoothAddress,
    port: u16,
) -> (SockaddrBt, libc::socklen_t) {
    let family = libc::AF_BLUETOOTH as libc::sa_family_t;
    match protocol {
        Protocol::Rfcomm => (
            SockaddrBt {
                rc: SockaddrRc {
                    family,
                    bdaddr: address.to_kernel(),
                    // Callers check the range; the kernel takes a byte.
                    channel: port as u8,
                },
            },
            size_of::<SockaddrRc>() as libc::socklen_t,
        ),
        Protocol::L2cap => (
            SockaddrBt {
                l2: SockaddrL2 {
                    family,
                    psm: port.to_le(),
                    bdaddr: address.to_kernel(),
                    cid: 0,
                    bdaddr_type: BDADDR_BREDR,
                },
            },
            size_of::<SockaddrL2>() as libc::socklen_t,
        ),
    }
}

fn decode(protocol: Protocol, raw: &SockaddrBt) -> (BluetoothAddress, u16) {
    match protocol {
        // SAFETY: the kernel filled the structure of the socket's own protocol (or the
        // union is all zeroes, which is a valid value of both members).
        Protocol::Rfcomm => unsafe {
            (
                BluetoothAddress::from_kernel(raw.rc.bdaddr),
                u16::from(raw.rc.channel),
            )
        },
        // SAFETY: as above.
        Protocol::L2cap => unsafe {
            (
                BluetoothAddress::from_kernel(raw.l2.bdaddr),
                u16::from_le(raw.l2.psm),
            )
        },
    }
}

fn zeroed() -> SockaddrBt {
    // SAFETY: both members are plain integers and byte arrays, for which all-zero is valid.
    unsafe { MaybeUninit::<SockaddrBt>::zeroed().assume_init() }
}

/// `socket(AF_BLUETOOTH, SOCK_STREAM | SOCK_SEQPACKET, BTPROTO_*)`, close-on-exec.
pub(crate) fn socket(protocol: Protocol, nonblocking: bool) -> io::Result<OwnedFd> {
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

/// `bind()` to a local adapter address and channel/PSM (0: let the kernel choose).
pub(crate) fn bind(
    fd: BorrowedFd<'_>,
    protocol: Protocol,
    address: BluetoothAddress,
    port: u16,
) -> io::Result<()> {
    let (sa, len) = encode(protocol, address, port);
    // SAFETY: `sa` is a valid, initialised address structure of `len` bytes that lives
    // across the call; `fd` is a valid descriptor.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const sa).cast(), len) })?;
    Ok(())
}

/// `connect()`; on a non-blocking socket `EINPROGRESS` is returned as an error.
pub(crate) fn connect(
    fd: BorrowedFd<'_>,
    protocol: Protocol,
    address: BluetoothAddress,
    port: u16,
) -> io::Result<()> {
    let (sa, len) = encode(protocol, address, port);
    // SAFETY: as in `bind`.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&raw const sa).cast(), len) })?;
    Ok(())
}

/// `accept4()`: the new connection and its peer's address and channel/PSM.
pub(crate) fn accept(
    fd: BorrowedFd<'_>,
    protocol: Protocol,
    nonblocking: bool,
) -> io::Result<(OwnedFd, BluetoothAddress, u16)> {
    let mut sa = zeroed();
    let mut len = size_of::<SockaddrBt>() as libc::socklen_t;
    let flags = libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: `sa` has room for `len` bytes and outlives the call; the kernel writes at
    // most `len` bytes and updates `len`.
    let new = cvt(unsafe { libc::accept4(fd.as_raw_fd(), (&raw mut sa).cast(), &mut len, flags) })?;
    // SAFETY: `new` was just returned by accept4() and is owned by nobody else.
    let new = unsafe { OwnedFd::from_raw_fd(new) };
    let (address, port) = decode(protocol, &sa);
    Ok((new, address, port))
}

fn name(
    fd: BorrowedFd<'_>,
    protocol: Protocol,
    f: unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int,
) -> io::Result<(BluetoothAddress, u16)> {
    let mut sa = zeroed();
    let mut len = size_of::<SockaddrBt>() as libc::socklen_t;
    // SAFETY: `f` is getsockname or getpeername; `sa` has room for `len` bytes.
    cvt(unsafe { f(fd.as_raw_fd(), (&raw mut sa).cast(), &mut len) })?;
    Ok(decode(protocol, &sa))
}

/// `getsockname()`: the local adapter address and channel/PSM.
pub(crate) fn local_name(
    fd: BorrowedFd<'_>,
    protocol: Protocol,
) -> io::Result<(BluetoothAddress, u16)> {
    name(fd, protocol, libc::getsockname)
}

/// `getpeername()`: the peer's address and channel/PSM; `ENOTCONN` until connected.
pub(crate) fn peer_name(
    fd: BorrowedFd<'_>,
    protocol: Protocol,
) -> io::Result<(BluetoothAddress, u16)> {
    name(fd, protocol, libc::getpeername)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_structures_have_the_kernel_sizes() {
        assert_eq!(size_of::<SockaddrRc>(), 10);
        assert_eq!(size_of::<SockaddrL2>(), 14);
    }

    #[test]
    fn encode_decode_round_trip() {
        let a: BluetoothAddress = "00:AA:01:00:00:23".parse().unwrap();
        for (p, port) in [(Protocol::Rfcomm, 7), (Protocol::L2cap, 0x1001)] {
            let (sa, _) = encode(p, a, port);
            assert_eq!(decode(p, &sa), (a, port));
        }
    }
}
