//! Sockets on the loop: [`AbstractSocket`] (Qt's `QAbstractSocket` machinery over any
//! stream or packet socket) and [`SocketServer`], with TCP ([`TcpSocket`],
//! [`TcpServer`]) and Unix-domain ([`UnixSocket`], [`UnixServer`]) sockets on them.

mod abstract_socket;
mod buffer;
mod socket_io;
mod socket_server;
mod socket_state;
mod tcp;
pub mod transport;
mod unix;
mod watched_fd;

pub use abstract_socket::{AbstractSocket, WeakAbstractSocket};
pub use socket_io::SocketIo;
pub use socket_server::SocketServer;
pub use socket_state::{SocketError, SocketKind, SocketState};
pub use tcp::{TcpServer, TcpSocket};
pub use unix::{UnixServer, UnixSocket};
