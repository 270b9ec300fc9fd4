//! [`LowEnergyController`] (Qt's `QLowEnergyController`, central role): the link to one
//! LE peripheral and its services.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use sigloop_core::{LoopHandle, Signal, WeakLoopHandle};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::gatt::{self, Emitter, Event, LinkRequest};
use super::service::ServiceShared;
use super::{
    ControllerError, ControllerState, LowEnergyPeripheral, LowEnergyService, RemoteAddressType,
    RequestError, Role,
};
use crate::bluez::{self, BluezError};
use crate::{BluetoothAddress, DeviceInfo};

pub(crate) struct ControllerInner {
    event_loop: WeakLoopHandle,
    remote: BluetoothAddress,
    address_type: RemoteAddressType,
    remote_name: String,
    /// The adapter asked for (null: bluetoothd's default), then the one in use.
    local: Cell<BluetoothAddress>,
    /// bluetoothd's name of the adapter in use (`hci0`), known once linked.
    adapter: RefCell<Option<String>>,
    state: Cell<ControllerState>,
    /// The current link was reported up (`connected` emitted).
    up: Cell<bool>,
    error: Cell<Option<ControllerError>>,
    error_string: RefCell<String>,
    /// Counts links; events and services of an earlier link are told apart by it.
    link: Cell<u64>,
    stop: RefCell<Option<oneshot::Sender<()>>>,
    mtu: Cell<Option<u16>>,
    services: RefCell<Vec<Rc<ServiceShared>>>,
    events: Signal<(u64, Event)>,
    connected: Signal<()>,
    disconnected: Signal<()>,
    state_changed: Signal<ControllerState>,
    error_occurred: Signal<ControllerError>,
    service_discovered: Signal<Uuid>,
    discovery_finished: Signal<()>,
    mtu_changed: Signal<u16>,
    rssi_read: Signal<i16>,
}

/// The central side of an LE link (Qt's `QLowEnergyController` in the central role).
///
/// Made for one remote device with [`create_central`](Self::create_central); every
/// result arrives as a signal on the loop's thread. A session runs
/// [`connect_to_device`](Self::connect_to_device) → `connected`,
/// [`discover_services`](Self::discover_services) → `service_discovered` for each,
/// `discovery_finished`, then [`create_service_object`](Self::create_service_object)
/// for the services it uses.
///
/// **The link is always made over LE.** bluetoothd's `Device1.Connect` picks the bearer
/// of a dual-mode device itself (the bonded one, or the one seen last), and over
/// BR/EDR no LE GATT service is found. This controller asks the kernel for the LE link
/// and lets bluetoothd's GATT client attach to it, so a bonded or recently inquired
/// dual-mode device (a phone, a laptop) is reached over LE all the same. A device
/// bluetoothd has never seen needs no discovery first.
///
/// Clones are handles to one controller. Dropping the last one closes the link it made
/// (Qt's destructor does the same); service objects then report
/// [`InvalidService`](super::ServiceState::InvalidService).
#[derive(Clone)]
#[must_use = "dropping the last handle of a LowEnergyController closes the link it made"]
pub struct LowEnergyController {
    inner: Rc<ControllerInner>,
}

impl fmt::Debug for LowEnergyController {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LowEnergyController")
            .field("remote", &self.inner.remote)
            .field("address_type", &self.inner.address_type)
            .field("state", &self.inner.state.get())
            .finish()
    }
}

impl Drop for ControllerInner {
    fn drop(&mut self) {
        // The helper's link task sees its stop channel closed and disconnects.
        self.stop.get_mut().take();
        for s in self.services.get_mut().drain(..) {
            s.invalidate_quietly();
        }
    }
}

impl LowEnergyController {
    /// A central for `remote` (Qt: `createCentral(remoteDevice, localDevice)`), on the
    /// adapter with address `local` (the null address: bluetoothd's default adapter).
    /// Takes the address, its type and the name from `remote`.
    pub fn create_central(
        event_loop: &LoopHandle,
        remote: &DeviceInfo,
        local: BluetoothAddress,
    ) -> LowEnergyController {
        Self::new(
            event_loop,
            remote.address,
            remote.address_type,
            remote.name.clone(),
            local,
        )
    }

    /// A peripheral on the adapter with address `local` (the null address:
    /// bluetoothd's default adapter) (Qt: `createPeripheral(localDevice)`). The peripheral
    /// role is a type of its own, [`LowEnergyPeripheral`]: it serves local services and
    /// advertises.
    pub fn create_peripheral(
        event_loop: &LoopHandle,
        local: BluetoothAddress,
    ) -> LowEnergyPeripheral {
        LowEnergyPeripheral::new(event_loop, local)
    }

    /// A central for the device at `remote` of type `address_type` (Qt's
    /// `createCentral(remoteDevice, localDevice)` with a device info made from an
    /// address), on the adapter `local` (null: the default adapter).
    pub fn create_central_from_address(
        event_loop: &LoopHandle,
        remote: BluetoothAddress,
        address_type: RemoteAddressType,
        local: BluetoothAddress,
    ) -> LowEnergyController {
        Self::new(event_loop, remote, address_type, String::new(), local)
    }

    fn new(
        event_loop: &LoopHandle,
        remote: BluetoothAddress,
        address_type: RemoteAddressType,
        remote_name: String,
        local: BluetoothAddress,
    ) -> LowEnergyController {
        let inner = Rc::new(ControllerInner {
            event_loop: event_loop.downgrade(),
            remote,
            address_type,
            remote_name,
            local: Cell::new(local),
            adapter: RefCell::new(None),
            state: Cell::new(ControllerState::Unconnected),
            up: Cell::new(false),
            error: Cell::new(None),
            error_string: RefCell::new(String::new()),
            link: Cell::new(0),
            stop: RefCell::new(None),
            mtu: Cell::new(None),
            services: RefCell::new(Vec::new()),
            events: Signal::new(),
            connected: Signal::new(),
            disconnected: Signal::new(),
            state_changed: Signal::new(),
            error_occurred: Signal::new(),
            service_discovered: Signal::new(),
            discovery_finished: Signal::new(),
            mtu_changed: Signal::new(),
            rssi_read: Signal::new(),
        });
        let weak = Rc::downgrade(&inner);
        inner.events.connect(move |(link, event)| {
            if let Some(inner) = weak.upgrade() {
                LowEnergyController { inner }.on_event(*link, event);
            }
        });
        LowEnergyController { inner }
    }

    pub(crate) fn from_inner(inner: Rc<ControllerInner>) -> LowEnergyController {
        LowEnergyController { inner }
    }

    /// The remote device's address (Qt: `remoteAddress`).
    pub fn remote_address(&self) -> BluetoothAddress {
        self.inner.remote
    }

    /// The remote address's type (Qt: `remoteAddressType`).
    pub fn remote_address_type(&self) -> RemoteAddressType {
        self.inner.address_type
    }

    /// The remote device's name as the device info gave it; empty when made from an
    /// address (Qt: `remoteName`).
    pub fn remote_name(&self) -> &str {
        &self.inner.remote_name
    }

    /// The local adapter's address: the one asked for, and once linked the one in use
    /// (Qt: `localAddress`).
    pub fn local_address(&self) -> BluetoothAddress {
        self.inner.local.get()
    }

    /// Always [`Role::Central`] (Qt: `role`).
    pub fn role(&self) -> Role {
        Role::Central
    }

    /// The state (Qt: `state`).
    pub fn state(&self) -> ControllerState {
        self.inner.state.get()
    }

    /// The last error, `None` until one happens (Qt: `error`, which says `NoError`).
    pub fn error(&self) -> Option<ControllerError> {
        self.inner.error.get()
    }

    /// The last error in words, with bluetoothd's or the kernel's reason (Qt:
    /// `errorString`); empty without an error.
    pub fn error_string(&self) -> String {
        self.inner.error_string.borrow().clone()
    }

    /// The link's ATT MTU once linked (Qt: `mtu`, which is always -1 on BlueZ); `None`
    /// before, or with a bluetoothd older than 5.62.
    pub fn mtu(&self) -> Option<u16> {
        self.inner.mtu.get()
    }

    /// The UUIDs of the services found by [`discover_services`](Self::discover_services)
    /// (Qt: `services`).
    pub fn services(&self) -> Vec<Uuid> {
        self.inner
            .services
            .borrow()
            .iter()
            .map(|s| s.uuid)
            .collect()
    }

    /// Makes the LE link (Qt: `connectToDevice`): `Connecting`, then `connected` and
    /// `Connected`, or `error_occurred` and `Unconnected`. The attempt takes at most
    /// 20 s for the link and 30 s for bluetoothd's GATT client.
    ///
    /// # Errors
    /// [`RequestError::ControllerState`] unless `Unconnected`.
    pub fn connect_to_device(&self) -> Result<(), RequestError> {
        let inner = &self.inner;
        if inner.state.get() != ControllerState::Unconnected {
            return Err(RequestError::ControllerState(inner.state.get()));
        }
        let Some(emitter) = self.emitter() else {
            return Err(RequestError::ControllerState(ControllerState::Unconnected));
        };
        let link = inner.link.get() + 1;
        inner.link.set(link);
        inner.up.set(false);
        inner.error.set(None);
        inner.error_string.borrow_mut().clear();
        inner.mtu.set(None);
        let (stop, stopped) = oneshot::channel();
        *inner.stop.borrow_mut() = Some(stop);
        self.set_state(ControllerState::Connecting);
        if inner.link.get() != link || inner.state.get() != ControllerState::Connecting {
            // A state_changed slot already gave the attempt up.
            return Ok(());
        }
        let req = LinkRequest {
            local: inner.local.get(),
            peer: inner.remote,
            address_type: inner.address_type,
            link,
        };
        let fallback = emitter.clone();
        let started = bluez::watch(move |session| gatt::link(session, req, emitter, stopped));
        if let Err(e) = started {
            let _ = fallback.emit((
                link,
                Event::LinkFailed(ControllerError::Unknown, e.to_string()),
            ));
        }
        Ok(())
    }

    /// Closes the link (Qt: `disconnectFromDevice`): `Closing`, then `Unconnected`, with
    /// `disconnected` if the link was up. While connecting, the attempt is given up: the
    /// controller stays `Closing` until the helper has closed whatever link came up
    /// (so that a new `connect_to_device` cannot meet the old attempt's teardown), then
    /// turns `Unconnected` without `disconnected`. Unconnected or closing: nothing
    /// happens.
    pub fn disconnect_from_device(&self) {
        let inner = &self.inner;
        match inner.state.get() {
            ControllerState::Unconnected | ControllerState::Closing => {}
            _ => {
                let stop = inner.stop.borrow_mut().take();
                if let Some(stop) = stop {
                    let _ = stop.send(());
                }
                self.set_state(ControllerState::Closing);
            }
        }
    }

    /// Lists the device's services (Qt: `discoverServices`): `Discovering`,
    /// `service_discovered` for each, `Discovered`, `discovery_finished`.
    ///
    /// # Errors
    /// [`RequestError::ControllerState`] unless `Connected`.
    pub fn discover_services(&self) -> Result<(), RequestError> {
        let inner = &self.inner;
        if inner.state.get() != ControllerState::Connected {
            return Err(RequestError::ControllerState(inner.state.get()));
        }
        let (Some(adapter), Some(emitter)) = (inner.adapter.borrow().clone(), self.emitter())
        else {
            return Err(RequestError::ControllerState(inner.state.get()));
        };
        self.set_state(ControllerState::Discovering);
        let link = inner.link.get();
        let peer = inner.remote;
        bluez::spawn(
            move |session| async move { Ok(gatt::services(session, adapter, peer).await) },
            move |r: Result<_, BluezError>| {
                let r = r.unwrap_or_else(|e| Err(e.to_string()));
                let _ = emitter.emit((link, Event::Services(r)));
            },
        );
        Ok(())
    }

    /// A service object for `uuid`, discovered before (Qt: `createServiceObject`, which
    /// returns null instead). Objects for one UUID share their state.
    ///
    /// # Errors
    /// [`RequestError::UnknownService`] if no service with that UUID was discovered.
    pub fn create_service_object(&self, uuid: Uuid) -> Result<LowEnergyService, RequestError> {
        let services = self.inner.services.borrow();
        services
            .iter()
            .find(|s| s.uuid == uuid)
            .map(|s| LowEnergyService::from_shared(s.clone()))
            .ok_or(RequestError::UnknownService)
    }

    /// Reads the signal strength (Qt: `readRssi`, which always fails on Linux):
    /// `rssi_read` with the value bluetoothd last saw in the device's advertisements,
    /// or `error_occurred` with [`ControllerError::RssiRead`] when it has none.
    ///
    /// # Errors
    /// [`RequestError::ControllerState`] without a link.
    pub fn read_rssi(&self) -> Result<(), RequestError> {
        let inner = &self.inner;
        let (Some(adapter), Some(emitter)) = (self.linked_adapter(), self.emitter()) else {
            return Err(RequestError::ControllerState(inner.state.get()));
        };
        let link = inner.link.get();
        let peer = inner.remote;
        bluez::spawn(
            move |session| async move { Ok(gatt::rssi(session, adapter, peer).await) },
            move |r: Result<_, BluezError>| {
                let r = r.unwrap_or_else(|e| Err(e.to_string()));
                let _ = emitter.emit((link, Event::Rssi(r)));
            },
        );
        Ok(())
    }

    /// The adapter's name while linked.
    pub(crate) fn linked_adapter(&self) -> Option<String> {
        match self.inner.state.get() {
            ControllerState::Connected
            | ControllerState::Discovering
            | ControllerState::Discovered => self.inner.adapter.borrow().clone(),
            _ => None,
        }
    }

    pub(crate) fn link(&self) -> u64 {
        self.inner.link.get()
    }

    pub(crate) fn emitter(&self) -> Option<Emitter> {
        let event_loop = self.inner.event_loop.upgrade()?;
        Some(self.inner.events.remote_emitter(&event_loop))
    }

    pub(crate) fn event_loop(&self) -> Option<LoopHandle> {
        self.inner.event_loop.upgrade()
    }

    fn set_state(&self, state: ControllerState) {
        if self.inner.state.replace(state) != state {
            self.inner.state_changed.emit(&state);
        }
    }

    fn set_error(&self, error: ControllerError, text: &str) {
        self.inner.error.set(Some(error));
        *self.inner.error_string.borrow_mut() = if text.is_empty() {
            error.to_string()
        } else {
            format!("{error}: {text}")
        };
        self.inner.error_occurred.emit(&error);
    }

    fn on_event(&self, link: u64, event: &Event) {
        let inner = &self.inner;
        if link != inner.link.get() {
            return;
        }
        match event {
            Event::LinkUp {
                adapter,
                local,
                mtu,
            } => {
                if inner.state.get() != ControllerState::Connecting {
                    return;
                }
                *inner.adapter.borrow_mut() = Some(adapter.clone());
                inner.local.set(*local);
                inner.mtu.set(*mtu);
                inner.up.set(true);
                self.set_state(ControllerState::Connected);
                // Each slot may have closed the link meanwhile.
                let still =
                    || inner.link.get() == link && inner.state.get() == ControllerState::Connected;
                if still() {
                    inner.connected.emit(&());
                }
                if let (Some(mtu), true) = (mtu, still()) {
                    inner.mtu_changed.emit(mtu);
                }
            }
            Event::LinkFailed(kind, text) => {
                inner.stop.borrow_mut().take();
                // Given up by disconnect_from_device: not an error of the user's.
                if inner.state.get() != ControllerState::Closing {
                    self.set_error(*kind, text);
                }
                self.set_state(ControllerState::Unconnected);
            }
            Event::Cancelled => {
                inner.stop.borrow_mut().take();
                inner.link.set(link + 1);
                self.set_state(ControllerState::Unconnected);
            }
            Event::LinkDown { remote } => {
                let was = inner.state.get();
                inner.stop.borrow_mut().take();
                // Later events of this link (a late read) are dropped.
                inner.link.set(link + 1);
                let services: Vec<_> = inner.services.borrow_mut().drain(..).collect();
                for s in &services {
                    s.invalidate();
                }
                if *remote && was != ControllerState::Closing {
                    self.set_error(ControllerError::RemoteHostClosed, "");
                }
                if !inner.up.replace(false) {
                    // Dropped or given up before it was reported up.
                    self.set_state(ControllerState::Unconnected);
                    return;
                }
                self.set_state(ControllerState::Unconnected);
                inner.disconnected.emit(&());
            }
            Event::Services(result) => {
                if inner.state.get() != ControllerState::Discovering {
                    return;
                }
                match result {
                    Ok(list) => {
                        let mut found = Vec::new();
                        {
                            let mut services = inner.services.borrow_mut();
                            for entry in list {
                                if services.iter().any(|s| s.uuid == entry.uuid) {
                                    continue;
                                }
                                services.push(ServiceShared::new(
                                    Rc::downgrade(inner),
                                    link,
                                    entry.id,
                                    entry.uuid,
                                ));
                                found.push(entry.uuid);
                            }
                        }
                        let still = || {
                            inner.link.get() == link
                                && inner.state.get() == ControllerState::Discovering
                        };
                        for uuid in &found {
                            if !still() {
                                return;
                            }
                            inner.service_discovered.emit(uuid);
                        }
                        if !still() {
                            return;
                        }
                        self.set_state(ControllerState::Discovered);
                        if inner.state.get() == ControllerState::Discovered {
                            inner.discovery_finished.emit(&());
                        }
                    }
                    Err(text) => {
                        self.set_state(ControllerState::Connected);
                        self.set_error(ControllerError::Unknown, text);
                    }
                }
            }
            Event::Rssi(result) => match result {
                Ok(rssi) => inner.rssi_read.emit(rssi),
                Err(text) => self.set_error(ControllerError::RssiRead, text),
            },
            Event::Details { service, .. } => self.route(*service, event),
            Event::Read { path, .. }
            | Event::Written { path, .. }
            | Event::NotifyOn { path, .. }
            | Event::Notified { path, .. }
            | Event::NotifyEnded { path, .. } => self.route(path.service, event),
        }
    }

    fn route(&self, service: u16, event: &Event) {
        let target = self
            .inner
            .services
            .borrow()
            .iter()
            .find(|s| s.id == service)
            .cloned();
        if let Some(s) = target {
            s.on_event(event);
        }
    }

    /// Emitted when the link is up (Qt: `connected`).
    pub fn connected(&self) -> &Signal<()> {
        &self.inner.connected
    }

    /// Emitted when a link that was up is gone, whoever closed it (Qt: `disconnected`).
    pub fn disconnected(&self) -> &Signal<()> {
        &self.inner.disconnected
    }

    /// Emitted with each new state (Qt: `stateChanged`).
    pub fn state_changed(&self) -> &Signal<ControllerState> {
        &self.inner.state_changed
    }

    /// Emitted with each error (Qt: `errorOccurred`); [`error_string`](Self::error_string)
    /// has the reason.
    pub fn error_occurred(&self) -> &Signal<ControllerError> {
        &self.inner.error_occurred
    }

    /// Emitted for each service found (Qt: `serviceDiscovered`).
    pub fn service_discovered(&self) -> &Signal<Uuid> {
        &self.inner.service_discovered
    }

    /// Emitted when service discovery ends (Qt: `discoveryFinished`).
    pub fn discovery_finished(&self) -> &Signal<()> {
        &self.inner.discovery_finished
    }

    /// Emitted with the ATT MTU once it is known (Qt: `mtuChanged`, never emitted on
    /// BlueZ).
    pub fn mtu_changed(&self) -> &Signal<u16> {
        &self.inner.mtu_changed
    }

    /// Emitted with the signal strength after [`read_rssi`](Self::read_rssi) (Qt:
    /// `rssiRead`).
    pub fn rssi_read(&self) -> &Signal<i16> {
        &self.inner.rssi_read
    }
}
