//! What goes through bluetoothd (D-Bus, bluer on the helper thread) on the BlueZ test bed:
//! the local adapters, device and service discovery, bluetoothd stopped mid-session; and
//! on any host, a clear error without bluetoothd.

mod util;

use std::process::Command;
use std::time::{Duration, Instant};

use std::sync::mpsc::Receiver;

use sigloop_bluetooth::bluez::{BluezError, CALL_TIMEOUT};
use sigloop_bluetooth::low_energy::{
    ControllerState, LowEnergyAdvertisingData, LowEnergyAdvertisingParameters,
    LowEnergyCharacteristicData, LowEnergyController, LowEnergyServiceData, PeripheralError,
    PropertyTypes,
};
use sigloop_bluetooth::uuids::uuid16;
use sigloop_bluetooth::{
    BluetoothAddress, BluetoothServer, DeviceDiscoveryAgent, HostMode, LocalDevice, Protocol,
    ServerError, ServiceDiscoveryAgent,
};
use sigloop_core::{EventLoop, SignalSpy};
use sigloop_testbed::collect;
use sigloop_testbed::Testbed;
use util::{connected_pair, fresh_uuid, LONG};

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn local_device_sees_power_off_and_a_server_reports_it() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let hosts = LocalDevice::all_devices().expect("adapters");
    let addresses: Vec<_> = hosts.iter().map(|h| h.address).collect();
    assert!(addresses.contains(&bed.address(0)), "{hosts:?}");
    assert!(addresses.contains(&bed.address(1)), "{hosts:?}");

    let adapter = LocalDevice::new(&h, bed.address(0)).expect("hci0");
    assert_eq!(adapter.address(), bed.address(0));
    assert!(!adapter.name().is_empty());
    let before = adapter.host_mode();
    assert_ne!(before, HostMode::PoweredOff);
    let modes = SignalSpy::new(adapter.host_mode_state_changed());

    adapter.set_host_mode(HostMode::PoweredOff).unwrap();
    assert!(modes.wait_for_count(&h, 1, LONG).unwrap());
    assert_eq!(modes.take(), [HostMode::PoweredOff]);
    assert_eq!(adapter.host_mode(), HostMode::PoweredOff);
    let server = BluetoothServer::new(&h, Protocol::Rfcomm);
    assert!(server.listen(bed.address(0), 0).is_err());
    assert_eq!(server.error(), Some(ServerError::PoweredOff));

    adapter.set_host_mode(HostMode::Discoverable).unwrap();
    let a = adapter.clone();
    assert!(h
        .wait_until(Instant::now() + LONG, || a.host_mode()
            == HostMode::Discoverable)
        .unwrap());
    assert!(modes.take().contains(&HostMode::Discoverable));
    server.listen(bed.address(0), 0).unwrap();
}

/// bluetoothd's `Connected` property of `device` under every adapter path
/// (`/org/bluez/hci{i}`), as busctl prints it: bluer lists adapters in no fixed order, so
/// the one with `adapter`'s address is not known by index here.
fn bluetoothd_connected(controllers: usize, device: sigloop_bluetooth::BluetoothAddress) -> String {
    (0..controllers)
        .map(|i| {
            let path = format!(
                "/org/bluez/hci{i}/dev_{}",
                device.to_string().replace(':', "_")
            );
            let answer = Command::new("busctl")
                .args([
                    "--system",
                    "get-property",
                    "org.bluez",
                    &path,
                    "org.bluez.Device1",
                    "Connected",
                ])
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout).trim().to_string()
                        + String::from_utf8_lossy(&o.stderr).trim()
                })
                .unwrap_or_else(|e| e.to_string());
            format!("hci{i}: {answer}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the kernel told bluetoothd about `hci{index}`'s links (`btmgmt con`: the links it
/// reported as connected over the management socket), the kernel's links with their
/// states (`hcitool con`), and bluetoothd's last log lines about connections.
fn management_view(index: usize) -> String {
    let shell = |line: &str| {
        Command::new("sh")
            .args(["-c", line])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|e| e.to_string())
    };
    // btmgmt quits before the answer arrives when its stdin is at EOF.
    let mgmt = shell(&format!(
        "sleep 3 | timeout 3 btmgmt --index {index} con 2>&1 | grep -v '^\\[' || true"
    ));
    let log = shell(
        "grep -E 'connected_callback|disconnected_callback|dev_disconnected|device_add_connection|device_remove_connection' \
         \"$TESTBED_LOGDIR/bluetoothd.log\" | tail -n 12",
    );
    let kernel = shell("hcitool con");
    format!("btmgmt con: [{mgmt}]; hcitool con: [{kernel}]; bluetoothd log:\n{log}")
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn local_device_reports_connections() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let adapter = LocalDevice::new(&h, bed.address(0)).expect("hci0");
    assert!(adapter.connected_devices().is_empty());
    let up = SignalSpy::new(adapter.device_connected());
    let down = SignalSpy::new(adapter.device_disconnected());
    let link = bed
        .hold_link_from(bed.address(1), bed.address(0))
        .expect("link hci1 -> hci0");
    let seen = up.wait_for_count(&h, 1, LONG).unwrap();
    assert!(
        seen,
        "no device_connected; links {:?}; bluetoothd says Connected = {}; {}",
        bed.links(0),
        bluetoothd_connected(bed.controllers(), bed.address(1)),
        management_view(0)
    );
    assert_eq!(up.take(), [bed.address(1)]);
    assert_eq!(adapter.connected_devices(), [bed.address(1)]);
    drop(link);
    assert!(down.wait_for_count(&h, 1, LONG).unwrap());
    assert_eq!(down.take(), [bed.address(1)]);
    assert!(adapter.connected_devices().is_empty());
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn device_discovery_finds_the_other_adapter() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let agent = DeviceDiscoveryAgent::new(&h, bed.address(1));
    agent.set_discovery_timeout(Duration::from_secs(6));
    let found = SignalSpy::new(agent.device_discovered());
    let finished = SignalSpy::new(agent.finished());
    let errors = SignalSpy::new(agent.error_occurred());
    agent.start();
    assert!(agent.is_active());
    assert!(
        finished.wait_for_count(&h, 1, LONG).unwrap(),
        "{:?}",
        errors.take()
    );
    assert_eq!(finished.take().len(), 1);
    assert!(!agent.is_active());
    assert!(errors.take().is_empty());
    let devices = found.take();
    let peer = devices
        .iter()
        .find(|d| d.address == bed.address(0))
        .unwrap_or_else(|| panic!("hci0 not among {devices:?}"));
    assert!(!peer.name.is_empty());
    // Each device once through device_discovered.
    let mut addresses: Vec<_> = devices.iter().map(|d| d.address).collect();
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), devices.len());
    assert_eq!(agent.discovered_devices().len(), devices.len());

    // stop() ends a run with canceled, not finished.
    let canceled = SignalSpy::new(agent.canceled());
    agent.set_discovery_timeout(Duration::ZERO);
    agent.start();
    agent.stop();
    assert_eq!(canceled.count(), 1);
    assert!(!agent.is_active());
    h.wait_until(Instant::now() + Duration::from_millis(500), || false)
        .unwrap();
    assert_eq!(finished.count(), 0, "no finished after stop");
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn service_discovery_lists_a_published_record() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    bed.settle(0, 1);
    let uuid = fresh_uuid(7);
    let server = BluetoothServer::new(&h, Protocol::Rfcomm);
    let info = server.listen_uuid(uuid, "discover me").unwrap();

    let agent = ServiceDiscoveryAgent::new(&h, bed.address(1));
    agent.set_remote_address(bed.address(0));
    agent.set_uuid_filter(&[uuid]);
    let found = SignalSpy::new(agent.service_discovered());
    let finished = SignalSpy::new(agent.finished());
    agent.start();
    assert!(
        finished.wait_for_count(&h, 1, LONG).unwrap(),
        "{:?}",
        agent.error()
    );
    let records = found.take();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].server_channel(), info.server_channel());
    assert_eq!(records[0].service_name().as_deref(), Some("discover me"));
    assert_eq!(records[0].device(), bed.address(0));

    // Without a filter, the public browse group: ours is among bluetoothd's records.
    agent.set_uuid_filter(&[]);
    agent.start();
    assert!(finished.wait(&h, LONG).unwrap());
    let all = found.take();
    assert!(all.iter().any(|r| r.has_uuid(uuid)), "{all:#?}");

    // Every device hci1's bluetoothd knows (every other controller), with the filter.
    // One bluetoothd serves the record on every adapter, so each of them has it.
    agent.set_remote_address(sigloop_bluetooth::BluetoothAddress::ANY);
    agent.set_uuid_filter(&[uuid]);
    agent.start();
    assert!(finished.wait(&h, LONG).unwrap(), "{:?}", agent.error());
    let known = found.take();
    let mut devices: Vec<_> = known.iter().map(|r| r.device()).collect();
    devices.sort();
    let mut others: Vec<_> = (0..bed.controllers())
        .filter(|&i| i != 1)
        .map(|i| bed.address(i))
        .collect();
    others.sort();
    assert_eq!(devices, others, "{known:#?}");
}

/// Resumes bluetoothd even when the test fails half-way.
struct Resume(String);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0]).status();
    }
}

#[test]
#[ignore = "needs the BlueZ test bed: run scripts/test-bluetooth"]
fn bluetoothd_stopped_mid_session() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let bed = Testbed::from_env();
    let (client, server_side, _server) = connected_pair(&h, &bed, Protocol::Rfcomm, 23, (0, 1));
    // The session exists before bluetoothd stops.
    assert!(LocalDevice::all_devices().is_ok());
    let pid = String::from_utf8(
        Command::new("pidof")
            .arg("bluetoothd")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    assert!(!pid.is_empty(), "bluetoothd runs on the bed");
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let resume = Resume(pid);
    // Meanwhile, on a thread of its own (so the two waits overlap): an LE peripheral.
    let (resumed, wait_resumed) = std::sync::mpsc::channel::<()>();
    let peripheral = std::thread::spawn({
        let adapter = bed.address(1);
        move || peripheral_while_bluetoothd_stops(adapter, &wait_resumed)
    });

    // A call fails with a clear error after the timeout, never hangs.
    let started = Instant::now();
    let err = LocalDevice::all_devices().unwrap_err();
    assert_eq!(err, BluezError::Timeout);
    assert!(
        err.to_string().contains("bluetoothd did not answer"),
        "{err}"
    );
    let took = started.elapsed();
    assert!(
        took >= CALL_TIMEOUT && took < CALL_TIMEOUT + Duration::from_secs(5),
        "{took:?}"
    );
    let uuid = fresh_uuid(8);
    let other = BluetoothServer::new(&h, Protocol::Rfcomm);
    assert!(matches!(
        other.listen_uuid(uuid, "never published"),
        Err(sigloop_bluetooth::ListenError::Register(
            BluezError::Timeout
        ))
    ));
    assert!(!other.is_listening(), "closed again after the failure");

    // The connection made before carries on without bluetoothd.
    let s = server_side.clone();
    server_side.ready_read().connect(move |()| {
        let data = s.read_all();
        s.write(&data).unwrap();
    });
    let got = collect(&client);
    client.write(b"still here").unwrap();
    let g = got.clone();
    let echoed = h
        .wait_until(Instant::now() + LONG, || g.borrow().len() >= 10)
        .unwrap();
    assert!(
        echoed,
        "client {:?} {:?} to write {}, server side {:?} {:?}, links {:?}",
        client.state(),
        client.error(),
        client.bytes_to_write(),
        server_side.state(),
        server_side.error(),
        bed.links(0)
    );
    assert_eq!(&*got.borrow(), b"still here");

    // bluetoothd answers again once resumed.
    drop(resume);
    let hosts = LocalDevice::all_devices().expect("bluetoothd answers again");
    assert!(hosts.len() >= 2, "{hosts:?}");
    resumed.send(()).unwrap();
    peripheral.join().expect("the peripheral's part passed");
}

/// The LE peripheral's part of `bluetoothd_stopped_mid_session`, on `adapter`: with
/// bluetoothd stopped, `add_service` fails with `Bluez(Timeout)` in bounded time and
/// registers nothing; once `resumed` says bluetoothd runs again, the same service is
/// added (the failed call left nothing behind) and advertised.
fn peripheral_while_bluetoothd_stops(adapter: BluetoothAddress, resumed: &Receiver<()>) {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let p = LowEnergyController::create_peripheral(&h, adapter);
    let mut data = LowEnergyServiceData::new(uuid16(0x180f));
    data.add_characteristic(LowEnergyCharacteristicData::new(
        uuid16(0x2a19),
        PropertyTypes::READ,
        vec![99],
    ));
    let started = Instant::now();
    let Err(err) = p.add_service(&data) else {
        panic!("a service without bluetoothd");
    };
    let took = started.elapsed();
    assert_eq!(err, PeripheralError::Bluez(BluezError::Timeout), "{err}");
    assert!(took < CALL_TIMEOUT + Duration::from_secs(5), "{took:?}");
    assert!(p.services().is_empty());
    assert_eq!(p.state(), ControllerState::Unconnected);
    resumed.recv().unwrap();
    let service = p.add_service(&data).expect("bluetoothd answers again");
    assert_eq!(service.value(uuid16(0x2a19)).unwrap(), [99]);
    p.start_advertising(
        &LowEnergyAdvertisingParameters::new(),
        &LowEnergyAdvertisingData::new(),
        &LowEnergyAdvertisingData::new(),
    )
    .expect("advertising once bluetoothd answers");
    assert_eq!(p.state(), ControllerState::Advertising);
    p.stop_advertising();
}

/// On a host without bluetoothd (or without a system bus, as on CI): a clear error, in
/// bounded time.
#[test]
fn without_bluetoothd_calls_fail_clearly() {
    let started = Instant::now();
    let absent = match LocalDevice::all_devices() {
        Err(BluezError::NotRunning) | Err(BluezError::NoSystemBus(_)) => true,
        // A developer's machine with a real bluetoothd.
        Ok(_) => false,
        Err(e) => panic!("unexpected error: {e}"),
    };
    assert!(started.elapsed() < CALL_TIMEOUT + Duration::from_secs(2));
    if !absent {
        return;
    }
    // The objects that watch bluetoothd say so too: an error, not silence.
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let any = sigloop_bluetooth::BluetoothAddress::ANY;
    assert!(matches!(
        LocalDevice::new(&h, any),
        Err(BluezError::NotRunning) | Err(BluezError::NoSystemBus(_))
    ));
    let agent = DeviceDiscoveryAgent::new(&h, any);
    let errors = SignalSpy::new(agent.error_occurred());
    let finished = SignalSpy::new(agent.finished());
    agent.set_discovery_timeout(Duration::from_secs(30));
    agent.start();
    assert!(errors.wait_for_count(&h, 1, CALL_TIMEOUT).unwrap());
    assert!(matches!(
        agent.error(),
        Some(BluezError::NotRunning) | Some(BluezError::NoSystemBus(_))
    ));
    assert!(!agent.is_active());
    assert_eq!(finished.count(), 0);
}
