//! `BluetoothServer` on the BlueZ test bed, and its checks that need no Bluetooth.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_bluetooth::{
    valid_port, BluetoothAddress, BluetoothServer, BluetoothSocket, Protocol, ServerError,
};
use sigloop_core::{EventLoop, SignalSpy, SocketState};
use sigloop_testbed::Testbed;
use sigloop_testbed::{collect, pattern, send};
use util::LONG;

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn listening_twice_or_on_a_taken_port_fails_and_changes_nothing() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    for (protocol, port) in [(Protocol::Rfcomm, 21), (Protocol::L2cap, 0x1023)] {
        let server = BluetoothServer::new(&h, protocol);
        server.listen(bed.address(0), port).unwrap();
        assert_eq!(server.server_port(), port);
        assert_eq!(server.server_address(), bed.address(0));
        assert_eq!(server.server_type(), protocol);
        assert!(server.listen(bed.address(0), port).is_err());
        assert_eq!(server.error(), Some(ServerError::ServiceAlreadyRegistered));
        assert!(server.is_listening());
        assert_eq!(server.server_port(), port);
        let other = BluetoothServer::new(&h, protocol);
        assert!(other.listen(bed.address(0), port).is_err());
        assert_eq!(other.error(), Some(ServerError::ServiceAlreadyRegistered));
        assert!(!other.is_listening());
        server.close();
        assert!(!server.is_listening());
        assert_eq!(server.server_port(), 0);
    }
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn port_zero_takes_a_free_one() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    for protocol in [Protocol::Rfcomm, Protocol::L2cap] {
        let server = BluetoothServer::new(&h, protocol);
        server.listen(bed.address(0), 0).unwrap();
        let port = server.server_port();
        assert!(
            valid_port(protocol, port),
            "{protocol:?} got port {port:#x}"
        );
        // A second server on port 0 gets another one.
        let second = BluetoothServer::new(&h, protocol);
        second.listen(bed.address(0), 0).unwrap();
        assert_ne!(second.server_port(), port);
    }
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn an_adapter_nobody_has_is_a_typed_error() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let _bed = Testbed::from_env();
    let server = BluetoothServer::new(&h, Protocol::Rfcomm);
    let nobody: BluetoothAddress = "00:AA:01:0E:0E:0E".parse().unwrap();
    assert!(server.listen(nobody, 22).is_err());
    assert_eq!(server.error(), Some(ServerError::PoweredOff));
    assert!(!server.is_listening());
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn max_pending_connections_is_enforced_and_nothing_is_lost() {
    // L2CAP: several channels from one device to one PSM are allowed.
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let server = BluetoothServer::new(&h, Protocol::L2cap);
    server.set_max_pending_connections(1);
    server.listen(bed.address(0), 0x1025).unwrap();
    let spy = SignalSpy::new(server.new_connection());
    let clients: Vec<BluetoothSocket> = (0..3)
        .map(|_| {
            let c = BluetoothSocket::new(&h, Protocol::L2cap);
            c.set_local_adapter(bed.address(1));
            c.connect_to_service(bed.address(0), 0x1025).unwrap();
            c
        })
        .collect();
    assert!(spy.wait_for_count(&h, 1, LONG).unwrap());
    el.process_events(Duration::from_millis(300)).unwrap();
    assert_eq!(spy.count(), 1, "one accepted while none is taken");
    // Beyond the pending queue, connections wait in the kernel's backlog or the kernel
    // refuses them (L2CAP does, when its backlog is full): none is accepted and lost.
    let mut taken = Vec::new();
    let deadline = Instant::now() + LONG;
    loop {
        while let Some(s) = server.next_pending_connection() {
            assert_eq!(s.state(), SocketState::Connected);
            assert_eq!(s.peer_address(), bed.address(1));
            taken.push(s);
        }
        let settled = clients
            .iter()
            .all(|c| !matches!(c.state(), SocketState::Connecting));
        if (settled && !server.has_pending_connections()) || Instant::now() > deadline {
            break;
        }
        el.process_events(Duration::from_millis(20)).unwrap();
    }
    el.process_events(Duration::from_millis(200)).unwrap();
    while let Some(s) = server.next_pending_connection() {
        taken.push(s);
    }
    let connected = clients
        .iter()
        .filter(|c| c.state() == SocketState::Connected)
        .count();
    assert!(connected >= 1);
    assert_eq!(
        taken.len(),
        connected,
        "every client that connected was delivered"
    );
    for c in clients
        .iter()
        .filter(|c| c.state() != SocketState::Connected)
    {
        assert!(c.error().is_some(), "a refused client says why");
    }
}

/// One RFCOMM channel on hci0 serves hci1 and hci2 at once: both connect, both are
/// connected at the same time, each client's bytes reach the server's socket for its
/// address and come back to that client only. Needs three controllers (`testbed/run -n
/// 3`; scripts/test-bluetooth's main boot has them), and fails without them.
#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn one_rfcomm_channel_serves_two_devices_at_once() {
    const CHANNEL: u16 = 26;
    const LEN: usize = 16 * 1024;
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    assert!(
        bed.controllers() >= 3,
        "this test needs three controllers and TESTBED_ADDR2 is not set: run it in \
         `testbed/run -n 3` (scripts/test-bluetooth's main boot has three)"
    );
    bed.settle(0, 1);
    bed.settle(0, 2);
    let server = BluetoothServer::new(&h, Protocol::Rfcomm);
    server.listen(bed.address(0), CHANNEL).unwrap();
    let clients: Vec<BluetoothSocket> = [1, 2]
        .iter()
        .map(|&i| {
            let c = BluetoothSocket::new(&h, Protocol::Rfcomm);
            c.set_local_adapter(bed.address(i));
            c.connect_to_service(bed.address(0), CHANNEL)
                .expect("connect starts");
            c
        })
        .collect();
    let mut accepted = Vec::new();
    h.wait_until(Instant::now() + LONG, || {
        while let Some(s) = server.next_pending_connection() {
            accepted.push(s);
        }
        accepted.len() == 2 && clients.iter().all(|c| c.state() != SocketState::Connecting)
    })
    .unwrap();
    for (c, i) in clients.iter().zip([1, 2]) {
        assert_eq!(
            c.state(),
            SocketState::Connected,
            "client on hci{i}: {:?} {}",
            c.error(),
            c.error_string()
        );
        assert_eq!(c.local_address(), bed.address(i));
        assert_eq!(c.peer_address(), bed.address(0));
        assert_eq!(c.peer_port(), CHANNEL);
    }
    assert_eq!(accepted.len(), 2, "the server accepted both clients");
    // The server's side: one socket per device, told apart by the peer's address.
    let mut peers: Vec<BluetoothAddress> = accepted.iter().map(|s| s.peer_address()).collect();
    peers.sort();
    let mut expected = vec![bed.address(1), bed.address(2)];
    expected.sort();
    assert_eq!(
        peers, expected,
        "the server sees each device by its own address"
    );
    for s in &accepted {
        assert_eq!(s.state(), SocketState::Connected);
        assert_eq!(s.local_address(), bed.address(0));
        assert_eq!(s.local_port(), CHANNEL);
    }
    // Both links live at once on hci0.
    let links = bed.links(0);
    assert!(
        links.contains(&bed.address(1)) && links.contains(&bed.address(2)),
        "hci0's links: {links:?}"
    );
    // Each server socket records what it gets and echoes it.
    let received: Vec<_> = accepted
        .iter()
        .map(|s| {
            let got = Rc::new(RefCell::new(Vec::new()));
            let (g, w) = (got.clone(), s.downgrade());
            s.ready_read().connect(move |()| {
                if let Some(s) = w.upgrade() {
                    let data = s.read_all();
                    send(&s, &data);
                    g.borrow_mut().extend(data);
                }
            });
            (s.peer_address(), got)
        })
        .collect();
    // Both clients send before either reads: distinct data, at the same time.
    let sent: Vec<Vec<u8>> = (1..=2).map(|seed| pattern(LEN, seed)).collect();
    let echoes: Vec<_> = clients.iter().map(|c| collect(c)).collect();
    for (c, data) in clients.iter().zip(&sent) {
        send(c, data);
    }
    let e = echoes.clone();
    assert!(
        h.wait_until(Instant::now() + LONG, || e
            .iter()
            .all(|g| g.borrow().len() >= LEN))
            .unwrap(),
        "echoes: {:?} bytes of {LEN} each",
        echoes.iter().map(|g| g.borrow().len()).collect::<Vec<_>>()
    );
    for (i, ((echo, data), c)) in echoes.iter().zip(&sent).zip(&clients).enumerate() {
        assert!(
            *echo.borrow() == *data,
            "hci{}'s echo is its own data",
            i + 1
        );
        let (_, at_server) = received
            .iter()
            .find(|(peer, _)| *peer == c.local_address())
            .expect("a server socket for each client");
        assert!(
            *at_server.borrow() == *data,
            "the server's socket for hci{} got that client's data only",
            i + 1
        );
    }
}

// ---- no Bluetooth needed ----

#[test]
fn ports_out_of_range_are_refused_before_any_socket() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let rfcomm = BluetoothServer::new(&h, Protocol::Rfcomm);
    assert!(rfcomm.listen(BluetoothAddress::ANY, 31).is_err());
    assert_eq!(rfcomm.error(), Some(ServerError::UnsupportedProtocol));
    let l2cap = BluetoothServer::new(&h, Protocol::L2cap);
    assert!(l2cap.listen(BluetoothAddress::ANY, 0x1002).is_err());
    assert_eq!(l2cap.error(), Some(ServerError::UnsupportedProtocol));
    assert!(!l2cap.is_listening());
    assert_eq!(l2cap.next_pending_connection().map(|_| ()), None);
}

#[test]
fn without_bluetooth_in_the_kernel_listen_fails_cleanly() {
    if std::env::var_os("TESTBED").is_some() {
        return; // inside the test bed the kernel has Bluetooth: nothing to check here
    }
    let el = EventLoop::new().unwrap();
    let server = BluetoothServer::new(&el.handle(), Protocol::Rfcomm);
    let Err(e) = server.listen(BluetoothAddress::ANY, 0) else {
        // This host's kernel has Bluetooth after all (and an adapter).
        assert!(server.is_listening());
        return;
    };
    assert_eq!(server.error(), Some(e));
    assert!(matches!(
        server.error(),
        Some(ServerError::UnsupportedProtocol | ServerError::PoweredOff)
    ));
    assert!(!server.is_listening());
}
