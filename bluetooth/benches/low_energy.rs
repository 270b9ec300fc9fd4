//! LE on the BlueZ test bed, sigloop against bluer alone in the same boot (hci0 → hci1):
//!
//! - notifications: a bluer GATT server on hci1 sends 300 notifications of 20 bytes
//!   (each carries its send time) as fast as it can once subscribed; they are received
//!   by a `LowEnergyService` slot (bluetoothd's notify socket read on the loop) and by
//!   bluer's own notify socket (`notify_io`) on a tokio runtime, in alternating rounds
//!   over the same LE link. Prints notifications per second and the median latency from
//!   the server's send to the receiver.
//! - LE credit-based channels: 512 KiB one way (acknowledged) and the median round trip
//!   of a 16-byte echo (300 each), through a plain blocking socket and through
//!   `BluetoothSocket`, alternating rounds.
//! - writes without response: 300 of 20 bytes issued in one go to a characteristic of
//!   the same server, which counts them; rate from the first call to the last arrival.
//!   Through `LowEnergyService::write_characteristic` (bluetoothd's `AcquireWrite`
//!   socket, on the helper thread), through bluer's own `write_io` socket, and, for
//!   reference, through `WriteValue` over D-Bus one at a time (sigloop's path before
//!   it used the socket), alternating rounds.
//! - memory: heap bytes held by one connected `LowEnergyController` with its service
//!   discovered in full (a counting allocator).
//!
//! Prints `<case> <value>` lines, then the ratios sigloop / reference.
//! Run: `scripts/bench-bluetooth --le` (builds here, runs inside the test bed).

use std::cell::RefCell;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use bluer::gatt::local::{
    Application, Characteristic, CharacteristicNotify, CharacteristicNotifyMethod,
    CharacteristicWrite, CharacteristicWriteMethod, Service,
};
use sigloop_bluetooth::low_energy::{
    DiscoveryMode, LowEnergyController, RemoteAddressType, ServiceState, WriteMode,
};
use sigloop_bluetooth::{raw, BluetoothAddress, BluetoothSocket, Protocol};
use sigloop_core::{EventLoop, LoopHandle};
use sigloop_testbed::Testbed;
use uuid::Uuid;

#[path = "../tests/util/le.rs"]
#[allow(dead_code)]
mod le;

/// The counting allocator, the bench's one `unsafe`.
mod sys {
    #![allow(unsafe_code)]

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicIsize, Ordering};

    /// Heap bytes live, for the memory case.
    pub static LIVE: AtomicIsize = AtomicIsize::new(0);

    pub struct Counting;

    // SAFETY: every call is forwarded to the system allocator unchanged; only a counter
    // is kept beside it.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            // SAFETY: the caller's contract is passed on unchanged.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOC: Counting = Counting;
}

use sys::LIVE;

const SERVICE: Uuid = Uuid::from_u128(0x0000_fff1_0000_1000_8000_0080_5f9b_34fb);
const NOTIFY: Uuid = Uuid::from_u128(0x5158_0001_0000_1000_8000_0080_5f9b_34fb);
/// Written without response by sigloop, by bluer's `write_io`, by `WriteValue`: one
/// each, as bluetoothd hands out one write socket per characteristic.
const WRITTEN: Uuid = Uuid::from_u128(0x5158_0002_0000_1000_8000_0080_5f9b_34fb);
const WRITTEN_IO: Uuid = Uuid::from_u128(0x5158_0003_0000_1000_8000_0080_5f9b_34fb);
const WRITTEN_VALUE: Uuid = Uuid::from_u128(0x5158_0004_0000_1000_8000_0080_5f9b_34fb);
const COUNT: usize = 300;
const ROUNDS: usize = 3;
const BULK: usize = 512 * 1024;
const MSG: usize = 16;
const PSM: u16 = 0x91;
const LONG: Duration = Duration::from_secs(120);
/// A notification round ends when none came for this long.
const IDLE: Duration = Duration::from_secs(3);

/// Writes the server got on `WRITTEN`, and when the last came.
static WRITES: AtomicUsize = AtomicUsize::new(0);
static LAST_WRITE: Mutex<Option<Instant>> = Mutex::new(None);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The payload: the send time in microseconds since `base`, the value's number in its
/// session, the session's number (each subscription starts one), 20 bytes in all.
fn stamp(base: Instant, i: usize, session: u32) -> Vec<u8> {
    let mut v = (base.elapsed().as_micros() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(&(i as u64).to_le_bytes());
    v.extend_from_slice(&session.to_le_bytes());
    v
}

/// Notification sessions the server started.
static SESSIONS: AtomicU32 = AtomicU32::new(0);

/// A round's arrivals: (when, latency ms, number, session).
type Arrivals = Vec<(Instant, f64, u64, u32)>;

/// Keeps the arrivals of the round's own (latest) session. Values an earlier session
/// left in the server's D-Bus queue arrive first in the next round (bluer's stall, see
/// the README's facts): they are counted and reported, not taken as this round's.
fn this_session(side: &str, got: Arrivals) -> Arrivals {
    let Some(latest) = got.iter().map(|g| g.3).max() else {
        return got;
    };
    let (own, stale): (Arrivals, Arrivals) = got.into_iter().partition(|g| g.3 == latest);
    if !stale.is_empty() {
        println!(
            "{side}: {} values of an earlier session arrived first",
            stale.len()
        );
    }
    own
}

/// The numbers missing from a round's values, printed when there are any.
fn report_missing(side: &str, numbers: impl Iterator<Item = u64>) {
    let mut seen = vec![false; COUNT];
    for n in numbers {
        if let Some(s) = seen.get_mut(n as usize) {
            *s = true;
        }
    }
    let missing: Vec<usize> = (0..COUNT).filter(|&i| !seen[i]).collect();
    if !missing.is_empty() {
        println!("{side}: missing (by number) {missing:?}");
    }
}

fn number(value: &[u8]) -> u64 {
    u64::from_le_bytes(value[8..16].try_into().unwrap())
}

fn session_of(value: &[u8]) -> u32 {
    u32::from_le_bytes(value[16..20].try_into().unwrap())
}

fn latency_ms(base: Instant, value: &[u8]) -> f64 {
    let sent = u64::from_le_bytes(value[..8].try_into().unwrap());
    (base.elapsed().as_micros() as u64).saturating_sub(sent) as f64 / 1e3
}

/// After a burst of notifications: calls on the server's D-Bus connection until one is
/// answered, so that the burst's tail leaves the process (bluer's D-Bus reactor, on
/// dbus-tokio 0.7.6, writes a full socket's rest only at the next traffic; see the
/// README's facts and `gatt_server::flush`, which does the same for sigloop's
/// peripheral). Without it, a round's tail reached the receiver only in the next round.
async fn flush(adapter: &bluer::Adapter) {
    let mut wait = Duration::from_millis(20);
    for _ in 0..20 {
        if tokio::time::timeout(wait, adapter.is_powered())
            .await
            .is_ok()
        {
            return;
        }
        wait = (wait * 2).min(Duration::from_millis(500));
    }
}

/// A characteristic written without response whose writes are counted.
fn counted(uuid: Uuid) -> Characteristic {
    Characteristic {
        uuid,
        write: Some(CharacteristicWrite {
            write_without_response: true,
            method: CharacteristicWriteMethod::Fun(Box::new(|_, _| {
                Box::pin(async {
                    WRITES.fetch_add(1, Ordering::SeqCst);
                    *LAST_WRITE.lock().unwrap() = Some(Instant::now());
                    Ok(())
                })
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The GATT server and advertising on `adapter`, while the handle lives.
fn peripheral(adapter: BluetoothAddress, base: Instant) -> le::Served {
    le::serve(adapter, move |a| async move {
        let a2 = a.clone();
        let app = Application {
            services: vec![Service {
                uuid: SERVICE,
                primary: true,
                characteristics: vec![
                    counted(WRITTEN),
                    counted(WRITTEN_IO),
                    counted(WRITTEN_VALUE),
                    Characteristic {
                        uuid: NOTIFY,
                        notify: Some(CharacteristicNotify {
                            notify: true,
                            method: CharacteristicNotifyMethod::Fun(Box::new(
                                move |mut notifier| {
                                    let adapter = a2.clone();
                                    Box::pin(async move {
                                        // notify() only queues the value on bluer's D-Bus
                                        // connection, whose writer is a task on this same
                                        // runtime, and it never yields. When the bus daemon lags
                                        // (a starved guest), the socket fills, and a notify()
                                        // that finds the writer woken but not yet run fails
                                        // (dbus-tokio refuses a second wake) though the session
                                        // goes on: stopping then lost the rest of the round. So
                                        // let the writer run after each value, and end only when
                                        // the session did.
                                        let id = SESSIONS.fetch_add(1, Ordering::SeqCst);
                                        for i in 0..COUNT {
                                            if notifier.notify(stamp(base, i, id)).await.is_err() {
                                                if notifier.is_stopped() {
                                                    return;
                                                }
                                                eprintln!("peripheral: notification {i} failed");
                                            }
                                            tokio::task::yield_now().await;
                                        }
                                        flush(&adapter).await;
                                        while !notifier.is_stopped() {
                                            tokio::time::sleep(Duration::from_millis(20)).await;
                                        }
                                    })
                                },
                            )),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let app = a.serve_gatt_application(app).await.unwrap();
        let adv = a
            .advertise(bluer::adv::Advertisement {
                service_uuids: [SERVICE].into_iter().collect(),
                discoverable: Some(true),
                ..Default::default()
            })
            .await
            .unwrap();
        (app, adv)
    })
}

fn wait(h: &LoopHandle, what: &str, mut done: impl FnMut() -> bool) {
    assert!(
        h.wait_until(Instant::now() + LONG, &mut done).unwrap(),
        "{what}"
    );
}

/// One round through a `LowEnergyService`: (notifications/s, median latency ms).
fn sigloop_round(
    h: &LoopHandle,
    s: &sigloop_bluetooth::LowEnergyService,
    base: Instant,
) -> (f64, f64, usize) {
    let c = s.characteristic(NOTIFY).unwrap();
    let got: Rc<RefCell<Arrivals>> = Rc::default();
    let sink = got.clone();
    let conn = s.characteristic_changed().connect(move |(_, v)| {
        sink.borrow_mut().push((
            Instant::now(),
            latency_ms(base, v),
            number(v),
            session_of(v),
        ));
    });
    s.set_notifications(&c, true).unwrap();
    // Until all came, or none for 3 s (then some were lost on the way). The test runs
    // only when the loop wakes, and nothing wakes it after the last value: short slices.
    let end = Instant::now() + LONG;
    let done = || {
        let g = got.borrow();
        g.len() >= COUNT || g.last().is_some_and(|l| l.0.elapsed() > IDLE)
    };
    while !done() && Instant::now() < end {
        h.wait_until(end.min(Instant::now() + IDLE / 10), done)
            .unwrap();
    }
    s.set_notifications(&c, false).unwrap();
    s.characteristic_changed().disconnect(conn);
    let got = this_session("sigloop", got.take());
    report_missing("sigloop", got.iter().map(|g| g.2));
    summarize(&got)
}

/// (notifications/s, median latency ms, how many came) from the arrival times.
fn summarize(got: &[(Instant, f64, u64, u32)]) -> (f64, f64, usize) {
    assert!(got.len() > 1, "no notifications arrived");
    let span = got[got.len() - 1].0 - got[0].0;
    let rate = (got.len() - 1) as f64 / span.as_secs_f64();
    (rate, median(got.iter().map(|g| g.1).collect()), got.len())
}

/// One round through bluer's own notify socket, on a runtime of its own.
fn bluer_round(
    local: BluetoothAddress,
    peer: BluetoothAddress,
    base: Instant,
) -> (f64, f64, usize) {
    le::block_on(async move {
        let session = bluer::Session::new().await.unwrap();
        let reader = le::characteristic(&session, local, peer, NOTIFY)
            .await
            .notify_io()
            .await
            .unwrap();
        let mut got = Vec::with_capacity(COUNT);
        while got.len() < COUNT {
            match tokio::time::timeout(IDLE, reader.recv()).await {
                Ok(Ok(v)) => got.push((
                    Instant::now(),
                    latency_ms(base, &v),
                    number(&v),
                    session_of(&v),
                )),
                _ => break,
            }
        }
        drop(reader);
        let got = this_session("bluer", got);
        report_missing("bluer", got.iter().map(|g| g.2));
        summarize(&got)
    })
}

/// Waits until the server got `COUNT` writes more than `before`, or none came for
/// `IDLE`: (writes per second from `start` to the last arrival, how many came).
fn writes_arrived(h: Option<&LoopHandle>, before: usize, start: Instant) -> (f64, usize) {
    let end = Instant::now() + LONG;
    loop {
        let n = WRITES.load(Ordering::SeqCst) - before;
        let last = *LAST_WRITE.lock().unwrap();
        let idle = last.map_or(start, |l| l.max(start)).elapsed() > IDLE;
        if n >= COUNT || idle || Instant::now() > end {
            let span = last.map_or(Duration::ZERO, |l| l.saturating_duration_since(start));
            assert!(n > 0, "no write arrived");
            return (n as f64 / span.as_secs_f64(), n);
        }
        // The loop runs meanwhile (it sends sigloop's writes' results on).
        match h {
            Some(h) => {
                h.wait_until(Instant::now() + Duration::from_millis(5), || false)
                    .unwrap();
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// One round of writes without response through a `LowEnergyService`.
fn sigloop_writes(h: &LoopHandle, s: &sigloop_bluetooth::LowEnergyService) -> (f64, usize) {
    let c = s.characteristic(WRITTEN).unwrap();
    let before = WRITES.load(Ordering::SeqCst);
    let start = Instant::now();
    for i in 0..COUNT {
        let mut v = vec![0u8; 20];
        v[..8].copy_from_slice(&(i as u64).to_le_bytes());
        s.write_characteristic(&c, &v, WriteMode::WithoutResponse)
            .unwrap();
    }
    writes_arrived(Some(h), before, start)
}

/// One round of writes without response through bluer alone: its `write_io` socket, or
/// `WriteValue` (type command) one at a time when `dbus`.
fn bluer_writes(local: BluetoothAddress, peer: BluetoothAddress, dbus: bool) -> (f64, usize) {
    le::block_on(async move {
        let session = bluer::Session::new().await.unwrap();
        let wanted = if dbus { WRITTEN_VALUE } else { WRITTEN_IO };
        let c = le::characteristic(&session, local, peer, wanted).await;
        let req = bluer::gatt::remote::CharacteristicWriteRequest {
            op_type: bluer::gatt::WriteOp::Command,
            ..Default::default()
        };
        let writer = if dbus {
            None
        } else {
            Some(c.write_io().await.unwrap())
        };
        let before = WRITES.load(Ordering::SeqCst);
        let start = Instant::now();
        for i in 0..COUNT {
            let mut v = vec![0u8; 20];
            v[..8].copy_from_slice(&(i as u64).to_le_bytes());
            match &writer {
                Some(w) => w.send(&v).await.unwrap(),
                None => c.write_ext(&v, &req).await.unwrap(),
            }
        }
        // Counted before the socket closes (a close could race its last datagrams).
        writes_arrived(None, before, start)
    })
}

/// The LE channel server on hci1: a sink that acknowledges `BULK` bytes with one byte,
/// or an echo.
fn coc_server(addr: BluetoothAddress, psm: u16, sink: bool) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let listener = raw::socket(Protocol::L2cap, false).unwrap();
        raw::bind_le(listener.as_fd(), addr, psm).unwrap();
        rustix::net::listen(&listener, 4).unwrap();
        tx.send(()).unwrap();
        loop {
            let conn = rustix::net::accept(&listener).unwrap();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                let mut got = 0;
                loop {
                    let n = match rustix::io::read(&conn, &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if sink {
                        got += n;
                        if got >= BULK {
                            rustix::io::write(&conn, b"k").unwrap();
                            got = 0;
                        }
                    } else {
                        rustix::io::write(&conn, &buf[..n]).unwrap();
                    }
                }
            });
        }
    });
    rx.recv().unwrap();
}

fn raw_client(bed: &Testbed, psm: u16) -> OwnedFd {
    let fd = raw::socket(Protocol::L2cap, false).unwrap();
    raw::bind_le(fd.as_fd(), bed.address(0), 0).unwrap();
    raw::connect_le(fd.as_fd(), bed.address(1), RemoteAddressType::Public, psm).unwrap();
    fd
}

fn raw_throughput(bed: &Testbed, chunk: usize) -> f64 {
    let fd = raw_client(bed, PSM);
    let data = vec![7u8; chunk];
    let start = Instant::now();
    let mut sent = 0;
    while sent < BULK {
        sent += rustix::io::write(&fd, &data).unwrap();
    }
    let mut ack = [0u8; 1];
    assert_eq!(rustix::io::read(&fd, &mut ack).unwrap(), 1);
    BULK as f64 / 1024.0 / start.elapsed().as_secs_f64()
}

fn sigloop_client(h: &LoopHandle, bed: &Testbed, psm: u16) -> BluetoothSocket {
    let s = BluetoothSocket::new(h, Protocol::L2cap);
    s.set_local_adapter(bed.address(0));
    s.connect_to_le_channel(bed.address(1), RemoteAddressType::Public, psm)
        .unwrap();
    assert!(s.wait_for_connected(LONG), "{:?}", s.error());
    s
}

fn sigloop_throughput(h: &LoopHandle, bed: &Testbed) -> (f64, usize) {
    let s = sigloop_client(h, bed, PSM);
    let chunk = s.max_write_chunk();
    let data = vec![7u8; chunk];
    let start = Instant::now();
    let mut queued = 0;
    while queued < BULK {
        s.write(&data).unwrap();
        queued += chunk;
    }
    wait(h, "ack", || s.bytes_available() > 0);
    let rate = BULK as f64 / 1024.0 / start.elapsed().as_secs_f64();
    s.abort();
    (rate, chunk)
}

fn round_trips(h: &LoopHandle, bed: &Testbed) -> (f64, f64) {
    let fd = raw_client(bed, PSM + 2);
    let s = sigloop_client(h, bed, PSM + 2);
    let (mut raw_t, mut ours) = (Vec::new(), Vec::new());
    let msg = [1u8; MSG];
    for block in 0..30 {
        for _ in 0..10 {
            if block % 2 == 0 {
                let t = Instant::now();
                rustix::io::write(&fd, &msg).unwrap();
                let mut back = [0u8; MSG];
                let mut got = 0;
                while got < MSG {
                    got += rustix::io::read(&fd, &mut back[got..]).unwrap();
                }
                raw_t.push(t.elapsed().as_secs_f64() * 1e3);
            } else {
                let t = Instant::now();
                s.write(&msg).unwrap();
                wait(h, "echo", || s.bytes_available() >= MSG);
                let _ = s.read_all();
                ours.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    s.abort();
    (median(raw_t), median(ours))
}

/// A controller linked to hci1 with the bench's service discovered in full.
fn connect_discovered(
    h: &LoopHandle,
    bed: &Testbed,
) -> (LowEnergyController, sigloop_bluetooth::LowEnergyService) {
    let c = LowEnergyController::create_central_from_address(
        h,
        bed.address(1),
        RemoteAddressType::Public,
        bed.address(0),
    );
    c.connect_to_device().unwrap();
    wait(h, "connected", || {
        c.state() == sigloop_bluetooth::low_energy::ControllerState::Connected
    });
    c.discover_services().unwrap();
    wait(h, "services", || {
        c.state() == sigloop_bluetooth::low_energy::ControllerState::Discovered
    });
    let s = c.create_service_object(SERVICE).unwrap();
    s.discover_details(DiscoveryMode::FullDiscovery).unwrap();
    wait(h, "details", || {
        s.state() == ServiceState::RemoteServiceDiscovered
    });
    (c, s)
}

fn main() {
    if std::env::var_os("TESTBED").is_none() {
        eprintln!("low_energy bench: run inside the test bed (scripts/bench-bluetooth --le)");
        return;
    }
    let bed = Testbed::from_env();
    let base = Instant::now();
    let _peripheral = peripheral(bed.address(1), base);
    let el = EventLoop::new().unwrap();
    let h = el.handle();

    // Memory: heap held by one controller, linked, with its service discovered in full;
    // measured on a second link, so that the helper thread, its D-Bus connection and
    // bluetoothd's object cache are already in place.
    let warm = connect_discovered(&h, &bed);
    warm.0.disconnect_from_device();
    wait(&h, "closed", || {
        warm.0.state() == sigloop_bluetooth::low_energy::ControllerState::Unconnected
    });
    drop(warm);
    el.process_events(Duration::ZERO).unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    let (c, s) = connect_discovered(&h, &bed);
    // Let the helper thread's share of the work settle.
    std::thread::sleep(Duration::from_millis(200));
    el.process_events(Duration::ZERO).unwrap();
    let held = LIVE.load(Ordering::Relaxed) - before;
    println!("controller_heap_bytes {held}");

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut our_lat, mut their_lat) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (r, l, n) = sigloop_round(&h, &s, base);
        println!("round {round} sigloop received {n} of {COUNT}");
        ours.push(r);
        our_lat.push(l);
        let (r, l, n) = bluer_round(bed.address(0), bed.address(1), base);
        println!("round {round} bluer received {n} of {COUNT}");
        theirs.push(r);
        their_lat.push(l);
    }
    let (ours, theirs) = (median(ours), median(theirs));
    let (our_lat, their_lat) = (median(our_lat), median(their_lat));
    println!("notify_per_s_sigloop {ours:.0}");
    println!("notify_per_s_bluer {theirs:.0}");
    println!("notify_latency_ms_sigloop {our_lat:.2}");
    println!("notify_latency_ms_bluer {their_lat:.2}");

    let (mut ours_w, mut theirs_w, mut dbus_w) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (r, n) = sigloop_writes(&h, &s);
        println!("round {round} sigloop wrote, {n} of {COUNT} arrived");
        ours_w.push(r);
        let (r, n) = bluer_writes(bed.address(0), bed.address(1), false);
        println!("round {round} bluer write_io wrote, {n} of {COUNT} arrived");
        theirs_w.push(r);
        let (r, n) = bluer_writes(bed.address(0), bed.address(1), true);
        println!("round {round} bluer WriteValue wrote, {n} of {COUNT} arrived");
        dbus_w.push(r);
    }
    let (ours_w, theirs_w, dbus_w) = (median(ours_w), median(theirs_w), median(dbus_w));
    println!("write_cmd_per_s_sigloop {ours_w:.0}");
    println!("write_cmd_per_s_bluer_write_io {theirs_w:.0}");
    println!("write_cmd_per_s_bluer_write_value {dbus_w:.0}");
    c.disconnect_from_device();
    wait(&h, "closed", || {
        c.state() == sigloop_bluetooth::low_energy::ControllerState::Unconnected
    });

    coc_server(bed.address(1), PSM, true);
    coc_server(bed.address(1), PSM + 2, false);
    let (mut raw_tp, mut our_tp) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (r, chunk) = sigloop_throughput(&h, &bed);
        our_tp.push(r);
        raw_tp.push(raw_throughput(&bed, chunk));
    }
    let (raw_tp, our_tp) = (median(raw_tp), median(our_tp));
    println!("le_channel_kib_s_raw {raw_tp:.0}");
    println!("le_channel_kib_s_sigloop {our_tp:.0}");
    let (raw_rtt, our_rtt) = round_trips(&h, &bed);
    println!("le_channel_rtt_ms_raw {raw_rtt:.2}");
    println!("le_channel_rtt_ms_sigloop {our_rtt:.2}");
    println!("ratio notify_per_s {:.2}", ours / theirs);
    println!("ratio write_cmd_per_s {:.2}", ours_w / theirs_w);
    println!("ratio le_channel_throughput {:.2}", our_tp / raw_tp);
    println!("ratio le_channel_rtt {:.2}", our_rtt / raw_rtt);
}
