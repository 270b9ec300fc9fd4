//! [`DeviceDiscoveryAgent`] (Qt's `QBluetoothDeviceDiscoveryAgent`): inquiry through
//! bluetoothd, results as signals on the loop.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use bitflags::bitflags;
use sigloop_core::{LoopHandle, RemoteEmitter, Signal, Timer};
use tokio::sync::watch;

use crate::bluez::{self, next, BluezError};
use crate::{BluetoothAddress, CoreConfigurations, DeviceInfo};

/// How long a discovery runs unless told otherwise (Qt's default is 40 s for Bluetooth
/// Low Energy; classic inquiry on BlueZ runs until stopped).
pub const DEFAULT_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(40);

bitflags! {
    /// Which discovery to run (Qt's `QBluetoothDeviceDiscoveryAgent::DiscoveryMethods`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct DiscoveryMethods: u8 {
        /// Classic inquiry (Qt: `ClassicMethod`).
        const CLASSIC = 0x01;
        /// LE scanning (Qt: `LowEnergyMethod`).
        const LOW_ENERGY = 0x02;
    }
}

bitflags! {
    /// What changed in a [`DeviceDiscoveryAgent::device_updated`] report (Qt's
    /// `QBluetoothDeviceInfo::Fields`). Empty when only other properties changed (the
    /// name, the service UUIDs).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct UpdatedFields: u16 {
        /// The signal strength (Qt: `Field::RSSI`).
        const RSSI = 0x0001;
        /// The manufacturer data (Qt: `Field::ManufacturerData`).
        const MANUFACTURER_DATA = 0x0002;
        /// The service data (Qt: `Field::ServiceData`).
        const SERVICE_DATA = 0x0004;
    }
}

/// [`DeviceDiscoveryAgent::start_with`] was given no method (Qt reports
/// `UnsupportedDiscoveryMethod`); nothing was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsupportedDiscoveryMethod;

impl fmt::Display for UnsupportedDiscoveryMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no discovery method given")
    }
}

impl std::error::Error for UnsupportedDiscoveryMethod {}

#[derive(Debug)]
enum Event {
    /// bluetoothd answered the start: the run's timeout counts from here.
    Started,
    Device(DeviceInfo),
    Failed(BluezError),
    Ended,
}

struct Inner {
    adapter: BluetoothAddress,
    timeout: Cell<Duration>,
    timer: Timer,
    /// Counts starts, so events of an earlier run are told apart.
    run: Cell<u64>,
    methods: Cell<DiscoveryMethods>,
    stop: RefCell<Option<watch::Sender<()>>>,
    seen: RefCell<BTreeSet<BluetoothAddress>>,
    found: RefCell<Vec<DeviceInfo>>,
    error: RefCell<Option<BluezError>>,
    events: Signal<(u64, Event)>,
    device_discovered: Signal<DeviceInfo>,
    device_updated: Signal<(DeviceInfo, UpdatedFields)>,
    finished: Signal<()>,
    canceled: Signal<()>,
    error_occurred: Signal<BluezError>,
    event_loop: sigloop_core::WeakLoopHandle,
}

/// Finds remote devices (Qt's `QBluetoothDeviceDiscoveryAgent`): classic inquiry, LE
/// scanning, or both, as bluetoothd runs them.
///
/// [`start`](Self::start) (both methods) or [`start_with`](Self::start_with) asks
/// bluetoothd to discover. Each device comes once through
/// [`device_discovered`](Self::device_discovered), then through
/// [`device_updated`](Self::device_updated) with the [`UpdatedFields`] that changed.
/// bluetoothd is asked for duplicate advertising data, so RSSI, manufacturer and service
/// data keep coming while an LE device advertises. The run ends with
/// [`finished`](Self::finished) after the [timeout](Self::set_discovery_timeout), with
/// [`canceled`](Self::canceled) after [`stop`](Self::stop), or with
/// [`error_occurred`](Self::error_occurred). Dropping the last handle stops a run without
/// a signal.
///
/// **What bluetoothd caches.** Every device bluetoothd knows (paired, connected, or seen
/// in the last minutes) is reported at the start of a run, in range or not: those come
/// with `rssi: None` and whatever advertising data was kept from before. A device heard
/// in this run has `rssi: Some(..)`; to list only devices that are around, keep those
/// (or wait for a `device_updated` with [`UpdatedFields::RSSI`]).
///
/// An LE-only run (`LOW_ENERGY`) reports only devices that speak LE as far as
/// bluetoothd tells (see [`DeviceInfo::core_configurations`]); a classic-only run only
/// those with BR/EDR.
#[must_use = "dropping the last handle of an agent stops its run"]
#[derive(Clone)]
pub struct DeviceDiscoveryAgent {
    inner: Rc<Inner>,
}

impl fmt::Debug for DeviceDiscoveryAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceDiscoveryAgent")
            .field("adapter", &self.inner.adapter)
            .field("active", &self.is_active())
            .field("found", &self.inner.found.borrow().len())
            .finish()
    }
}

impl DeviceDiscoveryAgent {
    /// An agent for the adapter `adapter` (the null address: bluetoothd's default
    /// adapter). Nothing runs until [`start`](Self::start).
    pub fn new(event_loop: &LoopHandle, adapter: BluetoothAddress) -> DeviceDiscoveryAgent {
        let timer = Timer::new(event_loop);
        timer.set_single_shot(true);
        let inner = Rc::new(Inner {
            adapter,
            timeout: Cell::new(DEFAULT_DISCOVERY_TIMEOUT),
            timer,
            run: Cell::new(0),
            methods: Cell::new(DiscoveryMethods::all()),
            stop: RefCell::new(None),
            seen: RefCell::new(BTreeSet::new()),
            found: RefCell::new(Vec::new()),
            error: RefCell::new(None),
            events: Signal::new(),
            device_discovered: Signal::new(),
            device_updated: Signal::new(),
            finished: Signal::new(),
            canceled: Signal::new(),
            error_occurred: Signal::new(),
            event_loop: event_loop.downgrade(),
        });
        let weak = Rc::downgrade(&inner);
        inner.events.connect(move |(run, event)| {
            if let Some(inner) = weak.upgrade() {
                DeviceDiscoveryAgent { inner }.on_event(*run, event);
            }
        });
        let weak = Rc::downgrade(&inner);
        inner.timer.timeout().connect(move |()| {
            if let Some(inner) = weak.upgrade() {
                DeviceDiscoveryAgent { inner }.end(None);
            }
        });
        DeviceDiscoveryAgent { inner }
    }

    /// Sets how long a run lasts (Qt: `setLowEnergyDiscoveryTimeout`), counted from when
    /// bluetoothd has started discovering, as Qt counts from StartDiscovery's answer;
    /// zero runs until [`stop`](Self::stop). Applies from the next start.
    pub fn set_discovery_timeout(&self, timeout: Duration) {
        self.inner.timeout.set(timeout);
    }

    /// The run length (Qt: `lowEnergyDiscoveryTimeout`).
    pub fn discovery_timeout(&self) -> Duration {
        self.inner.timeout.get()
    }

    /// Whether a run is going on (Qt: `isActive`).
    pub fn is_active(&self) -> bool {
        self.inner.stop.borrow().is_some()
    }

    /// The devices found in the current or last run, in order of discovery (Qt:
    /// `discoveredDevices`).
    pub fn discovered_devices(&self) -> Vec<DeviceInfo> {
        self.inner.found.borrow().clone()
    }

    /// The error that ended the last run, if one did (Qt: `error`).
    pub fn error(&self) -> Option<BluezError> {
        self.inner.error.borrow().clone()
    }

    /// The methods this platform supports: both (Qt: `supportedDiscoveryMethods`).
    pub fn supported_discovery_methods() -> DiscoveryMethods {
        DiscoveryMethods::all()
    }

    /// Starts a run with both methods (Qt: `start()`); a run already going on goes on.
    /// Errors (bluetoothd missing, the adapter off) arrive through
    /// [`error_occurred`](Self::error_occurred).
    pub fn start(&self) {
        let _ = self.start_with(DiscoveryMethods::all());
    }

    /// Starts a run with `methods` (Qt: `start(methods)`); a run already going on goes
    /// on with its own methods.
    ///
    /// # Errors
    /// [`UnsupportedDiscoveryMethod`] for an empty set; nothing starts.
    pub fn start_with(&self, methods: DiscoveryMethods) -> Result<(), UnsupportedDiscoveryMethod> {
        if methods.is_empty() {
            return Err(UnsupportedDiscoveryMethod);
        }
        if self.is_active() {
            return Ok(());
        }
        let inner = &self.inner;
        inner.methods.set(methods);
        let run = inner.run.get() + 1;
        inner.run.set(run);
        inner.seen.borrow_mut().clear();
        inner.found.borrow_mut().clear();
        inner.error.borrow_mut().take();
        let (stop, stopped) = watch::channel(());
        *inner.stop.borrow_mut() = Some(stop);
        // The timer starts once bluetoothd has started discovering (`Event::Started`), as
        // Qt's starts once StartDiscovery has returned: a slow answer (a loaded machine,
        // bluetoothd busy) does not eat into the run.
        inner.timer.set_interval(inner.timeout.get());
        let Some(event_loop) = inner.event_loop.upgrade() else {
            self.end(Some(BluezError::Runtime("the event loop is gone".into())));
            return Ok(());
        };
        let emitter = inner.events.remote_emitter(&event_loop);
        let adapter = inner.adapter;
        let started =
            bluez::watch(move |session| discover(session, adapter, methods, run, emitter, stopped));
        if let Err(e) = started {
            self.end(Some(e));
        }
        Ok(())
    }

    /// Stops the run (Qt: `stop`); emits [`canceled`](Self::canceled) if one was going
    /// on.
    pub fn stop(&self) {
        if self.is_active() {
            self.halt();
            self.inner.canceled.emit(&());
        }
    }

    fn halt(&self) {
        self.inner.timer.stop();
        let stop = self.inner.stop.borrow_mut().take();
        drop(stop);
    }

    /// Ends the run: `finished`, or `error_occurred` with `error`.
    fn end(&self, error: Option<BluezError>) {
        if !self.is_active() {
            return;
        }
        self.halt();
        match error {
            None => self.inner.finished.emit(&()),
            Some(e) => {
                *self.inner.error.borrow_mut() = Some(e.clone());
                self.inner.error_occurred.emit(&e);
            }
        }
    }

    fn on_event(&self, run: u64, event: &Event) {
        if run != self.inner.run.get() || !self.is_active() {
            return;
        }
        match event {
            Event::Started => {
                if !self.inner.timer.interval().is_zero() {
                    self.inner.timer.restart();
                }
            }
            Event::Device(info) => {
                let methods = self.inner.methods.get();
                let core = info.core_configurations;
                let wanted = (methods.contains(DiscoveryMethods::LOW_ENERGY)
                    && core.contains(CoreConfigurations::LOW_ENERGY))
                    || (methods.contains(DiscoveryMethods::CLASSIC)
                        && core.contains(CoreConfigurations::BASE_RATE))
                    || (methods == DiscoveryMethods::all() && core.is_empty());
                if !wanted {
                    return;
                }
                let new = self.inner.seen.borrow_mut().insert(info.address);
                let previous = {
                    let mut found = self.inner.found.borrow_mut();
                    match found.iter_mut().find(|d| d.address == info.address) {
                        Some(d) => Some(std::mem::replace(d, info.clone())),
                        None => {
                            found.push(info.clone());
                            None
                        }
                    }
                };
                if new {
                    self.inner.device_discovered.emit(info);
                } else if let Some(previous) = previous {
                    if previous == *info {
                        return;
                    }
                    let mut fields = UpdatedFields::empty();
                    if previous.rssi != info.rssi {
                        fields |= UpdatedFields::RSSI;
                    }
                    if previous.manufacturer_data != info.manufacturer_data {
                        fields |= UpdatedFields::MANUFACTURER_DATA;
                    }
                    if previous.service_data != info.service_data {
                        fields |= UpdatedFields::SERVICE_DATA;
                    }
                    self.inner.device_updated.emit(&(info.clone(), fields));
                }
            }
            Event::Failed(e) => self.end(Some(e.clone())),
            Event::Ended => self.end(None),
        }
    }

    /// Emitted for each device, once per run (Qt: `deviceDiscovered`).
    pub fn device_discovered(&self) -> &Signal<DeviceInfo> {
        &self.inner.device_discovered
    }

    /// Emitted when a device already reported changes, with what changed (Qt:
    /// `deviceUpdated`).
    pub fn device_updated(&self) -> &Signal<(DeviceInfo, UpdatedFields)> {
        &self.inner.device_updated
    }

    /// Emitted when a run ends by its timeout or bluetoothd ends it (Qt: `finished`).
    pub fn finished(&self) -> &Signal<()> {
        &self.inner.finished
    }

    /// Emitted when [`stop`](Self::stop) ends a run (Qt: `canceled`).
    pub fn canceled(&self) -> &Signal<()> {
        &self.inner.canceled
    }

    /// Emitted when a run fails (Qt: `errorOccurred`).
    pub fn error_occurred(&self) -> &Signal<BluezError> {
        &self.inner.error_occurred
    }
}

/// A discovery session's events.
type Events = std::pin::Pin<Box<dyn futures_core::Stream<Item = bluer::AdapterEvent> + Send>>;

/// How often an LE scan is started anew. A controller that filters duplicate
/// advertising reports (btvirt does, as do real ones unless told otherwise) reports each
/// advertiser once per scan start, and Linux 6.1 drops a report that arrives before its
/// discovery state is set (about one scan start in four on the bed, where each
/// advertiser is reported at once): a new scan gets that report, and RSSI updates, again.
const LE_RESCAN: Duration = Duration::from_secs(5);

/// Starts discovery again after the previous session's stream was dropped; bluetoothd
/// may still be stopping that one (`InProgress`) for a moment.
async fn restart(adapter: &bluer::Adapter) -> Result<Events, BluezError> {
    let deadline = tokio::time::Instant::now() + bluez::CALL_TIMEOUT;
    loop {
        match adapter.discover_devices_with_changes().await {
            Ok(events) => return Ok(Box::pin(events)),
            Err(e)
                if tokio::time::Instant::now() < deadline
                    && e.kind == bluer::ErrorKind::InProgress =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A device heard in a run of one method (it has an RSSI) was heard on that transport:
/// its core configuration says so. bluetoothd shows no advertising flags unless run with
/// `--experimental` (its `AdvertisingFlags` property), so an LE device that advertises
/// only flags, a name and UUIDs (a typical sensor) otherwise looks like neither, and an
/// LE-only run would never report it.
fn heard_on(info: &mut DeviceInfo, methods: DiscoveryMethods) {
    if info.rssi.is_none() {
        return;
    }
    if methods == DiscoveryMethods::LOW_ENERGY {
        info.core_configurations |= CoreConfigurations::LOW_ENERGY;
    } else if methods == DiscoveryMethods::CLASSIC {
        info.core_configurations |= CoreConfigurations::BASE_RATE;
    }
}

/// On the helper thread: one discovery session, until `stop`'s sender is dropped.
async fn discover(
    session: Result<bluer::Session, BluezError>,
    adapter: BluetoothAddress,
    methods: DiscoveryMethods,
    run: u64,
    emitter: RemoteEmitter<(u64, Event)>,
    mut stop: watch::Receiver<()>,
) {
    let setup = async {
        let session = session?;
        let adapter = bluez::adapter(&session, adapter).await?;
        let transport = if methods == DiscoveryMethods::LOW_ENERGY {
            bluer::DiscoveryTransport::Le
        } else if methods == DiscoveryMethods::CLASSIC {
            bluer::DiscoveryTransport::BrEdr
        } else {
            bluer::DiscoveryTransport::Auto
        };
        // Duplicate data: RSSI and advertising data updates keep coming.
        adapter
            .set_discovery_filter(bluer::DiscoveryFilter {
                transport,
                duplicate_data: true,
                ..Default::default()
            })
            .await?;
        let events: Events = Box::pin(adapter.discover_devices_with_changes().await?);
        Ok::<_, BluezError>((adapter, events))
    };
    let rescan = methods.contains(DiscoveryMethods::LOW_ENERGY);
    let setup = tokio::time::timeout(bluez::CALL_TIMEOUT, setup)
        .await
        .unwrap_or(Err(BluezError::Timeout));
    let (adapter, events) = match setup {
        Ok(s) => s,
        Err(e) => {
            let _ = emitter.emit((run, Event::Failed(e)));
            return;
        }
    };
    if emitter.emit((run, Event::Started)).is_err() {
        return;
    }
    let mut events = events;
    let mut cycle = tokio::time::interval_at(tokio::time::Instant::now() + LE_RESCAN, LE_RESCAN);
    loop {
        let event = tokio::select! {
            _ = stop.changed() => return,
            e = next(&mut events) => e,
            _ = cycle.tick(), if rescan => {
                // A new LE scan: bluetoothd stops the old one when its stream goes.
                drop(events);
                match restart(&adapter).await {
                    Ok(e) => events = e,
                    Err(e) => {
                        let _ = emitter.emit((run, Event::Failed(e)));
                        return;
                    }
                }
                continue;
            }
        };
        let report = match event {
            None => Event::Ended,
            Some(bluer::AdapterEvent::DeviceAdded(address)) => {
                let Ok(device) = adapter.device(address) else {
                    continue;
                };
                match DeviceInfo::read(&device).await {
                    Ok(mut info) => {
                        heard_on(&mut info, methods);
                        Event::Device(info)
                    }
                    // Gone again before it could be read.
                    Err(_) => continue,
                }
            }
            Some(_) => continue,
        };
        let ended = matches!(report, Event::Ended);
        if emitter.emit((run, report)).is_err() || ended {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::low_energy::RemoteAddressType;

    fn info(rssi: Option<i16>) -> DeviceInfo {
        DeviceInfo {
            address: BluetoothAddress::ANY,
            name: String::new(),
            class: 0,
            rssi,
            service_uuids: Vec::new(),
            paired: false,
            address_type: RemoteAddressType::Public,
            core_configurations: CoreConfigurations::empty(),
            tx_power: None,
            manufacturer_data: Default::default(),
            service_data: Default::default(),
        }
    }

    #[test]
    fn a_device_heard_in_a_one_method_run_speaks_that_method() {
        let mut i = info(Some(-40));
        heard_on(&mut i, DiscoveryMethods::LOW_ENERGY);
        assert_eq!(i.core_configurations, CoreConfigurations::LOW_ENERGY);
        let mut i = info(Some(-40));
        heard_on(&mut i, DiscoveryMethods::CLASSIC);
        assert_eq!(i.core_configurations, CoreConfigurations::BASE_RATE);
        // Both methods: the transport it was heard on is not known.
        let mut i = info(Some(-40));
        heard_on(&mut i, DiscoveryMethods::all());
        assert_eq!(i.core_configurations, CoreConfigurations::empty());
        // Not heard in this run (known from before): nothing to go by.
        let mut i = info(None);
        heard_on(&mut i, DiscoveryMethods::LOW_ENERGY);
        assert_eq!(i.core_configurations, CoreConfigurations::empty());
    }
}
