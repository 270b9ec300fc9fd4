//! A heart rate sensor (Qt's heartrate-server example), the peripheral half of
//! `heartrate_client`.
//!
//! Run: `cargo run --example heartrate_server -- [--adapter ADDR] [--interval-ms MS]`
//!
//! Serves, through bluetoothd's GATT server:
//! - Heart Rate (0x180D): Heart Rate Measurement (0x2A37, notify): flags 0x00 (the bpm is
//!   one byte), then the bpm, one value per interval (default 1000 ms), counting 60 to
//!   100 and again; Body Sensor Location (0x2A38, read): 0x01 (chest).
//! - Battery (0x180F): Battery Level (0x2A19, read and notify): 100 %, one less every
//!   ten values, down to 1 %.
//!
//! Advertises as "sigloop HR" with the Heart Rate UUID and prints `advertising on ADDR`;
//! prints `central ADDR connected` and `central ADDR left`, and advertises again when the
//! last central has left, as Qt's example does. Runs until killed; errors: one line on
//! stderr, exit 1.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use sigloop::bluetooth::low_energy::{
    LowEnergyAdvertisingData, LowEnergyAdvertisingParameters, LowEnergyCharacteristicData,
    LowEnergyController, LowEnergyDescriptorData, LowEnergyPeripheral, LowEnergyServiceData,
    PropertyTypes, CLIENT_CHARACTERISTIC_CONFIGURATION,
};
use sigloop::bluetooth::uuids::uuid16;
use sigloop::bluetooth::{BluetoothAddress, LocalDevice};
use sigloop::core::{EventLoop, Timer};

const HEART_RATE: u16 = 0x180d;
const HEART_RATE_MEASUREMENT: u16 = 0x2a37;
const BODY_SENSOR_LOCATION: u16 = 0x2a38;
const BATTERY: u16 = 0x180f;
const BATTERY_LEVEL: u16 = 0x2a19;

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

/// A characteristic that notifies, with the configuration descriptor Qt's example adds.
fn notifying(uuid: u16, properties: PropertyTypes, value: Vec<u8>) -> LowEnergyCharacteristicData {
    let mut c = LowEnergyCharacteristicData::new(uuid16(uuid), properties, value);
    c.add_descriptor(LowEnergyDescriptorData::new(
        CLIENT_CHARACTERISTIC_CONFIGURATION,
        vec![0, 0],
    ));
    c
}

fn advertise(peripheral: &LowEnergyPeripheral, address: BluetoothAddress) {
    let mut data = LowEnergyAdvertisingData::new();
    data.set_local_name("sigloop HR");
    data.set_include_power_level(true);
    data.set_services(vec![uuid16(HEART_RATE)]);
    if let Err(e) = peripheral.start_advertising(
        &LowEnergyAdvertisingParameters::new(),
        &data,
        &LowEnergyAdvertisingData::new(),
    ) {
        fail(format!("advertising: {e}"));
    }
    println!("advertising on {address}");
}

fn main() {
    let mut adapter = BluetoothAddress::ANY;
    let mut interval = Duration::from_millis(1000);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| fail(format!("{a} needs a value")));
        match a.as_str() {
            "--adapter" => adapter = value.parse().unwrap_or_else(|e| fail(e)),
            "--interval-ms" => {
                let ms: u64 = value.parse().unwrap_or_else(|e| fail(e));
                if ms == 0 {
                    fail("--interval-ms must be at least 1");
                }
                interval = Duration::from_millis(ms);
            }
            _ => fail(format!(
                "unknown flag {a} (usage: [--adapter ADDR] [--interval-ms MS])"
            )),
        }
    }
    let event_loop = EventLoop::new().unwrap_or_else(|e| fail(e));
    let h = event_loop.handle();
    // The adapter's own address, for the lines printed.
    let address = LocalDevice::new(&h, adapter)
        .unwrap_or_else(|e| fail(format!("adapter: {e}")))
        .address();

    let peripheral = LowEnergyController::create_peripheral(&h, adapter);
    let mut heart = LowEnergyServiceData::new(uuid16(HEART_RATE));
    heart.add_characteristic(notifying(
        HEART_RATE_MEASUREMENT,
        PropertyTypes::NOTIFY,
        vec![0, 60],
    ));
    heart.add_characteristic(LowEnergyCharacteristicData::new(
        uuid16(BODY_SENSOR_LOCATION),
        PropertyTypes::READ,
        vec![0x01],
    ));
    let mut battery = LowEnergyServiceData::new(uuid16(BATTERY));
    battery.add_characteristic(notifying(
        BATTERY_LEVEL,
        PropertyTypes::READ | PropertyTypes::NOTIFY,
        vec![100],
    ));
    let heart = peripheral
        .add_service(&heart)
        .unwrap_or_else(|e| fail(format!("heart rate service: {e}")));
    let battery = peripheral
        .add_service(&battery)
        .unwrap_or_else(|e| fail(format!("battery service: {e}")));

    peripheral
        .central_connected()
        .connect(|a| println!("central {a} connected"));
    let p = peripheral.clone();
    peripheral.central_disconnected().connect(move |a| {
        println!("central {a} left");
        if p.centrals().is_empty() && !p.is_advertising() {
            advertise(&p, address);
        }
    });
    peripheral.error_occurred().connect(|e| fail(e));
    advertise(&peripheral, address);

    // One value per interval, to every central that subscribed.
    let beats = Rc::new(Cell::new(0u32));
    let timer = Timer::new(&h);
    timer.timeout().connect(move |()| {
        let n = beats.get();
        beats.set(n + 1);
        let bpm = 60 + (n % 41) as u8;
        if let Err(e) = heart.write_characteristic(uuid16(HEART_RATE_MEASUREMENT), &[0, bpm]) {
            fail(format!("heart rate: {e}"));
        }
        if n % 10 == 9 {
            let level = 100u32.saturating_sub((n + 1) / 10).max(1) as u8;
            if let Err(e) = battery.write_characteristic(uuid16(BATTERY_LEVEL), &[level]) {
                fail(format!("battery: {e}"));
            }
        }
    });
    timer.start(interval);
    match event_loop.run() {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(e),
    }
}
