//! [`PairingRequest`]: one question of bluetoothd to a [`PairingAgent`](super::PairingAgent),
//! answered once; and [`PairingDisplay`], a code to show.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::rc::Rc;

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::BluetoothAddress;

/// What bluetoothd asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// A legacy (pre-2.1) device wants a PIN code: answer with
    /// [`answer_pin_code`](PairingRequest::answer_pin_code).
    PinCode,
    /// Enter the passkey the other side shows: answer with
    /// [`answer_passkey`](PairingRequest::answer_passkey).
    Passkey,
    /// Numeric comparison: does the other side show `passkey` too?
    /// [`accept`](PairingRequest::accept) or [`reject`](PairingRequest::reject).
    Confirmation {
        /// The six-digit number both sides show (print it zero-padded: `{:06}`).
        passkey: u32,
    },
    /// A device that asked to pair with no further check (Just Works): may it?
    Authorization,
    /// A device not trusted wants to connect to one of this host's services: may it?
    ServiceAuthorization {
        /// The service (profile) UUID.
        service: Uuid,
    },
}

/// An answer, as it goes back to the helper thread.
#[derive(Debug)]
pub(crate) enum Answer {
    Accept,
    Reject,
    PinCode(String),
    Passkey(u32),
}

/// Why an answer was not taken; the request is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnswerError {
    /// This request was answered before.
    AlreadyAnswered,
    /// bluetoothd no longer waits for the answer: it withdrew the question, or the
    /// agent's answer timeout refused it.
    NotPending,
    /// This kind of answer does not fit the question (a passkey for a confirmation,
    /// accepting a PIN code question without a PIN).
    WrongAnswer,
    /// A PIN code is 1 to 16 bytes.
    InvalidPinCode,
    /// A passkey is at most 999999.
    InvalidPasskey,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AnswerError::AlreadyAnswered => "this pairing question was answered before",
            AnswerError::NotPending => "bluetoothd no longer waits for this answer",
            AnswerError::WrongAnswer => "this answer does not fit the question",
            AnswerError::InvalidPinCode => "a PIN code is 1 to 16 bytes",
            AnswerError::InvalidPasskey => "a passkey is at most 999999",
        })
    }
}

impl Error for AnswerError {}

struct Inner {
    adapter: BluetoothAddress,
    device: BluetoothAddress,
    question: Question,
    answer: RefCell<Option<oneshot::Sender<Answer>>>,
    answered: Cell<bool>,
}

/// A question bluetoothd asked the program's [`PairingAgent`](super::PairingAgent), to
/// be answered once, now or later (keep a clone). Unanswered, it is refused when the
/// agent's answer timeout runs out, or at once when the last clone is dropped.
#[derive(Clone)]
pub struct PairingRequest {
    inner: Rc<Inner>,
}

impl fmt::Debug for PairingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairingRequest")
            .field("adapter", &self.inner.adapter)
            .field("device", &self.inner.device)
            .field("question", &self.inner.question)
            .field("pending", &self.is_pending())
            .finish()
    }
}

impl PairingRequest {
    pub(crate) fn new(
        adapter: BluetoothAddress,
        device: BluetoothAddress,
        question: Question,
        answer: oneshot::Sender<Answer>,
    ) -> PairingRequest {
        PairingRequest {
            inner: Rc::new(Inner {
                adapter,
                device,
                question,
                answer: RefCell::new(Some(answer)),
                answered: Cell::new(false),
            }),
        }
    }

    /// The local adapter the question is about.
    pub fn adapter(&self) -> BluetoothAddress {
        self.inner.adapter
    }

    /// The remote device.
    pub fn device(&self) -> BluetoothAddress {
        self.inner.device
    }

    /// What is asked.
    pub fn question(&self) -> &Question {
        &self.inner.question
    }

    /// Whether bluetoothd still waits for an answer.
    pub fn is_pending(&self) -> bool {
        self.inner
            .answer
            .borrow()
            .as_ref()
            .is_some_and(|tx| !tx.is_closed())
    }

    /// Yes, to a [`Question::Confirmation`], [`Question::Authorization`] or
    /// [`Question::ServiceAuthorization`].
    ///
    /// # Errors
    /// [`AnswerError::WrongAnswer`] for a PIN code or passkey question; see
    /// [`AnswerError`] for the others.
    pub fn accept(&self) -> Result<(), AnswerError> {
        match self.inner.question {
            Question::PinCode | Question::Passkey => Err(AnswerError::WrongAnswer),
            _ => self.send(Answer::Accept),
        }
    }

    /// No, to any question: the pairing (or the service's connection) is refused.
    ///
    /// # Errors
    /// See [`AnswerError`].
    pub fn reject(&self) -> Result<(), AnswerError> {
        self.send(Answer::Reject)
    }

    /// The PIN code, for a [`Question::PinCode`]: 1 to 16 bytes.
    ///
    /// # Errors
    /// [`AnswerError::InvalidPinCode`], [`AnswerError::WrongAnswer`] for another
    /// question; see [`AnswerError`] for the others.
    pub fn answer_pin_code(&self, pin_code: &str) -> Result<(), AnswerError> {
        if self.inner.question != Question::PinCode {
            return Err(AnswerError::WrongAnswer);
        }
        if pin_code.is_empty() || pin_code.len() > 16 {
            return Err(AnswerError::InvalidPinCode);
        }
        self.send(Answer::PinCode(pin_code.to_owned()))
    }

    /// The passkey, for a [`Question::Passkey`]: 0 to 999999.
    ///
    /// # Errors
    /// [`AnswerError::InvalidPasskey`], [`AnswerError::WrongAnswer`] for another
    /// question; see [`AnswerError`] for the others.
    pub fn answer_passkey(&self, passkey: u32) -> Result<(), AnswerError> {
        if self.inner.question != Question::Passkey {
            return Err(AnswerError::WrongAnswer);
        }
        if passkey > 999_999 {
            return Err(AnswerError::InvalidPasskey);
        }
        self.send(Answer::Passkey(passkey))
    }

    fn send(&self, answer: Answer) -> Result<(), AnswerError> {
        if self.inner.answered.get() {
            return Err(AnswerError::AlreadyAnswered);
        }
        let tx = self.inner.answer.borrow_mut().take();
        let Some(tx) = tx else {
            return Err(AnswerError::NotPending);
        };
        match tx.send(answer) {
            Ok(()) => {
                self.inner.answered.set(true);
                Ok(())
            }
            Err(_) => Err(AnswerError::NotPending),
        }
    }
}

/// A code for the user to see (bluetoothd's `DisplayPinCode` and `DisplayPasskey`): it
/// needs no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingDisplay {
    /// The local adapter.
    pub adapter: BluetoothAddress,
    /// The remote device, where the user types the code.
    pub device: BluetoothAddress,
    /// What to show.
    pub code: DisplayCode,
}

/// What a [`PairingDisplay`] shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayCode {
    /// A PIN code to type on a legacy device (a keyboard).
    PinCode(String),
    /// A passkey to type on the other device; `entered` keys are typed there so far.
    Passkey {
        /// The six-digit number (print it zero-padded: `{:06}`).
        passkey: u32,
        /// How many digits the other side reported typed.
        entered: u16,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(question: Question) -> (PairingRequest, oneshot::Receiver<Answer>) {
        let (tx, rx) = oneshot::channel();
        let a = BluetoothAddress::new([0, 0, 0, 0, 0, 1]);
        let d = BluetoothAddress::new([0, 0, 0, 0, 0, 2]);
        (PairingRequest::new(a, d, question, tx), rx)
    }

    #[test]
    fn a_question_is_answered_once() {
        let (r, mut rx) = request(Question::Confirmation { passkey: 42 });
        assert!(r.is_pending());
        assert_eq!(r.answer_passkey(42), Err(AnswerError::WrongAnswer));
        assert!(r.is_pending(), "a wrong answer changes nothing");
        r.clone().accept().unwrap();
        assert!(matches!(rx.try_recv(), Ok(Answer::Accept)));
        assert!(!r.is_pending());
        assert_eq!(r.reject(), Err(AnswerError::AlreadyAnswered));
    }

    #[test]
    fn bad_codes_are_refused_and_change_nothing() {
        let (pin, mut pin_rx) = request(Question::PinCode);
        assert_eq!(pin.accept(), Err(AnswerError::WrongAnswer));
        assert_eq!(pin.answer_pin_code(""), Err(AnswerError::InvalidPinCode));
        assert_eq!(
            pin.answer_pin_code("12345678901234567"),
            Err(AnswerError::InvalidPinCode)
        );
        assert_eq!(pin.answer_passkey(1), Err(AnswerError::WrongAnswer));
        pin.answer_pin_code("0000").unwrap();
        assert!(matches!(pin_rx.try_recv(), Ok(Answer::PinCode(p)) if p == "0000"));

        let (key, mut key_rx) = request(Question::Passkey);
        assert_eq!(
            key.answer_passkey(1_000_000),
            Err(AnswerError::InvalidPasskey)
        );
        key.answer_passkey(999_999).unwrap();
        assert!(matches!(key_rx.try_recv(), Ok(Answer::Passkey(999_999))));
    }

    #[test]
    fn an_answer_nobody_waits_for_is_not_pending() {
        let (r, rx) = request(Question::Authorization);
        drop(rx);
        assert!(!r.is_pending());
        assert_eq!(r.accept(), Err(AnswerError::NotPending));
    }
}
