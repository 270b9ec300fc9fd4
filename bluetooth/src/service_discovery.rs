//! [`ServiceDiscoveryAgent`] (Qt's `QBluetoothServiceDiscoveryAgent`): SDP discovery of
//! one remote device or of every device bluetoothd knows, with our own SDP client.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::rc::{Rc, Weak};

use sigloop_core::{LoopHandle, Signal, WeakLoopHandle};
use uuid::Uuid;

use crate::bluez::{self, from_bluer, BluezError};
use crate::sdp::{SearchError, ServiceSearch};
use crate::uuids::{protocol, service_class};
use crate::{BluetoothAddress, ServiceInfo};

/// Why a service discovery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceDiscoveryError {
    /// The SDP exchange with the remote device failed.
    Search(SearchError),
    /// bluetoothd could not list the known devices.
    Bluez(BluezError),
}

impl fmt::Display for ServiceDiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceDiscoveryError::Search(e) => e.fmt(f),
            ServiceDiscoveryError::Bluez(e) => e.fmt(f),
        }
    }
}

impl Error for ServiceDiscoveryError {}

type DeviceList = Result<Vec<BluetoothAddress>, BluezError>;

struct Inner {
    event_loop: WeakLoopHandle,
    adapter: BluetoothAddress,
    remote: Cell<BluetoothAddress>,
    filter: RefCell<Vec<Uuid>>,
    run: Cell<u64>,
    active: Cell<bool>,
    queue: RefCell<VecDeque<BluetoothAddress>>,
    search: RefCell<Option<ServiceSearch>>,
    found: RefCell<Vec<ServiceInfo>>,
    error: RefCell<Option<ServiceDiscoveryError>>,
    devices: Signal<(u64, DeviceList)>,
    service_discovered: Signal<ServiceInfo>,
    finished: Signal<()>,
    canceled: Signal<()>,
    error_occurred: Signal<ServiceDiscoveryError>,
}

/// Finds the services of remote devices by SDP (Qt's `QBluetoothServiceDiscoveryAgent`,
/// full discovery).
///
/// With a [remote address](Self::set_remote_address), it asks that device; without,
/// every device bluetoothd knows on the adapter, one after another (devices that do not
/// answer are skipped). Each record arrives through
/// [`service_discovered`](Self::service_discovered); the run ends with
/// [`finished`](Self::finished), [`canceled`](Self::canceled) after
/// [`stop`](Self::stop), or [`error_occurred`](Self::error_occurred) when the one device
/// asked cannot be reached. A [UUID filter](Self::set_uuid_filter) keeps records holding
/// any of its UUIDs; without one, the public browse group is listed.
///
/// The SDP client is this crate's own: a single device is asked without bluetoothd,
/// and without having been discovered first.
#[derive(Clone)]
pub struct ServiceDiscoveryAgent {
    inner: Rc<Inner>,
}

impl fmt::Debug for ServiceDiscoveryAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceDiscoveryAgent")
            .field("remote", &self.inner.remote.get())
            .field("active", &self.is_active())
            .field("found", &self.inner.found.borrow().len())
            .finish()
    }
}

impl ServiceDiscoveryAgent {
    /// An agent asking from the adapter `adapter` (the null address lets the kernel
    /// choose) (Qt: `QBluetoothServiceDiscoveryAgent(deviceAdapter)`).
    pub fn new(event_loop: &LoopHandle, adapter: BluetoothAddress) -> ServiceDiscoveryAgent {
        let inner = Rc::new(Inner {
            event_loop: event_loop.downgrade(),
            adapter,
            remote: Cell::new(BluetoothAddress::ANY),
            filter: RefCell::new(Vec::new()),
            run: Cell::new(0),
            active: Cell::new(false),
            queue: RefCell::new(VecDeque::new()),
            search: RefCell::new(None),
            found: RefCell::new(Vec::new()),
            error: RefCell::new(None),
            devices: Signal::new(),
            service_discovered: Signal::new(),
            finished: Signal::new(),
            canceled: Signal::new(),
            error_occurred: Signal::new(),
        });
        let weak = Rc::downgrade(&inner);
        inner.devices.connect(move |(run, list)| {
            if let Some(inner) = weak.upgrade() {
                ServiceDiscoveryAgent { inner }.on_devices(*run, list);
            }
        });
        ServiceDiscoveryAgent { inner }
    }

    /// Restricts discovery to one device (Qt: `setRemoteAddress`); the null address
    /// means every known device. Applies from the next start.
    pub fn set_remote_address(&self, address: BluetoothAddress) {
        self.inner.remote.set(address);
    }

    /// The device asked; null for every known device (Qt: `remoteAddress`).
    pub fn remote_address(&self) -> BluetoothAddress {
        self.inner.remote.get()
    }

    /// Keeps only records that hold one of `uuids` (Qt: `setUuidFilter`); empty keeps
    /// every browsable record.
    pub fn set_uuid_filter(&self, uuids: &[Uuid]) {
        *self.inner.filter.borrow_mut() = uuids.to_vec();
    }

    /// The filter (Qt: `uuidFilter`).
    pub fn uuid_filter(&self) -> Vec<Uuid> {
        self.inner.filter.borrow().clone()
    }

    /// Whether a run is going on (Qt: `isActive`).
    pub fn is_active(&self) -> bool {
        self.inner.active.get()
    }

    /// The records found in the current or last run (Qt: `discoveredServices`).
    pub fn discovered_services(&self) -> Vec<ServiceInfo> {
        self.inner.found.borrow().clone()
    }

    /// The error that ended the last run, if one did (Qt: `error`).
    pub fn error(&self) -> Option<ServiceDiscoveryError> {
        self.inner.error.borrow().clone()
    }

    /// Starts a run (Qt: `start(FullDiscovery)`); one going on goes on.
    pub fn start(&self) {
        if self.is_active() {
            return;
        }
        let inner = &self.inner;
        let run = inner.run.get() + 1;
        inner.run.set(run);
        inner.active.set(true);
        inner.found.borrow_mut().clear();
        inner.error.borrow_mut().take();
        let remote = inner.remote.get();
        if !remote.is_null() {
            inner.queue.borrow_mut().push_back(remote);
            return self.next_device();
        }
        let Some(event_loop) = inner.event_loop.upgrade() else {
            return self.end(Some(ServiceDiscoveryError::Bluez(BluezError::Runtime(
                "the event loop is gone".into(),
            ))));
        };
        let emitter = inner.devices.remote_emitter(&event_loop);
        let adapter = inner.adapter;
        bluez::spawn(
            move |session| async move {
                let adapter = bluez::adapter(&session, adapter).await?;
                let devices = adapter.device_addresses().await?;
                Ok(devices.into_iter().map(from_bluer).collect())
            },
            move |list| {
                let _ = emitter.emit((run, list));
            },
        );
    }

    fn on_devices(&self, run: u64, list: &DeviceList) {
        if run != self.inner.run.get() || !self.is_active() {
            return;
        }
        match list {
            Ok(devices) => {
                self.inner
                    .queue
                    .borrow_mut()
                    .extend(devices.iter().copied());
                self.next_device();
            }
            Err(e) => self.end(Some(ServiceDiscoveryError::Bluez(e.clone()))),
        }
    }

    /// Asks the next device in the queue, or finishes.
    fn next_device(&self) {
        let Some(remote) = self.inner.queue.borrow_mut().pop_front() else {
            return self.end(None);
        };
        let Some(event_loop) = self.inner.event_loop.upgrade() else {
            return self.end(None);
        };
        let filtered = !self.inner.filter.borrow().is_empty();
        // With a filter, every record over L2CAP (browsable or not), filtered here: an
        // SDP pattern matches records holding *all* its UUIDs, the filter any of them.
        let pattern = if filtered {
            protocol::L2CAP
        } else {
            service_class::PUBLIC_BROWSE_GROUP
        };
        let weak: Weak<Inner> = Rc::downgrade(&self.inner);
        let run = self.inner.run.get();
        let search = ServiceSearch::start(
            &event_loop,
            self.inner.adapter,
            remote,
            &[pattern],
            move |result| {
                if let Some(inner) = weak.upgrade() {
                    ServiceDiscoveryAgent { inner }.on_search(run, result);
                }
            },
        );
        match search {
            Ok(search) => {
                let previous = self.inner.search.borrow_mut().replace(search);
                drop(previous);
            }
            Err(e) => self.on_search(run, Err(e)),
        }
    }

    fn on_search(&self, run: u64, result: Result<Vec<ServiceInfo>, SearchError>) {
        if run != self.inner.run.get() || !self.is_active() {
            return;
        }
        let one_device = !self.inner.remote.get().is_null();
        match result {
            Ok(records) => {
                let filter = self.inner.filter.borrow().clone();
                for record in records {
                    let wanted = filter.is_empty()
                        || filter
                            .iter()
                            .any(|u| record.attributes().values().any(|v| v.contains_uuid(*u)));
                    if !wanted {
                        continue;
                    }
                    self.inner.found.borrow_mut().push(record.clone());
                    self.inner.service_discovered.emit(&record);
                    if !self.is_active() || run != self.inner.run.get() {
                        // A slot stopped (or restarted) the run.
                        return;
                    }
                }
            }
            Err(e) if one_device => return self.end(Some(ServiceDiscoveryError::Search(e))),
            Err(e) => log::debug!("service discovery: skipping a device: {e}"),
        }
        self.next_device();
    }

    /// Stops the run (Qt: `stop`); emits [`canceled`](Self::canceled) if one was going
    /// on.
    pub fn stop(&self) {
        if self.is_active() {
            self.halt();
            self.inner.canceled.emit(&());
        }
    }

    /// Clears what was found (Qt: `clear`); stops a run first.
    pub fn clear(&self) {
        self.stop();
        self.inner.found.borrow_mut().clear();
    }

    fn halt(&self) {
        self.inner.active.set(false);
        self.inner.queue.borrow_mut().clear();
        let search = self.inner.search.borrow_mut().take();
        drop(search);
    }

    fn end(&self, error: Option<ServiceDiscoveryError>) {
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

    /// Emitted for each record found (Qt: `serviceDiscovered`).
    pub fn service_discovered(&self) -> &Signal<ServiceInfo> {
        &self.inner.service_discovered
    }

    /// Emitted when a run has asked every device (Qt: `finished`).
    pub fn finished(&self) -> &Signal<()> {
        &self.inner.finished
    }

    /// Emitted when [`stop`](Self::stop) ends a run (Qt: `canceled`).
    pub fn canceled(&self) -> &Signal<()> {
        &self.inner.canceled
    }

    /// Emitted when a run fails (Qt: `errorOccurred`).
    pub fn error_occurred(&self) -> &Signal<ServiceDiscoveryError> {
        &self.inner.error_occurred
    }
}
