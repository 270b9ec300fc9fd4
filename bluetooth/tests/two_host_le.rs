//! Low Energy between the two hosts of the test bed's two-host mode (`testbed/run
//! --hosts 2`, whose air runs in guest a and gives both hosts BR/EDR+LE controllers).
//! Host `a` is the peripheral, host `b` the central; each host has its own bluetoothd,
//! so what is proven here is what two machines meet. Qt 6's own classes (PyQt6) stand
//! on one side in two of the tests. Run them with `scripts/test-bluetooth`.
//!
//! The two hosts never bonded (the bring-up bonds only in one guest), so a central's
//! link is a first contact each time.

mod util;

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sigloop_bluetooth::low_energy::{
    ControllerState, Discoverability, DiscoveryMode, LocalService, LowEnergyAdvertisingData,
    LowEnergyAdvertisingParameters, LowEnergyCharacteristicData, LowEnergyController,
    LowEnergyDescriptorData, LowEnergyPeripheral, LowEnergyServiceData, PropertyTypes,
    RemoteAddressType, ServiceState, WriteMode, CLIENT_CHARACTERISTIC_CONFIGURATION,
};
use sigloop_bluetooth::uuids::uuid16;
use sigloop_bluetooth::{BluetoothAddress, LowEnergyService};
use sigloop_core::{EventLoop, LoopHandle, SignalSpy};
use sigloop_testbed::Testbed;
use util::two_host::{begin, qt_script, wait_exit, Role};
use util::LONG;
use uuid::Uuid;

const HEART_RATE: Uuid = uuid16(0x180d);
const MEASUREMENT: Uuid = uuid16(0x2a37);
const LOCATION: Uuid = uuid16(0x2a38);
/// Written by the central without response.
const COMMAND: Uuid = Uuid::from_u128(0x5157_0102_0000_1000_8000_0080_5f9b_34fb);
/// Written by the central with response.
const CONTROL: Uuid = Uuid::from_u128(0x5157_0101_0000_1000_8000_0080_5f9b_34fb);
/// Notifications the peripheral sends, and commands the central writes.
const NOTIFIED: u8 = 50;
const COMMANDS: u8 = 20;

fn service_data() -> LowEnergyServiceData {
    let mut measurement =
        LowEnergyCharacteristicData::new(MEASUREMENT, PropertyTypes::NOTIFY, vec![0, 60]);
    measurement.add_descriptor(LowEnergyDescriptorData::new(
        CLIENT_CHARACTERISTIC_CONFIGURATION,
        vec![0, 0],
    ));
    let location = LowEnergyCharacteristicData::new(LOCATION, PropertyTypes::READ, vec![1]);
    let control = LowEnergyCharacteristicData::new(
        CONTROL,
        PropertyTypes::READ | PropertyTypes::WRITE,
        b"start".to_vec(),
    );
    let command =
        LowEnergyCharacteristicData::new(COMMAND, PropertyTypes::WRITE_NO_RESPONSE, vec![0]);
    let mut data = LowEnergyServiceData::new(HEART_RATE);
    data.add_characteristic(measurement);
    data.add_characteristic(location);
    data.add_characteristic(control);
    data.add_characteristic(command);
    data
}

fn advertise(p: &LowEnergyPeripheral) {
    let mut d = LowEnergyAdvertisingData::new();
    d.set_local_name("sigloop HR");
    d.set_discoverability(Discoverability::General);
    d.set_services(vec![HEART_RATE]);
    p.start_advertising(
        &LowEnergyAdvertisingParameters::new(),
        &d,
        &LowEnergyAdvertisingData::new(),
    )
    .expect("advertising");
}

/// Our peripheral on this host's controller, advertising.
fn peripheral(h: &LoopHandle, bed: &Testbed) -> (LowEnergyPeripheral, LocalService) {
    let p = LowEnergyController::create_peripheral(h, bed.address(0));
    let s = p.add_service(&service_data()).expect("service registered");
    advertise(&p);
    assert_eq!(p.state(), ControllerState::Advertising);
    (p, s)
}

/// Advertises again when no central is left and advertising has stopped, as a real
/// peripheral (and Qt's heartrate-server) does: a central whose first link bluetoothd
/// let go (see the CHANGELOG's LE race) makes another.
fn keep_advertising(p: &LowEnergyPeripheral) {
    if p.centrals().is_empty() && !p.is_advertising() {
        advertise(p);
    }
}

/// Runs the loop until `done` holds, for at most `within`; fails at once when the other
/// host fails `test`.
fn run_until(
    h: &LoopHandle,
    bed: &Testbed,
    test: &str,
    within: Duration,
    mut done: impl FnMut() -> bool,
) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        let step = (Instant::now() + Duration::from_millis(200)).min(end);
        if h.wait_until(step, &mut done).unwrap() {
            return true;
        }
        if let Err(e) = bed.check_peers(test) {
            panic!("{e}");
        }
    }
    false
}

/// Our central on this host's controller, connected to `peer` and its Heart Rate
/// service discovered in full.
fn central(
    h: &LoopHandle,
    bed: &Testbed,
    peer: BluetoothAddress,
) -> (LowEnergyController, LowEnergyService) {
    let c = LowEnergyController::create_central_from_address(
        h,
        peer,
        RemoteAddressType::Public,
        bed.address(0),
    );
    let connected = SignalSpy::new(c.connected());
    c.connect_to_device().unwrap();
    assert!(
        connected
            .wait_for_count(h, 1, Duration::from_secs(60))
            .unwrap(),
        "no link to {peer}: {:?} {}",
        c.error(),
        c.error_string()
    );
    let done = SignalSpy::new(c.discovery_finished());
    c.discover_services().unwrap();
    assert!(done.wait_for_count(h, 1, LONG).unwrap());
    assert!(c.services().contains(&HEART_RATE), "{:?}", c.services());
    let s = c.create_service_object(HEART_RATE).unwrap();
    s.discover_details(DiscoveryMode::FullDiscovery).unwrap();
    let end = Instant::now() + LONG;
    h.wait_until(end, || s.state() == ServiceState::RemoteServiceDiscovered)
        .unwrap();
    assert_eq!(s.state(), ServiceState::RemoteServiceDiscovered);
    (c, s)
}

/// `btmgmt` on this host's controller; its stdin stays open, or it quits before the reply.
/// No output is inherited: the `sleep` that holds stdin open outlives btmgmt, and would
/// hold the test's own output open (the test runner's pipe) for its 20 s.
fn mgmt(args: &[&str]) {
    let status = Command::new("bash")
        .arg("-c")
        .arg(r#"timeout 20 btmgmt --index 0 "$@" < <(sleep 20)"#)
        .arg("btmgmt")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "btmgmt {args:?}: {status}");
}

/// This host's controller without BR/EDR while the guard lives (so its advertisements
/// say "BR/EDR not supported"), then with it again: powered, SSP on (BR/EDR off cleared
/// it), connectable and discoverable, as the bring-up left it. The power cycles drop
/// every link.
struct LeOnly;

impl LeOnly {
    fn new() -> LeOnly {
        for step in [&["power", "off"][..], &["bredr", "off"], &["power", "on"]] {
            mgmt(step);
        }
        LeOnly
    }
}

impl Drop for LeOnly {
    fn drop(&mut self) {
        for step in [
            &["power", "off"][..],
            &["bredr", "on"],
            &["ssp", "on"],
            &["power", "on"],
            &["connectable", "on"],
            &["discov", "on"],
        ] {
            mgmt(step);
        }
    }
}

/// Our central (host b) and our peripheral (host a), each with its own bluetoothd:
/// connect, discovery, a read, writes with and without response seen by the peripheral
/// in order, notifications in order, and the central leaving seen by the peripheral.
#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_le_our_central_our_peripheral() {
    const TEST: &str = "two_host_le_our_central_our_peripheral";
    let bed = Testbed::from_env();
    let (role, _guard) = begin(&bed, TEST);
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let b = bed.host_address("b");
    match role {
        Role::Server => {
            let (p, local) = peripheral(&h, &bed);
            let arrived = SignalSpy::new(p.central_connected());
            let left = SignalSpy::new(p.central_disconnected());
            let on = SignalSpy::new(local.notifications_changed());
            let changed = SignalSpy::new(local.characteristic_changed());
            bed.barrier(&format!("{TEST}.ready"));
            assert!(
                run_until(&h, &bed, TEST, Duration::from_secs(90), || {
                    keep_advertising(&p);
                    on.count() > 0
                }),
                "the central never subscribed; centrals seen {:?}",
                arrived.records()
            );
            assert_eq!(on.take(), [(MEASUREMENT, true)]);
            // The link was seen when it was made (host b's central, nobody else).
            assert!(
                arrived.records().iter().all(|a| *a == b),
                "{:?}",
                arrived.records()
            );
            assert_eq!(p.centrals(), [b]);
            for i in 0..NOTIFIED {
                local.write_characteristic(MEASUREMENT, &[0, i]).unwrap();
            }
            // The central's writes: the one with response first, then every command
            // in order.
            let wanted = 1 + usize::from(COMMANDS);
            assert!(run_until(&h, &bed, TEST, LONG, || changed.count() >= wanted));
            let mut expected = vec![(CONTROL, b"go".to_vec())];
            expected.extend((0..COMMANDS).map(|i| (COMMAND, vec![b'c', i])));
            assert_eq!(changed.take(), expected);
            assert_eq!(local.value(CONTROL).unwrap(), b"go");
            bed.barrier(&format!("{TEST}.received"));
            // The central leaves once it has every value.
            assert!(run_until(&h, &bed, TEST, LONG, || p.centrals().is_empty()));
            assert_eq!(left.records().last(), Some(&b));
            bed.barrier(&format!("{TEST}.done"));
        }
        Role::Client => {
            bed.barrier(&format!("{TEST}.ready"));
            let (c, s) = central(&h, &bed, bed.host_address("a"));
            assert!(c.mtu().is_some_and(|m| m >= 23), "mtu {:?}", c.mtu());
            let location = s.characteristic(LOCATION).unwrap();
            assert_eq!(location.value(), [1]);
            let reads = SignalSpy::new(s.characteristic_read());
            s.read_characteristic(&location).unwrap();
            assert!(reads.wait_for_count(&h, 1, LONG).unwrap());
            assert_eq!(reads.take()[0].1, [1]);
            let written = SignalSpy::new(s.characteristic_written());
            let control = s.characteristic(CONTROL).unwrap();
            s.write_characteristic(&control, b"go", WriteMode::WithResponse)
                .unwrap();
            assert!(written.wait_for_count(&h, 1, LONG).unwrap());
            let command = s.characteristic(COMMAND).unwrap();
            for i in 0..COMMANDS {
                s.write_characteristic(&command, &[b'c', i], WriteMode::WithoutResponse)
                    .unwrap();
            }
            let values = SignalSpy::new(s.characteristic_changed());
            let measurement = s.characteristic(MEASUREMENT).unwrap();
            s.set_notifications(&measurement, true).unwrap();
            assert!(run_until(&h, &bed, TEST, LONG, || values.count()
                >= usize::from(NOTIFIED)));
            let got: Vec<Vec<u8>> = values.take().into_iter().map(|(_, v)| v).collect();
            let expected: Vec<Vec<u8>> = (0..NOTIFIED).map(|i| vec![0, i]).collect();
            assert_eq!(got, expected);
            // The peripheral has every command before the link goes.
            bed.barrier(&format!("{TEST}.received"));
            let disconnected = SignalSpy::new(c.disconnected());
            c.disconnect_from_device();
            assert!(disconnected.wait_for_count(&h, 1, LONG).unwrap());
            assert_eq!(c.state(), ControllerState::Unconnected);
            bed.barrier(&format!("{TEST}.done"));
        }
    }
}

/// Our central (host b) against Qt 6's peripheral (host a, `qt_le_peripheral.py`:
/// QLowEnergyController::createPeripheral, which on Qt 6.4 serves ATT on its own kernel
/// socket beside bluetoothd): its service found, its value read, its notifications in
/// order; Qt sees the central come and go.
#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_le_our_central_qt_peripheral() {
    const TEST: &str = "two_host_le_our_central_qt_peripheral";
    const WANTED: usize = 10;
    let bed = Testbed::from_env();
    let (role, _guard) = begin(&bed, TEST);
    match role {
        Role::Server => {
            let me = bed.address(0).to_string();
            let (mut child, lines) = qt_script("qt_le_peripheral.py", &[&me, "80"]);
            let first = lines.recv_timeout(LONG).expect("the Qt peripheral starts");
            assert_eq!(first, "advertising state ControllerState.AdvertisingState");
            bed.barrier(&format!("{TEST}.ready"));
            bed.barrier(&format!("{TEST}.done"));
            // Qt reports the central's arrival and its leaving.
            let mut said = Vec::new();
            let end = Instant::now() + LONG;
            while !said.iter().any(|l| l == "disconnected") && Instant::now() < end {
                match lines.recv_timeout(Duration::from_millis(200)) {
                    Ok(l) => said.push(l),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(said.iter().any(|l| l == "connected"), "Qt said {said:?}");
            assert!(said.iter().any(|l| l == "disconnected"), "Qt said {said:?}");
        }
        Role::Client => {
            bed.barrier(&format!("{TEST}.ready"));
            let el = EventLoop::new().unwrap();
            let h = el.handle();
            let (c, s) = central(&h, &bed, bed.host_address("a"));
            // Qt's value, read by the full discovery.
            assert_eq!(s.characteristic(LOCATION).unwrap().value(), [1]);
            let values = SignalSpy::new(s.characteristic_changed());
            let measurement = s.characteristic(MEASUREMENT).unwrap();
            s.set_notifications(&measurement, true).unwrap();
            assert!(run_until(&h, &bed, TEST, LONG, || values.count() >= WANTED));
            // Qt writes [0, n] every 100 ms, n counting up: none lost, none reordered.
            let got: Vec<Vec<u8>> = values.take().into_iter().map(|(_, v)| v).collect();
            for pair in got.windows(2) {
                assert_eq!(pair[0][0], 0, "{got:?}");
                assert_eq!(pair[1][1], pair[0][1].wrapping_add(1), "{got:?}");
            }
            let disconnected = SignalSpy::new(c.disconnected());
            c.disconnect_from_device();
            assert!(disconnected.wait_for_count(&h, 1, LONG).unwrap());
            bed.barrier(&format!("{TEST}.done"));
        }
    }
}

/// Qt 6's central (host b, `qt_le_central.py`: an LE scan with
/// QBluetoothDeviceDiscoveryAgent, then QLowEnergyController) against our peripheral
/// (host a): Qt reads our value and subscribes, and gets our notifications in order.
/// Qt connects through bluetoothd's `Device1.Connect`, which takes a dual-mode peer
/// over BR/EDR (see `qt_le_central.py`): host a's controller is LE-only meanwhile.
#[test]
#[ignore = "needs the two-host test bed: run scripts/test-bluetooth"]
fn two_host_le_qt_central_our_peripheral() {
    const TEST: &str = "two_host_le_qt_central_our_peripheral";
    const WANTED: u8 = 5;
    let bed = Testbed::from_env();
    let (role, _guard) = begin(&bed, TEST);
    let b = bed.host_address("b");
    match role {
        Role::Server => {
            let el = EventLoop::new().unwrap();
            let h = el.handle();
            let le_only = LeOnly::new();
            let (p, local) = peripheral(&h, &bed);
            let on = SignalSpy::new(local.notifications_changed());
            let arrived = SignalSpy::new(p.central_connected());
            bed.barrier(&format!("{TEST}.ready"));
            assert!(
                run_until(&h, &bed, TEST, Duration::from_secs(90), || {
                    keep_advertising(&p);
                    on.count() > 0
                }),
                "Qt never subscribed; centrals seen {:?}",
                arrived.records()
            );
            assert_eq!(on.take(), [(MEASUREMENT, true)]);
            assert_eq!(arrived.records(), [b]);
            // Twice what Qt waits for: it leaves after WANTED.
            for i in 0..2 * WANTED {
                local.write_characteristic(MEASUREMENT, &[0, i]).unwrap();
            }
            assert!(run_until(&h, &bed, TEST, LONG, || p.centrals().is_empty()));
            drop(p);
            drop(le_only);
            bed.barrier(&format!("{TEST}.done"));
        }
        Role::Client => {
            bed.barrier(&format!("{TEST}.ready"));
            let me = bed.address(0).to_string();
            let a = bed.host_address("a").to_string();
            let (service, location, measurement) = (
                HEART_RATE.to_string(),
                LOCATION.to_string(),
                MEASUREMENT.to_string(),
            );
            let count = WANTED.to_string();
            let (child, lines) = qt_script(
                "qt_le_central.py",
                &[&me, &a, &service, &location, &measurement, &count],
            );
            wait_exit(&bed, TEST, child, "the Qt central");
            let said: Vec<String> = lines.iter().collect();
            let mut expected = vec![
                format!("found {a}"),
                "connected".to_owned(),
                "read 01".to_owned(),
                "subscribed".to_owned(),
            ];
            expected.extend((0..WANTED).map(|i| format!("notify 00{i:02x}")));
            expected.push("disconnected".to_owned());
            assert_eq!(said, expected);
            bed.barrier(&format!("{TEST}.done"));
        }
    }
}
