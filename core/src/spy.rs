//! [`SignalSpy`]: records emissions, for tests (Qt's `QSignalSpy`).

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::event_loop::LoopHandle;
use crate::signal::{ScopedConnection, Signal};

/// Records a clone of every argument a signal is emitted with (Qt's `QSignalSpy`).
///
/// ```
/// use sigloop_core::{Signal, SignalSpy};
///
/// let sig = Signal::<u32>::new();
/// let spy = SignalSpy::new(&sig);
/// sig.emit(&1);
/// sig.emit(&2);
/// assert_eq!(spy.take(), vec![1, 2]);
/// ```
///
/// The spy disconnects itself when dropped and does not keep the signal alive.
#[must_use = "dropping a SignalSpy disconnects it"]
pub struct SignalSpy<T: Clone + 'static> {
    records: Rc<RefCell<Vec<T>>>,
    /// Total emissions seen, including those already taken.
    seen: Rc<std::cell::Cell<usize>>,
    _connection: ScopedConnection,
}

impl<T: Clone + fmt::Debug + 'static> fmt::Debug for SignalSpy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalSpy")
            .field("records", &*self.records.borrow())
            .finish()
    }
}

impl<T: Clone + 'static> SignalSpy<T> {
    /// Starts recording `signal`'s emissions.
    pub fn new(signal: &Signal<T>) -> Self {
        let records = Rc::new(RefCell::new(Vec::new()));
        let seen = Rc::new(std::cell::Cell::new(0));
        let (r, s) = (records.clone(), seen.clone());
        let conn = signal.connect_scoped(move |v: &T| {
            r.borrow_mut().push(v.clone());
            s.set(s.get() + 1);
        });
        SignalSpy {
            records,
            seen,
            _connection: conn,
        }
    }

    /// The number of recorded emissions not yet taken (Qt's `QSignalSpy::count`).
    pub fn count(&self) -> usize {
        self.records.borrow().len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// A clone of the recorded arguments, oldest first.
    pub fn records(&self) -> Vec<T> {
        self.records.borrow().clone()
    }

    /// The `i`-th recorded argument (Qt's `spy.at(i)`).
    pub fn get(&self, i: usize) -> Option<T> {
        self.records.borrow().get(i).cloned()
    }

    /// Removes and returns the recorded arguments (Qt's `QSignalSpy::takeFirst` for all).
    pub fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.records.borrow_mut())
    }

    /// Runs `event_loop` until the signal is emitted once more, for at most `timeout`;
    /// returns whether it was (Qt's `QSignalSpy::wait`).
    ///
    /// # Errors
    /// Polling failed.
    pub fn wait(&self, event_loop: &LoopHandle, timeout: Duration) -> io::Result<bool> {
        let target = self.seen.get() + 1;
        let seen = self.seen.clone();
        event_loop.wait_until(Instant::now() + timeout, || seen.get() >= target)
    }

    /// Runs `event_loop` until at least `count` emissions are recorded (not taken), for at
    /// most `timeout`; returns whether they were.
    ///
    /// # Errors
    /// Polling failed.
    pub fn wait_for_count(
        &self,
        event_loop: &LoopHandle,
        count: usize,
        timeout: Duration,
    ) -> io::Result<bool> {
        let records = self.records.clone();
        event_loop.wait_until(Instant::now() + timeout, || records.borrow().len() >= count)
    }
}
