//! [`BluetoothServer`] (Qt's `QBluetoothServer`) and its [`ServerError`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::AsFd;
use std::rc::Rc;

use sigloop_core::{LoopHandle, Signal, SocketKind, SocketServer};
use uuid::Uuid;

use crate::bluez::{BluezError, ServiceRegistration};
use crate::port::valid_port;
use crate::sys;
use crate::uuids::service_class;
mod l2cap;

use crate::{BluetoothAddress, BluetoothSocket, L2capMode, Protocol, SecurityFlags, ServiceInfo};

/// Why a server could not listen or accept (Qt's `QBluetoothServer::Error`; Qt's
/// `NoError` is `None` from [`BluetoothServer::error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerError {
    /// Anything else (Qt: `UnknownError`).
    Unknown,
    /// No powered adapter has the address asked for (Qt: `PoweredOffError`).
    PoweredOff,
    /// An I/O error, e.g. while accepting (Qt: `InputOutputError`).
    InputOutput,
    /// The channel or PSM is taken, or the server already listens (Qt:
    /// `ServiceAlreadyRegisteredError`).
    ServiceAlreadyRegistered,
    /// The protocol is not supported, e.g. no Bluetooth in the kernel, or a channel/PSM
    /// out of range (Qt: `UnsupportedProtocolError`).
    UnsupportedProtocol,
    /// Not permitted (Qt: `MissingPermissionsError`).
    MissingPermissions,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerError::Unknown => "unknown server error",
            ServerError::PoweredOff => "no powered adapter with that address",
            ServerError::InputOutput => "input/output error",
            ServerError::ServiceAlreadyRegistered => "channel or PSM already in use",
            ServerError::UnsupportedProtocol => "protocol or port not supported",
            ServerError::MissingPermissions => "permission denied",
        })
    }
}

impl std::error::Error for ServerError {}

/// Why [`BluetoothServer::listen_uuid`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenError {
    /// Listening itself failed.
    Server(ServerError),
    /// The server listened, but bluetoothd did not publish its record (the server was
    /// closed again).
    Register(BluezError),
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenError::Server(e) => write!(f, "cannot listen: {e}"),
            ListenError::Register(e) => write!(f, "cannot publish the service: {e}"),
        }
    }
}

impl std::error::Error for ListenError {}

fn server_error(e: &std::io::Error) -> ServerError {
    match e.raw_os_error() {
        Some(libc::EADDRINUSE) | Some(libc::EALREADY) => ServerError::ServiceAlreadyRegistered,
        Some(libc::EADDRNOTAVAIL) | Some(libc::ENODEV) | Some(libc::EHOSTDOWN) => {
            ServerError::PoweredOff
        }
        Some(libc::EAFNOSUPPORT) | Some(libc::EPROTONOSUPPORT) | Some(libc::EINVAL) => {
            ServerError::UnsupportedProtocol
        }
        Some(libc::EACCES) | Some(libc::EPERM) => ServerError::MissingPermissions,
        Some(_) => ServerError::InputOutput,
        None => ServerError::Unknown,
    }
}

struct State {
    error: Cell<Option<ServerError>>,
    security: Cell<SecurityFlags>,
    l2cap_mode: Cell<L2capMode>,
    error_occurred: Signal<ServerError>,
    /// The record published by `listen_uuid`, removed by `close`.
    registration: RefCell<Option<ServiceRegistration>>,
}

/// Listens for RFCOMM or L2CAP connections (Qt's `QBluetoothServer`).
///
/// Accepted connections wait as connected [`BluetoothSocket`]s; at most
/// [`max_pending_connections`](SocketServer::max_pending_connections) of them (the
/// accepting machinery of [`SocketServer`], reached through `Deref`), beyond which the
/// server stops accepting and further connections wait in the kernel's backlog.
///
/// ```no_run
/// use sigloop_bluetooth::{BluetoothAddress, BluetoothServer, Protocol};
/// use sigloop_core::EventLoop;
///
/// let event_loop = EventLoop::new()?;
/// let server = BluetoothServer::new(&event_loop.handle(), Protocol::Rfcomm);
/// server.listen(BluetoothAddress::ANY, 0).unwrap();
/// println!("listening on channel {}", server.server_port());
/// let s = server.clone();
/// server.new_connection().connect(move |()| {
///     while let Some(socket) = s.next_pending_connection() {
///         println!("{} connected", socket.peer_address());
///     }
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// A cheap handle (`Clone`); dropping the last handle closes the listening socket and the
/// connections not yet taken, and removes a service record it published.
#[must_use = "dropping the last handle of a server closes it and removes its service record"]
#[derive(Clone)]
pub struct BluetoothServer {
    server: SocketServer,
    protocol: Protocol,
    state: Rc<State>,
}

impl fmt::Debug for BluetoothServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BluetoothServer")
            .field("protocol", &self.protocol)
            .field("server", &self.server)
            .field("error", &self.state.error.get())
            .finish()
    }
}

impl std::ops::Deref for BluetoothServer {
    type Target = SocketServer;
    fn deref(&self) -> &SocketServer {
        &self.server
    }
}

impl BluetoothServer {
    /// A server for `protocol`, not listening yet (Qt: `QBluetoothServer(serverType)`).
    pub fn new(event_loop: &LoopHandle, protocol: Protocol) -> BluetoothServer {
        let kind = match protocol {
            Protocol::Rfcomm => SocketKind::Stream,
            Protocol::L2cap => SocketKind::Packet,
        };
        let server = SocketServer::new(event_loop, kind);
        let state = Rc::new(State {
            error: Cell::new(None),
            security: Cell::new(SecurityFlags::AUTHORIZATION),
            l2cap_mode: Cell::new(L2capMode::Basic),
            error_occurred: Signal::new(),
            registration: RefCell::new(None),
        });
        // Accept failures arrive as core socket errors: pass them on as server errors.
        let st = Rc::downgrade(&state);
        server.error_occurred().connect(move |e| {
            if let Some(st) = st.upgrade() {
                let err = match e {
                    sigloop_core::SocketError::SocketAccess => ServerError::MissingPermissions,
                    _ => ServerError::InputOutput,
                };
                st.error.set(Some(err));
                st.error_occurred.emit(&err);
            }
        });
        BluetoothServer {
            server,
            protocol,
            state,
        }
    }

    /// Emitted when listening or accepting fails (Qt: `errorOccurred`).
    pub fn error_occurred(&self) -> &Signal<ServerError> {
        &self.state.error_occurred
    }

    /// Listens on the adapter `address` (the null address: every adapter) and `port` (an
    /// RFCOMM channel 1–30 or an L2CAP PSM; 0 takes the first free one, see
    /// [`server_port`](Self::server_port)) (Qt: `listen(address, port)`, which returns a
    /// `bool`).
    ///
    /// # Errors
    /// Nothing changed then, and [`error`](Self::error) holds the same error: listening
    /// twice or a taken port (`ServiceAlreadyRegistered`), a port out of range
    /// (`UnsupportedProtocol`), no adapter with that address (`PoweredOff`).
    pub fn listen(&self, address: BluetoothAddress, port: u16) -> Result<(), ServerError> {
        self.try_listen(address, port)
            .inspect_err(|&e| self.state.error.set(Some(e)))
    }

    /// The kernel lets RFCOMM and L2CAP bind to any address: check the adapter.
    fn check_adapter(&self, address: BluetoothAddress) -> Result<(), ServerError> {
        if !address.is_null() {
            let adapters = sys::adapters().map_err(|e| server_error(&e))?;
            if !adapters.iter().any(|a| a.address == address && a.up) {
                return Err(ServerError::PoweredOff);
            }
        }
        Ok(())
    }

    fn start_listening(&self, fd: std::os::fd::OwnedFd) -> Result<(), ServerError> {
        let backlog = i32::try_from(self.server.max_pending_connections()).unwrap_or(i32::MAX);
        rustix::net::listen(&fd, backlog).map_err(|e| server_error(&e.into()))?;
        self.server
            .listen_fd(fd)
            .map_err(|_| ServerError::InputOutput)?;
        self.state.error.set(None);
        Ok(())
    }

    fn try_listen(&self, address: BluetoothAddress, port: u16) -> Result<(), ServerError> {
        if self.server.is_listening() {
            return Err(ServerError::ServiceAlreadyRegistered);
        }
        if port != 0 && !valid_port(self.protocol, port) {
            return Err(ServerError::UnsupportedProtocol);
        }
        if self.state.l2cap_mode.get() == L2capMode::LeCreditBased {
            // Only an LE server gets it: see listen_le.
            return Err(ServerError::UnsupportedProtocol);
        }
        let io = |e: std::io::Error| server_error(&e);
        let fd = sys::socket(self.protocol, true).map_err(io)?;
        self.check_adapter(address)?;
        sys::set_security_level(fd.as_fd(), self.state.security.get().to_level()).map_err(io)?;
        if self.protocol == Protocol::L2cap {
            sys::apply_l2cap_settings(fd.as_fd(), 0, self.state.l2cap_mode.get().to_raw())
                .map_err(io)?;
        }
        sys::bind(fd.as_fd(), self.protocol, address, port).map_err(io)?;
        self.start_listening(fd)
    }

    /// Listens on a free channel (or PSM) of every adapter and publishes an SDP record
    /// for it, so peers can connect by `uuid` (Qt: `listen(uuid, serviceName)`). The
    /// record is serial-port style, as Qt's: service classes `uuid` and SerialPort (L2CAP
    /// servers: `uuid` alone), ServiceId `uuid`, the name, L2CAP then RFCOMM with the
    /// channel (or L2CAP with the PSM), the public browse group, and for RFCOMM the
    /// Serial Port profile 1.2. Returns that record; [`close`](Self::close) or dropping
    /// the last handle of the server removes it.
    ///
    /// # Errors
    /// `ListenError::Server` as [`listen`](Self::listen) (nothing changed);
    /// `ListenError::Register` if bluetoothd would not publish the record, for instance
    /// because it is not running: the server is closed again, and
    /// [`error`](Self::error) is set.
    pub fn listen_uuid(&self, uuid: Uuid, service_name: &str) -> Result<ServiceInfo, ListenError> {
        self.listen(BluetoothAddress::ANY, 0)
            .map_err(ListenError::Server)?;
        let mut info = ServiceInfo::new();
        info.set_service_name(service_name);
        info.set_service_uuid(uuid);
        match self.protocol {
            Protocol::Rfcomm => {
                info.set_service_class_uuids(&[uuid, service_class::SERIAL_PORT]);
                info.add_profile_descriptor(service_class::SERIAL_PORT, 0x0102);
            }
            Protocol::L2cap => info.set_service_class_uuids(&[uuid]),
        }
        info.set_protocol(self.protocol, self.server_port());
        info.set_public_browse_group();
        match info.register_service() {
            Ok(registration) => {
                *self.state.registration.borrow_mut() = Some(registration);
                Ok(info)
            }
            Err(e) => {
                self.server.close();
                self.state.error.set(Some(e.server_error()));
                Err(ListenError::Register(e))
            }
        }
    }

    /// Stops listening and removes the record [`listen_uuid`](Self::listen_uuid)
    /// published (Qt: `close`). Connections already accepted stay open.
    pub fn close(&self) {
        let registration = self.state.registration.borrow_mut().take();
        drop(registration);
        self.server.close();
    }

    /// The last error (Qt: `error`).
    pub fn error(&self) -> Option<ServerError> {
        self.state.error.get()
    }

    /// RFCOMM or L2CAP (Qt: `serverType`).
    pub fn server_type(&self) -> Protocol {
        self.protocol
    }

    fn name(&self) -> Option<(BluetoothAddress, u16)> {
        self.server
            .with_fd(|fd| sys::local_name(fd, self.protocol))
            .and_then(Result::ok)
    }

    /// The adapter address listened on; null when listening on every adapter or not at
    /// all (Qt: `serverAddress`).
    pub fn server_address(&self) -> BluetoothAddress {
        self.name().map_or(BluetoothAddress::ANY, |n| n.0)
    }

    /// The channel or PSM listened on, as chosen by the kernel for port 0; 0 when not
    /// listening (Qt: `serverPort`).
    pub fn server_port(&self) -> u16 {
        self.name().map_or(0, |n| n.1)
    }

    /// Security asked of incoming connections, applied at the next `listen` (Qt:
    /// `setSecurityFlags`). See [`SecurityFlags`] for the kernel levels.
    pub fn set_security_flags(&self, flags: SecurityFlags) {
        self.state.security.set(flags);
    }

    /// The security asked of incoming connections (Qt: `securityFlags`).
    pub fn security_flags(&self) -> SecurityFlags {
        self.state.security.get()
    }

    /// Takes the oldest accepted connection, a connected socket (Qt:
    /// `nextPendingConnection`).
    pub fn next_pending_connection(&self) -> Option<BluetoothSocket> {
        self.server
            .next_pending_connection()
            .map(|s| BluetoothSocket::from_accepted(s, self.protocol))
    }
}
