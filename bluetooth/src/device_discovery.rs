//! [`DeviceDiscoveryAgent`] (Qt's `QBluetoothDeviceDiscoveryAgent`): inquiry through
//! bluetoothd, results as signals on the loop.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use sigloop_core::{LoopHandle, RemoteEmitter, Signal, Timer};
use tokio::sync::watch;

use crate::bluez::{self, next, BluezError};
use crate::{BluetoothAddress, DeviceInfo};

/// How long a discovery runs unless told otherwise (Qt's default is 40 s for Bluetooth
/// Low Energy; classic inquiry on BlueZ runs until stopped).
pub const DEFAULT_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(40);

#[derive(Debug)]
enum Event {
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
    stop: RefCell<Option<watch::Sender<()>>>,
    seen: RefCell<BTreeSet<BluetoothAddress>>,
    found: RefCell<Vec<DeviceInfo>>,
    error: RefCell<Option<BluezError>>,
    events: Signal<(u64, Event)>,
    device_discovered: Signal<DeviceInfo>,
    device_updated: Signal<DeviceInfo>,
    finished: Signal<()>,
    canceled: Signal<()>,
    error_occurred: Signal<BluezError>,
    event_loop: sigloop_core::WeakLoopHandle,
}

/// Finds remote devices (Qt's `QBluetoothDeviceDiscoveryAgent`, classic and LE as
/// bluetoothd runs them).
///
/// [`start`](Self::start) asks bluetoothd to discover; devices it already knows come
/// first, then those found by inquiry, each once through
/// [`device_discovered`](Self::device_discovered) and again through
/// [`device_updated`](Self::device_updated) when their name, RSSI or services change.
/// The run ends with [`finished`](Self::finished) after the
/// [timeout](Self::set_discovery_timeout), with [`canceled`](Self::canceled) after
/// [`stop`](Self::stop), or with [`error_occurred`](Self::error_occurred). Dropping the
/// last handle stops a run without a signal.
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

    /// Sets how long a run lasts (Qt: `setLowEnergyDiscoveryTimeout`); zero runs until
    /// [`stop`](Self::stop). Applies from the next start.
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

    /// Starts a run (Qt: `start`); a run already going on goes on. Errors (bluetoothd
    /// missing, the adapter off) arrive through
    /// [`error_occurred`](Self::error_occurred).
    pub fn start(&self) {
        if self.is_active() {
            return;
        }
        let inner = &self.inner;
        let run = inner.run.get() + 1;
        inner.run.set(run);
        inner.seen.borrow_mut().clear();
        inner.found.borrow_mut().clear();
        inner.error.borrow_mut().take();
        let (stop, stopped) = watch::channel(());
        *inner.stop.borrow_mut() = Some(stop);
        let timeout = inner.timeout.get();
        if !timeout.is_zero() {
            inner.timer.start(timeout);
        }
        let Some(event_loop) = inner.event_loop.upgrade() else {
            return self.end(Some(BluezError::Runtime("the event loop is gone".into())));
        };
        let emitter = inner.events.remote_emitter(&event_loop);
        let adapter = inner.adapter;
        let started =
            bluez::watch(move |session| discover(session, adapter, run, emitter, stopped));
        if let Err(e) = started {
            self.end(Some(e));
        }
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
            Event::Device(info) => {
                let new = self.inner.seen.borrow_mut().insert(info.address);
                {
                    let mut found = self.inner.found.borrow_mut();
                    match found.iter_mut().find(|d| d.address == info.address) {
                        Some(d) => *d = info.clone(),
                        None => found.push(info.clone()),
                    }
                }
                if new {
                    self.inner.device_discovered.emit(info);
                } else {
                    self.inner.device_updated.emit(info);
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

    /// Emitted when a device already reported changes (Qt: `deviceUpdated`).
    pub fn device_updated(&self) -> &Signal<DeviceInfo> {
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

/// On the helper thread: one discovery session, until `stop`'s sender is dropped.
async fn discover(
    session: Result<bluer::Session, BluezError>,
    adapter: BluetoothAddress,
    run: u64,
    emitter: RemoteEmitter<(u64, Event)>,
    mut stop: watch::Receiver<()>,
) {
    let setup = async {
        let session = session?;
        let adapter = bluez::adapter(&session, adapter).await?;
        let events = adapter.discover_devices_with_changes().await?;
        Ok::<_, BluezError>((adapter, events))
    };
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
    let mut events = Box::pin(events);
    loop {
        let event = tokio::select! {
            _ = stop.changed() => return,
            e = next(&mut events) => e,
        };
        let report = match event {
            None => Event::Ended,
            Some(bluer::AdapterEvent::DeviceAdded(address)) => {
                let Ok(device) = adapter.device(address) else {
                    continue;
                };
                match DeviceInfo::read(&device).await {
                    Ok(info) => Event::Device(info),
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
