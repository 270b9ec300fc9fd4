//! [`LowEnergyService`] (Qt's `QLowEnergyService`): a remote GATT service, its
//! characteristics and descriptors, reads, writes and notifications.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use sigloop_core::{Interest, Readiness, Signal, SocketNotifier};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::characteristic::CLIENT_CHARACTERISTIC_CONFIGURATION;
use super::controller::{ControllerInner, LowEnergyController};
use super::gatt::{self, CharData, Event, NotifySource, Once, Path};
use super::writers::Writers;
use super::{
    DiscoveryMode, LowEnergyCharacteristic, LowEnergyDescriptor, PropertyTypes, RequestError,
    ServiceError, ServiceState, WriteMode,
};
use crate::bluez::{self, BluezError};

/// Whether the peer of a unix socket hung up (a poll that does not wait).
fn hung_up(socket: &UnixDatagram) -> bool {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(socket, PollFlags::RDHUP)];
    match poll(&mut fds, Some(&rustix::time::Timespec::default())) {
        Ok(_) => fds[0]
            .revents()
            .intersects(PollFlags::HUP | PollFlags::RDHUP | PollFlags::ERR),
        Err(_) => true,
    }
}

/// The longest attribute value (Bluetooth Core, Vol 3, Part F, 3.2.9).
pub const MAX_ATTRIBUTE_LENGTH: usize = 512;
/// The largest notification a notify socket datagram can carry (an ATT MTU of 517).
const NOTIFY_BUFFER: usize = 517;

/// How a characteristic's notifications reach the service; each with the number of the
/// request that made it, so that the answers and ends of an earlier session are told
/// apart from the current one's.
enum Notify {
    /// Asked for; the helper has not answered yet. Dropping the sender cancels.
    Pending(u64, oneshot::Sender<()>),
    /// bluetoothd's notify socket, read on the loop; dropping it ends the session.
    Socket(u64, #[allow(dead_code)] SocketNotifier),
    /// `StartNotify` on the helper; dropping the sender ends it.
    Stream(u64, #[allow(dead_code)] oneshot::Sender<()>),
}

impl Notify {
    fn session(&self) -> u64 {
        match self {
            Notify::Pending(s, _) | Notify::Socket(s, _) | Notify::Stream(s, _) => *s,
        }
    }
}

/// Datagrams read from a notify socket per wake at most; the rest wait for the next
/// iteration (the notifier is level-triggered), so other sources are not starved.
const DRAIN_BATCH: usize = 256;

pub(crate) struct ServiceShared {
    controller: Weak<ControllerInner>,
    pub(crate) link: u64,
    pub(crate) id: u16,
    pub(crate) uuid: Uuid,
    state: Cell<ServiceState>,
    error: Cell<Option<ServiceError>>,
    error_string: RefCell<String>,
    pub(crate) chars: RefCell<Vec<CharData>>,
    notify: RefCell<HashMap<u16, Notify>>,
    /// Numbers notification requests.
    notify_session: Cell<u64>,
    /// This service's reads and writes, run on the helper thread one at a time in call
    /// order (as Qt's BlueZ backend runs its GATT jobs), so their results and signals
    /// come in call order too.
    requests: bluez::CallQueue,
    /// The sockets for writes without response (`AcquireWrite`) the requests hold.
    writers: Arc<Writers>,
    state_changed: Signal<ServiceState>,
    characteristic_changed: Signal<(LowEnergyCharacteristic, Vec<u8>)>,
    characteristic_read: Signal<(LowEnergyCharacteristic, Vec<u8>)>,
    characteristic_written: Signal<(LowEnergyCharacteristic, Vec<u8>)>,
    descriptor_read: Signal<(LowEnergyDescriptor, Vec<u8>)>,
    descriptor_written: Signal<(LowEnergyDescriptor, Vec<u8>)>,
    error_occurred: Signal<ServiceError>,
}

impl ServiceShared {
    pub(crate) fn new(
        controller: Weak<ControllerInner>,
        link: u64,
        id: u16,
        uuid: Uuid,
    ) -> Rc<ServiceShared> {
        Rc::new(ServiceShared {
            controller,
            link,
            id,
            uuid,
            state: Cell::new(ServiceState::RemoteService),
            error: Cell::new(None),
            error_string: RefCell::new(String::new()),
            chars: RefCell::new(Vec::new()),
            notify: RefCell::new(HashMap::new()),
            notify_session: Cell::new(0),
            requests: bluez::CallQueue::default(),
            writers: Arc::default(),
            state_changed: Signal::new(),
            characteristic_changed: Signal::new(),
            characteristic_read: Signal::new(),
            characteristic_written: Signal::new(),
            descriptor_read: Signal::new(),
            descriptor_written: Signal::new(),
            error_occurred: Signal::new(),
        })
    }

    pub(crate) fn state(&self) -> ServiceState {
        self.state.get()
    }

    fn set_state(&self, state: ServiceState) {
        if self.state.replace(state) != state {
            self.state_changed.emit(&state);
        }
    }

    /// The link is gone: `InvalidService`, notifications dropped.
    pub(crate) fn invalidate(&self) {
        let notify: Vec<_> = self.notify.borrow_mut().drain().collect();
        drop(notify);
        self.writers.clear();
        self.set_state(ServiceState::InvalidService);
    }

    /// As `invalidate`, without signals (the controller is being dropped).
    pub(crate) fn invalidate_quietly(&self) {
        let notify: Vec<_> = self.notify.borrow_mut().drain().collect();
        drop(notify);
        self.writers.clear();
        self.state.set(ServiceState::InvalidService);
    }

    fn controller(&self) -> Option<LowEnergyController> {
        self.controller
            .upgrade()
            .map(LowEnergyController::from_inner)
    }

    fn set_error(&self, error: ServiceError, text: &str) {
        self.error.set(Some(error));
        *self.error_string.borrow_mut() = if text.is_empty() {
            error.to_string()
        } else {
            format!("{error}: {text}")
        };
        self.error_occurred.emit(&error);
    }

    fn characteristic(self: &Rc<Self>, handle: u16) -> Option<LowEnergyCharacteristic> {
        let chars = self.chars.borrow();
        chars
            .iter()
            .find(|c| c.handle == handle)
            .map(|c| LowEnergyCharacteristic::new(self, c))
    }

    fn descriptor(self: &Rc<Self>, path: Path) -> Option<LowEnergyDescriptor> {
        let chars = self.chars.borrow();
        let c = chars.iter().find(|c| c.handle == path.characteristic)?;
        let d = c.descriptors.iter().find(|d| d.handle == path.descriptor)?;
        Some(LowEnergyDescriptor {
            service: Rc::downgrade(self),
            characteristic: c.handle,
            handle: d.handle,
            uuid: d.uuid,
        })
    }

    /// Stores a value read, written or notified.
    fn store(&self, path: Path, value: &[u8]) {
        let mut chars = self.chars.borrow_mut();
        let Some(c) = chars.iter_mut().find(|c| c.handle == path.characteristic) else {
            return;
        };
        if path.descriptor == 0 {
            c.value = value.to_vec();
        } else if let Some(d) = c
            .descriptors
            .iter_mut()
            .find(|d| d.handle == path.descriptor)
        {
            d.value = value.to_vec();
        }
    }

    /// The characteristic's Client Characteristic Configuration descriptor's path.
    fn cccd(&self, characteristic: u16) -> Option<Path> {
        let chars = self.chars.borrow();
        let c = chars.iter().find(|c| c.handle == characteristic)?;
        let d = c
            .descriptors
            .iter()
            .find(|d| d.uuid == CLIENT_CHARACTERISTIC_CONFIGURATION)?;
        Some(Path {
            service: self.id,
            characteristic,
            descriptor: d.handle,
        })
    }

    pub(crate) fn on_event(self: &Rc<Self>, event: &Event) {
        match event {
            Event::Details { result, .. } => {
                if self.state() != ServiceState::RemoteServiceDiscovering {
                    return;
                }
                match result {
                    Ok(chars) => {
                        *self.chars.borrow_mut() = chars.clone();
                        self.set_state(ServiceState::RemoteServiceDiscovered);
                    }
                    Err(text) => {
                        self.set_state(ServiceState::RemoteService);
                        self.set_error(ServiceError::Unknown, text);
                    }
                }
            }
            Event::Read { path, result } => match result {
                Ok(value) => {
                    self.store(*path, value);
                    if path.descriptor == 0 {
                        if let Some(c) = self.characteristic(path.characteristic) {
                            self.characteristic_read.emit(&(c, value.clone()));
                        }
                    } else if let Some(d) = self.descriptor(*path) {
                        self.descriptor_read.emit(&(d, value.clone()));
                    }
                }
                Err(text) => {
                    let kind = if path.descriptor == 0 {
                        ServiceError::CharacteristicRead
                    } else {
                        ServiceError::DescriptorRead
                    };
                    self.set_error(kind, text);
                }
            },
            Event::Written {
                path,
                value,
                with_response,
                result,
            } => match result {
                Ok(()) => {
                    self.store(*path, value);
                    if path.descriptor != 0 {
                        if let Some(d) = self.descriptor(*path) {
                            self.descriptor_written.emit(&(d, value.clone()));
                        }
                    } else if *with_response {
                        if let Some(c) = self.characteristic(path.characteristic) {
                            self.characteristic_written.emit(&(c, value.clone()));
                        }
                    }
                }
                Err(text) => {
                    let kind = if path.descriptor == 0 {
                        ServiceError::CharacteristicWrite
                    } else {
                        ServiceError::DescriptorWrite
                    };
                    self.set_error(kind, text);
                }
            },
            Event::NotifyOn {
                path,
                session,
                result,
            } => self.on_notify_on(*path, *session, result.take()),
            Event::Notified {
                path,
                session,
                value,
            } if self.session_is(path.characteristic, *session) => {
                self.changed(path.characteristic, value);
            }
            Event::NotifyEnded { path, session } => {
                self.end_session(path.characteristic, *session);
            }
            _ => {}
        }
    }

    fn session_is(&self, characteristic: u16, session: u64) -> bool {
        self.notify
            .borrow()
            .get(&characteristic)
            .is_some_and(|n| n.session() == session)
    }

    /// bluetoothd ended a session (the link is going, or the peer's server stopped):
    /// forgotten, if it is still the current one.
    fn end_session(&self, characteristic: u16, session: u64) {
        let gone = if self.session_is(characteristic, session) {
            self.notify.borrow_mut().remove(&characteristic)
        } else {
            None
        };
        drop(gone);
    }

    fn on_notify_on(
        self: &Rc<Self>,
        path: Path,
        session: u64,
        result: Option<Result<NotifySource, String>>,
    ) {
        // Only the answer to the request still pending counts (it was not turned off,
        // or off and on again, meanwhile).
        let pending = matches!(
            self.notify.borrow().get(&path.characteristic),
            Some(Notify::Pending(s, _)) if *s == session
        );
        if !pending {
            return;
        }
        let started = match result {
            Some(Ok(NotifySource::Fd(fd))) => self.watch_socket(path.characteristic, session, fd),
            Some(Ok(NotifySource::Stream)) => {
                let mut notify = self.notify.borrow_mut();
                if let Some(Notify::Pending(_, cancel)) = notify.remove(&path.characteristic) {
                    notify.insert(path.characteristic, Notify::Stream(session, cancel));
                }
                Ok(())
            }
            Some(Err(text)) => Err(text),
            None => Err("no answer".to_string()),
        };
        match started {
            Ok(()) => {
                let on = self.notify_value(path.characteristic);
                self.cccd_written(path.characteristic, on);
            }
            Err(text) => {
                let gone = self.notify.borrow_mut().remove(&path.characteristic);
                drop(gone);
                self.set_error(ServiceError::DescriptorWrite, &text);
            }
        }
    }

    /// The configuration value that turns the characteristic's updates on: notify where
    /// it notifies, else indicate.
    fn notify_value(&self, characteristic: u16) -> [u8; 2] {
        let chars = self.chars.borrow();
        let props = chars
            .iter()
            .find(|c| c.handle == characteristic)
            .map(|c| c.properties)
            .unwrap_or_default();
        if props.contains(PropertyTypes::NOTIFY) {
            [1, 0]
        } else {
            [2, 0]
        }
    }

    /// Records the configuration descriptor's new value and says so, as Qt does after a
    /// write to it.
    fn cccd_written(self: &Rc<Self>, characteristic: u16, value: [u8; 2]) {
        if let Some(path) = self.cccd(characteristic) {
            self.store(path, &value);
            if let Some(d) = self.descriptor(path) {
                self.descriptor_written.emit(&(d, value.to_vec()));
            }
        }
    }

    fn watch_socket(
        self: &Rc<Self>,
        characteristic: u16,
        session: u64,
        fd: std::os::fd::OwnedFd,
    ) -> Result<(), String> {
        let socket = Rc::new(UnixDatagram::from(fd));
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        let event_loop = self
            .controller()
            .and_then(|c| c.event_loop())
            .ok_or_else(|| "the event loop is gone".to_string())?;
        let notifier = SocketNotifier::new(&event_loop, socket.clone(), Interest::READ)
            .map_err(|e| e.to_string())?;
        let weak = Rc::downgrade(self);
        notifier.activated().connect(move |_: &Readiness| {
            if let Some(service) = weak.upgrade() {
                service.drain(characteristic, session, &socket);
            }
        });
        self.notify
            .borrow_mut()
            .insert(characteristic, Notify::Socket(session, notifier));
        Ok(())
    }

    /// Reads the datagrams queued on the notify socket (to `EAGAIN`, at most
    /// [`DRAIN_BATCH`]: one wake may stand for several), then reports them in order.
    fn drain(self: &Rc<Self>, characteristic: u16, session: u64, socket: &UnixDatagram) {
        let mut values = Vec::new();
        let mut buf = [0u8; NOTIFY_BUFFER];
        let mut closed = false;
        while values.len() < DRAIN_BATCH {
            match socket.recv(&mut buf) {
                // Zero bytes: an empty value, or the end once bluetoothd closed its side
                // (a SEQPACKET socket then reads 0 for ever): the hang-up tells.
                Ok(0) if hung_up(socket) => {
                    closed = true;
                    break;
                }
                Ok(n) => values.push(buf[..n].to_vec()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        for value in &values {
            if !self.session_is(characteristic, session) {
                // Turned off by a slot: the rest are not reported.
                return;
            }
            self.changed(characteristic, value);
        }
        if closed {
            // bluetoothd closed it: the link is going, or the session was ended.
            self.end_session(characteristic, session);
        }
    }

    fn changed(self: &Rc<Self>, characteristic: u16, value: &[u8]) {
        let path = Path {
            service: self.id,
            characteristic,
            descriptor: 0,
        };
        self.store(path, value);
        if let Some(c) = self.characteristic(characteristic) {
            self.characteristic_changed.emit(&(c, value.to_vec()));
        }
    }
}

/// A service of a remote device (Qt's `QLowEnergyService`), made by
/// [`LowEnergyController::create_service_object`].
///
/// Starts as `RemoteService`; [`discover_details`](Self::discover_details) lists its
/// characteristics and descriptors. Reads, writes and notification changes are
/// requests whose results arrive as signals; a request refused at once (wrong state, an
/// attribute of another service, a property the characteristic lacks, a value over 512
/// bytes) returns a [`RequestError`] and sends nothing. Reads and writes go to
/// bluetoothd one at a time, in call order, and their signals come in that order.
///
/// When the link drops the service turns `InvalidService` for good: after a reconnect,
/// discover the services again and make new service objects (bluetoothd may have
/// found a changed service list; its GATT cache for a bonded device can also be stale
/// until the device reports a change).
#[derive(Clone)]
pub struct LowEnergyService {
    inner: Rc<ServiceShared>,
}

impl fmt::Debug for LowEnergyService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LowEnergyService")
            .field("uuid", &self.inner.uuid)
            .field("state", &self.inner.state.get())
            .finish()
    }
}

impl LowEnergyService {
    pub(crate) fn from_shared(inner: Rc<ServiceShared>) -> LowEnergyService {
        LowEnergyService { inner }
    }

    /// Its UUID (Qt: `serviceUuid`).
    pub fn service_uuid(&self) -> Uuid {
        self.inner.uuid
    }

    /// The state (Qt: `state`).
    pub fn state(&self) -> ServiceState {
        self.inner.state.get()
    }

    /// The last error, `None` until one happens (Qt: `error`).
    pub fn error(&self) -> Option<ServiceError> {
        self.inner.error.get()
    }

    /// The last error with bluetoothd's reason; empty without one.
    pub fn error_string(&self) -> String {
        self.inner.error_string.borrow().clone()
    }

    /// Its characteristics once discovered, in handle order (Qt: `characteristics`).
    pub fn characteristics(&self) -> Vec<LowEnergyCharacteristic> {
        let chars = self.inner.chars.borrow();
        chars
            .iter()
            .map(|c| LowEnergyCharacteristic::new(&self.inner, c))
            .collect()
    }

    /// The first characteristic with `uuid` (Qt: `characteristic`).
    pub fn characteristic(&self, uuid: Uuid) -> Option<LowEnergyCharacteristic> {
        let chars = self.inner.chars.borrow();
        chars
            .iter()
            .find(|c| c.uuid == uuid)
            .map(|c| LowEnergyCharacteristic::new(&self.inner, c))
    }

    /// Whether `characteristic` is one of this service's, on the current link (Qt:
    /// `contains`).
    pub fn contains(&self, characteristic: &LowEnergyCharacteristic) -> bool {
        self.owns(&characteristic.service) && characteristic.is_valid()
    }

    fn owns(&self, service: &Weak<ServiceShared>) -> bool {
        std::ptr::eq(service.as_ptr(), Rc::as_ptr(&self.inner))
    }

    /// Lists the characteristics and descriptors, and with
    /// [`DiscoveryMode::FullDiscovery`] reads their values (Qt: `discoverDetails`):
    /// `RemoteServiceDiscovering`, then `RemoteServiceDiscovered`. A value that cannot
    /// be read within 5 s is left empty; the others are still read.
    ///
    /// # Errors
    /// [`RequestError::ServiceState`] while discovering or once invalid;
    /// [`RequestError::ControllerState`] without a link.
    pub fn discover_details(&self, mode: DiscoveryMode) -> Result<(), RequestError> {
        let state = self.state();
        if matches!(
            state,
            ServiceState::InvalidService | ServiceState::RemoteServiceDiscovering
        ) {
            return Err(RequestError::ServiceState(state));
        }
        let (controller, adapter) = self.linked()?;
        let Some(emitter) = controller.emitter() else {
            return Err(RequestError::ControllerState(controller.state()));
        };
        self.inner.set_state(ServiceState::RemoteServiceDiscovering);
        let link = self.inner.link;
        let peer = controller.remote_address();
        let service = self.inner.id;
        let values = mode == DiscoveryMode::FullDiscovery;
        // Without the call timeout: a full discovery bounds each read instead.
        let started = bluez::watch(move |session| async move {
            let result = match session {
                Ok(s) => gatt::details(s, adapter, peer, service, values).await,
                Err(e) => Err(e.to_string()),
            };
            let _ = emitter.emit((link, Event::Details { service, result }));
        });
        if let Err(e) = started {
            self.inner.set_state(state);
            self.inner.set_error(ServiceError::Unknown, &e.to_string());
        }
        Ok(())
    }

    /// Reads the characteristic (Qt: `readCharacteristic`): `characteristic_read`, or
    /// `error_occurred` with [`ServiceError::CharacteristicRead`].
    ///
    /// # Errors
    /// See [`RequestError`]: not discovered, not this service's, not readable.
    pub fn read_characteristic(
        &self,
        characteristic: &LowEnergyCharacteristic,
    ) -> Result<(), RequestError> {
        self.check(characteristic)?;
        if !characteristic.properties.contains(PropertyTypes::READ) {
            return Err(RequestError::NotPermitted("reads"));
        }
        self.read(self.path(characteristic.handle, 0))
    }

    /// Writes the characteristic (Qt: `writeCharacteristic`). With response:
    /// `characteristic_written` once the peer confirmed. Without: no signal (as in Qt);
    /// bluetoothd sends it as an ATT command. Writes without response go on the socket
    /// bluetoothd hands out for them (`AcquireWrite`, kept for the next ones: one
    /// datagram per write, no D-Bus round trip), or through `WriteValue` where it
    /// offers none or the value is longer than the socket carries (ATT MTU − 5, as
    /// bluer counts). The service's reads and writes still reach the peer in call
    /// order: before one goes over D-Bus, or on another characteristic's socket, the
    /// service waits until bluetoothd has read the sockets, and before a write with
    /// response on the same characteristic it gives the socket back. While the socket
    /// is held (until then, or until the link or the service object goes), bluetoothd
    /// refuses `WriteValue` and `AcquireWrite` on that characteristic to every other
    /// program and controller ("Write acquired"). Failures: `error_occurred` with
    /// [`ServiceError::CharacteristicWrite`].
    ///
    /// # Errors
    /// See [`RequestError`]: not discovered, not this service's, not writable in that
    /// mode, a value over 512 bytes, a signed write (BlueZ's D-Bus API has none).
    pub fn write_characteristic(
        &self,
        characteristic: &LowEnergyCharacteristic,
        value: &[u8],
        mode: WriteMode,
    ) -> Result<(), RequestError> {
        self.check(characteristic)?;
        let with_response = match mode {
            WriteMode::WithResponse => {
                if !characteristic.properties.contains(PropertyTypes::WRITE) {
                    return Err(RequestError::NotPermitted("writes with response"));
                }
                true
            }
            WriteMode::WithoutResponse => {
                if !characteristic
                    .properties
                    .contains(PropertyTypes::WRITE_NO_RESPONSE)
                {
                    return Err(RequestError::NotPermitted("writes without response"));
                }
                false
            }
            WriteMode::Signed => return Err(RequestError::NotSupported("a signed write")),
        };
        if value.len() > MAX_ATTRIBUTE_LENGTH {
            return Err(RequestError::ValueTooLong(value.len()));
        }
        self.write(self.path(characteristic.handle, 0), value, with_response)
    }

    /// Reads the descriptor (Qt: `readDescriptor`): `descriptor_read`, or
    /// `error_occurred` with [`ServiceError::DescriptorRead`].
    ///
    /// # Errors
    /// See [`RequestError`].
    pub fn read_descriptor(&self, descriptor: &LowEnergyDescriptor) -> Result<(), RequestError> {
        self.check_descriptor(descriptor)?;
        self.read(self.path(descriptor.characteristic, descriptor.handle))
    }

    /// Writes the descriptor (Qt: `writeDescriptor`): `descriptor_written`, or
    /// `error_occurred` with [`ServiceError::DescriptorWrite`].
    ///
    /// The Client Characteristic Configuration descriptor (0x2902) is not written
    /// directly (bluetoothd owns it): as in Qt, `01 00` turns notifications on (`02 00`
    /// indications, on a characteristic that only indicates) through
    /// [`set_notifications`](Self::set_notifications), `00 00` off; `descriptor_written`
    /// follows with the value written once it took effect (at once, on the next loop
    /// iteration, when nothing had to change).
    ///
    /// # Errors
    /// See [`RequestError`]. Another configuration value is refused with
    /// [`RequestError::NotPermitted`]; `02 00` on a characteristic that also notifies
    /// with [`RequestError::NotSupported`] (bluetoothd turns on notifications where a
    /// characteristic has both, and offers no choice).
    pub fn write_descriptor(
        &self,
        descriptor: &LowEnergyDescriptor,
        value: &[u8],
    ) -> Result<(), RequestError> {
        self.check_descriptor(descriptor)?;
        if value.len() > MAX_ATTRIBUTE_LENGTH {
            return Err(RequestError::ValueTooLong(value.len()));
        }
        if descriptor.uuid == CLIENT_CHARACTERISTIC_CONFIGURATION {
            let characteristic = self
                .inner
                .characteristic(descriptor.characteristic)
                .ok_or(RequestError::ForeignObject)?;
            let notifies = characteristic.properties.contains(PropertyTypes::NOTIFY);
            let on = match value {
                [0, 0] => false,
                [1, 0] if notifies => true,
                [2, 0] if !notifies => true,
                [2, 0] | [3, 0] => {
                    return Err(RequestError::NotSupported(
                        "choosing indications where a characteristic also notifies",
                    ))
                }
                [1, 0] => return Err(RequestError::NotPermitted("notifications")),
                _ => return Err(RequestError::NotPermitted("that configuration value")),
            };
            return self.set_notifications(&characteristic, on);
        }
        self.write(
            self.path(descriptor.characteristic, descriptor.handle),
            value,
            true,
        )
    }

    /// Turns the characteristic's notifications (or, where it only indicates,
    /// indications) on or off. On: each value arrives as `characteristic_changed`.
    /// Where bluetoothd offers it (`AcquireNotify`, characteristics that notify), its
    /// socket is read on the loop: every value, in order. Otherwise bluer's
    /// `StartNotify` session on the helper thread reports changes of bluetoothd's cached
    /// value: a value the peer sends before that session's subscription is in place can
    /// be missed, and a read of the characteristic is reported as a change too.
    /// The configuration descriptor, if listed, is reported written
    /// (`descriptor_written`) once it took effect; when nothing had to change, on the
    /// next loop iteration. A session bluetoothd ends (the link goes) ends quietly;
    /// [`notifications_enabled`](Self::notifications_enabled) then says false.
    ///
    /// # Errors
    /// See [`RequestError`]; [`RequestError::NotPermitted`] if it neither notifies nor
    /// indicates.
    pub fn set_notifications(
        &self,
        characteristic: &LowEnergyCharacteristic,
        on: bool,
    ) -> Result<(), RequestError> {
        self.check(characteristic)?;
        let props = characteristic.properties;
        if !props.intersects(PropertyTypes::NOTIFY | PropertyTypes::INDICATE) {
            return Err(RequestError::NotPermitted("notifications or indications"));
        }
        let handle = characteristic.handle;
        let is_on = self.inner.notify.borrow().contains_key(&handle);
        if on == is_on {
            let value = if on {
                self.inner.notify_value(handle)
            } else {
                [0, 0]
            };
            self.post_cccd_written(handle, value);
            return Ok(());
        }
        if !on {
            let was = self.inner.notify.borrow_mut().remove(&handle);
            drop(was);
            self.post_cccd_written(handle, [0, 0]);
            return Ok(());
        }
        let (controller, adapter) = self.linked()?;
        let Some(emitter) = controller.emitter() else {
            return Err(RequestError::ControllerState(controller.state()));
        };
        let session = self.inner.notify_session.get() + 1;
        self.inner.notify_session.set(session);
        let (cancel, stopped) = oneshot::channel();
        self.inner
            .notify
            .borrow_mut()
            .insert(handle, Notify::Pending(session, cancel));
        let peer = controller.remote_address();
        let path = self.path(handle, 0);
        let link = self.inner.link;
        let notify_flag = props.contains(PropertyTypes::NOTIFY);
        let fallback = emitter.clone();
        let started = bluez::watch(move |s| {
            gatt::notify(
                s,
                adapter,
                peer,
                gatt::NotifyTarget {
                    path,
                    link,
                    session,
                },
                notify_flag,
                emitter,
                stopped,
            )
        });
        if let Err(e) = started {
            let _ = fallback.emit((
                link,
                Event::NotifyOn {
                    path,
                    session,
                    result: Once::new(Err(e.to_string())),
                },
            ));
        }
        Ok(())
    }

    /// `descriptor_written` for the configuration descriptor on the next iteration, not
    /// from inside the caller's call.
    fn post_cccd_written(&self, characteristic: u16, value: [u8; 2]) {
        let Some(event_loop) = self.inner.controller().and_then(|c| c.event_loop()) else {
            return;
        };
        let weak = Rc::downgrade(&self.inner);
        event_loop.post(move || {
            if let Some(service) = weak.upgrade() {
                if service.state() == ServiceState::RemoteServiceDiscovered {
                    service.cccd_written(characteristic, value);
                }
            }
        });
    }

    /// Whether notifications or indications of the characteristic are on (or asked
    /// for).
    pub fn notifications_enabled(&self, characteristic: &LowEnergyCharacteristic) -> bool {
        self.owns(&characteristic.service)
            && self
                .inner
                .notify
                .borrow()
                .contains_key(&characteristic.handle)
    }

    fn path(&self, characteristic: u16, descriptor: u16) -> Path {
        Path {
            service: self.inner.id,
            characteristic,
            descriptor,
        }
    }

    /// Queues a read on the helper thread behind this service's earlier reads and
    /// writes.
    fn read(&self, path: Path) -> Result<(), RequestError> {
        let (controller, adapter) = self.linked()?;
        let Some(emitter) = controller.emitter() else {
            return Err(RequestError::ControllerState(controller.state()));
        };
        let peer = controller.remote_address();
        let link = self.inner.link;
        let writers = self.inner.writers.clone();
        self.inner.requests.spawn(
            move |session| async move {
                Ok(gatt::read(session, adapter, peer, path, &writers).await)
            },
            move |r: Result<_, BluezError>| {
                let result = r.unwrap_or_else(|e| Err(e.to_string()));
                let _ = emitter.emit((link, Event::Read { path, result }));
            },
        );
        Ok(())
    }

    /// Queues a write on the helper thread behind this service's earlier reads and
    /// writes, so they reach bluetoothd one at a time in call order.
    fn write(&self, path: Path, value: &[u8], with_response: bool) -> Result<(), RequestError> {
        let (controller, adapter) = self.linked()?;
        let Some(emitter) = controller.emitter() else {
            return Err(RequestError::ControllerState(controller.state()));
        };
        let peer = controller.remote_address();
        let link = self.inner.link;
        let value = value.to_vec();
        let sent = value.clone();
        let writers = self.inner.writers.clone();
        self.inner.requests.spawn(
            move |session| async move {
                Ok(gatt::write(session, adapter, peer, path, sent, with_response, &writers).await)
            },
            move |r: Result<_, BluezError>| {
                let result = r.unwrap_or_else(|e| Err(e.to_string()));
                let _ = emitter.emit((
                    link,
                    Event::Written {
                        path,
                        value,
                        with_response,
                        result,
                    },
                ));
            },
        );
        Ok(())
    }

    /// The controller and its adapter while this service's link is up.
    fn linked(&self) -> Result<(LowEnergyController, String), RequestError> {
        let Some(controller) = self.inner.controller() else {
            return Err(RequestError::ServiceState(ServiceState::InvalidService));
        };
        if controller.link() != self.inner.link {
            return Err(RequestError::ServiceState(ServiceState::InvalidService));
        }
        match controller.linked_adapter() {
            Some(adapter) => Ok((controller, adapter)),
            None => Err(RequestError::ControllerState(controller.state())),
        }
    }

    fn check(&self, characteristic: &LowEnergyCharacteristic) -> Result<(), RequestError> {
        let state = self.state();
        if state != ServiceState::RemoteServiceDiscovered {
            return Err(RequestError::ServiceState(state));
        }
        if !self.owns(&characteristic.service)
            || self.inner.characteristic(characteristic.handle).is_none()
        {
            return Err(RequestError::ForeignObject);
        }
        Ok(())
    }

    fn check_descriptor(&self, descriptor: &LowEnergyDescriptor) -> Result<(), RequestError> {
        let state = self.state();
        if state != ServiceState::RemoteServiceDiscovered {
            return Err(RequestError::ServiceState(state));
        }
        let path = self.path(descriptor.characteristic, descriptor.handle);
        if !self.owns(&descriptor.service) || self.inner.descriptor(path).is_none() {
            return Err(RequestError::ForeignObject);
        }
        Ok(())
    }

    /// Emitted with each new state (Qt: `stateChanged`).
    pub fn state_changed(&self) -> &Signal<ServiceState> {
        &self.inner.state_changed
    }

    /// Emitted with each notified or indicated value (Qt: `characteristicChanged`).
    pub fn characteristic_changed(&self) -> &Signal<(LowEnergyCharacteristic, Vec<u8>)> {
        &self.inner.characteristic_changed
    }

    /// Emitted with a value read (Qt: `characteristicRead`).
    pub fn characteristic_read(&self) -> &Signal<(LowEnergyCharacteristic, Vec<u8>)> {
        &self.inner.characteristic_read
    }

    /// Emitted when a write with response was confirmed (Qt: `characteristicWritten`).
    pub fn characteristic_written(&self) -> &Signal<(LowEnergyCharacteristic, Vec<u8>)> {
        &self.inner.characteristic_written
    }

    /// Emitted with a descriptor value read (Qt: `descriptorRead`).
    pub fn descriptor_read(&self) -> &Signal<(LowEnergyDescriptor, Vec<u8>)> {
        &self.inner.descriptor_read
    }

    /// Emitted when a descriptor write took effect (Qt: `descriptorWritten`).
    pub fn descriptor_written(&self) -> &Signal<(LowEnergyDescriptor, Vec<u8>)> {
        &self.inner.descriptor_written
    }

    /// Emitted with each error (Qt: `errorOccurred`).
    pub fn error_occurred(&self) -> &Signal<ServiceError> {
        &self.inner.error_occurred
    }
}
