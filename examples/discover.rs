//! Discovery, printed as it arrives: devices (through bluetoothd), then the services of
//! every device found (SDP, our own client), or the services of one device.
//!
//! Run: `cargo run --example discover -- [--adapter ADDR] [--timeout SECONDS] [DEVICE_ADDR]`
//!
//! Lines: `device ADDR "NAME" class 0xCLASS rssi N`, then
//! `service ADDR "NAME" rfcomm channel N` (or `l2cap psm 0xN`) with the service's class
//! UUIDs, and `done` at the end; errors go to stderr and exit 1.

use std::time::Duration;

use sigloop::bluetooth::{
    BluetoothAddress, DeviceDiscoveryAgent, Protocol, ServiceDiscoveryAgent, ServiceInfo,
};
use sigloop::core::EventLoop;

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

fn print_service(info: &ServiceInfo) {
    let name = info.service_name().unwrap_or_default();
    let port = match info.port() {
        Some((Protocol::Rfcomm, channel)) => format!("rfcomm channel {channel}"),
        Some((Protocol::L2cap, psm)) => format!("l2cap psm {psm:#06x}"),
        None => "no port".to_string(),
    };
    let classes: Vec<String> = info
        .service_class_uuids()
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "service {} {name:?} {port} classes [{}]",
        info.device(),
        classes.join(", ")
    );
}

fn main() {
    let mut adapter = BluetoothAddress::ANY;
    let mut timeout = Duration::from_secs(10);
    let mut device = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--adapter" | "--timeout" => {
                let v = args
                    .next()
                    .unwrap_or_else(|| fail(format!("{a} needs a value")));
                if a == "--adapter" {
                    adapter = v.parse().unwrap_or_else(|e| fail(e));
                } else {
                    let secs: u64 = v.parse().unwrap_or_else(|e| fail(e));
                    timeout = Duration::from_secs(secs);
                }
            }
            other => device = Some(other.parse().unwrap_or_else(|e| fail(e))),
        }
    }

    let event_loop = EventLoop::new().unwrap_or_else(|e| fail(e));
    let h = event_loop.handle();

    let services = ServiceDiscoveryAgent::new(&h, adapter);
    services.service_discovered().connect(print_service);
    let h2 = h.clone();
    services.finished().connect(move |()| {
        println!("done");
        h2.quit();
    });
    let h2 = h.clone();
    services.error_occurred().connect(move |e| {
        eprintln!("error: service discovery: {e}");
        h2.exit(1);
    });

    // The device agent lives as long as the loop runs.
    let mut _devices = None;
    if let Some(address) = device {
        services.set_remote_address(address);
        services.start();
    } else {
        // Devices first; then every device bluetoothd knows is asked for its services.
        let devices = DeviceDiscoveryAgent::new(&h, adapter);
        devices.set_discovery_timeout(timeout);
        devices.device_discovered().connect(|d| {
            let rssi = d.rssi.map_or("-".to_string(), |r| r.to_string());
            println!(
                "device {} {:?} class {:#08x} rssi {rssi}",
                d.address, d.name, d.class
            );
        });
        let s = services.clone();
        devices.finished().connect(move |()| s.start());
        let h2 = h.clone();
        devices.error_occurred().connect(move |e| {
            eprintln!("error: device discovery: {e}");
            h2.exit(1);
        });
        devices.start();
        _devices = Some(devices);
    }
    match event_loop.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(e),
    }
}
