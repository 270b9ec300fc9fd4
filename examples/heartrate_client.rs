//! A heart rate monitor's client (the central half of Qt's heartrate-game example): reads
//! where the sensor sits, takes a number of heart rate notifications, reads the battery.
//!
//! Run: `cargo run --example heartrate_client -- [--adapter ADDR] PEER [--random]
//! [--count N]`
//!
//! Connects to PEER over LE (`--random` for a random address), discovers its services,
//! and on the Heart Rate service (0x180D) reads Body Sensor Location (0x2A38), then turns
//! on Heart Rate Measurement (0x2A37) notifications through their configuration
//! descriptor, as Qt's example does, for N values (default 10). Then it reads Battery
//! Level (0x2A19) if the peer has the Battery service (0x180F), and disconnects. Lines:
//!
//! ```text
//! location N
//! bpm N            (N times)
//! battery N        (if the peer has the Battery service)
//! ```
//!
//! Any failure prints the error on stderr and exits 1; so does a run that has not ended
//! after 60 s. `le-peripheral` (testbed/le-peripheral) is a peer to try it with.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use sigloop::bluetooth::low_energy::{
    DiscoveryMode, LowEnergyController, RemoteAddressType, ServiceState,
};
use sigloop::bluetooth::uuids::uuid16;
use sigloop::bluetooth::{BluetoothAddress, LowEnergyService};
use sigloop::core::{single_shot, EventLoop, LoopHandle};

const HEART_RATE: u16 = 0x180d;
const HEART_RATE_MEASUREMENT: u16 = 0x2a37;
const BODY_SENSOR_LOCATION: u16 = 0x2a38;
const BATTERY: u16 = 0x180f;
const BATTERY_LEVEL: u16 = 0x2a19;
/// The whole run, connect to disconnect.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

/// Prints the error and makes the loop return 1.
fn error(h: &LoopHandle, message: impl std::fmt::Display) {
    eprintln!("error: {message}");
    h.exit(1);
}

/// The bpm of a Heart Rate Measurement value: bit 0 of the flags byte set, a 16-bit
/// little-endian value follows; clear, an 8-bit one.
fn bpm(value: &[u8]) -> Option<u16> {
    match value {
        [flags, lo, hi, ..] if flags & 1 == 1 => Some(u16::from_le_bytes([*lo, *hi])),
        [flags, v, ..] if flags & 1 == 0 => Some(u16::from(*v)),
        _ => None,
    }
}

/// The service `uuid` of `controller`, once its details are discovered, to `then`.
/// The controller keeps the service (and so its signals' connections); the object made
/// here is only a handle.
fn with_details(
    h: &LoopHandle,
    controller: &LowEnergyController,
    uuid: u16,
    then: impl Fn(&LowEnergyService) + 'static,
) {
    let service = match controller.create_service_object(uuid16(uuid)) {
        Ok(s) => s,
        Err(e) => return error(h, format!("service {uuid:#06x}: {e}")),
    };
    let s = service.clone();
    service.state_changed().connect(move |state| {
        if *state == ServiceState::RemoteServiceDiscovered {
            then(&s);
        }
    });
    let (h2, s) = (h.clone(), service.clone());
    service.error_occurred().connect(move |_| {
        error(&h2, format!("service {uuid:#06x}: {}", s.error_string()));
    });
    if let Err(e) = service.discover_details(DiscoveryMode::SkipValueDiscovery) {
        error(h, format!("service {uuid:#06x}: {e}"));
    }
}

/// The last step: the battery level if the peer has one, then the disconnect.
fn read_battery(h: &LoopHandle, controller: &LowEnergyController) {
    if !controller.services().contains(&uuid16(BATTERY)) {
        controller.disconnect_from_device();
        return;
    }
    let (h2, c2) = (h.clone(), controller.clone());
    with_details(h, controller, BATTERY, move |s| {
        let Some(level) = s.characteristic(uuid16(BATTERY_LEVEL)) else {
            return error(&h2, "the Battery service has no Battery Level");
        };
        let c3 = c2.clone();
        s.characteristic_read().connect(move |(_, value)| {
            println!("battery {}", value.first().copied().unwrap_or_default());
            c3.disconnect_from_device();
        });
        if let Err(e) = s.read_characteristic(&level) {
            error(&h2, format!("reading the battery level: {e}"));
        }
    });
}

/// The heart rate steps: location, then `count` notifications, then the battery.
fn heart_rate(h: &LoopHandle, controller: &LowEnergyController, count: u32) {
    let (h2, c2) = (h.clone(), controller.clone());
    with_details(h, controller, HEART_RATE, move |s| {
        let (Some(location), Some(measurement)) = (
            s.characteristic(uuid16(BODY_SENSOR_LOCATION)),
            s.characteristic(uuid16(HEART_RATE_MEASUREMENT)),
        ) else {
            return error(&h2, "the Heart Rate service lacks a characteristic");
        };
        // Location read: then the notifications, through the configuration descriptor
        // as Qt's example turns them on (or directly where the peer lists none).
        let (h3, s3, l3, m3) = (h2.clone(), s.clone(), location.clone(), measurement.clone());
        s.characteristic_read().connect(move |(c, value)| {
            if *c != l3 {
                return;
            }
            println!("location {}", value.first().copied().unwrap_or_default());
            let on = match m3.client_characteristic_configuration() {
                Some(cccd) => s3.write_descriptor(&cccd, &[1, 0]),
                None => s3.set_notifications(&m3, true),
            };
            if let Err(e) = on {
                error(&h3, format!("turning notifications on: {e}"));
            }
        });
        let seen = Rc::new(Cell::new(0u32));
        let (h3, c3, s3) = (h2.clone(), c2.clone(), s.clone());
        s.characteristic_changed().connect(move |(c, value)| {
            if *c != measurement || seen.get() >= count {
                return;
            }
            let Some(bpm) = bpm(value) else {
                return error(&h3, format!("a malformed measurement: {value:02x?}"));
            };
            println!("bpm {bpm}");
            seen.set(seen.get() + 1);
            if seen.get() == count {
                let off = match measurement.client_characteristic_configuration() {
                    Some(cccd) => s3.write_descriptor(&cccd, &[0, 0]),
                    None => s3.set_notifications(&measurement, false),
                };
                if let Err(e) = off {
                    return error(&h3, format!("turning notifications off: {e}"));
                }
                read_battery(&h3, &c3);
            }
        });
        if let Err(e) = s.read_characteristic(&location) {
            error(&h2, format!("reading the sensor location: {e}"));
        }
    });
}

fn main() {
    let mut adapter = BluetoothAddress::ANY;
    let mut peer: Option<BluetoothAddress> = None;
    let mut address_type = RemoteAddressType::Public;
    let mut count = 10u32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--adapter" | "--count" => {
                let v = args
                    .next()
                    .unwrap_or_else(|| fail(format!("{a} needs a value")));
                if a == "--adapter" {
                    adapter = v.parse().unwrap_or_else(|e| fail(e));
                } else {
                    count = v.parse().unwrap_or_else(|e| fail(format!("--count: {e}")));
                }
            }
            "--random" => address_type = RemoteAddressType::Random,
            other if !other.starts_with('-') && peer.is_none() => {
                peer = Some(other.parse().unwrap_or_else(|e| fail(e)));
            }
            other => fail(format!(
                "unexpected argument {other:?}; usage: heartrate_client [--adapter ADDR] \
                 PEER [--random] [--count N]"
            )),
        }
    }
    let Some(peer) = peer else {
        fail("usage: heartrate_client [--adapter ADDR] PEER [--random] [--count N]")
    };

    let event_loop = EventLoop::new().unwrap_or_else(|e| fail(e));
    let h = event_loop.handle();
    let controller =
        LowEnergyController::create_central_from_address(&h, peer, address_type, adapter);
    let (h2, c) = (h.clone(), controller.clone());
    controller.connected().connect(move |()| {
        if let Err(e) = c.discover_services() {
            error(&h2, format!("service discovery: {e}"));
        }
    });
    let (h2, c) = (h.clone(), controller.clone());
    controller.discovery_finished().connect(move |()| {
        if !c.services().contains(&uuid16(HEART_RATE)) {
            return error(&h2, format!("{peer} has no Heart Rate service"));
        }
        heart_rate(&h2, &c, count);
    });
    let (h2, c) = (h.clone(), controller.clone());
    // error_string() names the error and adds bluetoothd's or the kernel's reason.
    controller.error_occurred().connect(move |_| {
        error(&h2, c.error_string());
    });
    let h2 = h.clone();
    controller.disconnected().connect(move |()| {
        // After an error (the peer closed the link) the exit code stays 1.
        if !h2.is_exiting() {
            h2.quit();
        }
    });
    controller.connect_to_device().unwrap_or_else(|e| fail(e));
    let h2 = h.clone();
    single_shot(&h, RUN_LIMIT, move || {
        error(&h2, format!("not done after {} s", RUN_LIMIT.as_secs()));
    });
    match event_loop.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(e),
    }
}
