//! [`LowEnergyPeripheral`] (Qt's `QLowEnergyController` in the peripheral role) and
//! [`LocalService`] (Qt's `QLowEnergyService` for a service this program serves).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sigloop_core::{LoopHandle, Signal};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::advertising::{self, LowEnergyAdvertisingData, LowEnergyAdvertisingParameters};
use super::gatt_server::{self, lock, CharSlot, Command, Event};
use super::service_data::{check_length, LowEnergyServiceData, ServiceType};
use super::{ControllerError, ControllerState, PeripheralError, PropertyTypes};
use crate::bluez::{self, BluezError};
use crate::BluetoothAddress;

struct PeripheralInner {
    local: BluetoothAddress,
    commands: mpsc::UnboundedSender<Command>,
    /// Notification sessions, held by the helper task.
    sessions: gatt_server::Sessions,
    /// Into `events`, for the helper's closures.
    emitter: Arc<gatt_server::Emitter>,
    state: Cell<ControllerState>,
    advertising: Cell<bool>,
    centrals: RefCell<Vec<BluetoothAddress>>,
    services: RefCell<Vec<Rc<LocalShared>>>,
    error: Cell<Option<ControllerError>>,
    error_string: RefCell<String>,
    events: Signal<Event>,
    connected: Signal<()>,
    disconnected: Signal<()>,
    central_connected: Signal<BluetoothAddress>,
    central_disconnected: Signal<BluetoothAddress>,
    state_changed: Signal<ControllerState>,
    error_occurred: Signal<ControllerError>,
}

/// The peripheral side of LE (Qt's `QLowEnergyController` made with
/// `createPeripheral`): serves local GATT services to any central and advertises.
///
/// Made with [`LowEnergyController::create_peripheral`](super::LowEnergyController::create_peripheral).
/// The roles are separate types in sigloop: a central's operations are not on a
/// peripheral, nor the reverse.
///
/// States as in Qt: [`Unconnected`](ControllerState::Unconnected),
/// [`Advertising`](ControllerState::Advertising) after
/// [`start_advertising`](Self::start_advertising),
/// [`Connected`](ControllerState::Connected) while at least one central is linked. When
/// a central connects, advertising stops (as in Qt, and as a controller does with
/// connectable advertising); unlike Qt, it may be started again while connected, to let
/// more centrals in. Each central is reported (`central_connected`,
/// `central_disconnected`), and `connected`/`disconnected` mark the first one in and the
/// last one out.
///
/// A central is a device with an LE link to this adapter, reported from the moment
/// bluetoothd sees the link (`Device1.Connected`), before any request; links that
/// existed before the peripheral was made are not reported. bluetoothd's `Connected`
/// covers both bearers, so the peripheral asks the kernel's link list which one it is:
/// a device linked over BR/EDR only is no central. Its LE link made while the BR/EDR
/// one lives is not seen either (BlueZ 5.66 reports no change then).
///
/// Calls that need bluetoothd's answer (`add_service`, `start_advertising`) wait for it
/// on the calling thread, at most [`CALL_TIMEOUT`](crate::bluez::CALL_TIMEOUT).
///
/// Clones are handles to one peripheral. Dropping the last one unregisters its services
/// and its advertisement (centrals then see the services gone).
#[derive(Clone)]
#[must_use = "dropping the last handle of a LowEnergyPeripheral unregisters its services and advertising"]
pub struct LowEnergyPeripheral {
    inner: Rc<PeripheralInner>,
}

impl fmt::Debug for LowEnergyPeripheral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LowEnergyPeripheral")
            .field("local", &self.inner.local)
            .field("state", &self.inner.state.get())
            .field("centrals", &self.inner.centrals.borrow())
            .finish()
    }
}

impl LowEnergyPeripheral {
    pub(crate) fn new(event_loop: &LoopHandle, local: BluetoothAddress) -> LowEnergyPeripheral {
        let (tx, rx) = mpsc::unbounded_channel();
        let events = Signal::new();
        let emitter = Arc::new(events.remote_emitter(event_loop));
        let sessions = gatt_server::Sessions::default();
        let inner = Rc::new(PeripheralInner {
            local,
            commands: tx,
            sessions: sessions.clone(),
            emitter: emitter.clone(),
            state: Cell::new(ControllerState::Unconnected),
            advertising: Cell::new(false),
            centrals: RefCell::default(),
            services: RefCell::default(),
            error: Cell::new(None),
            error_string: RefCell::default(),
            events,
            connected: Signal::new(),
            disconnected: Signal::new(),
            central_connected: Signal::new(),
            central_disconnected: Signal::new(),
            state_changed: Signal::new(),
            error_occurred: Signal::new(),
        });
        let weak = Rc::downgrade(&inner);
        inner.events.connect(move |event| {
            if let Some(inner) = weak.upgrade() {
                LowEnergyPeripheral { inner }.on_event(event);
            }
        });
        let started =
            bluez::watch(move |session| gatt_server::run(session, local, rx, emitter, sessions));
        let p = LowEnergyPeripheral { inner };
        if let Err(e) = started {
            p.set_error(ControllerError::InvalidBluetoothAdapter, &e.to_string());
        }
        p
    }

    /// The adapter asked for (the null address: bluetoothd's default).
    pub fn local_address(&self) -> BluetoothAddress {
        self.inner.local
    }

    /// The state (Qt: `state`).
    pub fn state(&self) -> ControllerState {
        self.inner.state.get()
    }

    /// The last error (Qt: `error`).
    pub fn error(&self) -> Option<ControllerError> {
        self.inner.error.get()
    }

    /// The last error in words (Qt: `errorString`).
    pub fn error_string(&self) -> String {
        self.inner.error_string.borrow().clone()
    }

    /// The centrals linked now, in the order they came.
    pub fn centrals(&self) -> Vec<BluetoothAddress> {
        self.inner.centrals.borrow().clone()
    }

    /// Whether an advertisement is registered.
    pub fn is_advertising(&self) -> bool {
        self.inner.advertising.get()
    }

    /// Serves a service (Qt: `addService`); returns it once bluetoothd has registered
    /// it. Each service is registered on its own, so one added later appears to
    /// centrals as a change of the database (bluetoothd sends Service Changed).
    ///
    /// # Errors
    /// [`PeripheralError::InvalidData`], [`DuplicateUuid`](PeripheralError::DuplicateUuid)
    /// (a service UUID already added, or a characteristic UUID twice in the service),
    /// [`ValueTooLong`](PeripheralError::ValueTooLong),
    /// [`ValueLength`](PeripheralError::ValueLength),
    /// [`NotSupported`](PeripheralError::NotSupported) (signed writes, authorization):
    /// nothing is registered. [`Bluez`](PeripheralError::Bluez): bluetoothd refused or
    /// did not answer.
    pub fn add_service(
        &self,
        data: &LowEnergyServiceData,
    ) -> Result<LocalService, PeripheralError> {
        data.check()?;
        if self
            .inner
            .services
            .borrow()
            .iter()
            .any(|s| s.uuid == data.uuid())
        {
            return Err(PeripheralError::DuplicateUuid(data.uuid()));
        }
        let index = self.inner.services.borrow().len();
        let slots: Vec<CharSlot> = data
            .characteristics()
            .iter()
            .map(|c| CharSlot {
                uuid: c.uuid(),
                properties: c.properties(),
                value: Arc::new(Mutex::new(c.value().to_vec())),
                min: c.minimum_value_length(),
                max: c.maximum_value_length(),
                descriptors: c
                    .own_descriptors()
                    .map(|d| (d.uuid(), Arc::new(Mutex::new(d.value().to_vec()))))
                    .collect(),
            })
            .collect();
        let app = gatt_server::application(
            index,
            data,
            &slots,
            &self.inner.emitter,
            &self.inner.sessions,
        );
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.send(Command::AddService { app, reply })?;
        wait(&answer)?;
        let shared = Rc::new(LocalShared {
            peripheral: Rc::downgrade(&self.inner),
            index,
            uuid: data.uuid(),
            service_type: data.service_type(),
            characteristics: slots,
            notifying: RefCell::default(),
            characteristic_changed: Signal::new(),
            descriptor_written: Signal::new(),
            notifications_changed: Signal::new(),
        });
        self.inner.services.borrow_mut().push(shared.clone());
        Ok(LocalService { shared })
    }

    /// The services added, in order (Qt: `services` gives their UUIDs).
    pub fn services(&self) -> Vec<LocalService> {
        let services = self.inner.services.borrow();
        services
            .iter()
            .map(|s| LocalService { shared: s.clone() })
            .collect()
    }

    /// Starts advertising (Qt: `startAdvertising`): `data`, and `scan_response`, whose
    /// fields join `data`'s (bluetoothd takes one set and sends the local name in the
    /// scan response itself). State [`Advertising`](ControllerState::Advertising) unless a
    /// central is linked.
    ///
    /// # Errors
    /// [`AlreadyAdvertising`](PeripheralError::AlreadyAdvertising);
    /// [`AdvertisingDataTooLong`](PeripheralError::AdvertisingDataTooLong) (over the 31
    /// bytes of legacy advertising: flags 3, each UUID list 2 plus its UUIDs,
    /// manufacturer data 4 plus its bytes, the power level 3; the name, in the scan
    /// response, 2 plus its bytes); `InvalidData`, `NotSupported` (limited
    /// discoverability); [`Bluez`](PeripheralError::Bluez): bluetoothd refused (too many
    /// advertisements, say). Nothing changes on error.
    pub fn start_advertising(
        &self,
        params: &LowEnergyAdvertisingParameters,
        data: &LowEnergyAdvertisingData,
        scan_response: &LowEnergyAdvertisingData,
    ) -> Result<(), PeripheralError> {
        if self.inner.advertising.get() {
            return Err(PeripheralError::AlreadyAdvertising);
        }
        let adv = advertising::advertisement(params, data, scan_response)?;
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.send(Command::Advertise {
            adv: Box::new(adv),
            reply,
        })?;
        wait(&answer)?;
        self.inner.advertising.set(true);
        if self.inner.centrals.borrow().is_empty() {
            self.set_state(ControllerState::Advertising);
        }
        Ok(())
    }

    /// Stops advertising (Qt: `stopAdvertising`); nothing when not advertising.
    pub fn stop_advertising(&self) {
        if !self.inner.advertising.replace(false) {
            return;
        }
        let _ = self.send(Command::StopAdvertising);
        if self.inner.state.get() == ControllerState::Advertising {
            self.set_state(ControllerState::Unconnected);
        }
    }

    /// Emitted when the first central links (Qt: `connected`).
    pub fn connected(&self) -> &Signal<()> {
        &self.inner.connected
    }

    /// Emitted when the last central is gone (Qt: `disconnected`).
    pub fn disconnected(&self) -> &Signal<()> {
        &self.inner.disconnected
    }

    /// Emitted with each central that links (beyond Qt, which merges them into one).
    pub fn central_connected(&self) -> &Signal<BluetoothAddress> {
        &self.inner.central_connected
    }

    /// Emitted with each central that leaves.
    pub fn central_disconnected(&self) -> &Signal<BluetoothAddress> {
        &self.inner.central_disconnected
    }

    /// Emitted with each new state (Qt: `stateChanged`).
    pub fn state_changed(&self) -> &Signal<ControllerState> {
        &self.inner.state_changed
    }

    /// Emitted with each error (Qt: `errorOccurred`): no adapter or no bluetoothd for
    /// the watch of centrals.
    pub fn error_occurred(&self) -> &Signal<ControllerError> {
        &self.inner.error_occurred
    }

    fn send(&self, command: Command) -> Result<(), PeripheralError> {
        self.inner.commands.send(command).map_err(|_| {
            PeripheralError::Bluez(BluezError::Runtime("the helper task ended".into()))
        })
    }

    fn set_state(&self, state: ControllerState) {
        if self.inner.state.replace(state) != state {
            self.inner.state_changed.emit(&state);
        }
    }

    fn set_error(&self, error: ControllerError, text: &str) {
        self.inner.error.set(Some(error));
        *self.inner.error_string.borrow_mut() = format!("{error}: {text}");
        self.inner.error_occurred.emit(&error);
    }

    fn service(&self, index: usize) -> Option<Rc<LocalShared>> {
        self.inner.services.borrow().get(index).cloned()
    }

    fn on_event(&self, event: &Event) {
        match event {
            Event::CentralConnected(a) => {
                if self.inner.centrals.borrow().contains(a) {
                    return;
                }
                let first = self.inner.centrals.borrow().is_empty();
                self.inner.centrals.borrow_mut().push(*a);
                // The controller stops connectable advertising when a central connects;
                // so does this peripheral (Qt reports the same).
                if self.inner.advertising.replace(false) {
                    let _ = self.send(Command::StopAdvertising);
                }
                self.set_state(ControllerState::Connected);
                self.inner.central_connected.emit(a);
                if first {
                    self.inner.connected.emit(&());
                }
            }
            Event::CentralDisconnected(a) => {
                let was = {
                    let mut c = self.inner.centrals.borrow_mut();
                    let before = c.len();
                    c.retain(|x| x != a);
                    before != c.len()
                };
                if !was {
                    return;
                }
                self.inner.central_disconnected.emit(a);
                if self.inner.centrals.borrow().is_empty() {
                    self.set_state(if self.inner.advertising.get() {
                        ControllerState::Advertising
                    } else {
                        ControllerState::Unconnected
                    });
                    self.inner.disconnected.emit(&());
                }
            }
            Event::Written {
                service,
                characteristic,
                value,
            } => {
                if let Some(s) = self.service(*service) {
                    s.characteristic_changed
                        .emit(&(*characteristic, value.clone()));
                }
            }
            Event::DescriptorWritten {
                service,
                characteristic,
                descriptor,
                value,
            } => {
                if let Some(s) = self.service(*service) {
                    s.descriptor_written
                        .emit(&(*characteristic, *descriptor, value.clone()));
                }
            }
            Event::Notifying {
                service,
                characteristic,
                on,
            } => {
                if let Some(s) = self.service(*service) {
                    let count = {
                        let mut n = s.notifying.borrow_mut();
                        let c = n.entry(*characteristic).or_insert(0);
                        if *on {
                            *c += 1;
                        } else {
                            *c = c.saturating_sub(1);
                        }
                        *c
                    };
                    if (*on && count == 1) || (!*on && count == 0) {
                        s.notifications_changed.emit(&(*characteristic, *on));
                    }
                }
            }
            Event::WatchFailed(e) => {
                self.set_error(ControllerError::InvalidBluetoothAdapter, &e.to_string())
            }
        }
    }
}

/// Waits for the helper's answer to a call.
fn wait(answer: &std::sync::mpsc::Receiver<Result<(), BluezError>>) -> Result<(), PeripheralError> {
    answer
        .recv_timeout(bluez::CALL_TIMEOUT + Duration::from_secs(1))
        .unwrap_or(Err(BluezError::Timeout))
        .map_err(PeripheralError::Bluez)
}

struct LocalShared {
    peripheral: Weak<PeripheralInner>,
    index: usize,
    uuid: Uuid,
    service_type: ServiceType,
    characteristics: Vec<CharSlot>,
    /// Notification sessions open, by characteristic.
    notifying: RefCell<HashMap<Uuid, usize>>,
    characteristic_changed: Signal<(Uuid, Vec<u8>)>,
    descriptor_written: Signal<(Uuid, Uuid, Vec<u8>)>,
    notifications_changed: Signal<(Uuid, bool)>,
}

/// A service this program serves (Qt's `QLowEnergyService` returned by `addService`).
///
/// Characteristics are named by UUID (unique within a local service). Values are served
/// from the current value, which centrals' writes and
/// [`write_characteristic`](Self::write_characteristic) change. A handle: it stays usable
/// after its peripheral is gone, but writes are then refused.
#[derive(Clone)]
pub struct LocalService {
    shared: Rc<LocalShared>,
}

impl fmt::Debug for LocalService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalService")
            .field("uuid", &self.shared.uuid)
            .finish()
    }
}

impl LocalService {
    /// Its UUID (Qt: `serviceUuid`).
    pub fn service_uuid(&self) -> Uuid {
        self.shared.uuid
    }

    /// Primary or secondary (Qt: `type`).
    pub fn service_type(&self) -> ServiceType {
        self.shared.service_type
    }

    /// Its characteristics' UUIDs, in order.
    pub fn characteristics(&self) -> Vec<Uuid> {
        self.shared.characteristics.iter().map(|c| c.uuid).collect()
    }

    /// A characteristic's properties; `None` for a UUID it does not have.
    pub fn properties(&self, characteristic: Uuid) -> Option<PropertyTypes> {
        self.slot(characteristic).map(|c| c.properties)
    }

    /// A characteristic's current value (Qt: `characteristic(uuid).value()`); `None` for
    /// a UUID it does not have.
    pub fn value(&self, characteristic: Uuid) -> Option<Vec<u8>> {
        self.slot(characteristic).map(|c| lock(&c.value).clone())
    }

    /// A descriptor's current value; `None` when there is no such descriptor (the
    /// Client Characteristic Configuration descriptor is bluetoothd's, one per central,
    /// and not here).
    pub fn descriptor_value(&self, characteristic: Uuid, descriptor: Uuid) -> Option<Vec<u8>> {
        let c = self.slot(characteristic)?;
        let (_, v) = c.descriptors.iter().find(|(u, _)| *u == descriptor)?;
        Some(lock(v).clone())
    }

    /// Whether a central has notifications or indications of `characteristic` on.
    /// BlueZ 5.66 opens one session for all the centrals that subscribed, and says
    /// neither which nor how many.
    pub fn is_notifying(&self, characteristic: Uuid) -> bool {
        self.shared
            .notifying
            .borrow()
            .get(&characteristic)
            .is_some_and(|n| *n > 0)
    }

    /// Sets a characteristic's value (Qt: `writeCharacteristic` on a local service):
    /// later reads get it, and when the characteristic notifies or indicates, every
    /// central that subscribed gets it, in the order of these calls.
    ///
    /// # Errors
    /// [`UnknownCharacteristic`](PeripheralError::UnknownCharacteristic),
    /// [`ValueTooLong`](PeripheralError::ValueTooLong),
    /// [`ValueLength`](PeripheralError::ValueLength) (outside the characteristic's
    /// bounds), [`Closed`](PeripheralError::Closed) (the peripheral is gone): nothing
    /// changes.
    pub fn write_characteristic(
        &self,
        characteristic: Uuid,
        value: &[u8],
    ) -> Result<(), PeripheralError> {
        let slot = self
            .slot(characteristic)
            .ok_or(PeripheralError::UnknownCharacteristic(characteristic))?;
        check_length(value.len(), slot.min, slot.max)?;
        let peripheral = self
            .shared
            .peripheral
            .upgrade()
            .ok_or(PeripheralError::Closed)?;
        *lock(&slot.value) = value.to_vec();
        if slot
            .properties
            .intersects(PropertyTypes::NOTIFY | PropertyTypes::INDICATE)
            && self.is_notifying(characteristic)
        {
            let _ = peripheral.commands.send(Command::Notify {
                service: self.shared.index,
                characteristic,
                value: value.to_vec(),
            });
        }
        Ok(())
    }

    /// Sets a descriptor's value, served to later reads (Qt: `writeDescriptor` on a
    /// local service).
    ///
    /// # Errors
    /// `UnknownCharacteristic`, [`UnknownDescriptor`](PeripheralError::UnknownDescriptor),
    /// `ValueTooLong`: nothing changes.
    pub fn write_descriptor(
        &self,
        characteristic: Uuid,
        descriptor: Uuid,
        value: &[u8],
    ) -> Result<(), PeripheralError> {
        let slot = self
            .slot(characteristic)
            .ok_or(PeripheralError::UnknownCharacteristic(characteristic))?;
        let (_, v) = slot
            .descriptors
            .iter()
            .find(|(u, _)| *u == descriptor)
            .ok_or(PeripheralError::UnknownDescriptor(descriptor))?;
        check_length(value.len(), 0, super::MAX_ATTRIBUTE_LENGTH)?;
        *lock(v) = value.to_vec();
        Ok(())
    }

    /// Emitted with (characteristic, new value) when a central writes it (Qt:
    /// `characteristicChanged`). A write with and without response look alike here:
    /// bluetoothd 5.66 does not tell its applications which it was.
    pub fn characteristic_changed(&self) -> &Signal<(Uuid, Vec<u8>)> {
        &self.shared.characteristic_changed
    }

    /// Emitted with (characteristic, descriptor, new value) when a central writes a
    /// descriptor of this program's (Qt: `descriptorWritten`).
    pub fn descriptor_written(&self) -> &Signal<(Uuid, Uuid, Vec<u8>)> {
        &self.shared.descriptor_written
    }

    /// Emitted with (characteristic, on) when the first central turns notifications or
    /// indications on, and when the last one turns them off.
    pub fn notifications_changed(&self) -> &Signal<(Uuid, bool)> {
        &self.shared.notifications_changed
    }

    fn slot(&self, uuid: Uuid) -> Option<&CharSlot> {
        self.shared.characteristics.iter().find(|c| c.uuid == uuid)
    }
}
