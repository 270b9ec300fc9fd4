//! LE credit-based channels (`BluetoothSocket::connect_to_le_channel`,
//! `BluetoothServer::listen_le`) on the BlueZ test bed: the server's adapter advertises
//! (an LE connection needs an advertiser) through bluer, the client connects over LE.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_bluetooth::low_energy::RemoteAddressType;
use sigloop_bluetooth::{BluetoothAddress, BluetoothServer, BluetoothSocket, L2capMode, Protocol};
use sigloop_core::{EventLoop, LoopHandle, SocketError, SocketState, Timer};
use sigloop_testbed::Testbed;
use sigloop_testbed::{checksum, collect, pattern, send};
use util::LONG;

/// Packets received, by client index.
type Echoes = Vec<(usize, Vec<u8>)>;

/// Advertising on `adapter` while the handle lives.
fn advertise(adapter: BluetoothAddress) -> util::le::Served {
    util::le::serve(adapter, |a| async move {
        a.advertise(bluer::adv::Advertisement {
            discoverable: Some(true),
            ..Default::default()
        })
        .await
        .expect("advertising")
    })
}

/// A server on hci1 listening for LE channels on `psm`, and `n` clients on hci0
/// connected to it; returns the clients and the server's sides in connection order.
fn connect_n(
    h: &LoopHandle,
    bed: &Testbed,
    psm: u16,
    n: usize,
) -> (Vec<BluetoothSocket>, Vec<BluetoothSocket>, BluetoothServer) {
    let server = BluetoothServer::new(h, Protocol::L2cap);
    server.set_max_pending_connections(n.max(1));
    server.listen_le(bed.address(1), psm).unwrap();
    assert_eq!(server.server_port(), psm);
    let clients: Vec<BluetoothSocket> = (0..n)
        .map(|_| {
            let c = BluetoothSocket::new(h, Protocol::L2cap);
            c.set_local_adapter(bed.address(0));
            c.connect_to_le_channel(bed.address(1), RemoteAddressType::Public, psm)
                .expect("connect starts");
            c
        })
        .collect();
    let mut accepted = Vec::new();
    h.wait_until(Instant::now() + Duration::from_secs(60), || {
        while let Some(s) = server.next_pending_connection() {
            accepted.push(s);
        }
        accepted.len() == n && clients.iter().all(|c| c.state() != SocketState::Connecting)
    })
    .unwrap();
    for c in &clients {
        assert_eq!(
            c.state(),
            SocketState::Connected,
            "{:?} {}",
            c.error(),
            c.error_string()
        );
    }
    assert_eq!(accepted.len(), n);
    (clients, accepted, server)
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn le_channel_echo() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle_le(0, 1);
    let _link = util::le::LinkGuard(bed.address(0), bed.address(1));
    let _adv = advertise(bed.address(1));
    let (clients, servers, _server) = connect_n(&h, &bed, 0x81, 1);
    let (client, server) = (&clients[0], &servers[0]);
    assert_eq!(client.l2cap_mode(), Some(L2capMode::LeCreditBased));
    assert_eq!(server.l2cap_mode(), Some(L2capMode::LeCreditBased));
    assert_eq!(client.peer_address(), bed.address(1));
    assert_eq!(client.peer_port(), 0x81);
    assert_eq!(server.peer_address(), bed.address(0));
    let (omtu, imtu) = client.l2cap_mtu().expect("LE MTUs");
    assert!(omtu >= 23 && imtu >= 23, "{omtu} {imtu}");
    assert_eq!(client.max_write_chunk(), usize::from(omtu));
    // Echo: each packet comes back whole.
    let s = server.clone();
    server.ready_read().connect(move |()| {
        while let Some(p) = s.read_packet() {
            s.write(&p).unwrap();
        }
    });
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let c = client.clone();
    client.ready_read().connect(move |()| {
        while let Some(p) = c.read_packet() {
            g.borrow_mut().push(p);
        }
    });
    let sent: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 1 + usize::from(i) * 3]).collect();
    for p in &sent {
        client.write(p).unwrap();
    }
    h.wait_until(Instant::now() + LONG, || got.borrow().len() == sent.len())
        .unwrap();
    assert_eq!(*got.borrow(), sent);
    client.disconnect_from_host();
    assert!(server.wait_for_disconnected(LONG));
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn le_channel_1mib_each_way_with_a_slow_reader_loses_nothing() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle_le(0, 1);
    let _link = util::le::LinkGuard(bed.address(0), bed.address(1));
    let _adv = advertise(bed.address(1));
    let (clients, servers, _server) = connect_n(&h, &bed, 0x83, 1);
    let (client, server) = (&clients[0], &servers[0]);
    eprintln!(
        "client chunk {} mtus {:?}; server chunk {} mtus {:?}",
        client.max_write_chunk(),
        client.l2cap_mtu(),
        server.max_write_chunk(),
        server.l2cap_mtu()
    );
    let up = pattern(1 << 20, 21);
    let down = pattern(1 << 20, 22);
    // The server reads slowly: at most 4 KiB held, a read every 5 ms, nothing at all
    // for the first 2 s. Credit-based flow control must stall the client, not drop.
    server.set_read_buffer_size(4096);
    let at_server = Rc::new(RefCell::new(Vec::new()));
    let slow = Timer::new(&h);
    let (s, sink) = (server.clone(), at_server.clone());
    slow.timeout().connect(move |()| {
        sink.borrow_mut().extend(s.read_all());
    });
    let start_reading = Timer::new(&h);
    start_reading.set_single_shot(true);
    let t = slow.clone();
    start_reading
        .timeout()
        .connect(move |()| t.start(Duration::from_millis(5)));
    start_reading.start(Duration::from_secs(2));
    let at_client = collect(client);
    let started = Instant::now();
    send(client, &up);
    send(server, &down);
    let (s, c) = (at_server.clone(), at_client.clone());
    let done = h
        .wait_until(Instant::now() + Duration::from_secs(300), || {
            s.borrow().len() >= up.len() && c.borrow().len() >= down.len()
        })
        .unwrap();
    assert!(
        done,
        "server got {} of {}, client got {} of {}; {:?} {:?}",
        at_server.borrow().len(),
        up.len(),
        at_client.borrow().len(),
        down.len(),
        client.error(),
        server.error()
    );
    let took = started.elapsed();
    assert_eq!(at_server.borrow().len(), up.len());
    assert_eq!(checksum(&at_server.borrow()), checksum(&up));
    assert_eq!(checksum(&at_client.borrow()), checksum(&down));
    eprintln!(
        "LE channel: 1 MiB each way in {:.1} s ({:.0} KiB/s each way), slow reader",
        took.as_secs_f64(),
        1024.0 / took.as_secs_f64()
    );
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn le_channel_twenty_at_once() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle_le(0, 1);
    let _link = util::le::LinkGuard(bed.address(0), bed.address(1));
    let _adv = advertise(bed.address(1));
    let (clients, servers, _server) = connect_n(&h, &bed, 0x85, 20);
    // Each server side learns its client's tag and echoes it back with its own index.
    let got: Rc<RefCell<Echoes>> = Rc::default();
    for (i, s) in servers.iter().enumerate() {
        let s2 = s.clone();
        s.ready_read().connect(move |()| {
            while let Some(mut p) = s2.read_packet() {
                p.push(i as u8);
                s2.write(&p).unwrap();
            }
        });
    }
    for (i, c) in clients.iter().enumerate() {
        let (c2, g) = (c.clone(), got.clone());
        c.ready_read().connect(move |()| {
            while let Some(p) = c2.read_packet() {
                g.borrow_mut().push((i, p));
            }
        });
        c.write(&[i as u8; 8]).unwrap();
    }
    h.wait_until(Instant::now() + LONG, || got.borrow().len() == 20)
        .unwrap();
    let got = got.borrow();
    assert_eq!(got.len(), 20);
    let mut via = std::collections::BTreeSet::new();
    for (i, p) in got.iter() {
        // Each client got its own bytes back, through one server side each.
        assert_eq!(&p[..8], &[*i as u8; 8]);
        assert!(
            via.insert(p[8]),
            "two clients answered by one server side: {got:?}"
        );
    }
}

#[test]
fn le_channel_bad_input_is_refused_at_once() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let peer: BluetoothAddress = "00:AA:01:00:00:00".parse().unwrap();
    let rfcomm = BluetoothSocket::new(&h, Protocol::Rfcomm);
    assert_eq!(
        rfcomm.connect_to_le_channel(peer, RemoteAddressType::Public, 0x80),
        Err(SocketError::UnsupportedProtocol)
    );
    let l2cap = BluetoothSocket::new(&h, Protocol::L2cap);
    for psm in [0, 0x100, 0x1001] {
        assert_eq!(
            l2cap.connect_to_le_channel(peer, RemoteAddressType::Public, psm),
            Err(SocketError::UnsupportedSocketOperation),
            "{psm:#x}"
        );
    }
    assert_eq!(
        l2cap.connect_to_le_channel(BluetoothAddress::ANY, RemoteAddressType::Public, 0x80),
        Err(SocketError::HostNotFound)
    );
    l2cap.set_l2cap_mtu(22);
    assert_eq!(
        l2cap.connect_to_le_channel(peer, RemoteAddressType::Public, 0x80),
        Err(SocketError::UnsupportedSocketOperation)
    );
    assert_eq!(l2cap.state(), SocketState::Unconnected);
    // LE credit-based mode is not for a classic connect or listen.
    let classic = BluetoothSocket::new(&h, Protocol::L2cap);
    classic.set_l2cap_mode(L2capMode::LeCreditBased);
    assert_eq!(
        classic.connect_to_service(peer, 0x1001),
        Err(SocketError::UnsupportedSocketOperation)
    );
    let server = BluetoothServer::new(&h, Protocol::Rfcomm);
    assert!(server.listen_le(BluetoothAddress::ANY, 0x80).is_err());
    assert_eq!(
        server.error(),
        Some(sigloop_bluetooth::ServerError::UnsupportedProtocol)
    );
    let server = BluetoothServer::new(&h, Protocol::L2cap);
    assert!(server.listen_le(BluetoothAddress::ANY, 0x100).is_err());
    assert!(!server.is_listening());
}
