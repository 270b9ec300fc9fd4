//! RFCOMM and L2CAP socket addresses.
//!
//! The kernel's address structures (`include/net/bluetooth/rfcomm.h`, `l2cap.h`):
//! `sockaddr_rc { sa_family_t; bdaddr_t; u8 channel }` and
//! `sockaddr_l2 { sa_family_t; __le16 psm; bdaddr_t; __le16 cid; u8 bdaddr_type }`, with
//! `bdaddr_t` stored least significant byte first.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt;
use crate::{BluetoothAddress, Protocol};

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
pub(super) struct SockaddrL2 {
    pub(super) family: libc::sa_family_t,
    pub(super) psm: u16,
    pub(super) bdaddr: [u8; 6],
    pub(super) cid: u16,
    pub(super) bdaddr_type: u8,
}

/// Room for either address structure.
#[repr(C)]
union SockaddrBt {
    rc: SockaddrRc,
    l2: SockaddrL2,
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

/// `bind()` to a local adapter address and channel/PSM (0: let the kernel choose).
///
/// # Errors
/// `EADDRINUSE`, `EADDRNOTAVAIL` (no such adapter) and other OS errors.
pub fn bind(
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
///
/// # Errors
/// The OS error.
pub fn connect(
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
///
/// # Errors
/// The OS error.
pub fn local_name(fd: BorrowedFd<'_>, protocol: Protocol) -> io::Result<(BluetoothAddress, u16)> {
    name(fd, protocol, libc::getsockname)
}

/// `getpeername()`: the peer's address and channel/PSM.
///
/// # Errors
/// `ENOTCONN` until connected; other OS errors.
pub fn peer_name(fd: BorrowedFd<'_>, protocol: Protocol) -> io::Result<(BluetoothAddress, u16)> {
    name(fd, protocol, libc::getpeername)
}

/// `BDADDR_LE_PUBLIC` and `BDADDR_LE_RANDOM`: the address types of an LE device.
pub(crate) const BDADDR_LE_PUBLIC: u8 = 1;
pub(crate) const BDADDR_LE_RANDOM: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_have_the_kernel_sizes() {
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
