//! `SocketServer` through `TcpServer` and `UnixServer`, connect failures and bad input.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_core::transport::SocketTransport;
use sigloop_core::{
    AbstractSocket, EventLoop, SignalSpy, SocketError, SocketKind, SocketState, TcpServer,
    TcpSocket, UnixServer, UnixSocket,
};
use sigloop_testbed::record;
use util::{socket_path, LONG};

#[test]
fn new_connection_once_per_client_and_sockets_come_connected() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let server = TcpServer::new(&h);
    server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    assert!(server.is_listening());
    assert_eq!(server.state(), SocketState::Listening);
    let spy = SignalSpy::new(server.new_connection());
    let clients: Vec<TcpSocket> = (0..3)
        .map(|_| {
            let c = TcpSocket::new(&h);
            c.connect_to_address(server.server_address().unwrap())
                .unwrap();
            c
        })
        .collect();
    assert!(spy.wait_for_count(&h, 3, LONG).unwrap());
    for c in &clients {
        assert!(c.wait_for_connected(LONG));
    }
    let mut accepted = Vec::new();
    while let Some(s) = server.next_pending_connection() {
        assert_eq!(s.state(), SocketState::Connected);
        assert!(s.peer_address().is_some());
        accepted.push(s);
    }
    assert_eq!(accepted.len(), 3);
    assert!(!server.has_pending_connections());
}

#[test]
fn connections_beyond_max_pending_wait_in_the_kernel_and_are_not_lost() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let server = TcpServer::new(&h);
    server.set_max_pending_connections(2);
    assert_eq!(server.max_pending_connections(), 2);
    server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let clients: Vec<TcpSocket> = (0..5)
        .map(|_| {
            let c = TcpSocket::new(&h);
            c.connect_to_address(server.server_address().unwrap())
                .unwrap();
            c
        })
        .collect();
    let spy = SignalSpy::new(server.new_connection());
    assert!(spy.wait_for_count(&h, 2, LONG).unwrap());
    // Give the loop time to (wrongly) accept more.
    el.process_events(Duration::from_millis(50)).unwrap();
    assert_eq!(
        spy.count(),
        2,
        "at most max_pending accepted while none are taken"
    );
    let mut taken = Vec::new();
    let deadline = Instant::now() + LONG;
    while taken.len() < 5 && Instant::now() < deadline {
        while let Some(s) = server.next_pending_connection() {
            assert_eq!(s.state(), SocketState::Connected);
            taken.push(s);
        }
        el.process_events(Duration::from_millis(10)).unwrap();
    }
    assert_eq!(taken.len(), 5, "every connection is delivered in the end");
    // Each accepted socket is one of the clients, and talks to it.
    let mut peers: Vec<_> = taken.iter().map(|s| s.peer_address().unwrap()).collect();
    let mut locals: Vec<_> = clients.iter().map(|c| c.local_address().unwrap()).collect();
    peers.sort();
    locals.sort();
    assert_eq!(peers, locals);
}

#[test]
fn unix_connect_to_a_full_backlog_is_a_temporary_error() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let server = UnixServer::new(&h, SocketKind::Stream);
    server.set_max_pending_connections(1);
    let path = socket_path();
    server.listen(&path).unwrap();
    let mut results = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..6 {
        let c = UnixSocket::new(&h, SocketKind::Stream);
        results.push(c.connect_to_server(&path));
        clients.push(c);
    }
    // AF_UNIX refuses at once when the kernel's backlog is full: never accepted and lost.
    assert!(
        results.contains(&Err(SocketError::Temporary)),
        "{results:?}"
    );
    let started = results.iter().filter(|r| r.is_ok()).count();
    let mut taken = Vec::new();
    let deadline = Instant::now() + LONG;
    while taken.len() < started && Instant::now() < deadline {
        while let Some(s) = server.next_pending_connection() {
            taken.push(s);
        }
        el.process_events(Duration::from_millis(10)).unwrap();
    }
    assert_eq!(taken.len(), started);
    for (c, r) in clients.iter().zip(&results) {
        match r {
            Ok(()) => assert!(c.wait_for_connected(LONG)),
            Err(_) => assert_eq!(c.state(), SocketState::Unconnected),
        }
    }
    server.close();
    assert!(!path.exists(), "close removes the socket file");
}

#[test]
fn listening_twice_is_an_error_and_changes_nothing() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let server = TcpServer::new(&h);
    server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.server_address().unwrap();
    assert_eq!(
        server.listen("127.0.0.1:0".parse().unwrap()),
        Err(SocketError::Operation)
    );
    assert_eq!(server.server_address(), Some(addr));
    // Another server on the same port: the OS says it is taken.
    let other = TcpServer::new(&h);
    assert_eq!(other.listen(addr), Err(SocketError::AddressInUse));
    assert!(!other.is_listening());
    // A Unix path that exists already.
    let path = socket_path();
    let a = UnixServer::new(&h, SocketKind::Stream);
    a.listen(&path).unwrap();
    let b = UnixServer::new(&h, SocketKind::Stream);
    assert_eq!(b.listen(&path), Err(SocketError::AddressInUse));
    assert_eq!(a.listen(&path), Err(SocketError::Operation));
    a.close();
}

#[test]
fn tcp_connect_refused() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let c = TcpSocket::new(&h);
    let log = record(&c);
    c.connect_to_host("127.0.0.1", port).unwrap();
    assert!(!c.wait_for_connected(LONG));
    assert_eq!(c.error(), Some(SocketError::ConnectionRefused));
    assert!(!c.error_string().is_empty());
    assert_eq!(
        *log.borrow(),
        [
            "state:Connecting",
            "error:ConnectionRefused",
            "state:Unconnected"
        ]
    );
    // The socket can be used again.
    let server = TcpServer::new(&h);
    server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    c.connect_to_address(server.server_address().unwrap())
        .unwrap();
    assert!(c.wait_for_connected(LONG));
    assert_eq!(c.error(), None);
}

#[test]
fn unix_connect_to_nothing() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let c = UnixSocket::new(&h, SocketKind::Stream);
    let errors = SignalSpy::new(c.error_occurred());
    let missing = socket_path();
    assert_eq!(
        c.connect_to_server(&missing),
        Err(SocketError::HostNotFound)
    );
    assert_eq!(errors.take(), vec![SocketError::HostNotFound]);
    assert_eq!(c.state(), SocketState::Unconnected);
    // A socket file with nobody listening: refused.
    let path = socket_path();
    let server = UnixServer::new(&h, SocketKind::Stream);
    server.listen(&path).unwrap();
    drop(server); // the file stays, nobody listens
    let c2 = UnixSocket::new(&h, SocketKind::Stream);
    assert_eq!(
        c2.connect_to_server(&path),
        Err(SocketError::ConnectionRefused)
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn bad_host_strings_are_refused_with_no_state_change() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let c = TcpSocket::new(&h);
    let log = record(&c);
    for bad in ["", "not a host", "exa mple.com", "a..b", "-:-", "host/path"] {
        assert_eq!(
            c.connect_to_host(bad, 80),
            Err(SocketError::HostNotFound),
            "{bad:?}"
        );
        assert_eq!(c.state(), SocketState::Unconnected);
    }
    assert!(log.borrow().is_empty(), "no signal for refused input");
    // Connecting twice.
    let server = TcpServer::new(&h);
    server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    c.connect_to_address(server.server_address().unwrap())
        .unwrap();
    assert_eq!(
        c.connect_to_host("127.0.0.1", 1),
        Err(SocketError::Operation)
    );
    assert!(c.wait_for_connected(LONG));
    // Unix paths longer than a socket address holds.
    let long = std::path::PathBuf::from(format!("/tmp/{}", "x".repeat(200)));
    let u = UnixSocket::new(&h, SocketKind::Stream);
    assert_eq!(u.connect_to_server(&long), Err(SocketError::HostNotFound));
    assert_eq!(
        UnixServer::new(&h, SocketKind::Stream).listen(&long),
        Err(SocketError::HostNotFound)
    );
}

#[test]
fn slots_may_drop_the_socket() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (client, server, _keep) = util::pair(&h, util::Transport::Tcp);
    let holder = Rc::new(Cell::new(Some(server)));
    let seen = Rc::new(Cell::new(0usize));
    let (hd, sn) = (holder.clone(), seen.clone());
    // Drop the last handle to the socket from inside its own ready_read slot.
    holder
        .take()
        .map(|s| {
            let s2 = s.downgrade();
            s.ready_read().connect(move |()| {
                if let Some(s) = s2.upgrade() {
                    sn.set(sn.get() + s.read_all().len());
                }
                drop(hd.take());
            });
            holder.set(Some(s));
        })
        .unwrap();
    client.write(b"bye").unwrap();
    let s = seen.clone();
    assert!(h
        .wait_until(Instant::now() + LONG, || s.get() == 3)
        .unwrap());
    assert!(
        client.wait_for_disconnected(LONG),
        "the dropped socket closed its fd"
    );
}

#[test]
fn packet_sockets_keep_boundaries_and_refuse_oversized_packets() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (a, b) = UnixSocket::pair(&h, SocketKind::Packet).unwrap();
    a.set_max_write_chunk(100);
    assert_eq!(a.write(&[7u8; 101]), Err(SocketError::DatagramTooLarge));
    assert_eq!(a.bytes_to_write(), 0);
    for len in [1usize, 100, 50] {
        a.write(&vec![len as u8; len]).unwrap();
    }
    let bb = b.clone();
    assert!(h
        .wait_until(Instant::now() + LONG, || bb.pending_packets() == 3)
        .unwrap());
    let mut small = [0u8; 10];
    assert_eq!(
        b.read(&mut small),
        1,
        "read never crosses a packet boundary"
    );
    assert_eq!(b.read_packet().unwrap(), vec![100u8; 100]);
    assert_eq!(b.read_packet().unwrap(), vec![50u8; 50]);
    assert_eq!(b.read_packet(), None);
}

#[test]
fn packets_queued_before_the_first_read_come_out_whole_and_in_order_then_the_end() {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (ours, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    // Ten packets of ten sizes, more than one receive call takes, then the peer's end:
    // all of it waits in the kernel before the socket first reads.
    let sent: Vec<Vec<u8>> = (1..=10u8).map(|i| vec![i; usize::from(i) * 7]).collect();
    for p in &sent {
        assert_eq!(rustix::io::write(&theirs, p).unwrap(), p.len());
    }
    drop(theirs);
    let s = AbstractSocket::new(&h, SocketKind::Packet);
    let log = record(&s);
    let got = Rc::new(RefCell::new(Vec::new()));
    let (g, weak) = (got.clone(), s.downgrade());
    s.ready_read().connect(move |()| {
        let s = weak.upgrade().unwrap();
        while let Some(p) = s.read_packet() {
            g.borrow_mut().push(p);
        }
    });
    s.adopt_descriptor(ours, SocketState::Connected).unwrap();
    assert!(s.wait_for_disconnected(LONG));
    assert_eq!(*got.borrow(), sent);
    assert_eq!(
        log.borrow()[1..],
        [
            "read_channel_finished",
            "error:RemoteHostClosed",
            "state:Unconnected",
            "disconnected"
        ]
    );
}
