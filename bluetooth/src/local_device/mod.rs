//! [`LocalDevice`] (Qt's `QBluetoothLocalDevice`): a local adapter as bluetoothd sees
//! it, its host mode, the devices connected to it, and pairing.

mod error;
mod pairing;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;

use sigloop_core::{LoopHandle, RemoteEmitter, Signal};
use tokio::sync::watch;

use crate::bluez::{self, from_bluer, next, BluezError};
use crate::BluetoothAddress;

pub use error::{LocalDeviceError, PairingError};
pub use pairing::{Pairing, PAIRING_TIMEOUT};

/// An adapter's mode (Qt's `QBluetoothLocalDevice::HostMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostMode {
    /// Off (Qt: `HostPoweredOff`).
    PoweredOff,
    /// On and connectable, not discoverable (Qt: `HostConnectable`).
    Connectable,
    /// On, connectable and discoverable (Qt: `HostDiscoverable`).
    Discoverable,
}

impl HostMode {
    fn from_flags(powered: bool, discoverable: bool) -> HostMode {
        match (powered, discoverable) {
            (false, _) => HostMode::PoweredOff,
            (true, false) => HostMode::Connectable,
            (true, true) => HostMode::Discoverable,
        }
    }
}

/// An adapter's address and name (Qt's `QBluetoothHostInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// The adapter's address.
    pub address: BluetoothAddress,
    /// Its name (bluetoothd's alias).
    pub name: String,
}

/// What the watch on the helper thread reports.
#[derive(Debug)]
enum Event {
    Powered(bool),
    Discoverable(bool),
    Connected(BluetoothAddress, bool),
    Failed(BluezError),
    /// A pairing request's outcome.
    PairingDone(BluetoothAddress, Result<Pairing, PairingError>),
}

struct Inner {
    address: BluetoothAddress,
    name: String,
    powered: Cell<bool>,
    discoverable: Cell<bool>,
    connected: RefCell<BTreeSet<BluetoothAddress>>,
    events: Signal<Event>,
    /// Sends the helper thread's pairing outcomes to `events`.
    emitter: RemoteEmitter<Event>,
    /// Devices with a pairing request of ours running.
    pairing: RefCell<BTreeSet<BluetoothAddress>>,
    host_mode_state_changed: Signal<HostMode>,
    device_connected: Signal<BluetoothAddress>,
    device_disconnected: Signal<BluetoothAddress>,
    pairing_finished: Signal<(BluetoothAddress, Pairing)>,
    error_occurred: Signal<LocalDeviceError>,
    /// Dropping it ends the watch tasks.
    _stop: watch::Sender<()>,
}

/// A local Bluetooth adapter, through bluetoothd (Qt's `QBluetoothLocalDevice`).
///
/// Its state is read when it is made and kept current by a watch on bluetoothd's
/// signals, which arrive on the loop as [`host_mode_state_changed`](Self::host_mode_state_changed),
/// [`device_connected`](Self::device_connected) and
/// [`device_disconnected`](Self::device_disconnected). Dropping the last handle ends the
/// watch.
///
/// ```no_run
/// use sigloop_bluetooth::{BluetoothAddress, LocalDevice};
/// use sigloop_core::EventLoop;
///
/// let event_loop = EventLoop::new()?;
/// for host in LocalDevice::all_devices()? {
///     println!("{} {}", host.address, host.name);
/// }
/// let adapter = LocalDevice::new(&event_loop.handle(), BluetoothAddress::ANY)?;
/// adapter.host_mode_state_changed().connect(|mode| println!("now {mode:?}"));
/// println!("{:?}", adapter.host_mode());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct LocalDevice {
    inner: Rc<Inner>,
}

impl fmt::Debug for LocalDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalDevice")
            .field("address", &self.inner.address)
            .field("name", &self.inner.name)
            .field("host_mode", &self.host_mode())
            .finish()
    }
}

struct Snapshot {
    address: BluetoothAddress,
    name: String,
    powered: bool,
    discoverable: bool,
    connected: Vec<BluetoothAddress>,
}

impl LocalDevice {
    /// Every adapter bluetoothd has (Qt: `allDevices`).
    ///
    /// # Errors
    /// As any call to bluetoothd ([`BluezError`]).
    pub fn all_devices() -> Result<Vec<HostInfo>, BluezError> {
        bluez::call(|session| async move {
            let mut hosts = Vec::new();
            for name in session.adapter_names().await? {
                let adapter = session.adapter(&name)?;
                hosts.push(HostInfo {
                    address: from_bluer(adapter.address().await?),
                    name: adapter.alias().await?,
                });
            }
            Ok(hosts)
        })
    }

    /// The adapter with `address`, or bluetoothd's default adapter for the null address
    /// (Qt: `QBluetoothLocalDevice(address)`).
    ///
    /// # Errors
    /// [`BluezError::NoAdapter`] if bluetoothd has no such adapter; as any call to
    /// bluetoothd otherwise.
    pub fn new(
        event_loop: &LoopHandle,
        address: BluetoothAddress,
    ) -> Result<LocalDevice, BluezError> {
        // The watch subscribes to bluetoothd's signals first and reads the state after,
        // so no change falls between the two.
        let (stop, stopped) = watch::channel(());
        let events = Signal::new();
        let emitter = events.remote_emitter(event_loop);
        let watch_emitter = emitter.clone();
        let (ready, snapshot) = std::sync::mpsc::sync_channel(1);
        bluez::watch(move |session| {
            watch_adapter(session, address, watch_emitter, stopped, ready)
        })?;
        let snapshot = snapshot
            .recv_timeout(bluez::CALL_TIMEOUT + std::time::Duration::from_secs(1))
            .unwrap_or(Err(BluezError::Timeout))?;
        let inner = Rc::new(Inner {
            address: snapshot.address,
            name: snapshot.name,
            powered: Cell::new(snapshot.powered),
            discoverable: Cell::new(snapshot.discoverable),
            connected: RefCell::new(snapshot.connected.into_iter().collect()),
            events,
            emitter,
            pairing: RefCell::new(BTreeSet::new()),
            host_mode_state_changed: Signal::new(),
            device_connected: Signal::new(),
            device_disconnected: Signal::new(),
            pairing_finished: Signal::new(),
            error_occurred: Signal::new(),
            _stop: stop,
        });
        let weak = Rc::downgrade(&inner);
        inner.events.connect(move |event| {
            if let Some(inner) = weak.upgrade() {
                LocalDevice { inner }.on_event(event);
            }
        });
        Ok(LocalDevice { inner })
    }

    fn on_event(&self, event: &Event) {
        let inner = &self.inner;
        let before = self.host_mode();
        match event {
            Event::Powered(on) => inner.powered.set(*on),
            Event::Discoverable(on) => inner.discoverable.set(*on),
            Event::Connected(device, true) => {
                let added = inner.connected.borrow_mut().insert(*device);
                if added {
                    inner.device_connected.emit(device);
                }
            }
            Event::Connected(device, false) => {
                let removed = inner.connected.borrow_mut().remove(device);
                if removed {
                    inner.device_disconnected.emit(device);
                }
            }
            Event::Failed(e) => inner
                .error_occurred
                .emit(&LocalDeviceError::Bluez(e.clone())),
            Event::PairingDone(address, result) => {
                inner.pairing.borrow_mut().remove(address);
                match result {
                    Ok(pairing) => inner.pairing_finished.emit(&(*address, *pairing)),
                    Err(error) => inner.error_occurred.emit(&LocalDeviceError::Pairing {
                        address: *address,
                        error: error.clone(),
                    }),
                }
            }
        }
        let after = self.host_mode();
        if after != before {
            inner.host_mode_state_changed.emit(&after);
        }
    }

    /// The adapter's address (Qt: `address`).
    pub fn address(&self) -> BluetoothAddress {
        self.inner.address
    }

    /// The adapter's name (Qt: `name`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The mode, as last reported by bluetoothd (Qt: `hostMode`).
    pub fn host_mode(&self) -> HostMode {
        HostMode::from_flags(self.inner.powered.get(), self.inner.discoverable.get())
    }

    /// Devices with a connection to this adapter (Qt: `connectedDevices`).
    pub fn connected_devices(&self) -> Vec<BluetoothAddress> {
        self.inner.connected.borrow().iter().copied().collect()
    }

    /// Asks bluetoothd for `mode` (Qt: `setHostMode`); the change is reported by
    /// [`host_mode_state_changed`](Self::host_mode_state_changed) when bluetoothd makes
    /// it. Blocks for bluetoothd's answer.
    ///
    /// Note BlueZ's behaviour: leaving `Discoverable` (or the discoverable timeout
    /// running out) also turns page scan off, so `Connectable` is not connectable on
    /// many set-ups (see the README's quirks).
    ///
    /// # Errors
    /// As any call to bluetoothd; also reported by
    /// [`error_occurred`](Self::error_occurred).
    pub fn set_host_mode(&self, mode: HostMode) -> Result<(), BluezError> {
        let address = self.inner.address;
        let result = bluez::call(move |session| async move {
            let adapter = bluez::adapter(&session, address).await?;
            match mode {
                HostMode::PoweredOff => adapter.set_powered(false).await?,
                HostMode::Connectable | HostMode::Discoverable => {
                    adapter.set_powered(true).await?;
                    adapter
                        .set_discoverable(mode == HostMode::Discoverable)
                        .await?;
                }
            }
            Ok(())
        });
        if let Err(e) = &result {
            self.inner
                .error_occurred
                .emit(&LocalDeviceError::Bluez(e.clone()));
        }
        result
    }

    /// Powers the adapter on (Qt: `powerOn`): `Connectable` if it was off.
    ///
    /// # Errors
    /// As [`set_host_mode`](Self::set_host_mode).
    pub fn power_on(&self) -> Result<(), BluezError> {
        if self.host_mode() == HostMode::PoweredOff {
            self.set_host_mode(HostMode::Connectable)
        } else {
            Ok(())
        }
    }

    /// Emitted when the mode changes (Qt: `hostModeStateChanged`).
    pub fn host_mode_state_changed(&self) -> &Signal<HostMode> {
        &self.inner.host_mode_state_changed
    }

    /// Emitted when a device connects to this adapter (Qt: `deviceConnected`).
    pub fn device_connected(&self) -> &Signal<BluetoothAddress> {
        &self.inner.device_connected
    }

    /// Emitted when a device's last connection to this adapter ends (Qt:
    /// `deviceDisconnected`).
    pub fn device_disconnected(&self) -> &Signal<BluetoothAddress> {
        &self.inner.device_disconnected
    }

    /// Asks for `address` to be brought to `pairing` (Qt: `requestPairing`): pairs (and
    /// sets bluetoothd's `Trusted` for [`Pairing::AuthorizedPaired`], clears it for
    /// [`Pairing::Paired`]), or for [`Pairing::Unpaired`] removes the bond and
    /// bluetoothd's record of the device. Returns at once; the outcome arrives as
    /// [`pairing_finished`](Self::pairing_finished) or as
    /// [`error_occurred`](Self::error_occurred) with [`LocalDeviceError::Pairing`],
    /// within [`PAIRING_TIMEOUT`].
    ///
    /// The questions of the pairing (a PIN, a passkey, a confirmation) go to this
    /// program's [`PairingAgent`](crate::PairingAgent) if it has one. Without one,
    /// bluetoothd pairs as a device with no input and no output: Just Works where the
    /// peer allows it, a refusal ([`PairingError::NoAgent`]) where it wants more.
    /// Questions the peer's side asks go to the agent of the peer's bluetoothd.
    ///
    /// # Errors
    /// [`PairingError::InProgress`] if a request of this `LocalDevice` for `address` is
    /// still running; [`PairingError::UnknownDevice`] for the null address. Nothing is
    /// then changed or emitted.
    pub fn request_pairing(
        &self,
        address: BluetoothAddress,
        pairing: Pairing,
    ) -> Result<(), PairingError> {
        if address.is_null() {
            return Err(PairingError::UnknownDevice);
        }
        if !self.inner.pairing.borrow_mut().insert(address) {
            return Err(PairingError::InProgress);
        }
        let local = self.inner.address;
        let agent = crate::agent::registered();
        let emitter = self.inner.emitter.clone();
        let started = bluez::watch(move |session| async move {
            let result = match session {
                Ok(session) => pairing::request(session, local, address, pairing, agent).await,
                Err(e) => Err(PairingError::Bluez(e)),
            };
            let _ = emitter.emit(Event::PairingDone(address, result));
        });
        if let Err(e) = started {
            self.inner.pairing.borrow_mut().remove(&address);
            return Err(PairingError::Bluez(e));
        }
        Ok(())
    }

    /// The pairing of `address` with this adapter (Qt: `pairingStatus`):
    /// [`Pairing::Unpaired`] for a device bluetoothd does not know. Blocks for
    /// bluetoothd's answer.
    ///
    /// # Errors
    /// As any call to bluetoothd.
    pub fn pairing_status(&self, address: BluetoothAddress) -> Result<Pairing, BluezError> {
        let local = self.inner.address;
        bluez::call(move |session| pairing::status(session, local, address))
    }

    /// Emitted when a [`request_pairing`](Self::request_pairing) succeeds, with the
    /// device and the pairing it now has (Qt: `pairingFinished`).
    pub fn pairing_finished(&self) -> &Signal<(BluetoothAddress, Pairing)> {
        &self.inner.pairing_finished
    }

    /// Emitted when a pairing request, a call to bluetoothd or the watch fails (Qt:
    /// `errorOccurred`).
    pub fn error_occurred(&self) -> &Signal<LocalDeviceError> {
        &self.inner.error_occurred
    }
}

/// On the helper thread: subscribes to the adapter's property changes and every
/// device's `Connected` property (devices added later too), sends the state read after
/// subscribing through `ready`, then reports changes until `stop`'s sender is dropped.
async fn watch_adapter(
    session: Result<bluer::Session, BluezError>,
    address: BluetoothAddress,
    emitter: RemoteEmitter<Event>,
    stop: watch::Receiver<()>,
    ready: std::sync::mpsc::SyncSender<Result<Snapshot, BluezError>>,
) {
    let setup = async {
        let session = session?;
        let adapter = bluez::adapter(&session, address).await?;
        let events = adapter.events().await?;
        let mut devices = Vec::new();
        for device in adapter.device_addresses().await? {
            let device = adapter.device(device)?;
            let events = device.events().await?;
            devices.push((device, events));
        }
        let mut connected = Vec::new();
        // Cloned out first: the streams beside them are not Sync, so no reference to
        // `devices` may be held across an await.
        let handles: Vec<bluer::Device> = devices.iter().map(|(d, _)| d.clone()).collect();
        for device in handles {
            if device.is_connected().await? {
                connected.push(from_bluer(device.address()));
            }
        }
        let snapshot = Snapshot {
            address: from_bluer(adapter.address().await?),
            name: adapter.alias().await?,
            powered: adapter.is_powered().await?,
            discoverable: adapter.is_discoverable().await?,
            connected,
        };
        Ok::<_, BluezError>((adapter, events, devices, snapshot))
    };
    let setup = tokio::time::timeout(bluez::CALL_TIMEOUT, setup)
        .await
        .unwrap_or(Err(BluezError::Timeout));
    let (adapter, events, devices, snapshot) = match setup {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(snapshot)).is_err() {
        return;
    }
    for (device, events) in devices {
        tokio::spawn(watch_device(
            device,
            Box::pin(events),
            emitter.clone(),
            stop.clone(),
            false,
        ));
    }
    let mut stop_adapter = stop.clone();
    let mut events = Box::pin(events);
    loop {
        let event = tokio::select! {
            _ = stop_adapter.changed() => return,
            e = next(&mut events) => e,
        };
        let Some(event) = event else {
            // The adapter left bluetoothd (removed, or bluetoothd restarted).
            let _ = emitter.emit(Event::Failed(BluezError::NoAdapter));
            return;
        };
        let report = match event {
            bluer::AdapterEvent::PropertyChanged(bluer::AdapterProperty::Powered(on)) => {
                Event::Powered(on)
            }
            bluer::AdapterEvent::PropertyChanged(bluer::AdapterProperty::Discoverable(on)) => {
                Event::Discoverable(on)
            }
            bluer::AdapterEvent::DeviceAdded(device) => {
                // A device bluetoothd meets for the first time, often because it just
                // connected: subscribe, then check its state.
                if let Ok(device) = adapter.device(device) {
                    if let Ok(events) = device.events().await {
                        tokio::spawn(watch_device(
                            device,
                            Box::pin(events),
                            emitter.clone(),
                            stop.clone(),
                            true,
                        ));
                    }
                }
                continue;
            }
            _ => continue,
        };
        if emitter.emit(report).is_err() {
            return;
        }
    }
}

/// Reports `device`'s `Connected` changes; with `check`, its state right away too (the
/// receiving side ignores a state it already has).
async fn watch_device<S>(
    device: bluer::Device,
    mut events: std::pin::Pin<Box<S>>,
    emitter: RemoteEmitter<Event>,
    mut stop: watch::Receiver<()>,
    check: bool,
) where
    S: futures_core::Stream<Item = bluer::DeviceEvent> + ?Sized,
{
    let address = from_bluer(device.address());
    if check {
        if let Ok(on) = device.is_connected().await {
            if emitter.emit(Event::Connected(address, on)).is_err() {
                return;
            }
        }
    }
    loop {
        let event = tokio::select! {
            _ = stop.changed() => return,
            e = next(&mut events) => e,
        };
        match event {
            None => return,
            Some(bluer::DeviceEvent::PropertyChanged(bluer::DeviceProperty::Connected(on))) => {
                if emitter.emit(Event::Connected(address, on)).is_err() {
                    return;
                }
            }
            Some(_) => {}
        }
    }
}
