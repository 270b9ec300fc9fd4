//! Bluetooth Low Energy scanner (Qt's lowenergyscanner example): LE devices as they
//! advertise, or the GATT tree of one device with its values.
//!
//! Run: `cargo run --example le_scanner -- [--adapter ADDR] [--timeout SECONDS]
//! [--connect PEER [--random]]`
//!
//! Without `--connect`: an LE discovery of `--timeout` seconds (default 10). Each LE
//! device once as it is first reported, then each change:
//!
//! ```text
//! device ADDR public|random "NAME" rssi N|- manufacturer {0xID:HEX,...} services [UUID, ...]
//! update ADDR rssi N|- fields [rssi, manufacturer_data, service_data]
//! done
//! ```
//!
//! bluetoothd also reports the LE devices it remembers (bonded, or seen a few minutes
//! ago), in range or not: those come with `rssi -` until heard.
//!
//! With `--connect PEER` (`--random` for a random address): connects over LE, discovers
//! the services and each one's characteristics and descriptors with their values, and
//! prints the tree, then disconnects:
//!
//! ```text
//! service UUID
//!   characteristic UUID handle 0xNNNN properties [read, notify] value HEX
//!     descriptor UUID value HEX
//! done
//! ```
//!
//! UUIDs on the Bluetooth base print short (`0x2a37`); a value that is empty or was not
//! read prints as `-`. Errors go to stderr and exit 1; the connect run gives up after
//! 60 s.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sigloop::bluetooth::low_energy::{
    DiscoveryMode, LowEnergyController, PropertyTypes, RemoteAddressType, ServiceState,
};
use sigloop::bluetooth::uuids::{short16, Uuid};
use sigloop::bluetooth::{
    BluetoothAddress, DeviceDiscoveryAgent, DeviceInfo, DiscoveryMethods, LowEnergyService,
    UpdatedFields,
};
use sigloop::core::{single_shot, EventLoop, LoopHandle};

/// How long a `--connect` run may take in all.
const CONNECT_RUN_LIMIT: Duration = Duration::from_secs(60);

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

fn uuid(u: &Uuid) -> String {
    match short16(*u) {
        Some(short) => format!("{short:#06x}"),
        None => u.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".to_string();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rssi(info: &DeviceInfo) -> String {
    info.rssi.map_or("-".to_string(), |r| r.to_string())
}

fn print_device(info: &DeviceInfo) {
    let kind = match info.address_type {
        RemoteAddressType::Public => "public",
        RemoteAddressType::Random => "random",
    };
    let manufacturer: Vec<String> = info
        .manufacturer_data
        .iter()
        .map(|(id, data)| format!("{id:#06x}:{}", hex(data)))
        .collect();
    let services: Vec<String> = info.service_uuids.iter().map(uuid).collect();
    println!(
        "device {} {kind} {:?} rssi {} manufacturer {{{}}} services [{}]",
        info.address,
        info.name,
        rssi(info),
        manufacturer.join(","),
        services.join(", ")
    );
}

fn print_update(info: &DeviceInfo, fields: UpdatedFields) {
    let mut names = Vec::new();
    for (flag, name) in [
        (UpdatedFields::RSSI, "rssi"),
        (UpdatedFields::MANUFACTURER_DATA, "manufacturer_data"),
        (UpdatedFields::SERVICE_DATA, "service_data"),
    ] {
        if fields.contains(flag) {
            names.push(name);
        }
    }
    println!(
        "update {} rssi {} fields [{}]",
        info.address,
        rssi(info),
        names.join(", ")
    );
}

fn properties(p: PropertyTypes) -> String {
    let names: Vec<&str> = [
        (PropertyTypes::BROADCASTING, "broadcasting"),
        (PropertyTypes::READ, "read"),
        (PropertyTypes::WRITE_NO_RESPONSE, "write_no_response"),
        (PropertyTypes::WRITE, "write"),
        (PropertyTypes::NOTIFY, "notify"),
        (PropertyTypes::INDICATE, "indicate"),
        (PropertyTypes::WRITE_SIGNED, "write_signed"),
        (PropertyTypes::EXTENDED_PROPERTY, "extended_property"),
    ]
    .into_iter()
    .filter(|(flag, _)| p.contains(*flag))
    .map(|(_, name)| name)
    .collect();
    format!("[{}]", names.join(", "))
}

fn print_service(service: &LowEnergyService) {
    println!("service {}", uuid(&service.service_uuid()));
    for c in service.characteristics() {
        println!(
            "  characteristic {} handle {:#06x} properties {} value {}",
            uuid(&c.uuid()),
            c.handle(),
            properties(c.properties()),
            hex(&c.value())
        );
        for d in c.descriptors() {
            println!(
                "    descriptor {} value {}",
                uuid(&d.uuid()),
                hex(&d.value())
            );
        }
    }
}

/// LE discovery for `timeout`, printed as it comes.
fn scan(h: &LoopHandle, adapter: BluetoothAddress, timeout: Duration) -> DeviceDiscoveryAgent {
    let agent = DeviceDiscoveryAgent::new(h, adapter);
    agent.set_discovery_timeout(timeout);
    agent.device_discovered().connect(print_device);
    agent
        .device_updated()
        .connect(|(info, fields)| print_update(info, *fields));
    let h2 = h.clone();
    agent.finished().connect(move |()| {
        println!("done");
        h2.quit();
    });
    let h2 = h.clone();
    agent.error_occurred().connect(move |e| {
        eprintln!("error: device discovery: {e}");
        h2.exit(1);
    });
    agent
        .start_with(DiscoveryMethods::LOW_ENERGY)
        .unwrap_or_else(|e| fail(e));
    agent
}

/// Discovers the details of `services` one after the other, printing each; then
/// disconnects.
fn discover_next(
    h: &LoopHandle,
    controller: &LowEnergyController,
    services: Rc<RefCell<Vec<LowEnergyService>>>,
) {
    let next = services.borrow_mut().pop();
    let Some(service) = next else {
        controller.disconnect_from_device();
        return;
    };
    let (h2, c2, s2) = (h.clone(), controller.clone(), service.clone());
    service.state_changed().connect(move |state| {
        if *state == ServiceState::RemoteServiceDiscovered {
            print_service(&s2);
            discover_next(&h2, &c2, services.clone());
        }
    });
    let (h2, s2) = (h.clone(), service.clone());
    service.error_occurred().connect(move |_| {
        // A failed read during a full discovery leaves the value empty; only a failed
        // discovery ends the run.
        if s2.state() == ServiceState::RemoteService {
            eprintln!(
                "error: service {}: {}",
                uuid(&s2.service_uuid()),
                s2.error_string()
            );
            h2.exit(1);
        }
    });
    if let Err(e) = service.discover_details(DiscoveryMode::FullDiscovery) {
        eprintln!("error: service {}: {e}", uuid(&service.service_uuid()));
        h.exit(1);
    }
}

/// Connects to `peer`, prints its GATT tree, disconnects.
fn show_tree(
    h: &LoopHandle,
    adapter: BluetoothAddress,
    peer: BluetoothAddress,
    address_type: RemoteAddressType,
) -> LowEnergyController {
    let controller =
        LowEnergyController::create_central_from_address(h, peer, address_type, adapter);
    let c = controller.clone();
    let h2 = h.clone();
    controller.connected().connect(move |()| {
        if let Err(e) = c.discover_services() {
            eprintln!("error: service discovery: {e}");
            h2.exit(1);
        }
    });
    let c = controller.clone();
    let h2 = h.clone();
    controller.discovery_finished().connect(move |()| {
        // Popped from the end: reversed, the services print in the order found.
        let mut services = Vec::new();
        for u in c.services().into_iter().rev() {
            match c.create_service_object(u) {
                Ok(s) => services.push(s),
                Err(e) => {
                    eprintln!("error: service {}: {e}", uuid(&u));
                    h2.exit(1);
                    return;
                }
            }
        }
        // The controller keeps the services; the list only orders them.
        discover_next(&h2, &c, Rc::new(RefCell::new(services)));
    });
    let c = controller.clone();
    let h2 = h.clone();
    // error_string() names the error and adds bluetoothd's or the kernel's reason.
    controller.error_occurred().connect(move |_| {
        eprintln!("error: {}", c.error_string());
        h2.exit(1);
    });
    let h2 = h.clone();
    controller.disconnected().connect(move |()| {
        // After an error (the peer closed the link) the exit code stays 1.
        if !h2.is_exiting() {
            println!("done");
            h2.quit();
        }
    });
    controller.connect_to_device().unwrap_or_else(|e| fail(e));
    let h2 = h.clone();
    single_shot(h, CONNECT_RUN_LIMIT, move || {
        eprintln!("error: no tree after {} s", CONNECT_RUN_LIMIT.as_secs());
        h2.exit(1);
    });
    controller
}

fn main() {
    let mut adapter = BluetoothAddress::ANY;
    let mut timeout = Duration::from_secs(10);
    let mut peer = None;
    let mut address_type = RemoteAddressType::Public;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--adapter" | "--timeout" | "--connect" => {
                let v = args
                    .next()
                    .unwrap_or_else(|| fail(format!("{a} needs a value")));
                match a.as_str() {
                    "--adapter" => adapter = v.parse().unwrap_or_else(|e| fail(e)),
                    "--timeout" => {
                        let secs: u64 = v.parse().unwrap_or_else(|e| fail(e));
                        timeout = Duration::from_secs(secs);
                    }
                    _ => peer = Some(v.parse().unwrap_or_else(|e| fail(e))),
                }
            }
            "--random" => address_type = RemoteAddressType::Random,
            other => fail(format!(
                "unknown argument {other:?}; usage: le_scanner [--adapter ADDR] \
                 [--timeout S] [--connect PEER [--random]]"
            )),
        }
    }

    let event_loop = EventLoop::new().unwrap_or_else(|e| fail(e));
    let h = event_loop.handle();
    // Kept alive while the loop runs.
    let (_scan, _controller) = match peer {
        Some(peer) => (None, Some(show_tree(&h, adapter, peer, address_type))),
        None => (Some(scan(&h, adapter, timeout)), None),
    };
    match event_loop.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(e),
    }
}
