//! [`Timer`] and [`single_shot`], on one timerfd per loop.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::{Interest, Mode, PostAction};
use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};

use super::{LoopHandle, WeakLoopHandle};
use crate::generation::{Generation, Stamp};
use crate::signal::Signal;

enum Action {
    /// A [`Timer`], valid while its generation matches (a restart bumps it).
    Timer(Weak<TimerInner>, Stamp),
    /// A [`single_shot`] closure.
    Once(Box<dyn FnOnce()>),
}

struct Entry {
    deadline: Instant,
    seq: u64,
    action: Action,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so `BinaryHeap` pops the earliest deadline (then the oldest) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// Every timer of one loop: a heap of deadlines and one timerfd armed at the earliest, so
/// the poller's fd turns readable when a timer is due (which an embedding loop needs).
pub(crate) struct TimerQueue {
    heap: RefCell<BinaryHeap<Entry>>,
    seq: Cell<u64>,
    fd: Rc<OwnedFd>,
    armed: Cell<Option<Instant>>,
}

impl TimerQueue {
    pub(crate) fn new(handle: &calloop::LoopHandle<'static, ()>) -> io::Result<TimerQueue> {
        let fd = Rc::new(timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?);
        let source = Generic::new(fd.clone(), Interest::READ, Mode::Level);
        handle
            .insert_source(source, |_, fd, _| {
                // Only clears the readiness; the iteration fires the due timers after the poll.
                let mut buf = [0u8; 8];
                match rustix::io::read(&**fd, &mut buf) {
                    Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(PostAction::Continue),
                    Err(e) => Err(e.into()),
                }
            })
            .map_err(|e| io::Error::from(e.error))?;
        Ok(TimerQueue {
            heap: RefCell::new(BinaryHeap::new()),
            seq: Cell::new(0),
            fd,
            armed: Cell::new(None),
        })
    }

    fn push(&self, deadline: Instant, action: Action) {
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        self.heap.borrow_mut().push(Entry {
            deadline,
            seq,
            action,
        });
    }

    /// Whether a deadline has passed. Reads the clock only when a timer is queued: on a
    /// machine without a vDSO clock (the test bed's guests use HPET), every reading is a
    /// system call.
    pub(crate) fn due(&self) -> bool {
        self.heap
            .borrow()
            .peek()
            .is_some_and(|e| e.deadline <= Instant::now())
    }

    /// Fires the timers due now; timers (re)started meanwhile wait for the next iteration,
    /// so a zero-interval timer cannot spin inside one iteration.
    pub(crate) fn fire_due(&self, handle: &LoopHandle) {
        if self.heap.borrow().is_empty() {
            return; // no clock reading (see `due`)
        }
        let now = Instant::now();
        let limit = self.seq.get();
        loop {
            let entry = {
                let mut heap = self.heap.borrow_mut();
                match heap.peek() {
                    Some(e) if e.deadline <= now && e.seq < limit => heap.pop(),
                    _ => None,
                }
            };
            let Some(entry) = entry else { break };
            match entry.action {
                Action::Timer(weak, generation) => {
                    if let Some(timer) = weak.upgrade() {
                        if timer.generation.is_current(generation) && timer.active.get() {
                            timer.fire(self, entry.deadline, now);
                        }
                    }
                }
                Action::Once(f) => f(),
            }
            if handle.is_exiting() {
                break;
            }
        }
    }

    /// Arms the timerfd for the earliest live deadline (or disarms it).
    pub(crate) fn rearm(&self) {
        let next = {
            let mut heap = self.heap.borrow_mut();
            // Drop stale entries at the top so they do not cause empty wake-ups.
            while let Some(top) = heap.peek() {
                let stale = match &top.action {
                    Action::Timer(w, g) => w
                        .upgrade()
                        .is_none_or(|t| !t.generation.is_current(*g) || !t.active.get()),
                    Action::Once(_) => false,
                };
                if !stale {
                    break;
                }
                heap.pop();
            }
            heap.peek().map(|e| e.deadline)
        };
        // Unchanged and still in the future: the timerfd will fire for it. A deadline
        // already past is re-armed, since its expiry may have been consumed.
        if next == self.armed.get() && next.is_none_or(|d| d > Instant::now()) {
            return;
        }
        let value = match next {
            // A zero it_value disarms, so a past deadline becomes 1 ns.
            Some(deadline) => {
                let d = deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1));
                Timespec {
                    tv_sec: d.as_secs() as _,
                    tv_nsec: d.subsec_nanos() as _,
                }
            }
            None => Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        match timerfd_settime(&*self.fd, TimerfdTimerFlags::empty(), &spec) {
            Ok(_) => self.armed.set(next),
            Err(e) => log::error!("timerfd_settime failed: {e}"),
        }
    }
}

struct TimerInner {
    event_loop: WeakLoopHandle,
    interval: Cell<Duration>,
    single_shot: Cell<bool>,
    active: Cell<bool>,
    generation: Generation,
    deadline: Cell<Option<Instant>>,
    timeout: Signal<()>,
}

impl TimerInner {
    fn fire(self: &Rc<Self>, queue: &TimerQueue, deadline: Instant, now: Instant) {
        if self.single_shot.get() {
            self.active.set(false);
            self.deadline.set(None);
        } else {
            let interval = self.interval.get();
            let mut next = deadline + interval;
            if next <= now {
                // Late by a whole interval or more: skip the missed ticks.
                next = now + interval;
            }
            self.deadline.set(Some(next));
            queue.push(
                next,
                Action::Timer(Rc::downgrade(self), self.generation.stamp()),
            );
        }
        self.timeout.emit(&());
    }
}

/// A repeating or single-shot timer (Qt's `QTimer`).
///
/// [`timeout`](Self::timeout) is emitted each time it expires. A repeating timer that
/// falls behind by a whole interval or more skips the missed ticks rather than firing in a
/// burst. Timers are precise to the poller's resolution (a timerfd, CLOCK_MONOTONIC).
///
/// `Timer` is a cheap handle (`Clone`); dropping the last handle stops the timer, and the
/// loop holds none. A timer may be started, stopped or dropped from inside its own
/// `timeout` slot.
#[must_use = "dropping the last handle of a Timer stops it"]
#[derive(Clone)]
pub struct Timer {
    inner: Rc<TimerInner>,
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("interval", &self.inner.interval.get())
            .field("single_shot", &self.inner.single_shot.get())
            .field("active", &self.inner.active.get())
            .finish()
    }
}

impl Timer {
    /// Creates an inactive, repeating timer with a zero interval on `event_loop`.
    pub fn new(event_loop: &LoopHandle) -> Timer {
        Timer {
            inner: Rc::new(TimerInner {
                event_loop: event_loop.downgrade(),
                interval: Cell::new(Duration::ZERO),
                single_shot: Cell::new(false),
                active: Cell::new(false),
                generation: Generation::default(),
                deadline: Cell::new(None),
                timeout: Signal::new(),
            }),
        }
    }

    /// The signal emitted on expiry (Qt's `QTimer::timeout`).
    pub fn timeout(&self) -> &Signal<()> {
        &self.inner.timeout
    }

    /// Sets the interval and (re)starts the timer (Qt's `QTimer::start(msec)`).
    pub fn start(&self, interval: Duration) {
        self.inner.interval.set(interval);
        self.restart();
    }

    /// (Re)starts the timer with its current interval (Qt's `QTimer::start()`).
    ///
    /// If the loop is gone, the timer stays inactive and a `log` warning is given.
    pub fn restart(&self) {
        let Some(handle) = self.inner.event_loop.upgrade() else {
            log::warn!("Timer started after its event loop was dropped");
            self.stop();
            return;
        };
        let inner = &self.inner;
        inner.generation.bump();
        inner.active.set(true);
        let deadline = Instant::now() + inner.interval.get();
        inner.deadline.set(Some(deadline));
        let queue = &handle.inner().timers;
        queue.push(
            deadline,
            Action::Timer(Rc::downgrade(inner), inner.generation.stamp()),
        );
        queue.rearm();
    }

    /// Stops the timer (Qt's `QTimer::stop`). Harmless if it is not running.
    pub fn stop(&self) {
        let inner = &self.inner;
        inner.active.set(false);
        inner.deadline.set(None);
        inner.generation.bump();
    }

    /// Whether the timer is running (Qt's `QTimer::isActive`).
    pub fn is_active(&self) -> bool {
        self.inner.active.get()
    }

    /// Sets the interval; an active timer restarts with it (Qt's `QTimer::setInterval`).
    pub fn set_interval(&self, interval: Duration) {
        self.inner.interval.set(interval);
        if self.is_active() {
            self.restart();
        }
    }

    /// The interval (Qt's `QTimer::interval`).
    pub fn interval(&self) -> Duration {
        self.inner.interval.get()
    }

    /// Makes the timer fire once per start (Qt's `QTimer::setSingleShot`).
    pub fn set_single_shot(&self, single_shot: bool) {
        self.inner.single_shot.set(single_shot);
    }

    /// Whether the timer fires once per start (Qt's `QTimer::isSingleShot`).
    pub fn is_single_shot(&self) -> bool {
        self.inner.single_shot.get()
    }

    /// Time left until the next expiry; `None` if inactive (Qt's
    /// `QTimer::remainingTime`, which answers -1 there).
    pub fn remaining_time(&self) -> Option<Duration> {
        self.inner
            .deadline
            .get()
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// Runs `f` once, `delay` from now, on `event_loop` (Qt's `QTimer::singleShot`).
///
/// The loop keeps the closure until it runs; it is dropped unrun if the loop is dropped
/// first.
pub fn single_shot<F: FnOnce() + 'static>(event_loop: &LoopHandle, delay: Duration, f: F) {
    let queue = &event_loop.inner().timers;
    queue.push(Instant::now() + delay, Action::Once(Box::new(f)));
    queue.rearm();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ms: u64, seq: u64, base: Instant) -> Entry {
        Entry {
            deadline: base + Duration::from_millis(ms),
            seq,
            action: Action::Once(Box::new(|| {})),
        }
    }

    #[test]
    fn heap_pops_earliest_deadline_then_oldest() {
        let base = Instant::now();
        let mut heap = BinaryHeap::new();
        for (ms, seq) in [(30, 0), (10, 1), (10, 2), (20, 3)] {
            heap.push(entry(ms, seq, base));
        }
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|e| e.seq)).collect();
        assert_eq!(order, [1, 2, 3, 0]);
    }
}
