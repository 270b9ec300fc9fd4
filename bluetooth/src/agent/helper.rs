//! The helper-thread side of a [`PairingAgent`](super::PairingAgent): bluer's agent,
//! whose handlers send bluetoothd's questions into the loop and wait for the answers.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bluer::agent::{Agent, ReqError, ReqResult};
use sigloop_core::RemoteEmitter;
use tokio::sync::oneshot;

use super::request::{Answer, DisplayCode, PairingDisplay, Question};
use super::IoCapability;
use crate::bluez::from_bluer;
use crate::BluetoothAddress;

/// What the helper thread sends into the loop.
pub(super) enum Event {
    Ask {
        adapter: BluetoothAddress,
        device: BluetoothAddress,
        question: Question,
        /// Taken by the loop side into the request it emits.
        answer: std::cell::Cell<Option<oneshot::Sender<Answer>>>,
    },
    Display(PairingDisplay),
    /// bluetoothd withdrew its question or display for `device`, or the answer timeout
    /// refused it.
    Cancelled(BluetoothAddress),
}

/// What the handlers share with the loop side.
pub(super) struct Shared {
    pub(super) emitter: RemoteEmitter<Event>,
    /// The answer timeout, in milliseconds.
    pub(super) timeout_ms: AtomicU64,
}

type Reply<T> = Pin<Box<dyn Future<Output = ReqResult<T>> + Send>>;

/// Reports a withdrawn question when bluer drops the handler's future (bluetoothd's
/// `Cancel`) before an answer or the timeout.
struct CancelGuard {
    shared: Arc<Shared>,
    device: BluetoothAddress,
    armed: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.shared.emitter.emit(Event::Cancelled(self.device));
        }
    }
}

/// The adapter's address from bluetoothd's name for it (`hci0`); null if unknown.
async fn adapter_address(session: &bluer::Session, name: &str) -> BluetoothAddress {
    match session.adapter(name) {
        Ok(adapter) => adapter
            .address()
            .await
            .map(from_bluer)
            .unwrap_or(BluetoothAddress::ANY),
        Err(_) => BluetoothAddress::ANY,
    }
}

/// Asks the loop and waits for the answer: a refusal when the timeout runs out or every
/// handle of the request was dropped unanswered.
async fn ask(
    session: bluer::Session,
    shared: Arc<Shared>,
    adapter: String,
    device: bluer::Address,
    question: Question,
) -> ReqResult<Answer> {
    let adapter = adapter_address(&session, &adapter).await;
    let device = from_bluer(device);
    let (tx, rx) = oneshot::channel();
    let asked = Event::Ask {
        adapter,
        device,
        question,
        answer: std::cell::Cell::new(Some(tx)),
    };
    shared.emitter.emit(asked).map_err(|_| ReqError::Rejected)?;
    let timeout = Duration::from_millis(shared.timeout_ms.load(Ordering::Relaxed));
    let mut guard = CancelGuard {
        shared: shared.clone(),
        device,
        armed: true,
    };
    let answer = tokio::time::timeout(timeout, rx).await;
    guard.armed = false;
    match answer {
        Ok(Ok(Answer::Reject)) | Ok(Err(_)) => Err(ReqError::Rejected),
        Ok(Ok(answer)) => Ok(answer),
        Err(_) => {
            log::debug!("pairing question about {device} unanswered: refused");
            let _ = shared.emitter.emit(Event::Cancelled(device));
            Err(ReqError::Rejected)
        }
    }
}

/// Sends a code to show into the loop; reports bluetoothd's `Cancel` of it.
fn display(
    session: bluer::Session,
    shared: Arc<Shared>,
    adapter: String,
    device: bluer::Address,
    code: DisplayCode,
    cancel: oneshot::Receiver<()>,
) -> Reply<()> {
    Box::pin(async move {
        let adapter = adapter_address(&session, &adapter).await;
        let device = from_bluer(device);
        let shown = PairingDisplay {
            adapter,
            device,
            code,
        };
        shared
            .emitter
            .emit(Event::Display(shown))
            .map_err(|_| ReqError::Rejected)?;
        tokio::spawn(async move {
            // An error here means a later question replaced this one's cancel.
            if cancel.await.is_ok() {
                let _ = shared.emitter.emit(Event::Cancelled(device));
            }
        });
        Ok(())
    })
}

/// bluer's agent for `capability`: a handler for each question the capability answers
/// (bluer tells bluetoothd the capability those handlers make; the others are refused).
pub(super) fn agent(
    session: bluer::Session,
    shared: Arc<Shared>,
    capability: IoCapability,
    default: bool,
) -> Agent {
    let mut agent = Agent {
        request_default: default,
        ..Agent::default()
    };
    if capability.keyboard() {
        let (s, sh) = (session.clone(), shared.clone());
        agent.request_pin_code = Some(Box::new(move |r| {
            let (s, sh) = (s.clone(), sh.clone());
            Box::pin(async move {
                match ask(s, sh, r.adapter, r.device, Question::PinCode).await? {
                    Answer::PinCode(pin) => Ok(pin),
                    _ => Err(ReqError::Rejected),
                }
            })
        }));
        let (s, sh) = (session.clone(), shared.clone());
        agent.request_passkey = Some(Box::new(move |r| {
            let (s, sh) = (s.clone(), sh.clone());
            Box::pin(async move {
                match ask(s, sh, r.adapter, r.device, Question::Passkey).await? {
                    Answer::Passkey(key) => Ok(key),
                    _ => Err(ReqError::Rejected),
                }
            })
        }));
    }
    if capability.display() {
        let (s, sh) = (session.clone(), shared.clone());
        agent.display_pin_code = Some(Box::new(move |r| {
            let code = DisplayCode::PinCode(r.pincode);
            display(s.clone(), sh.clone(), r.adapter, r.device, code, r.cancel)
        }));
        let (s, sh) = (session.clone(), shared.clone());
        agent.display_passkey = Some(Box::new(move |r| {
            let code = DisplayCode::Passkey {
                passkey: r.passkey,
                entered: r.entered,
            };
            display(s.clone(), sh.clone(), r.adapter, r.device, code, r.cancel)
        }));
    }
    if capability.yes_no() {
        let (s, sh) = (session.clone(), shared.clone());
        agent.request_confirmation = Some(Box::new(move |r| {
            let question = Question::Confirmation { passkey: r.passkey };
            yes_no(ask(s.clone(), sh.clone(), r.adapter, r.device, question))
        }));
        let (s, sh) = (session.clone(), shared.clone());
        agent.request_authorization = Some(Box::new(move |r| {
            yes_no(ask(
                s.clone(),
                sh.clone(),
                r.adapter,
                r.device,
                Question::Authorization,
            ))
        }));
        let (s, sh) = (session, shared);
        agent.authorize_service = Some(Box::new(move |r| {
            let question = Question::ServiceAuthorization { service: r.service };
            yes_no(ask(s.clone(), sh.clone(), r.adapter, r.device, question))
        }));
    }
    agent
}

fn yes_no(asked: impl Future<Output = ReqResult<Answer>> + Send + 'static) -> Reply<()> {
    Box::pin(async move {
        match asked.await? {
            Answer::Accept => Ok(()),
            _ => Err(ReqError::Rejected),
        }
    })
}
