//! Shared helpers for the socket tests: connected pairs on each transport; the checksum,
//! pattern and signal recorder shared with the Bluetooth tests come from sigloop-testbed.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sigloop_core::{
    AbstractSocket, LoopHandle, SocketKind, SocketState, TcpServer, TcpSocket, UnixServer,
    UnixSocket,
};

pub const LONG: Duration = Duration::from_secs(20);

/// Which transport a scenario runs on.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    Tcp,
    UnixStream,
    UnixPacket,
}

/// Keeps a server alive (and its socket file removed afterwards).
pub enum Server {
    Tcp(TcpServer),
    Unix(UnixServer),
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Server::Unix(s) = self {
            s.close();
        }
    }
}

static NEXT_PATH: AtomicU32 = AtomicU32::new(0);

pub fn socket_path() -> PathBuf {
    let n = NEXT_PATH.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("sigloop-test-{}-{n}.sock", std::process::id()))
}

/// A client socket connected to a freshly accepted server-side socket.
pub fn pair(h: &LoopHandle, t: Transport) -> (AbstractSocket, AbstractSocket, Server) {
    let (client, server): (AbstractSocket, Server) = match t {
        Transport::Tcp => {
            let server = TcpServer::new(h);
            server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
            let client = TcpSocket::new(h);
            client
                .connect_to_address(server.server_address().unwrap())
                .unwrap();
            (client.as_abstract_socket().clone(), Server::Tcp(server))
        }
        Transport::UnixStream | Transport::UnixPacket => {
            let kind = match t {
                Transport::UnixPacket => SocketKind::Packet,
                _ => SocketKind::Stream,
            };
            let server = UnixServer::new(h, kind);
            let path = socket_path();
            server.listen(&path).unwrap();
            let client = UnixSocket::new(h, kind);
            client.connect_to_server(&path).unwrap();
            (client.as_abstract_socket().clone(), Server::Unix(server))
        }
    };
    let accepted = || -> Option<AbstractSocket> {
        match &server {
            Server::Tcp(s) => s
                .next_pending_connection()
                .map(|c| c.as_abstract_socket().clone()),
            Server::Unix(s) => s
                .next_pending_connection()
                .map(|c| c.as_abstract_socket().clone()),
        }
    };
    let mut other = None;
    let deadline = Instant::now() + LONG;
    h.wait_until(deadline, || {
        if other.is_none() {
            other = accepted();
        }
        other.is_some() && client.state() == SocketState::Connected
    })
    .unwrap();
    assert_eq!(
        client.state(),
        SocketState::Connected,
        "client never connected"
    );
    (client, other.expect("server never accepted"), server)
}
