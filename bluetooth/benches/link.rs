//! The test bed's Bluetooth link itself, through plain kernel RFCOMM sockets: connect
//! time, 16-byte round trip (median and p90) and bulk throughput. Run in one guest
//! (hci1 → hci0) and in the two-host mode (host b → host a), it gives the two links side
//! by side: `scripts/bench-bluetooth --link` runs both and prints both lines.
//!
//! Connect times are on fresh links (each after every link is gone): paging, Just
//! Works pairing, encryption, then the RFCOMM session and channel. A connect the peer
//! refuses while it still reads the new link's key size ("security block", seen between
//! slow emulated hosts) is counted and shown, not hidden, and the next one is tried.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::net::sockopt;
use sigloop_bluetooth::{raw, BluetoothAddress, Protocol};
use sigloop_testbed::Testbed;

const CHANNEL: u16 = 21;
const CONNECTS: usize = 5;
const MSG: usize = 16;
const ROUND_TRIPS: usize = 200;
const BULK: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(60);

/// Serves until told to stop: per connection a first byte says what to do.
/// `c`: nothing (a connect-time probe); `e`: echo; `s`: sink BULK bytes, answer `k`;
/// `q`: stop serving.
fn serve(addr: BluetoothAddress, ready: impl FnOnce()) {
    let listener = raw::socket(Protocol::Rfcomm, false).unwrap();
    raw::bind(listener.as_fd(), Protocol::Rfcomm, addr, CHANNEL).unwrap();
    rustix::net::listen(&listener, 1).unwrap();
    ready();
    loop {
        let conn = std::fs::File::from(rustix::net::accept(&listener).unwrap());
        let mut conn = conn;
        let mut cmd = [0u8; 1];
        if conn.read_exact(&mut cmd).is_err() {
            continue;
        }
        let mut buf = vec![0u8; 65536];
        match cmd[0] {
            b'e' => {
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
            b's' => {
                let mut got = 0;
                while got < BULK {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got += n,
                    }
                }
                let _ = conn.write_all(b"k");
                let _ = conn.read(&mut buf);
            }
            b'q' => return,
            _ => {}
        }
    }
}

fn connect(local: BluetoothAddress, remote: BluetoothAddress) -> std::io::Result<std::fs::File> {
    let fd: OwnedFd = raw::socket(Protocol::Rfcomm, false)?;
    raw::bind(fd.as_fd(), Protocol::Rfcomm, local, 0)?;
    raw::connect(fd.as_fd(), Protocol::Rfcomm, remote, CHANNEL)?;
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(TIMEOUT))?;
    Ok(std::fs::File::from(fd))
}

fn percentile_ms(v: &mut [Duration], p: usize) -> f64 {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)].as_secs_f64() * 1e3
}

/// Measures from the client side; `settle` waits until every link is gone.
fn client(name: &str, local: BluetoothAddress, remote: BluetoothAddress, settle: &dyn Fn()) {
    let mut connects = Vec::new();
    let mut refused = 0;
    while connects.len() < CONNECTS {
        settle();
        let t = Instant::now();
        match connect(local, remote) {
            Ok(mut s) => {
                connects.push(t.elapsed());
                s.write_all(b"c").unwrap();
            }
            Err(e) if refused < 10 => {
                eprintln!("link bench: connect {} refused: {e}", connects.len() + 1);
                refused += 1;
            }
            Err(e) => panic!("link bench: 10 connects refused, the last: {e}"),
        }
    }
    settle();
    let mut s = connect(local, remote).expect("connect for the round trips");
    s.write_all(b"e").unwrap();
    let msg = [0x5au8; MSG];
    let mut back = [0u8; MSG];
    let mut rtts = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        s.write_all(&msg).unwrap();
        s.read_exact(&mut back).unwrap();
        rtts.push(t.elapsed());
    }
    drop(s);
    // Each phase on a fresh link: a connect that meets the previous one's teardown (the
    // RFCOMM session or the ACL link closing) fails with ECONNRESET.
    settle();
    let mut s = connect(local, remote).expect("connect for the bulk transfer");
    s.write_all(b"s").unwrap();
    let data = vec![7u8; 1024];
    let t = Instant::now();
    for _ in 0..BULK / data.len() {
        s.write_all(&data).unwrap();
    }
    let mut k = [0u8; 1];
    s.read_exact(&mut k).unwrap();
    let kib_s = BULK as f64 / 1024.0 / t.elapsed().as_secs_f64();
    drop(s);
    settle();
    let mut q = connect(local, remote).expect("connect to stop the server");
    q.write_all(b"q").unwrap();
    println!(
        "{name:<10} connect {:7.1} ms (median of {CONNECTS}, {refused} refused)  round trip {:6.2} ms median {:6.2} ms p90  bulk {:7.1} KiB/s",
        percentile_ms(&mut connects, 50),
        percentile_ms(&mut rtts, 50),
        percentile_ms(&mut rtts, 90),
        kib_s
    );
}

fn main() {
    if std::env::args().any(|a| a == "--bench") && std::env::var("TESTBED").is_err() {
        // `cargo bench` on the host: the link exists only inside the test bed.
        eprintln!("link bench: needs the test bed; run scripts/bench-bluetooth --link");
        return;
    }
    let bed = Testbed::from_env();
    match bed.host().as_deref() {
        None => {
            let server = bed.address(0);
            let (tx, rx) = std::sync::mpsc::channel();
            let t = std::thread::spawn(move || serve(server, move || tx.send(()).unwrap()));
            rx.recv().unwrap();
            client("one-guest", bed.address(1), bed.address(0), &|| {
                bed.settle(0, 1)
            });
            t.join().unwrap();
        }
        Some("a") => serve(bed.address(0), || bed.barrier("link_bench.ready")),
        Some(_) => {
            bed.barrier("link_bench.ready");
            let a = bed.host_address("a");
            client("two-host", bed.address(0), a, &|| bed.settle_host());
        }
    }
}
