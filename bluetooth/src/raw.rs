//! Plain AF_BLUETOOTH sockets as `OwnedFd`s, for programs that manage descriptors
//! themselves (and may hand them to
//! [`BluetoothSocket::set_socket_descriptor`](crate::BluetoothSocket::set_socket_descriptor)),
//! and for measuring against.
//!
//! RFCOMM sockets are `SOCK_STREAM`, L2CAP sockets `SOCK_SEQPACKET`; all are
//! close-on-exec. Addresses are given and returned as written (most significant byte
//! first); the byte order the kernel uses is handled here.

pub use crate::sys::{adapters, bind, connect, local_name, peer_name, socket, Adapter};
