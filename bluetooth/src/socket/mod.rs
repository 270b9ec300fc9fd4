//! [`BluetoothSocket`] (Qt's `QBluetoothSocket`) over RFCOMM and L2CAP.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Deref;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::{Rc, Weak};

mod l2cap;

use l2cap::l2cap_mtus;
pub(crate) use l2cap::valid_le_psm;

use sigloop_core::transport::SocketTransport;
use sigloop_core::{
    AbstractSocket, LoopHandle, SocketError, SocketKind, SocketState, WeakAbstractSocket,
};
use uuid::Uuid;

use crate::l2cap_mode::L2capMode;
use crate::port::valid_port;
use crate::sdp::ServiceSearch;
use crate::sys;
use crate::{BluetoothAddress, Protocol, SecurityFlags, ServiceInfo};

/// RFCOMM writes go to the kernel in pieces of at most this size: one larger send can
/// wait on memory held by its own unsent fragments and stall for the socket's whole send
/// timeout (30 s); pieces of 1–4 KiB flow.
pub const RFCOMM_WRITE_CHUNK: usize = 4096;

struct Settings {
    protocol: Protocol,
    security: Cell<SecurityFlags>,
    local_adapter: Cell<BluetoothAddress>,
    /// Incoming MTU asked for on L2CAP (0: the kernel's default, 672).
    l2cap_imtu: Cell<u16>,
    /// L2CAP channel mode asked for.
    l2cap_mode: Cell<L2capMode>,
    /// The SDP search of a connect by UUID, while the socket is in `ServiceLookup`.
    lookup: RefCell<Option<ServiceSearch>>,
}

/// A Bluetooth connection, RFCOMM (a byte stream) or L2CAP (packets) (Qt's
/// `QBluetoothSocket`).
///
/// Everything Qt's `QIODevice`/`QAbstractSocket` side does (reading, writing, the
/// signals in Qt's order, closing, back-pressure, the blocking `wait_for_*` helpers,
/// `std::io::Read`/`Write` through `io()`) comes from [`AbstractSocket`], reached through `Deref`; this
/// type adds Bluetooth addressing, connecting by channel or PSM, security and the L2CAP
/// MTU.
///
/// ```no_run
/// use sigloop_bluetooth::{BluetoothAddress, BluetoothSocket, Protocol};
/// use sigloop_core::EventLoop;
///
/// let event_loop = EventLoop::new()?;
/// let socket = BluetoothSocket::new(&event_loop.handle(), Protocol::Rfcomm);
/// let s = socket.clone();
/// socket.connected().connect(move |()| {
///     s.write(b"hello\n").unwrap();
/// });
/// socket.connect_to_service("00:AA:01:00:00:00".parse()?, 3)?;
/// event_loop.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Errors use [`SocketError`], whose variants cover Qt's `QBluetoothSocket::SocketError`:
/// `RemoteHostClosed`, `HostNotFound`, `ServiceNotFound`, `Network`,
/// `UnsupportedProtocol`, `Operation` and `UnknownSocket` by those names;
/// `MissingPermissionsError` and refused authentication (a pairing the peer rejects)
/// are `SocketAccess`; Qt's `NoSocketError` is `None` from
/// [`error`](AbstractSocket::error).
///
/// A cheap handle (`Clone`); dropping the last handle closes the connection at once, as
/// [`AbstractSocket`] describes.
#[must_use = "dropping the last handle of a socket closes it at once"]
#[derive(Clone)]
pub struct BluetoothSocket {
    socket: AbstractSocket,
    settings: Rc<Settings>,
}

impl fmt::Debug for BluetoothSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BluetoothSocket")
            .field("protocol", &self.settings.protocol)
            .field("socket", &self.socket)
            .finish()
    }
}

impl Deref for BluetoothSocket {
    type Target = AbstractSocket;
    fn deref(&self) -> &AbstractSocket {
        &self.socket
    }
}

fn kind(protocol: Protocol) -> SocketKind {
    match protocol {
        Protocol::Rfcomm => SocketKind::Stream,
        Protocol::L2cap => SocketKind::Packet,
    }
}

/// OS errors as a Bluetooth socket reports them: a page timeout (`EHOSTDOWN`) means no
/// device answered at that address.
fn bluetooth_error(e: &std::io::Error) -> SocketError {
    match e.raw_os_error() {
        Some(libc::EHOSTDOWN) | Some(libc::EHOSTUNREACH) => SocketError::HostNotFound,
        _ => SocketError::from_io(e),
    }
}

fn os(e: std::io::Error) -> SocketError {
    bluetooth_error(&e)
}

impl BluetoothSocket {
    /// An unconnected socket for `protocol` (Qt: `QBluetoothSocket(socketType)`).
    pub fn new(event_loop: &LoopHandle, protocol: Protocol) -> BluetoothSocket {
        Self::wrap(AbstractSocket::new(event_loop, kind(protocol)), protocol)
    }

    /// Wraps a connected socket accepted by a server.
    pub(crate) fn from_accepted(socket: AbstractSocket, protocol: Protocol) -> BluetoothSocket {
        let this = Self::wrap(socket, protocol);
        this.size_writes();
        this
    }

    /// The Bluetooth settings and hooks around the core's socket.
    fn wrap(socket: AbstractSocket, protocol: Protocol) -> BluetoothSocket {
        socket.set_error_mapping(bluetooth_error);
        // RFCOMM and L2CAP discard what the kernel still holds on close.
        socket.set_close_drain(sys::send_queue_empty);
        let this = BluetoothSocket {
            socket,
            settings: Rc::new(Settings {
                protocol,
                security: Cell::new(SecurityFlags::AUTHORIZATION),
                local_adapter: Cell::new(BluetoothAddress::ANY),
                l2cap_imtu: Cell::new(0),
                l2cap_mode: Cell::new(L2capMode::Basic),
                lookup: RefCell::new(None),
            }),
        };
        this.size_writes_on_connect();
        this.end_lookup_on_abort();
        this
    }

    /// Connected before any user slot: sizes kernel writes once the link is up.
    fn size_writes_on_connect(&self) {
        let socket = self.socket.downgrade();
        let protocol = self.settings.protocol;
        self.socket.connected().connect(move |()| {
            if let Some(socket) = socket.upgrade() {
                size_writes(&socket, protocol);
            }
        });
    }

    /// An `abort` during `ServiceLookup` drops the search, closing its SDP connection.
    fn end_lookup_on_abort(&self) {
        let settings = Rc::downgrade(&self.settings);
        self.socket.state_changed().connect(move |state| {
            if *state != SocketState::ServiceLookup {
                if let Some(settings) = settings.upgrade() {
                    let search = settings.lookup.borrow_mut().take();
                    drop(search);
                }
            }
        });
    }

    fn size_writes(&self) {
        size_writes(&self.socket, self.settings.protocol);
    }

    /// The underlying [`AbstractSocket`].
    pub fn as_abstract_socket(&self) -> &AbstractSocket {
        &self.socket
    }

    /// RFCOMM or L2CAP (Qt: `socketType`).
    pub fn socket_type(&self) -> Protocol {
        self.settings.protocol
    }

    /// Chooses the local adapter, by address, for the next connect (the socket is bound
    /// to it first). [`BluetoothAddress::ANY`] (the default) lets the kernel choose. Qt
    /// has no counterpart; hosts with several adapters need it.
    pub fn set_local_adapter(&self, address: BluetoothAddress) {
        self.settings.local_adapter.set(address);
    }

    /// The adapter chosen with [`set_local_adapter`](Self::set_local_adapter).
    pub fn local_adapter(&self) -> BluetoothAddress {
        self.settings.local_adapter.get()
    }

    /// Security the next connection asks for (Qt: `setPreferredSecurityFlags`); see
    /// [`SecurityFlags`] for the kernel levels. The default is Qt's, `AUTHORIZATION`
    /// (kernel level low).
    pub fn set_preferred_security_flags(&self, flags: SecurityFlags) {
        self.settings.security.set(flags);
    }

    /// The security asked for; while connected, what the kernel reports for the link
    /// (Qt: `preferredSecurityFlags`).
    pub fn preferred_security_flags(&self) -> SecurityFlags {
        self.with_fd(sys::security_level)
            .and_then(Result::ok)
            .map(SecurityFlags::from_level)
            .unwrap_or(self.settings.security.get())
    }

    /// Starts connecting to `port` (an RFCOMM channel, 1–30, or an L2CAP PSM) on the
    /// device `address` (Qt: `connectToService(address, port)`). This works on every BlueZ
    /// version, unlike Qt's client on BlueZ 5.46 or later, which can only connect by
    /// UUID. Completion is reported by `connected` or `error_occurred`.
    ///
    /// # Errors
    /// At once, with no signal and no state change: `Operation` if the socket is not
    /// unconnected; `HostNotFound` for the null address; `UnsupportedSocketOperation`
    /// for a channel or PSM out of range; `UnsupportedProtocol` without Bluetooth in the
    /// kernel; `SocketAddressNotAvailable` if the local adapter chosen does not exist.
    pub fn connect_to_service(
        &self,
        address: BluetoothAddress,
        port: u16,
    ) -> Result<(), SocketError> {
        self.check_can_connect(address)?;
        if !valid_port(self.settings.protocol, port) {
            return Err(SocketError::UnsupportedSocketOperation);
        }
        self.check_classic_mode()?;
        self.connect_port(address, port)
    }

    /// [`L2capMode::LeCreditBased`] is the mode of LE channels only.
    fn check_classic_mode(&self) -> Result<(), SocketError> {
        if self.settings.l2cap_mode.get() == L2capMode::LeCreditBased {
            return Err(SocketError::UnsupportedSocketOperation);
        }
        Ok(())
    }

    fn check_can_connect(&self, address: BluetoothAddress) -> Result<(), SocketError> {
        if self.state() != SocketState::Unconnected || self.socket_descriptor().is_some() {
            return Err(SocketError::Operation);
        }
        if address.is_null() {
            return Err(SocketError::HostNotFound);
        }
        Ok(())
    }

    /// The connect itself, from `Unconnected` or `ServiceLookup`.
    fn connect_port(&self, address: BluetoothAddress, port: u16) -> Result<(), SocketError> {
        let protocol = self.settings.protocol;
        let fd = sys::socket(protocol, true).map_err(os)?;
        self.prepare(&fd)?;
        let result = sys::connect(fd.as_fd(), protocol, address, port);
        self.socket.begin_connect(fd, result)
    }

    /// Starts connecting to the service `uuid` on `address` (Qt:
    /// `connectToService(address, uuid)`): the socket enters `ServiceLookup`, asks the
    /// peer's SDP server for records holding `uuid` (see
    /// [`ServiceSearch`](crate::sdp::ServiceSearch)), then connects to the channel or
    /// PSM of the first record of this socket's protocol, preferring one that names
    /// `uuid` as its class or ServiceId. It needs neither bluetoothd nor discovery first,
    /// and asks afresh each time, so a record the peer published a moment ago is found.
    ///
    /// Failures come through `error_occurred`, then `Unconnected`: `ServiceNotFound` when
    /// the peer has no such record for this protocol or its SDP answer is invalid,
    /// `HostNotFound` when no device answers, `SocketTimeout` after
    /// [`SEARCH_TIMEOUT`](crate::sdp::SEARCH_TIMEOUT). `abort` during the lookup cancels
    /// it.
    ///
    /// # Errors
    /// At once, with no signal and no state change: `Operation` if the socket is not
    /// unconnected (or its loop is gone); `HostNotFound` for the null address.
    pub fn connect_to_service_uuid(
        &self,
        address: BluetoothAddress,
        uuid: Uuid,
    ) -> Result<(), SocketError> {
        self.check_can_connect(address)?;
        self.check_classic_mode()?;
        let event_loop = self.socket.event_loop().ok_or(SocketError::Operation)?;
        let weak = WeakBluetoothSocket {
            socket: self.socket.downgrade(),
            settings: Rc::downgrade(&self.settings),
        };
        let local = self.settings.local_adapter.get();
        let search = ServiceSearch::start(&event_loop, local, address, &[uuid], move |result| {
            if let Some(this) = weak.upgrade() {
                this.lookup_done(address, uuid, result);
            }
        });
        match search {
            Ok(search) => {
                self.socket.begin_lookup(SocketState::ServiceLookup)?;
                *self.settings.lookup.borrow_mut() = Some(search);
                Ok(())
            }
            Err(e) => Err(e.socket_error()),
        }
    }

    fn lookup_done(
        &self,
        address: BluetoothAddress,
        uuid: Uuid,
        result: Result<Vec<ServiceInfo>, crate::sdp::SearchError>,
    ) {
        let search = self.settings.lookup.borrow_mut().take();
        if search.is_none() || self.state() != SocketState::ServiceLookup {
            // Aborted, or replaced by another connect: not ours to act on.
            return;
        }
        drop(search);
        let records = match result {
            Ok(records) => records,
            Err(e) => return self.socket.fail_connect(e.socket_error(), &e.to_string()),
        };
        let protocol = self.settings.protocol;
        let port = |r: &ServiceInfo| r.port().filter(|(p, _)| *p == protocol);
        let chosen = records
            .iter()
            .filter(|r| r.has_uuid(uuid))
            .find_map(port)
            .or_else(|| records.iter().find_map(port));
        match chosen {
            Some((_, port)) => {
                // begin_connect reports its own failures through error_occurred.
                let _ = self.connect_port(address, port);
            }
            None => self.socket.fail_connect(
                SocketError::ServiceNotFound,
                &format!(
                    "{address} has no {protocol:?} service {uuid} ({} records matched)",
                    records.len()
                ),
            ),
        }
    }

    /// Connects to the service `info` describes (Qt: `connectToService(serviceInfo)`):
    /// to its channel or PSM on its device when it has one, else by its service UUID
    /// (or first class UUID) as [`connect_to_service_uuid`](Self::connect_to_service_uuid)
    /// does.
    ///
    /// # Errors
    /// As `connect_to_service`; `UnsupportedProtocol` if the record's protocol is not
    /// this socket's; `ServiceNotFound` if the record has neither a port nor a UUID.
    pub fn connect_to_service_info(&self, info: &ServiceInfo) -> Result<(), SocketError> {
        if let Some((protocol, port)) = info.port() {
            if protocol != self.settings.protocol {
                return Err(SocketError::UnsupportedProtocol);
            }
            return self.connect_to_service(info.device(), port);
        }
        let uuid = info
            .service_uuid()
            .or_else(|| info.service_class_uuids().first().copied())
            .ok_or(SocketError::ServiceNotFound)?;
        self.connect_to_service_uuid(info.device(), uuid)
    }

    /// Binds to the chosen adapter and applies security and MTU settings.
    fn prepare(&self, fd: &OwnedFd) -> Result<(), SocketError> {
        let protocol = self.settings.protocol;
        let adapter = self.settings.local_adapter.get();
        if !adapter.is_null() {
            sys::bind(fd.as_fd(), protocol, adapter, 0).map_err(os)?;
        }
        sys::set_security_level(fd.as_fd(), self.settings.security.get().to_level()).map_err(os)?;
        if protocol == Protocol::L2cap {
            sys::apply_l2cap_settings(
                fd.as_fd(),
                self.settings.l2cap_imtu.get(),
                self.settings.l2cap_mode.get().to_raw(),
            )
            .map_err(os)?;
        }
        Ok(())
    }

    /// Adopts an AF_BLUETOOTH socket fd of `protocol`, connected or connecting (Qt:
    /// `setSocketDescriptor`).
    ///
    /// # Errors
    /// `Operation` if this socket is not unconnected, `protocol` is not this socket's,
    /// or `state` is neither `Connected` nor `Connecting`; the OS error otherwise.
    pub fn set_socket_descriptor(
        &self,
        fd: OwnedFd,
        protocol: Protocol,
        state: SocketState,
    ) -> Result<(), SocketError> {
        if protocol != self.settings.protocol {
            return Err(SocketError::Operation);
        }
        self.socket.adopt_descriptor(fd, state)?;
        if state == SocketState::Connected {
            self.size_writes();
        }
        Ok(())
    }

    fn name(&self, peer: bool) -> Option<(BluetoothAddress, u16)> {
        let protocol = self.settings.protocol;
        self.with_fd(|fd| {
            if peer {
                sys::peer_name(fd, protocol)
            } else {
                sys::local_name(fd, protocol)
            }
        })
        .and_then(Result::ok)
    }

    /// The peer's address; the null address without a connection (Qt: `peerAddress`).
    pub fn peer_address(&self) -> BluetoothAddress {
        self.name(true).map_or(BluetoothAddress::ANY, |n| n.0)
    }

    /// The peer's channel or PSM; 0 without a connection (Qt: `peerPort`).
    pub fn peer_port(&self) -> u16 {
        self.name(true).map_or(0, |n| n.1)
    }

    /// The peer's name as bluetoothd knows it (its alias: the name it gave, or one set
    /// locally) (Qt: `peerName`); empty without a connection, without bluetoothd, or
    /// for a device bluetoothd has not met. Asks bluetoothd each time, blocking for its
    /// answer (at most [`CALL_TIMEOUT`](crate::bluez::CALL_TIMEOUT)), as Qt does.
    pub fn peer_name(&self) -> String {
        let (local, peer) = (self.local_address(), self.peer_address());
        if peer.is_null() {
            return String::new();
        }
        crate::bluez::call(move |session| async move {
            let adapter = crate::bluez::adapter(&session, local).await?;
            let device = adapter.device(bluer::Address(peer.octets()))?;
            Ok(device.alias().await?)
        })
        .unwrap_or_default()
    }

    /// The local adapter's address; the null address without a socket (Qt:
    /// `localAddress`).
    pub fn local_address(&self) -> BluetoothAddress {
        self.name(false).map_or(BluetoothAddress::ANY, |n| n.0)
    }

    /// The local channel or PSM (Qt: `localPort`).
    pub fn local_port(&self) -> u16 {
        self.name(false).map_or(0, |n| n.1)
    }

    /// The local adapter's name (Qt: `localName`), from bluetoothd as for
    /// [`peer_name`](Self::peer_name); empty without a socket or without bluetoothd.
    pub fn local_name(&self) -> String {
        let local = self.local_address();
        if local.is_null() {
            return String::new();
        }
        crate::bluez::call(move |session| async move {
            let adapter = crate::bluez::adapter(&session, local).await?;
            Ok(adapter.alias().await?)
        })
        .unwrap_or_default()
    }

    /// Alias of [`disconnect_from_host`](AbstractSocket::disconnect_from_host) (Qt:
    /// `disconnectFromService`).
    pub fn disconnect_from_service(&self) {
        self.socket.disconnect_from_host();
    }
}

/// A [`BluetoothSocket`] that does not keep it alive, for slots and callbacks.
struct WeakBluetoothSocket {
    socket: WeakAbstractSocket,
    settings: Weak<Settings>,
}

impl WeakBluetoothSocket {
    fn upgrade(&self) -> Option<BluetoothSocket> {
        Some(BluetoothSocket {
            socket: self.socket.upgrade()?,
            settings: self.settings.upgrade()?,
        })
    }
}

/// RFCOMM: pieces of [`RFCOMM_WRITE_CHUNK`]; L2CAP: one packet of at most the outgoing
/// MTU.
fn size_writes(socket: &AbstractSocket, protocol: Protocol) {
    let chunk = match protocol {
        Protocol::Rfcomm => RFCOMM_WRITE_CHUNK,
        Protocol::L2cap => socket
            .with_fd(l2cap_mtus)
            .and_then(Result::ok)
            .map_or(672, |(omtu, _)| usize::from(omtu)),
    };
    socket.set_max_write_chunk(chunk);
}
