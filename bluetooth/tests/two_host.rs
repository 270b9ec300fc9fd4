//! Tests between two hosts of the test bed's two-host mode (`testbed/run --hosts 2`),
//! each with its own controller and bluetoothd. The same binary runs on both hosts, one
//! test at a time in the same order: host `a` serves, host `b` connects. Run them with
//! `scripts/test-bluetooth`, which starts that mode for the tests named `two_host_*`.
//!
//! Every test starts with both hosts' controllers free of links (quirk: a connect that
//! meets the idle disconnect of the previous link fails), and the serving host holds an
//! encrypted link to the client before the client connects (the kernel's "security
//! block" while it reads a new link's key size), see `Testbed::hold_link`.

mod util;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::net::sockopt;
use sigloop_bluetooth::uuids::Uuid;
use sigloop_bluetooth::{raw, BluetoothServer, BluetoothSocket, Protocol};
use sigloop_core::{EventLoop, LoopHandle, SocketError, SocketState};
use sigloop_testbed::{checksum, collect, pattern, send};
use sigloop_testbed::{HeldLink, Testbed};
use util::two_host::{begin, qt_script, wait_exit, Role};
use util::LONG;

const TIMEOUT: Duration = Duration::from_secs(30);
const BULK: usize = 64 * 1024;

/// The serving side, once it listens: holds the link to the client, then tells it to go.
fn serve_ready(bed: &Testbed, test: &str) -> HeldLink {
    let held = bed
        .hold_link(bed.host_address("b"))
        .expect("hold a link to host b");
    bed.barrier(&format!("{test}.ready"));
    held
}

fn raw_bulk_both_ways(test: &str, protocol: Protocol, port: u16) {
    let bed = Testbed::from_env();
    let me = bed.address(0);
    let up = pattern(BULK, 1);
    let down = pattern(BULK, 2);
    // L2CAP: one packet per write, at most the default MTU; RFCOMM: small writes (large
    // single writes stall on RFCOMM, see the README's Bluetooth facts).
    let piece = match protocol {
        Protocol::L2cap => 672,
        Protocol::Rfcomm => 1024,
    };
    let (role, _guard) = begin(&bed, test);
    match role {
        Role::Server => {
            let listener = raw::socket(protocol, false).unwrap();
            raw::bind(listener.as_fd(), protocol, me, port).unwrap();
            rustix::net::listen(&listener, 1).unwrap();
            sockopt::set_socket_timeout(&listener, sockopt::Timeout::Recv, Some(TIMEOUT)).unwrap();
            let _held = serve_ready(&bed, test);
            let conn = rustix::net::accept(&listener).expect("accept within 30 s");
            sockopt::set_socket_timeout(&conn, sockopt::Timeout::Recv, Some(TIMEOUT)).unwrap();
            let (peer, _) = raw::peer_name(conn.as_fd(), protocol).unwrap();
            assert_eq!(peer, bed.host_address("b"));
            let mut conn = File::from(conn);
            let got = receive(&mut conn, protocol, BULK, piece);
            assert_eq!(checksum(&got), checksum(&up), "b → a data differs");
            for p in down.chunks(piece) {
                conn.write_all(p).unwrap();
            }
            // The client closes once it has everything. RFCOMM reports the peer's
            // close of the channel as ECONNRESET, L2CAP as the end of the stream.
            let mut rest = [0u8; 16];
            match conn.read(&mut rest) {
                Ok(0) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                other => panic!("expected the client's close, got {other:?}"),
            }
            bed.barrier(&format!("{test}.done"));
        }
        Role::Client => {
            bed.barrier(&format!("{test}.ready"));
            let s = raw::socket(protocol, false).unwrap();
            raw::bind(s.as_fd(), protocol, me, 0).unwrap();
            let t = Instant::now();
            raw::connect(s.as_fd(), protocol, bed.host_address("a"), port)
                .expect("connect to host a");
            eprintln!("{test}: connected in {:?}", t.elapsed());
            sockopt::set_socket_timeout(&s, sockopt::Timeout::Recv, Some(TIMEOUT)).unwrap();
            let mut s = File::from(s);
            for p in up.chunks(piece) {
                s.write_all(p).unwrap();
            }
            let got = receive(&mut s, protocol, BULK, piece);
            assert_eq!(checksum(&got), checksum(&down), "a → b data differs");
            drop(s);
            bed.barrier(&format!("{test}.done"));
        }
    }
}

/// Reads `len` bytes; on L2CAP each read must be one whole packet of `piece` bytes
/// (the last may be shorter).
fn receive(s: &mut File, protocol: Protocol, len: usize, piece: usize) -> Vec<u8> {
    let mut got = Vec::with_capacity(len);
    let mut buf = vec![0u8; 4096];
    while got.len() < len {
        let n = s.read(&mut buf).expect("read within 30 s");
        assert_ne!(n, 0, "the peer closed after {} of {len} bytes", got.len());
        if protocol == Protocol::L2cap {
            assert_eq!(n, piece.min(len - got.len()), "one whole packet per read");
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_rfcomm_raw() {
    raw_bulk_both_ways("two_host_rfcomm_raw", Protocol::Rfcomm, 11);
}

#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_l2cap_raw() {
    raw_bulk_both_ways("two_host_l2cap_raw", Protocol::L2cap, 0x1011);
}

/// sigloop on both sides: a `BluetoothServer` on host a echoes what a `BluetoothSocket`
/// on host b sends.
fn sigloop_echo(test: &str, protocol: Protocol, port: u16) {
    let bed = Testbed::from_env();
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (role, _guard) = begin(&bed, test);
    match role {
        Role::Server => {
            let server = BluetoothServer::new(&h, protocol);
            server.listen(bed.address(0), port).unwrap();
            let _held = serve_ready(&bed, test);
            let mut conn = None;
            assert!(h
                .wait_until(Instant::now() + LONG, || {
                    conn = conn.take().or_else(|| server.next_pending_connection());
                    conn.is_some()
                })
                .unwrap());
            let conn = conn.unwrap();
            assert_eq!(conn.peer_address(), bed.host_address("b"));
            let c = conn.clone();
            conn.ready_read().connect(move |()| {
                while let Some(p) = c.read_packet() {
                    c.write(&p).unwrap();
                }
            });
            assert!(conn.wait_for_disconnected(LONG), "the client closes");
            bed.barrier(&format!("{test}.done"));
        }
        Role::Client => {
            bed.barrier(&format!("{test}.ready"));
            let client = BluetoothSocket::new(&h, protocol);
            client.set_local_adapter(bed.address(0));
            client
                .connect_to_service(bed.host_address("a"), port)
                .unwrap();
            assert!(client.wait_for_connected(LONG), "{}", client.error_string());
            assert_eq!(client.state(), SocketState::Connected);
            let got = collect(&client);
            let data = pattern(BULK / 2, 3);
            send(&client, &data);
            let g = got.clone();
            assert!(h
                .wait_until(Instant::now() + LONG, || g.borrow().len() >= data.len())
                .unwrap());
            assert_eq!(checksum(&got.borrow()), checksum(&data));
            client.disconnect_from_service();
            assert!(client.wait_for_disconnected(LONG));
            bed.barrier(&format!("{test}.done"));
        }
    }
}

#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_rfcomm_sigloop_echo() {
    sigloop_echo("two_host_rfcomm_sigloop_echo", Protocol::Rfcomm, 12);
}

#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_l2cap_sigloop_echo() {
    sigloop_echo("two_host_l2cap_sigloop_echo", Protocol::L2cap, 0x1013);
}

/// The Qt peer (`testbed/qt/qt_peer.py`, PyQt6): its stdout lines as they come.
fn qt_peer(args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
    qt_script("qt_peer.py", args)
}

/// Qt to Qt across the hosts, by UUID through each host's bluetoothd: the Qt server
/// publishes its record with `listen(uuid, name)`, the Qt client (which on BlueZ ≥ 5.46
/// can only connect by UUID) finds it. Proves the bed does what two real machines do.
#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_qt_rfcomm_uuid() {
    const TEST: &str = "two_host_qt_rfcomm_uuid";
    const UUID: &str = "6f0d2c1e-54a8-4b7e-9c3d-2a1b0e9f7a51";
    let bed = Testbed::from_env();
    let (role, _guard) = begin(&bed, TEST);
    match role {
        Role::Server => {
            let (child, lines) = qt_peer(&["server", UUID]);
            let first = lines.recv_timeout(TIMEOUT).expect("the Qt server starts");
            assert!(first.starts_with("listening channel "), "{first}");
            bed.barrier(&format!("{TEST}.ready"));
            wait_exit(&bed, TEST, child, "the Qt server");
            bed.barrier(&format!("{TEST}.done"));
        }
        Role::Client => {
            bed.barrier(&format!("{TEST}.ready"));
            // Here the client makes the link (qt_peer.py's preparation says why): its
            // bluetoothd browses the peer's records on it, and that browse (SDP, which
            // the kernel's security block exempts) comes before Qt's RFCOMM request,
            // long after the server's side has read the key size.
            let a = bed.host_address("a").to_string();
            let (child, lines) = qt_peer(&["client", &a, UUID, "hello from b"]);
            wait_exit(&bed, TEST, child, "the Qt client");
            // The reader ends at the peer's end of output.
            let said: Vec<String> = lines.iter().collect();
            assert!(
                said.iter().any(|l| l == "got qt-echo:hello from b"),
                "the Qt client's reply: {said:?}"
            );
            bed.barrier(&format!("{TEST}.done"));
        }
    }
}

/// Ours to ours by UUID across the hosts: host a's bluetoothd publishes the record of
/// `listen_uuid`; host b's client finds the channel by asking a's SDP server itself.
#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_sigloop_rfcomm_uuid() {
    const TEST: &str = "two_host_sigloop_rfcomm_uuid";
    let uuid: Uuid = "0b9e6a43-0c55-4a4e-8f41-6b3cf0d1d7e2".parse().unwrap();
    let bed = Testbed::from_env();
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (role, _guard) = begin(&bed, TEST);
    match role {
        Role::Server => {
            let server = BluetoothServer::new(&h, Protocol::Rfcomm);
            let info = server.listen_uuid(uuid, "sigloop two-host").unwrap();
            let _held = serve_ready(&bed, TEST);
            let conn = accept_one(&h, &server, LONG);
            assert_eq!(conn.peer_address(), bed.host_address("b"));
            assert_eq!(info.server_channel(), Some(server.server_port() as u8));
            echo_until_closed(&conn);
            bed.barrier(&format!("{TEST}.done"));
            // The record goes with close: b's lookup then finds nothing.
            server.close();
            bed.barrier(&format!("{TEST}.closed"));
            bed.barrier(&format!("{TEST}.checked"));
        }
        Role::Client => {
            bed.barrier(&format!("{TEST}.ready"));
            let client = BluetoothSocket::new(&h, Protocol::Rfcomm);
            client
                .connect_to_service_uuid(bed.host_address("a"), uuid)
                .unwrap();
            assert_eq!(client.state(), SocketState::ServiceLookup);
            assert!(client.wait_for_connected(LONG), "{}", client.error_string());
            exchange(&h, &client, b"by uuid across hosts");
            bed.barrier(&format!("{TEST}.done"));
            bed.barrier(&format!("{TEST}.closed"));
            let again = BluetoothSocket::new(&h, Protocol::Rfcomm);
            again
                .connect_to_service_uuid(bed.host_address("a"), uuid)
                .unwrap();
            assert!(!again.wait_for_connected(LONG));
            assert_eq!(
                again.error(),
                Some(SocketError::ServiceNotFound),
                "{}",
                again.error_string()
            );
            bed.barrier(&format!("{TEST}.checked"));
        }
    }
}

fn accept_one(h: &LoopHandle, server: &BluetoothServer, within: Duration) -> BluetoothSocket {
    let mut conn = None;
    assert!(h
        .wait_until(Instant::now() + within, || {
            conn = conn.take().or_else(|| server.next_pending_connection());
            conn.is_some()
        })
        .unwrap());
    conn.unwrap()
}

/// Echoes what `conn` reads until the peer closes.
fn echo_until_closed(conn: &BluetoothSocket) {
    let c = conn.clone();
    conn.ready_read().connect(move |()| {
        while let Some(p) = c.read_packet() {
            c.write(&p).unwrap();
        }
    });
    assert!(conn.wait_for_disconnected(TIMEOUT), "the client closes");
}

/// Writes `message`, waits until as many bytes came back, checks they end in it, closes.
fn exchange(h: &LoopHandle, client: &BluetoothSocket, message: &[u8]) -> Vec<u8> {
    let got = collect(client);
    client.write(message).unwrap();
    let g = got.clone();
    assert!(h
        .wait_until(Instant::now() + LONG, || g.borrow().ends_with(message))
        .unwrap());
    client.disconnect_from_service();
    assert!(client.wait_for_disconnected(LONG));
    let out = got.borrow().clone();
    out
}

/// Our client by UUID (host b, `connect_to_service_uuid`, our own SDP query) to a Qt
/// server that published its record with `listen(uuid, name)` (host a).
#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_qt_sigloop_client_uuid() {
    const TEST: &str = "two_host_qt_sigloop_client_uuid";
    const UUID: &str = "3c1f0e2d-7b6a-4c59-8e1d-0f2a3b4c5d6e";
    let bed = Testbed::from_env();
    let (role, _guard) = begin(&bed, TEST);
    match role {
        Role::Server => {
            let (child, lines) = qt_peer(&["server", UUID]);
            let first = lines.recv_timeout(TIMEOUT).expect("the Qt server starts");
            assert!(first.starts_with("listening channel "), "{first}");
            bed.barrier(&format!("{TEST}.ready"));
            wait_exit(&bed, TEST, child, "the Qt server");
            bed.barrier(&format!("{TEST}.done"));
        }
        Role::Client => {
            bed.barrier(&format!("{TEST}.ready"));
            // Every link of this boot is made by host b, as Qt's client makes its own in
            // the test before: the client holds an encrypted link first (qt_peer.py's
            // preparation does the same), and the SDP query on it outlasts the server's
            // reading of the new key's size, so the RFCOMM connect after it is not met
            // by the kernel's security block. (With host a making this link instead,
            // the link once stayed half-made, BT_CONFIG, and a's connect timed out.)
            let _held = bed
                .hold_link(bed.host_address("a"))
                .expect("hold a link to host a");
            let el = EventLoop::new().unwrap();
            let h = el.handle();
            let client = BluetoothSocket::new(&h, Protocol::Rfcomm);
            client
                .connect_to_service_uuid(bed.host_address("a"), UUID.parse().unwrap())
                .unwrap();
            assert!(client.wait_for_connected(LONG), "{}", client.error_string());
            let got = exchange(&h, &client, b"hello Qt from sigloop");
            assert_eq!(got, b"qt-echo:hello Qt from sigloop");
            bed.barrier(&format!("{TEST}.done"));
        }
    }
}

/// A Qt client (host a; on BlueZ >= 5.46 Qt 6 connects by UUID only, through its
/// bluetoothd) reaches our `listen_uuid` server (host b) by its UUID: the record we
/// publish is what real peers need. Host a makes its first link to b here (qt_peer.py
/// says why that matters), so this test runs after the others of its boot.
#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_qt_sigloop_server_uuid() {
    const TEST: &str = "two_host_qt_sigloop_server_uuid";
    const UUID: &str = "5d2e1f3a-8c7b-4d6a-9f0e-1a2b3c4d5e6f";
    let bed = Testbed::from_env();
    let (role, _guard) = begin(&bed, TEST);
    match role {
        // Roles swapped: b serves, a runs the Qt client.
        Role::Client => {
            let el = EventLoop::new().unwrap();
            let h = el.handle();
            let server = BluetoothServer::new(&h, Protocol::Rfcomm);
            server
                .listen_uuid(UUID.parse().unwrap(), "sigloop interop (our server)")
                .unwrap();
            bed.barrier(&format!("{TEST}.ready"));
            // The Qt client first waits (up to 30 s) for its bluetoothd to resolve our
            // services, then connects through ConnectProfile.
            let conn = accept_one(&h, &server, Duration::from_secs(80));
            assert_eq!(conn.peer_address(), bed.host_address("a"));
            echo_until_closed(&conn);
            bed.barrier(&format!("{TEST}.done"));
        }
        Role::Server => {
            bed.barrier(&format!("{TEST}.ready"));
            let b = bed.host_address("b").to_string();
            let (child, lines) = qt_peer(&["client", &b, UUID, "hello sigloop from Qt"]);
            wait_exit(&bed, TEST, child, "the Qt client");
            let said: Vec<String> = lines.iter().collect();
            assert!(
                said.iter().any(|l| l == "got hello sigloop from Qt"),
                "the Qt client's reply: {said:?}"
            );
            bed.barrier(&format!("{TEST}.done"));
        }
    }
}
