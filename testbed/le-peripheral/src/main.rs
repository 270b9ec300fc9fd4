//! `le-peripheral --adapter ADDR [--interval-ms MS]`: an LE peripheral for the test bed,
//! written with bluer alone (no sigloop), the other half of `examples/heartrate_client`
//! and `examples/le_scanner`.
//!
//! On the adapter with address ADDR it serves, through bluetoothd's GATT server:
//! - Heart Rate (0x180D): Heart Rate Measurement (0x2A37, notify): flags 0x00 (the bpm
//!   is one byte), then the bpm, counting 60, 61, ... one value per interval (default
//!   100 ms) while a central is subscribed, from 60 again for each subscription (and
//!   back to 60 after 200); Body Sensor Location (0x2A38, read): 0x01 (chest).
//! - Battery (0x180F): Battery Level (0x2A19, read and notify): 0x55 (85 %).
//!
//! It advertises as connectable and discoverable, with the name `le-peripheral` and the
//! Heart Rate UUID (22 bytes of the 31), prints `ready ADDR` once advertising, and runs
//! until SIGTERM or SIGINT, when it withdraws the advertisement and the services.
//! Errors: one line on stderr, exit 1.

use std::time::Duration;

use bluer::adv::Advertisement;
use bluer::gatt::local::{
    Application, Characteristic, CharacteristicNotifier, CharacteristicNotify,
    CharacteristicNotifyMethod, CharacteristicRead, Service,
};
use bluer::Uuid;
use tokio::signal::unix::{signal, SignalKind};

/// A 16-bit UUID on the Bluetooth base UUID.
const fn uuid16(short: u16) -> Uuid {
    Uuid::from_u128(((short as u128) << 96) | 0x0000_0000_0000_1000_8000_0080_5f9b_34fb)
}

const HEART_RATE: Uuid = uuid16(0x180d);
const HEART_RATE_MEASUREMENT: Uuid = uuid16(0x2a37);
const BODY_SENSOR_LOCATION: Uuid = uuid16(0x2a38);
const BATTERY: Uuid = uuid16(0x180f);
const BATTERY_LEVEL: Uuid = uuid16(0x2a19);

/// Body Sensor Location: chest.
const LOCATION_CHEST: u8 = 0x01;
/// Battery Level: 85 %.
const BATTERY_PERCENT: u8 = 0x55;
const FIRST_BPM: u8 = 60;
const LAST_BPM: u8 = 200;

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("le-peripheral: {message}");
    std::process::exit(1);
}

fn usage() -> ! {
    fail("usage: le-peripheral --adapter ADDR [--interval-ms MS]")
}

fn parse_address(s: &str) -> bluer::Address {
    s.parse()
        .unwrap_or_else(|e| fail(format!("bad address {s:?}: {e}")))
}

/// A read that always answers `value`.
fn constant(value: u8) -> CharacteristicRead {
    CharacteristicRead {
        read: true,
        fun: Box::new(move |_| Box::pin(async move { Ok(vec![value]) })),
        ..Default::default()
    }
}

/// Heart Rate Measurement: one value per interval while subscribed.
fn heart_rate_notify(interval: Duration) -> CharacteristicNotify {
    CharacteristicNotify {
        notify: true,
        method: CharacteristicNotifyMethod::Fun(Box::new(move |mut notifier| {
            Box::pin(async move {
                let mut bpm = FIRST_BPM;
                loop {
                    tokio::time::sleep(interval).await;
                    if notifier.is_stopped() || notifier.notify(vec![0x00, bpm]).await.is_err() {
                        return;
                    }
                    bpm = if bpm >= LAST_BPM { FIRST_BPM } else { bpm + 1 };
                }
            })
        })),
        ..Default::default()
    }
}

/// Battery Level: the value never changes, so a subscription only waits for its end.
fn battery_notify() -> CharacteristicNotify {
    CharacteristicNotify {
        notify: true,
        method: CharacteristicNotifyMethod::Fun(Box::new(|notifier: CharacteristicNotifier| {
            Box::pin(async move {
                while !notifier.is_stopped() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        })),
        ..Default::default()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut adapter_address = None;
    let mut interval = Duration::from_millis(100);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--adapter" => adapter_address = Some(parse_address(&value())),
            "--interval-ms" => {
                let v = value();
                let ms: u64 = v
                    .parse()
                    .unwrap_or_else(|e| fail(format!("bad interval {v:?}: {e}")));
                if ms == 0 {
                    fail("the interval must be at least 1 ms");
                }
                interval = Duration::from_millis(ms);
            }
            _ => usage(),
        }
    }
    let Some(adapter_address) = adapter_address else {
        usage()
    };
    // Both set up before advertising, so that no signal in between is lost.
    let mut term = signal(SignalKind::terminate()).unwrap_or_else(|e| fail(e));
    let mut int = signal(SignalKind::interrupt()).unwrap_or_else(|e| fail(e));

    let session = bluer::Session::new()
        .await
        .unwrap_or_else(|e| fail(format!("bluetoothd: {e}")));
    let mut adapter = None;
    for name in session
        .adapter_names()
        .await
        .unwrap_or_else(|e| fail(format!("listing adapters: {e}")))
    {
        let a = session.adapter(&name).unwrap_or_else(|e| fail(e));
        if a.address().await.ok() == Some(adapter_address) {
            adapter = Some(a);
            break;
        }
    }
    let adapter = adapter.unwrap_or_else(|| fail(format!("no adapter {adapter_address}")));

    let app = Application {
        services: vec![
            Service {
                uuid: HEART_RATE,
                primary: true,
                characteristics: vec![
                    Characteristic {
                        uuid: HEART_RATE_MEASUREMENT,
                        notify: Some(heart_rate_notify(interval)),
                        ..Default::default()
                    },
                    Characteristic {
                        uuid: BODY_SENSOR_LOCATION,
                        read: Some(constant(LOCATION_CHEST)),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            Service {
                uuid: BATTERY,
                primary: true,
                characteristics: vec![Characteristic {
                    uuid: BATTERY_LEVEL,
                    read: Some(constant(BATTERY_PERCENT)),
                    notify: Some(battery_notify()),
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let app = adapter
        .serve_gatt_application(app)
        .await
        .unwrap_or_else(|e| fail(format!("GATT application: {e}")));

    // Flags (3 bytes), the 16-bit UUID list (4) and the name (15): 22 of the 31 bytes.
    let adv = Advertisement {
        service_uuids: [HEART_RATE].into_iter().collect(),
        discoverable: Some(true),
        local_name: Some("le-peripheral".into()),
        ..Default::default()
    };
    let adv = adapter
        .advertise(adv)
        .await
        .unwrap_or_else(|e| fail(format!("advertising: {e}")));
    println!("ready {adapter_address}");

    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    drop(adv);
    drop(app);
    // The handles' drops unregister through tasks of this runtime: let them run.
    tokio::time::sleep(Duration::from_millis(200)).await;
}
