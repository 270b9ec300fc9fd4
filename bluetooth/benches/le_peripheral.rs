//! The LE peripheral on the BlueZ test bed: notifications per second sent from a
//! sigloop `LocalService` (`write_characteristic` in a loop once a central subscribed)
//! against a peripheral written with bluer alone (`notify()` in a loop), both serving on
//! one adapter at once under two service UUIDs, received over one LE link by bluer's
//! notify socket on the other, in alternating rounds. In one guest the peripherals are
//! on hci1 and the receiver on hci0; in the two-host mode (`testbed/run --hosts 2`) the
//! peripherals are on host a and the receiver on host b, each host with its own
//! bluetoothd, and the lines printed start with `two_hosts`. Prints per round and side
//! how many of `COUNT` arrived and the notifications per second (first to last
//! arrival), then the medians and their ratio sigloop / bluer.
//!
//! Run: `scripts/bench-bluetooth --le-peripheral` (builds here, runs inside the bed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bluer::gatt::local::{
    Application, Characteristic, CharacteristicNotify, CharacteristicNotifyMethod, Service,
};
use sigloop_bluetooth::low_energy::{
    ControllerState, LocalService, LowEnergyCharacteristicData, LowEnergyController,
    LowEnergyPeripheral, LowEnergyServiceData, PropertyTypes, RemoteAddressType,
};
use sigloop_bluetooth::BluetoothAddress;
use sigloop_core::{EventLoop, LoopHandle};
use sigloop_testbed::Testbed;
use uuid::Uuid;

#[path = "../tests/util/le.rs"]
#[allow(dead_code)]
mod le;

const OURS: Uuid = Uuid::from_u128(0x0000_fff2_0000_1000_8000_0080_5f9b_34fb);
const OURS_NOTIFY: Uuid = Uuid::from_u128(0x5159_0001_0000_1000_8000_0080_5f9b_34fb);
const THEIRS: Uuid = Uuid::from_u128(0x0000_fff3_0000_1000_8000_0080_5f9b_34fb);
const THEIRS_NOTIFY: Uuid = Uuid::from_u128(0x5159_0002_0000_1000_8000_0080_5f9b_34fb);
const COUNT: usize = 300;
const ROUNDS: usize = 5;
/// The barriers' prefix in the two-host mode.
const BENCH: &str = "le_peripheral_bench";
const LONG: Duration = Duration::from_secs(120);
/// A round ends when all arrived or none came for this long.
const IDLE: Duration = Duration::from_secs(3);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// 20 bytes, numbered.
fn value(i: usize) -> Vec<u8> {
    let mut v = vec![0u8; 20];
    v[..8].copy_from_slice(&(i as u64).to_le_bytes());
    v
}

/// The bluer-only peripheral's service: `COUNT` notifications as fast as it can once a
/// central subscribes, letting bluer's D-Bus writer run after each.
fn bluer_service() -> Service {
    Service {
        uuid: THEIRS,
        primary: true,
        characteristics: vec![Characteristic {
            uuid: THEIRS_NOTIFY,
            notify: Some(CharacteristicNotify {
                notify: true,
                method: CharacteristicNotifyMethod::Fun(Box::new(move |mut notifier| {
                    Box::pin(async move {
                        for i in 0..COUNT {
                            if notifier.notify(value(i)).await.is_err() && notifier.is_stopped() {
                                return;
                            }
                            tokio::task::yield_now().await;
                        }
                        while !notifier.is_stopped() {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    })
                })),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// One round's reception on hci0 through bluer's notify socket, on a thread of its own:
/// (notifications per second, how many came).
fn receive(
    local: BluetoothAddress,
    peer: BluetoothAddress,
    characteristic: Uuid,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(f64, usize)> {
    std::thread::spawn(move || {
        let r = le::block_on(async move {
            let session = bluer::Session::new().await.unwrap();
            let found = le::characteristic(&session, local, peer, characteristic).await;
            // Bounded, so that a session bluetoothd never answers fails the round
            // with its step named instead of hanging the bench.
            let reader = tokio::time::timeout(IDLE * 10, found.notify_io())
                .await
                .expect("AcquireNotify answered within 30 s")
                .unwrap();
            let mut times = Vec::with_capacity(COUNT);
            let mut seen = vec![false; COUNT];
            while times.len() < COUNT {
                match tokio::time::timeout(IDLE, reader.recv()).await {
                    Ok(Ok(v)) => {
                        times.push(Instant::now());
                        let i = u64::from_le_bytes(v[..8].try_into().unwrap()) as usize;
                        if let Some(s) = seen.get_mut(i) {
                            *s = true;
                        }
                    }
                    _ => break,
                }
            }
            drop(reader);
            let missing: Vec<usize> = (0..COUNT).filter(|&i| !seen[i]).collect();
            if !missing.is_empty() {
                println!("missing (by number): {missing:?}");
            }
            assert!(times.len() > 1, "no notifications arrived");
            let span = times[times.len() - 1] - times[0];
            ((times.len() - 1) as f64 / span.as_secs_f64(), times.len())
        });
        done.store(true, Ordering::SeqCst);
        r
    })
}

/// Runs the loop until `done` holds. The loop checks `done` only after it handled
/// something, and what `done` looks at may change on another thread (a receiver) or in
/// another host (a file), so it wakes every 50 ms.
fn wait(h: &LoopHandle, what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + LONG;
    while !done() {
        assert!(Instant::now() < end, "{what}");
        let step = Instant::now() + Duration::from_millis(50);
        h.wait_until(step.min(end), &mut done).unwrap();
    }
}

/// Prints the library's warnings (a notification it could not send would say so here).
struct Warnings;

impl log::Log for Warnings {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("{}: {}", r.level(), r.args());
        }
    }
    fn flush(&self) {}
}

/// Ours and bluer's peripherals on the adapter at `adapter`, both advertising through
/// bluer's advertisement: ours sends `COUNT` values as fast as the loop goes each time a
/// central subscribes.
fn peripherals(
    h: &LoopHandle,
    adapter: BluetoothAddress,
) -> (LowEnergyPeripheral, LocalService, le::Served) {
    let p = LowEnergyController::create_peripheral(h, adapter);
    let mut data = LowEnergyServiceData::new(OURS);
    data.add_characteristic(LowEnergyCharacteristicData::new(
        OURS_NOTIFY,
        PropertyTypes::NOTIFY,
        value(0),
    ));
    let local = p.add_service(&data).unwrap();
    let theirs = le::serve(adapter, move |a| async move {
        let app = Application {
            services: vec![bluer_service()],
            ..Default::default()
        };
        let app = a.serve_gatt_application(app).await.unwrap();
        let adv = a
            .advertise(bluer::adv::Advertisement {
                service_uuids: [THEIRS].into_iter().collect(),
                discoverable: Some(true),
                ..Default::default()
            })
            .await
            .unwrap();
        (app, adv)
    });
    let l = local.clone();
    local.notifications_changed().connect(move |(_, on)| {
        if *on {
            for i in 0..COUNT {
                l.write_characteristic(OURS_NOTIFY, &value(i)).unwrap();
            }
        }
    });
    (p, local, theirs)
}

/// One LE link from the adapter at `local` to `peer`, made by our central; rounds of
/// both receivers over it, alternating. Prints each round and the medians.
fn rounds(h: &LoopHandle, local: BluetoothAddress, peer: BluetoothAddress, label: &str) {
    let c =
        LowEnergyController::create_central_from_address(h, peer, RemoteAddressType::Public, local);
    let t0 = Instant::now();
    c.connect_to_device().unwrap();
    wait(h, "connected", || c.state() == ControllerState::Connected);
    println!("{label}connected in {:.1} s", t0.elapsed().as_secs_f64());
    c.discover_services().unwrap();
    wait(h, "services", || c.state() == ControllerState::Discovered);
    assert!(c.services().contains(&OURS) && c.services().contains(&THEIRS));

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for (name, uuid, rates) in [
            ("sigloop", OURS_NOTIFY, &mut ours),
            ("bluer", THEIRS_NOTIFY, &mut theirs),
        ] {
            let done = Arc::new(AtomicBool::new(false));
            let rx = receive(local, peer, uuid, done.clone());
            wait(h, "the round", || done.load(Ordering::SeqCst));
            let (rate, n) = rx.join().unwrap();
            println!("{label}round {round} {name}: {n} of {COUNT} arrived, {rate:.0}/s");
            rates.push(rate);
            // The session's end reaches the peripheral before the next round.
            let end = Instant::now() + Duration::from_millis(500);
            h.wait_until(end, || false).unwrap();
        }
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!("{label}peripheral_notify_per_s_sigloop {ours:.0}");
    println!("{label}peripheral_notify_per_s_bluer {theirs:.0}");
    println!("{label}ratio peripheral_notify_per_s {:.2}", ours / theirs);
    c.disconnect_from_device();
    wait(h, "closed", || c.state() == ControllerState::Unconnected);
}

fn main() {
    log::set_logger(&Warnings).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    if std::env::var_os("TESTBED").is_none() {
        eprintln!("le_peripheral bench: run inside the test bed (scripts/bench-bluetooth --le-peripheral)");
        return;
    }
    let bed = Testbed::from_env();
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    match bed.host().as_deref() {
        // One guest: the peripherals on hci1, the central on hci0.
        None => {
            let _kept = peripherals(&h, bed.address(1));
            rounds(&h, bed.address(0), bed.address(1), "");
        }
        // Two hosts, each with its own bluetoothd: the peripherals on host a, the
        // central on host b; host a serves until b is done.
        Some("a") => {
            let _kept = peripherals(&h, bed.address(0));
            bed.barrier(&format!("{BENCH}.ready"));
            wait(&h, "host b's rounds", || {
                bed.has_reached(&format!("{BENCH}.done"), "b")
            });
            bed.barrier(&format!("{BENCH}.done"));
        }
        Some(_) => {
            bed.barrier(&format!("{BENCH}.ready"));
            rounds(&h, bed.address(0), bed.host_address("a"), "two_hosts ");
            bed.barrier(&format!("{BENCH}.done"));
        }
    }
}
