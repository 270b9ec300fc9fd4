//! Plain AF_BLUETOOTH sockets as `OwnedFd`s, for programs that manage descriptors
//! themselves (and may hand them to
//! [`BluetoothSocket::set_socket_descriptor`](crate::BluetoothSocket::set_socket_descriptor)),
//! and for measuring against.
//!
//! RFCOMM sockets are `SOCK_STREAM`, L2CAP sockets `SOCK_SEQPACKET`; all are
//! close-on-exec. Addresses are given and returned as written (most significant byte
//! first); the byte order the kernel uses is handled here.

pub use crate::sys::{
    adapters, bind, connect, local_name, peer_name, set_security_level, socket, Adapter,
};

use std::io;
use std::os::fd::BorrowedFd;

use crate::low_energy::RemoteAddressType;
use crate::BluetoothAddress;

/// `bind()` of an L2CAP socket for LE channels: the adapter `address` (null: any) with
/// the LE public address type, and an LE PSM (0: the kernel picks a dynamic one).
///
/// # Errors
/// The OS error.
pub fn bind_le(fd: BorrowedFd<'_>, address: BluetoothAddress, psm: u16) -> io::Result<()> {
    crate::sys::bind_l2cap(fd, address, psm, crate::sys::BDADDR_LE_PUBLIC)
}

/// `connect()` of an L2CAP socket to the LE `psm` of the LE device `address`; on a
/// non-blocking socket `EINPROGRESS` is returned as an error.
///
/// # Errors
/// The OS error.
pub fn connect_le(
    fd: BorrowedFd<'_>,
    address: BluetoothAddress,
    address_type: RemoteAddressType,
    psm: u16,
) -> io::Result<()> {
    let kind = match address_type {
        RemoteAddressType::Public => crate::sys::BDADDR_LE_PUBLIC,
        RemoteAddressType::Random => crate::sys::BDADDR_LE_RANDOM,
    };
    crate::sys::connect_l2cap(fd, address, psm, kind)
}
