//! Shared helpers for the Bluetooth tests on the test bed.
#![allow(dead_code)]

pub mod le;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_bluetooth::testbed::Testbed;
use sigloop_bluetooth::uuids::Uuid;
use sigloop_bluetooth::{BluetoothServer, BluetoothSocket, L2capMode, Protocol};
use sigloop_core::{AbstractSocket, LoopHandle, SocketState};

pub const LONG: Duration = Duration::from_secs(30);

/// A server on `hci{server}` listening on `port`, a client on `hci{client}` connected to
/// it, and the server's side of the connection. Settles the link between the two first.
pub fn connected_pair(
    h: &LoopHandle,
    bed: &Testbed,
    protocol: Protocol,
    port: u16,
    pair: (usize, usize),
) -> (BluetoothSocket, BluetoothSocket, BluetoothServer) {
    connected_pair_in_mode(h, bed, protocol, L2capMode::Basic, port, pair)
}

/// As [`connected_pair`], with both ends asking for the L2CAP channel `mode`.
pub fn connected_pair_in_mode(
    h: &LoopHandle,
    bed: &Testbed,
    protocol: Protocol,
    mode: L2capMode,
    port: u16,
    (server_hci, client_hci): (usize, usize),
) -> (BluetoothSocket, BluetoothSocket, BluetoothServer) {
    bed.settle(server_hci, client_hci);
    let server = BluetoothServer::new(h, protocol);
    server.set_l2cap_mode(mode);
    assert!(
        server.listen(bed.address(server_hci), port),
        "listen: {:?}",
        server.error()
    );
    let client = BluetoothSocket::new(h, protocol);
    client.set_local_adapter(bed.address(client_hci));
    client.set_l2cap_mode(mode);
    client
        .connect_to_service(bed.address(server_hci), port)
        .expect("connect starts");
    let mut accepted = None;
    h.wait_until(Instant::now() + LONG, || {
        if accepted.is_none() {
            accepted = server.next_pending_connection();
        }
        accepted.is_some() && client.state() != SocketState::Connecting
    })
    .unwrap();
    assert_eq!(
        client.state(),
        SocketState::Connected,
        "client: {:?} {}",
        client.error(),
        client.error_string()
    );
    (client, accepted.expect("server never accepted"), server)
}

/// FNV-1a, 64 bits.
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Sends `data` in writes of at most the socket's write chunk (one packet each on L2CAP).
pub fn send(s: &AbstractSocket, data: &[u8]) {
    for piece in data.chunks(s.max_write_chunk()) {
        assert_eq!(s.write(piece), Ok(piece.len()));
    }
}

/// Collects everything `s` receives.
pub fn collect(s: &AbstractSocket) -> Rc<RefCell<Vec<u8>>> {
    let got = Rc::new(RefCell::new(Vec::new()));
    let (g, w) = (got.clone(), s.downgrade());
    s.ready_read().connect(move |()| {
        if let Some(s) = w.upgrade() {
            g.borrow_mut().extend(s.read_all());
        }
    });
    got
}

/// Records a socket's signals in emission order.
pub fn record(socket: &AbstractSocket) -> Rc<RefCell<Vec<String>>> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    socket
        .state_changed()
        .connect(move |s| l.borrow_mut().push(format!("state:{s:?}")));
    let l = log.clone();
    socket
        .connected()
        .connect(move |()| l.borrow_mut().push("connected".into()));
    let l = log.clone();
    socket
        .disconnected()
        .connect(move |()| l.borrow_mut().push("disconnected".into()));
    let l = log.clone();
    socket
        .read_channel_finished()
        .connect(move |()| l.borrow_mut().push("read_channel_finished".into()));
    let l = log.clone();
    socket
        .error_occurred()
        .connect(move |e| l.borrow_mut().push(format!("error:{e:?}")));
    log
}

/// A UUID of this test run's own, so no record left by another test can match.
pub fn fresh_uuid(tag: u16) -> Uuid {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Uuid::from_u128((nanos << 16) | u128::from(tag))
}
