//! The helper-thread half of [`LowEnergyPeripheral`](super::LowEnergyPeripheral): one
//! task per peripheral on the bluer thread holds its GATT applications, its
//! advertisement and its notification sessions, serves reads and writes from the shared
//! values, watches the adapter's devices for centrals coming and going, and reports into
//! the loop through a `RemoteEmitter`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use bluer::gatt::local::{
    Application, ApplicationHandle, Characteristic, CharacteristicNotifier, CharacteristicNotify,
    CharacteristicNotifyMethod, CharacteristicRead, CharacteristicWrite, CharacteristicWriteMethod,
    Descriptor, DescriptorRead, DescriptorWrite, ReqError, Service,
};
use bluer::{AdapterEvent, DeviceEvent, DeviceProperty};
use sigloop_core::RemoteEmitter;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::service_data::{AttAccessConstraints, LowEnergyServiceData};
use super::PropertyTypes;
use crate::bluez::{self, BluezError};
use crate::BluetoothAddress;

/// A value shared by the loop (which sets it) and the helper (which serves it).
pub(crate) type SharedValue = Arc<Mutex<Vec<u8>>>;

pub(crate) fn lock(v: &SharedValue) -> std::sync::MutexGuard<'_, Vec<u8>> {
    v.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One local characteristic's value and bounds, as both halves see them.
#[derive(Clone)]
pub(crate) struct CharSlot {
    pub uuid: Uuid,
    pub properties: PropertyTypes,
    pub value: SharedValue,
    pub min: usize,
    pub max: usize,
    pub descriptors: Vec<(Uuid, SharedValue)>,
}

/// What the loop asks of the helper task.
pub(crate) enum Command {
    AddService {
        app: Application,
        reply: std::sync::mpsc::SyncSender<Result<(), BluezError>>,
    },
    Advertise {
        adv: Box<bluer::adv::Advertisement>,
        reply: std::sync::mpsc::SyncSender<Result<(), BluezError>>,
    },
    StopAdvertising,
    Notify {
        service: usize,
        characteristic: Uuid,
        value: Vec<u8>,
    },
}

/// What the helper reports.
#[derive(Debug)]
pub(crate) enum Event {
    CentralConnected(BluetoothAddress),
    CentralDisconnected(BluetoothAddress),
    Written {
        service: usize,
        characteristic: Uuid,
        value: Vec<u8>,
    },
    DescriptorWritten {
        service: usize,
        characteristic: Uuid,
        descriptor: Uuid,
        value: Vec<u8>,
    },
    Notifying {
        service: usize,
        characteristic: Uuid,
        on: bool,
    },
    /// The adapter's device watch could not start (no bluetoothd, no such adapter).
    WatchFailed(BluezError),
}

pub(crate) type Emitter = RemoteEmitter<Event>;

/// Notification sessions by (service, characteristic), kept on the helper thread.
pub(crate) type Sessions = Arc<Mutex<HashMap<(usize, Uuid), Vec<CharacteristicNotifier>>>>;

fn emit(emitter: &Emitter, event: Event) {
    let _ = emitter.emit(event);
}

/// A read of `value` from `offset`.
fn read_at(value: &SharedValue, offset: u16) -> Result<Vec<u8>, ReqError> {
    let v = lock(value);
    v.get(usize::from(offset)..)
        .map(<[u8]>::to_vec)
        .ok_or(ReqError::InvalidOffset)
}

/// A write of `new` at `offset` (a long write arrives in parts, each at its offset):
/// the new whole value, stored when its length is within `min..=max`.
fn write_at(
    value: &SharedValue,
    offset: u16,
    new: &[u8],
    min: usize,
    max: usize,
) -> Result<Vec<u8>, ReqError> {
    let mut v = lock(value);
    let mut next = v
        .get(..usize::from(offset))
        .ok_or(ReqError::InvalidOffset)?
        .to_vec();
    next.extend_from_slice(new);
    if next.len() < min || next.len() > max {
        return Err(ReqError::InvalidValueLength);
    }
    v.clone_from(&next);
    Ok(next)
}

/// bluer's service for `data` at index `service`, serving `slots`.
pub(crate) fn application(
    service: usize,
    data: &LowEnergyServiceData,
    slots: &[CharSlot],
    emitter: &Arc<Emitter>,
    sessions: &Sessions,
) -> Application {
    let mut characteristics = Vec::new();
    for (c, slot) in data.characteristics().iter().zip(slots) {
        let p = c.properties();
        let rc = c.read_constraints();
        let wc = c.write_constraints();
        let read = p.contains(PropertyTypes::READ).then(|| {
            let value = slot.value.clone();
            CharacteristicRead {
                read: true,
                encrypt_read: rc.contains(AttAccessConstraints::ENCRYPTION_REQUIRED),
                encrypt_authenticated_read: rc
                    .contains(AttAccessConstraints::AUTHENTICATION_REQUIRED),
                fun: Box::new(move |req| {
                    let result = read_at(&value, req.offset);
                    Box::pin(async move { result })
                }),
                ..Default::default()
            }
        });
        let writable = p.intersects(PropertyTypes::WRITE | PropertyTypes::WRITE_NO_RESPONSE);
        let write = writable.then(|| {
            let (value, min, max, uuid) = (slot.value.clone(), slot.min, slot.max, slot.uuid);
            let emitter = emitter.clone();
            CharacteristicWrite {
                write: p.contains(PropertyTypes::WRITE),
                write_without_response: p.contains(PropertyTypes::WRITE_NO_RESPONSE),
                encrypt_write: wc.contains(AttAccessConstraints::ENCRYPTION_REQUIRED),
                encrypt_authenticated_write: wc
                    .contains(AttAccessConstraints::AUTHENTICATION_REQUIRED),
                method: CharacteristicWriteMethod::Fun(Box::new(move |new, req| {
                    let result = write_at(&value, req.offset, &new, min, max);
                    if let Ok(value) = &result {
                        emit(
                            &emitter,
                            Event::Written {
                                service,
                                characteristic: uuid,
                                value: value.clone(),
                            },
                        );
                    }
                    Box::pin(async move { result.map(|_| ()) })
                })),
                ..Default::default()
            }
        });
        let notifies = p.intersects(PropertyTypes::NOTIFY | PropertyTypes::INDICATE);
        let notify = notifies.then(|| {
            let (sessions, emitter, uuid) = (sessions.clone(), emitter.clone(), slot.uuid);
            CharacteristicNotify {
                notify: p.contains(PropertyTypes::NOTIFY),
                indicate: p.contains(PropertyTypes::INDICATE),
                method: CharacteristicNotifyMethod::Fun(Box::new(move |notifier| {
                    let stopped = notifier.stopped();
                    sessions
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry((service, uuid))
                        .or_default()
                        .push(notifier);
                    emit(
                        &emitter,
                        Event::Notifying {
                            service,
                            characteristic: uuid,
                            on: true,
                        },
                    );
                    let emitter = emitter.clone();
                    tokio::spawn(async move {
                        stopped.await;
                        emit(
                            &emitter,
                            Event::Notifying {
                                service,
                                characteristic: uuid,
                                on: false,
                            },
                        );
                    });
                    Box::pin(async {})
                })),
                ..Default::default()
            }
        });
        let mut descriptors = Vec::new();
        for (d, (duuid, dvalue)) in c.own_descriptors().zip(&slot.descriptors) {
            let read = d.is_readable().then(|| {
                let value = dvalue.clone();
                let rc = d.read_constraints();
                DescriptorRead {
                    read: true,
                    encrypt_read: rc.contains(AttAccessConstraints::ENCRYPTION_REQUIRED),
                    encrypt_authenticated_read: rc
                        .contains(AttAccessConstraints::AUTHENTICATION_REQUIRED),
                    fun: Box::new(move |req| {
                        let result = read_at(&value, req.offset);
                        Box::pin(async move { result })
                    }),
                    ..Default::default()
                }
            });
            let write = d.is_writable().then(|| {
                let (value, emitter) = (dvalue.clone(), emitter.clone());
                let (cuuid, duuid) = (slot.uuid, *duuid);
                let wc = d.write_constraints();
                DescriptorWrite {
                    write: true,
                    encrypt_write: wc.contains(AttAccessConstraints::ENCRYPTION_REQUIRED),
                    encrypt_authenticated_write: wc
                        .contains(AttAccessConstraints::AUTHENTICATION_REQUIRED),
                    fun: Box::new(move |new, req| {
                        let max = super::MAX_ATTRIBUTE_LENGTH;
                        let result = write_at(&value, req.offset, &new, 0, max);
                        if let Ok(value) = &result {
                            emit(
                                &emitter,
                                Event::DescriptorWritten {
                                    service,
                                    characteristic: cuuid,
                                    descriptor: duuid,
                                    value: value.clone(),
                                },
                            );
                        }
                        Box::pin(async move { result.map(|_| ()) })
                    }),
                    ..Default::default()
                }
            });
            descriptors.push(Descriptor {
                uuid: *duuid,
                read,
                write,
                ..Default::default()
            });
        }
        characteristics.push(Characteristic {
            uuid: c.uuid(),
            broadcast: p.contains(PropertyTypes::BROADCASTING),
            read,
            write,
            notify,
            descriptors,
            ..Default::default()
        });
    }
    Application {
        services: vec![Service {
            uuid: data.uuid(),
            primary: data.service_type() == super::ServiceType::Primary,
            characteristics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The peripheral's task: runs until the loop side drops its command sender.
pub(crate) async fn run(
    session: Result<bluer::Session, BluezError>,
    local: BluetoothAddress,
    mut commands: mpsc::UnboundedReceiver<Command>,
    emitter: Arc<Emitter>,
    sessions: Sessions,
) {
    let adapter = match session {
        Ok(s) => bluez::adapter(&s, local).await,
        Err(e) => Err(e),
    };
    let mut apps: Vec<ApplicationHandle> = Vec::new();
    let mut adv: Option<bluer::adv::AdvertisementHandle> = None;
    let watch = match &adapter {
        Ok(a) => Some(tokio::spawn(watch_centrals(a.clone(), emitter.clone()))),
        Err(e) => {
            emit(&emitter, Event::WatchFailed(e.clone()));
            None
        }
    };
    while let Some(command) = commands.recv().await {
        match command {
            Command::AddService { app, reply } => {
                let result = match &adapter {
                    Ok(a) => bounded(a.serve_gatt_application(app)).await,
                    Err(e) => Err(e.clone()),
                };
                let _ = reply.send(result.map(|h| apps.push(h)));
            }
            Command::Advertise { adv: a, reply } => {
                let result = match &adapter {
                    Ok(ad) => bounded(ad.advertise(*a)).await,
                    Err(e) => Err(e.clone()),
                };
                let _ = reply.send(result.map(|h| adv = Some(h)));
            }
            Command::StopAdvertising => adv = None,
            Command::Notify {
                service,
                characteristic,
                value,
            } => {
                let key = (service, characteristic);
                let mut live = std::mem::take(
                    sessions
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(key)
                        .or_default(),
                );
                live.retain(|n| !n.is_stopped());
                for n in &mut live {
                    if let Err(e) = n.notify(value.clone()).await {
                        if !n.is_stopped() {
                            log::warn!("a notification of {characteristic} was not sent: {e}");
                        }
                    }
                    // notify() only queues the value on bluer's D-Bus connection, whose
                    // writer is a task on this runtime: let it run before the next one
                    // (a notify() that finds it woken but not run fails).
                    tokio::task::yield_now().await;
                }
                let sent = !live.is_empty();
                sessions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(key)
                    .or_default()
                    .extend(live);
                if sent && commands.is_empty() {
                    if let Ok(a) = &adapter {
                        flush(a).await;
                    }
                }
            }
        }
    }
    if let Some(w) = watch {
        w.abort();
    }
    drop(adv);
    drop(apps);
}

/// After a burst of notifications: makes sure they have left this process.
///
/// bluer's D-Bus reactor (dbus-tokio 0.7.6) watches the bus socket for reading only
/// (libdbus's write watch is off when the connection is made). Once a write would block
/// (the socket takes about 256 such signals), the rest of the outgoing queue waits for
/// the next message in or out, and a burst's tail stalled until the next session (seen on
/// the bed: bluetoothd sent 257 of 300, the rest with the next subscription). A call on
/// the same connection is answered only after everything queued before it was written,
/// and each new call wakes the reactor to write what the socket takes now: so calls
/// are made until one is answered (each waits twice as long as the one before, from 20
/// ms up to half a second), at most for the call timeout.
async fn flush(adapter: &bluer::Adapter) {
    let end = tokio::time::Instant::now() + bluez::CALL_TIMEOUT;
    let mut wait = std::time::Duration::from_millis(20);
    while tokio::time::Instant::now() < end {
        if tokio::time::timeout(wait, adapter.is_powered())
            .await
            .is_ok()
        {
            return;
        }
        wait = (wait * 2).min(std::time::Duration::from_millis(500));
    }
    log::warn!("notifications may still wait in this process: bluetoothd did not answer");
}

/// A bluer call bounded by the crate's call timeout.
async fn bounded<T>(
    f: impl std::future::Future<Output = bluer::Result<T>>,
) -> Result<T, BluezError> {
    match tokio::time::timeout(bluez::CALL_TIMEOUT, f).await {
        Ok(r) => r.map_err(BluezError::from),
        Err(_) => Err(BluezError::Timeout),
    }
}

/// Reports every device of `adapter` that connects or disconnects from now on, and a
/// device that appears already connected (a central bluetoothd first meets through its
/// connection shows up on D-Bus that way, with no property change).
async fn watch_centrals(adapter: bluer::Adapter, emitter: Arc<Emitter>) {
    let mut events = match adapter.events().await {
        Ok(e) => Box::pin(e),
        Err(e) => return emit(&emitter, Event::WatchFailed(e.into())),
    };
    let mut watched = HashSet::new();
    let mut tasks = Vec::new();
    if let Ok(addresses) = adapter.device_addresses().await {
        for a in addresses {
            watched.insert(a);
            let task = watch_device(adapter.clone(), a, false, emitter.clone());
            tasks.push(AbortOnDrop(tokio::spawn(task)));
        }
    }
    while let Some(event) = bluez::next(&mut events).await {
        if let AdapterEvent::DeviceAdded(a) = event {
            if watched.insert(a) {
                let task = watch_device(adapter.clone(), a, true, emitter.clone());
                tasks.push(AbortOnDrop(tokio::spawn(task)));
            }
        }
    }
}

/// A task that ends with its owner (the watch ends when the peripheral does).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn watch_device(
    adapter: bluer::Adapter,
    address: bluer::Address,
    new: bool,
    emitter: Arc<Emitter>,
) {
    let Ok(device) = adapter.device(address) else {
        return;
    };
    let Ok(events) = device.events().await else {
        return;
    };
    let mut events = Box::pin(events);
    let ours = bluez::from_bluer(address);
    let local = adapter.address().await.ok().map(bluez::from_bluer);
    // bluetoothd's Connected covers both bearers: only an LE link makes a central.
    let over_le = || local.is_none_or(|l| crate::sys::le_link_up_to(l, ours).unwrap_or(true));
    // A device known before the peripheral: its link (if any) is not reported.
    let mut connected = device.is_connected().await.unwrap_or(false);
    let mut reported = new && connected && over_le();
    if reported {
        emit(&emitter, Event::CentralConnected(ours));
    }
    while let Some(DeviceEvent::PropertyChanged(p)) = bluez::next(&mut events).await {
        if let DeviceProperty::Connected(c) = p {
            if c == connected {
                continue;
            }
            connected = c;
            if c && over_le() {
                reported = true;
                emit(&emitter, Event::CentralConnected(ours));
            } else if !c && reported {
                reported = false;
                emit(&emitter, Event::CentralDisconnected(ours));
            }
        }
    }
}
