//! Shared helpers for the Bluetooth tests on the test bed.
#![allow(dead_code)]

pub mod le;
pub mod two_host;

use std::time::{Duration, Instant};

use sigloop_bluetooth::uuids::Uuid;
use sigloop_bluetooth::{BluetoothServer, BluetoothSocket, L2capMode, Protocol};
use sigloop_core::{LoopHandle, SocketState};
use sigloop_testbed::Testbed;
pub const LONG: Duration = Duration::from_secs(30);

/// How many lines of this guest's bluetoothd log (debug on, on the bed) contain
/// `pattern` so far.
pub fn bluetoothd_log_count(pattern: &str) -> usize {
    let log = std::path::PathBuf::from(std::env::var("TESTBED_LOGDIR").expect("TESTBED_LOGDIR"))
        .join("bluetoothd.log");
    std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("{}: {e}", log.display()))
        .lines()
        .filter(|l| l.contains(pattern))
        .count()
}

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
    server.listen(bed.address(server_hci), port).unwrap();
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

/// A UUID of this test run's own, so no record left by another test can match.
pub fn fresh_uuid(tag: u16) -> Uuid {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Uuid::from_u128((nanos << 16) | u128::from(tag))
}
