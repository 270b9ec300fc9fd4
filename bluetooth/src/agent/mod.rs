//! [`PairingAgent`]: the program's own answers to bluetoothd's pairing questions, as
//! signals on the loop (beyond Qt 6, which leaves them to whatever agent bluetoothd has).

mod capability;
mod error;
mod helper;
mod request;

use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sigloop_core::{LoopHandle, Signal};

use crate::bluez;
use crate::BluetoothAddress;

pub use capability::IoCapability;
pub use error::AgentError;
pub use request::{AnswerError, DisplayCode, PairingDisplay, PairingRequest, Question};

/// How long a question waits for the program's answer by default before it is refused
/// (bluetoothd itself gives an agent 60 s; the controllers' pairing timers are 30 s).
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(25);

/// Whether this process has a pairing agent registered (or being registered).
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// Whether this process's agent can answer yes/no questions (its capability).
static CONFIRMS: AtomicBool = AtomicBool::new(false);

/// Whether this process has a [`PairingAgent`].
pub(crate) fn registered() -> bool {
    REGISTERED.load(Ordering::SeqCst)
}

/// Whether this process has a [`PairingAgent`] that bluetoothd can ask to confirm a
/// pairing or authorize one (a capability with yes and no).
pub(crate) fn can_confirm() -> bool {
    registered() && CONFIRMS.load(Ordering::SeqCst)
}

struct Inner {
    capability: IoCapability,
    shared: Arc<helper::Shared>,
    events: Signal<helper::Event>,
    request_received: Signal<PairingRequest>,
    display_requested: Signal<PairingDisplay>,
    request_cancelled: Signal<BluetoothAddress>,
    /// Dropping it unregisters the agent (on the helper thread).
    handle: Option<bluer::agent::AgentHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.handle.take());
        CONFIRMS.store(false, Ordering::SeqCst);
        REGISTERED.store(false, Ordering::SeqCst);
    }
}

/// The program's pairing agent: bluetoothd's questions during a pairing (a PIN code, a
/// passkey, a numeric comparison, an authorization) arrive on the loop as
/// [`request_received`](Self::request_received), each a [`PairingRequest`] the program
/// answers once, now or later; codes to show arrive as
/// [`display_requested`](Self::display_requested).
///
/// It is registered with bluetoothd while the handle lives, as the program's agent (for
/// pairings the program starts with
/// [`LocalDevice::request_pairing`](crate::LocalDevice::request_pairing)) and as
/// bluetoothd's default agent (for pairings a remote device starts). Dropping the last
/// handle unregisters it; bluetoothd then goes back to the agent it had before, if any.
/// A question left unanswered for the answer timeout
/// ([`DEFAULT_ANSWER_TIMEOUT`], [`set_answer_timeout`](Self::set_answer_timeout)) is
/// refused, and so is one whose every `PairingRequest` handle was dropped unanswered.
///
/// Without an agent, behaviour is bluetoothd's: pairings this program starts run as a
/// device with no input and no output (Just Works; a peer that wants more refuses), and
/// a remote device's questions go to bluetoothd's default agent (a desktop's settings
/// program) or, with none, are refused (Just Works is then accepted by the kernel alone).
///
/// One per program: bluetoothd keeps one agent per D-Bus connection.
///
/// ```no_run
/// use sigloop_bluetooth::{IoCapability, PairingAgent, Question};
/// use sigloop_core::EventLoop;
///
/// let event_loop = EventLoop::new()?;
/// let agent = PairingAgent::new(&event_loop.handle(), IoCapability::DisplayYesNo)?;
/// agent.request_received().connect(|request| {
///     if let Question::Confirmation { passkey } = request.question() {
///         println!("{} shows {passkey:06}?", request.device());
///         let _ = request.accept();
///     }
/// });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the PairingAgent unregisters it"]
#[derive(Clone)]
pub struct PairingAgent {
    inner: Rc<Inner>,
}

impl fmt::Debug for PairingAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairingAgent")
            .field("capability", &self.inner.capability)
            .field("answer_timeout", &self.answer_timeout())
            .finish()
    }
}

impl PairingAgent {
    /// Registers an agent with `capability` with bluetoothd and makes it the default
    /// agent. Blocks for bluetoothd's answers.
    ///
    /// # Errors
    /// [`AgentError::AlreadyRegistered`] if this program has an agent;
    /// [`AgentError::Bluez`] if bluetoothd refused or could not be reached. Nothing is
    /// registered then.
    pub fn new(
        event_loop: &LoopHandle,
        capability: IoCapability,
    ) -> Result<PairingAgent, AgentError> {
        PairingAgent::register(event_loop, capability, true)
    }

    /// As [`new`](Self::new), without asking to be bluetoothd's default agent: the
    /// agent answers the questions of the pairings this program starts only; those of
    /// pairings a remote device starts go to bluetoothd's default agent (another
    /// program's, or none).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn new_not_default(
        event_loop: &LoopHandle,
        capability: IoCapability,
    ) -> Result<PairingAgent, AgentError> {
        PairingAgent::register(event_loop, capability, false)
    }

    fn register(
        event_loop: &LoopHandle,
        capability: IoCapability,
        default: bool,
    ) -> Result<PairingAgent, AgentError> {
        if REGISTERED.swap(true, Ordering::SeqCst) {
            return Err(AgentError::AlreadyRegistered);
        }
        let events = Signal::new();
        let shared = Arc::new(helper::Shared {
            emitter: events.remote_emitter(event_loop),
            timeout_ms: AtomicU64::new(DEFAULT_ANSWER_TIMEOUT.as_millis() as u64),
        });
        let for_helper = shared.clone();
        let handle = bluez::call(move |session| async move {
            let agent = helper::agent(session.clone(), for_helper, capability, default);
            Ok(session.register_agent(agent).await?)
        });
        let handle = match handle {
            Ok(handle) => handle,
            Err(e) => {
                REGISTERED.store(false, Ordering::SeqCst);
                return Err(AgentError::Bluez(e));
            }
        };
        CONFIRMS.store(capability.yes_no(), Ordering::SeqCst);
        let inner = Rc::new(Inner {
            capability,
            shared,
            events,
            request_received: Signal::new(),
            display_requested: Signal::new(),
            request_cancelled: Signal::new(),
            handle: Some(handle),
        });
        let weak = Rc::downgrade(&inner);
        inner.events.connect(move |event| {
            if let Some(inner) = weak.upgrade() {
                PairingAgent { inner }.on_event(event);
            }
        });
        Ok(PairingAgent { inner })
    }

    fn on_event(&self, event: &helper::Event) {
        match event {
            helper::Event::Ask {
                adapter,
                device,
                question,
                answer,
            } => {
                // The sender moves into the request (an event is emitted once).
                let Some(answer) = answer.take() else { return };
                let request = PairingRequest::new(*adapter, *device, question.clone(), answer);
                self.inner.request_received.emit(&request);
            }
            helper::Event::Display(shown) => self.inner.display_requested.emit(shown),
            helper::Event::Cancelled(device) => self.inner.request_cancelled.emit(device),
        }
    }

    /// The capability it was registered with.
    pub fn capability(&self) -> IoCapability {
        self.inner.capability
    }

    /// How long a question waits for an answer before it is refused.
    pub fn answer_timeout(&self) -> Duration {
        Duration::from_millis(self.inner.shared.timeout_ms.load(Ordering::Relaxed))
    }

    /// Sets how long later questions wait for an answer before they are refused.
    pub fn set_answer_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.inner.shared.timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// Emitted for each question bluetoothd asks: answer the [`PairingRequest`] once.
    pub fn request_received(&self) -> &Signal<PairingRequest> {
        &self.inner.request_received
    }

    /// Emitted for each code to show (no answer needed).
    pub fn display_requested(&self) -> &Signal<PairingDisplay> {
        &self.inner.display_requested
    }

    /// Emitted with the device when bluetoothd withdraws a question or a display about
    /// it (the pairing ended another way: the peer refused, the link dropped) and when
    /// the answer timeout refuses a question.
    pub fn request_cancelled(&self) -> &Signal<BluetoothAddress> {
        &self.inner.request_cancelled
    }
}
