//! `BluetoothSocket` and `BluetoothServer` under load and faults on the BlueZ test bed:
//! connect/disconnect cycles with a flat descriptor count, a controller powered off
//! mid-connection, and one loop thread serving 100 L2CAP channels plus RFCOMM.

mod util;

use std::cell::RefCell;
use std::io::Write;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_bluetooth::{BluetoothServer, BluetoothSocket, Protocol};
use sigloop_core::{EventLoop, SocketError, SocketState};
use sigloop_testbed::Testbed;
use sigloop_testbed::{collect, record};
use util::LONG;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// `cycles` connect/disconnect cycles hci1 → hci0 over one held ACL link, alternating
/// between the two ports in `ports`; the number of open descriptors is the same after
/// them as after the first few.
///
/// RFCOMM needs both precautions, each for a measured kernel race (Linux 6.1):
/// - RFCOMM multiplexes every channel between two devices over one session, which the
///   kernel tears down as soon as its last channel closes; a connect in that moment
///   joins the dying session and fails with ECONNRESET. One more channel, open for all
///   cycles, keeps the session up.
/// - Right after sending DISC for a closing channel the client's kernel may still send a
///   credit frame on it; the server answers that with DM, and when a new connect to the
///   same channel is already under way, that late DM refuses it (ECONNREFUSED, seen in
///   btmon). Frames on a session arrive in order, so once a cycle on the other channel
///   has completed the late DM has arrived: alternating two channels avoids the race
///   without waiting for anything.
fn cycles(protocol: Protocol, ports: [u16; 2], keeper_port: u16, cycles: usize) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let servers = ports.map(|port| {
        let server = BluetoothServer::new(&h, protocol);
        server.listen(bed.address(0), port).unwrap();
        server
    });
    // One link for all cycles: a connect that meets a link's idle disconnect fails.
    let _held = bed
        .hold_link_from(bed.address(1), bed.address(0))
        .expect("hold the link");
    let keeper_server = BluetoothServer::new(&h, protocol);
    let keeper = BluetoothSocket::new(&h, protocol);
    keeper_server.listen(bed.address(0), keeper_port).unwrap();
    keeper.set_local_adapter(bed.address(1));
    keeper
        .connect_to_service(bed.address(0), keeper_port)
        .unwrap();
    assert!(keeper.wait_for_connected(LONG), "{}", keeper.error_string());
    let mut baseline = None;
    let start = Instant::now();
    for i in 0..cycles {
        if i == 6 {
            baseline = Some(open_fds());
        }
        let (port, server) = (ports[i % 2], &servers[i % 2]);
        let client = BluetoothSocket::new(&h, protocol);
        client.set_local_adapter(bed.address(1));
        client.connect_to_service(bed.address(0), port).unwrap();
        let mut accepted = None;
        h.wait_until(Instant::now() + LONG, || {
            accepted = accepted.take().or_else(|| server.next_pending_connection());
            accepted.is_some() && client.state() != SocketState::Connecting
        })
        .unwrap();
        assert_eq!(
            client.state(),
            SocketState::Connected,
            "cycle {i}: {:?} {}",
            client.error(),
            client.error_string()
        );
        let accepted = accepted.expect("accepted");
        client.disconnect_from_service();
        assert!(
            client.wait_for_disconnected(LONG),
            "cycle {i}: client closes"
        );
        assert!(
            accepted.wait_for_disconnected(LONG),
            "cycle {i}: server side sees it"
        );
        assert_eq!(accepted.socket_descriptor(), None);
    }
    eprintln!(
        "{protocol:?}: {cycles} cycles in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        keeper.state(),
        SocketState::Connected,
        "the keeper stayed up"
    );
    assert_eq!(
        open_fds(),
        baseline.unwrap(),
        "descriptors after {cycles} cycles"
    );
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn rfcomm_1000_connect_disconnect_cycles_keep_fd_count_flat() {
    cycles(Protocol::Rfcomm, [21, 22], 25, 1000);
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn l2cap_1000_connect_disconnect_cycles_keep_fd_count_flat() {
    cycles(Protocol::L2cap, [0x1031, 0x1037], 0x1039, 1000);
}

/// btmgmt with its stdin kept open: at end of input it quits before the reply comes.
fn mgmt(args: &[&str]) {
    let mut child = Command::new("btmgmt")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("btmgmt runs");
    let stdin = child.stdin.take();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "btmgmt {args:?} hangs");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
}

fn powered(i: usize) -> bool {
    let out = Command::new("hciconfig")
        .arg(format!("hci{i}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("UP RUNNING")
}

/// The client's controller (hci1) is powered off while data flows: both ends report an
/// error and one `disconnected`, nothing panics, no descriptor stays open.
fn controller_powered_off(protocol: Protocol, port: u16) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    let fds = open_fds();
    {
        let (client, server, _keep) = util::connected_pair(&h, &bed, protocol, port, (0, 1));
        let (client_log, server_log) = (record(&client), record(&server));
        let _drain = (collect(&client), collect(&server));
        sigloop_testbed::send(&client, &sigloop_testbed::pattern(64 * 1024, 8));
        mgmt(&["--index", "1", "power", "off"]);
        let s = server.clone();
        let c = client.clone();
        h.wait_until(Instant::now() + LONG, || {
            s.state() == SocketState::Unconnected && c.state() == SocketState::Unconnected
        })
        .unwrap();
        for (side, sock, log) in [
            ("client", &client, &client_log),
            ("server", &server, &server_log),
        ] {
            assert_eq!(sock.state(), SocketState::Unconnected, "{side}");
            assert_eq!(sock.socket_descriptor(), None, "{side}");
            let log = log.borrow();
            assert_eq!(
                log.iter().filter(|l| *l == "disconnected").count(),
                1,
                "{side}: {log:?}"
            );
            assert!(
                log.iter().any(|l| l.starts_with("error:")),
                "{side}: {log:?}"
            );
            assert_ne!(
                sock.error(),
                Some(SocketError::UnknownSocket),
                "{side}: a typed error"
            );
        }
        eprintln!(
            "{protocol:?} power off: client {:?}, server {:?}",
            client.error(),
            server.error()
        );
    }
    mgmt(&["--index", "1", "power", "on"]);
    let deadline = Instant::now() + LONG;
    while !powered(1) {
        assert!(Instant::now() < deadline, "hci1 did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(open_fds(), fds, "no descriptor left open");
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn rfcomm_controller_powered_off_mid_connection() {
    controller_powered_off(Protocol::Rfcomm, 23);
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn l2cap_controller_powered_off_mid_connection() {
    controller_powered_off(Protocol::L2cap, 0x1033);
}

/// One loop thread serves 100 L2CAP channels to one PSM (from hci1; several channels
/// from one device are allowed) plus an RFCOMM client from every other controller; every
/// channel echoes. Prints the memory per idle connection.
#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn one_thread_serves_100_l2cap_channels_and_rfcomm() {
    const N: usize = 100;
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let threads = || std::fs::read_dir("/proc/self/task").unwrap().count();
    let threads_before = threads();
    let rss_before = rss_kib();
    let l2 = BluetoothServer::new(&h, Protocol::L2cap);
    l2.set_max_pending_connections(N + 8);
    l2.listen(bed.address(0), 0x1035).unwrap();
    let rf = BluetoothServer::new(&h, Protocol::Rfcomm);
    rf.listen(bed.address(0), 24).unwrap();
    let served: Rc<RefCell<Vec<BluetoothSocket>>> = Rc::default();
    for server in [&l2, &rf] {
        let (srv, keep) = (server.clone(), served.clone());
        server.new_connection().connect(move |()| {
            while let Some(s) = srv.next_pending_connection() {
                let c = s.clone();
                s.ready_read().connect(move |()| {
                    while let Some(p) = c.read_packet() {
                        c.write(&p).unwrap();
                    }
                });
                keep.borrow_mut().push(s);
            }
        });
    }
    let _held = bed
        .hold_link_from(bed.address(1), bed.address(0))
        .expect("hold the link");
    let mut clients = Vec::new();
    let start = Instant::now();
    for i in 0..N {
        let c = BluetoothSocket::new(&h, Protocol::L2cap);
        c.set_local_adapter(bed.address(1));
        c.connect_to_service(bed.address(0), 0x1035).unwrap();
        clients.push((format!("l2cap {i}"), c));
    }
    for i in 1..bed.controllers() {
        let c = BluetoothSocket::new(&h, Protocol::Rfcomm);
        c.set_local_adapter(bed.address(i));
        c.connect_to_service(bed.address(0), 24).unwrap();
        clients.push((format!("rfcomm from hci{i}"), c));
    }
    let total = clients.len();
    let s = served.clone();
    assert!(
        h.wait_until(Instant::now() + Duration::from_secs(300), || {
            s.borrow().len() == total
                && clients
                    .iter()
                    .all(|(_, c)| c.state() != SocketState::Connecting)
        })
        .unwrap(),
        "served {} of {total}",
        served.borrow().len()
    );
    for (name, c) in &clients {
        assert_eq!(
            c.state(),
            SocketState::Connected,
            "{name}: {}",
            c.error_string()
        );
    }
    let connected_in = start.elapsed();
    let echoes: Vec<_> = clients
        .iter()
        .map(|(name, c)| {
            c.write(name.as_bytes()).unwrap();
            collect(c)
        })
        .collect();
    let e = echoes.clone();
    let names: Vec<usize> = clients.iter().map(|(n, _)| n.len()).collect();
    assert!(h
        .wait_until(Instant::now() + Duration::from_secs(120), || {
            e.iter().zip(&names).all(|(g, n)| g.borrow().len() >= *n)
        })
        .unwrap());
    for ((name, _), got) in clients.iter().zip(&echoes) {
        assert_eq!(&*got.borrow(), name.as_bytes(), "{name}'s echo");
    }
    assert_eq!(threads(), threads_before, "no thread per connection");
    let rss = rss_kib().saturating_sub(rss_before);
    eprintln!(
        "{total} connections (both ends in this process) up in {:.1} s; RSS +{rss} KiB, \
         {:.1} KiB per connection end",
        connected_in.as_secs_f64(),
        rss as f64 / (2 * total) as f64
    );
    std::io::stderr().flush().unwrap();
}
