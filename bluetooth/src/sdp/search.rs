//! [`ServiceSearch`]: one ServiceSearchAttribute transaction with a peer's SDP server,
//! run on the event loop over an L2CAP socket to PSM 1.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use sigloop_core::{LoopHandle, SocketError, Timer, WeakLoopHandle};
use uuid::Uuid;

use super::{parse_attribute_lists, parse_search_attribute_response, search_attribute_request};
use super::{SdpError, MAX_PATTERN};
use crate::{BluetoothAddress, BluetoothSocket, Protocol, ServiceInfo};

/// The SDP server's PSM.
const SDP_PSM: u16 = 0x0001;

/// A peer may answer in at most this many bytes of attribute lists (all pieces together);
/// more ends the search with [`SdpError::TooLarge`]. Real servers hold a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// A search that has not finished after this long fails with `SocketTimeout`. A page
/// timeout (no such device) takes about 5 s; the kernel gives up on a stuck L2CAP
/// connect after 40 s.
pub const SEARCH_TIMEOUT: Duration = Duration::from_secs(30);

/// How a search failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    /// The connection to the SDP server failed or broke: `HostNotFound` when no device
    /// answered, `SocketTimeout` when the search ran past [`SEARCH_TIMEOUT`].
    Socket(SocketError),
    /// The server answered with an error or with data that is not valid SDP.
    Sdp(SdpError),
}

impl SearchError {
    /// The socket error a connect by UUID reports for this failure: the socket's own,
    /// or `ServiceNotFound` when the SDP exchange itself failed (as Qt reports it).
    pub fn socket_error(&self) -> SocketError {
        match self {
            SearchError::Socket(e) => *e,
            SearchError::Sdp(_) => SocketError::ServiceNotFound,
        }
    }
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchError::Socket(e) => write!(f, "SDP connection failed: {e}"),
            SearchError::Sdp(e) => e.fmt(f),
        }
    }
}

impl Error for SearchError {}

type Done = Box<dyn FnOnce(Result<Vec<ServiceInfo>, SearchError>)>;

struct State {
    event_loop: WeakLoopHandle,
    socket: BluetoothSocket,
    timer: Timer,
    remote: BluetoothAddress,
    pattern: Vec<Uuid>,
    transaction: Cell<u16>,
    collected: RefCell<Vec<u8>>,
    done: RefCell<Option<Done>>,
}

/// One SDP query of a peer: every record matching a UUID pattern, with all its
/// attributes, followed through continuation states (Bluetooth Core, Vol 3, Part B).
///
/// The search runs on the loop; `done` is called once, from the loop, with the records
/// (possibly none) or a [`SearchError`]. The peer does not have to be known to bluetoothd,
/// and bluetoothd is not used at all.
///
/// Dropping the handle cancels the search: the connection is closed and `done` is never
/// called.
#[must_use = "dropping a ServiceSearch cancels it"]
pub struct ServiceSearch {
    state: Rc<State>,
}

impl fmt::Debug for ServiceSearch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceSearch")
            .field("remote", &self.state.remote)
            .field("pattern", &self.state.pattern)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl ServiceSearch {
    /// Starts asking `remote`'s SDP server, from the adapter `local` (the null address
    /// lets the kernel choose), for records that contain every UUID of `pattern`.
    /// The public browse group's UUID lists every browsable record.
    ///
    /// # Errors
    /// At once, and `done` is not called: [`SdpError::BadRequest`] (as
    /// `SearchError::Sdp`) for an empty pattern or one of more than 12 UUIDs;
    /// `SearchError::Socket` when the connect cannot even start (the null address gives
    /// `HostNotFound`, a local adapter that does not exist `SocketAddressNotAvailable`).
    pub fn start(
        event_loop: &LoopHandle,
        local: BluetoothAddress,
        remote: BluetoothAddress,
        pattern: &[Uuid],
        done: impl FnOnce(Result<Vec<ServiceInfo>, SearchError>) + 'static,
    ) -> Result<ServiceSearch, SearchError> {
        if pattern.is_empty() || pattern.len() > MAX_PATTERN {
            return Err(SearchError::Sdp(SdpError::BadRequest(
                "a search pattern holds 1 to 12 UUIDs",
            )));
        }
        let socket = BluetoothSocket::new(event_loop, Protocol::L2cap);
        socket.set_local_adapter(local);
        let timer = Timer::new(event_loop);
        timer.set_single_shot(true);
        let state = Rc::new(State {
            event_loop: event_loop.downgrade(),
            socket,
            timer,
            remote,
            pattern: pattern.to_vec(),
            transaction: Cell::new(0),
            collected: RefCell::new(Vec::new()),
            done: RefCell::new(None),
        });
        connect_slots(&state);
        // `done` goes in only once the connect has started: a connect that fails at once
        // is returned, and its `error_occurred` must not also deliver a result.
        state
            .socket
            .connect_to_service(remote, SDP_PSM)
            .map_err(SearchError::Socket)?;
        *state.done.borrow_mut() = Some(Box::new(done));
        state.timer.start(SEARCH_TIMEOUT);
        Ok(ServiceSearch { state })
    }

    /// Whether the search has ended (its result is delivered or on its way).
    pub fn is_finished(&self) -> bool {
        self.state.done.borrow().is_none()
    }

    /// The device asked.
    pub fn remote(&self) -> BluetoothAddress {
        self.state.remote
    }
}

impl Drop for ServiceSearch {
    fn drop(&mut self) {
        self.state.done.borrow_mut().take();
        self.state.timer.stop();
        self.state.socket.abort();
    }
}

fn connect_slots(state: &Rc<State>) {
    let weak = Rc::downgrade(state);
    state.socket.connected().connect(move |()| {
        if let Some(state) = weak.upgrade() {
            send_request(&state, &[]);
        }
    });
    let weak = Rc::downgrade(state);
    state.socket.ready_read().connect(move |()| {
        if let Some(state) = weak.upgrade() {
            on_ready_read(&state);
        }
    });
    let weak: Weak<State> = Rc::downgrade(state);
    state.socket.error_occurred().connect(move |e| {
        if let Some(state) = weak.upgrade() {
            finish(&state, Err(SearchError::Socket(*e)));
        }
    });
    let weak = Rc::downgrade(state);
    state.timer.timeout().connect(move |()| {
        if let Some(state) = weak.upgrade() {
            finish(&state, Err(SearchError::Socket(SocketError::SocketTimeout)));
        }
    });
}

fn send_request(state: &State, continuation: &[u8]) {
    let tid = state.transaction.get().wrapping_add(1);
    state.transaction.set(tid);
    let result = search_attribute_request(tid, &state.pattern, u16::MAX, continuation)
        .map_err(SearchError::Sdp)
        .and_then(|pdu| state.socket.write(&pdu).map_err(SearchError::Socket));
    if let Err(e) = result {
        finish(state, Err(e));
    }
}

fn on_ready_read(state: &State) {
    while let Some(packet) = state.socket.read_packet() {
        if state.done.borrow().is_none() {
            return;
        }
        let piece = match parse_search_attribute_response(state.transaction.get(), &packet) {
            Ok(p) => p,
            Err(e) => return finish(state, Err(SearchError::Sdp(e))),
        };
        let total = {
            let mut collected = state.collected.borrow_mut();
            if collected.len() + piece.bytes.len() > MAX_RESPONSE_BYTES {
                None
            } else {
                collected.extend_from_slice(piece.bytes);
                Some(collected.len())
            }
        };
        if total.is_none() {
            return finish(state, Err(SearchError::Sdp(SdpError::TooLarge)));
        }
        if !piece.continuation.is_empty() {
            let continuation = piece.continuation.to_vec();
            send_request(state, &continuation);
            continue;
        }
        let bytes = std::mem::take(&mut *state.collected.borrow_mut());
        let result = parse_attribute_lists(&bytes)
            .map(|records| {
                records
                    .into_iter()
                    .map(|r| ServiceInfo::from_attributes(state.remote, r))
                    .collect()
            })
            .map_err(SearchError::Sdp);
        return finish(state, result);
    }
}

/// Ends the search: closes the connection and calls `done` from the loop, outside the
/// socket's signal, so `done` may drop the search's handle.
fn finish(state: &State, result: Result<Vec<ServiceInfo>, SearchError>) {
    let Some(done) = state.done.borrow_mut().take() else {
        return;
    };
    state.timer.stop();
    state.socket.abort();
    if let Some(event_loop) = state.event_loop.upgrade() {
        event_loop.post(move || done(result));
    }
}
