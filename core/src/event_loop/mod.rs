//! [`EventLoop`] and its handles: Qt's event dispatcher and `QEventLoop`, on calloop.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use calloop::ping::{make_ping, Ping};

mod notifier;
mod queued;
mod remote;
mod timer;

pub use notifier::{Interest, Readiness, SocketNotifier};
pub use remote::{LoopClosed, LoopSender, RemoteEmitter};
pub use timer::{single_shot, Timer};

use crate::signal::Signal;
use notifier::{AlwaysReady, NotifierInner, ReadyQueue};
use remote::Remote;
use timer::TimerQueue;

/// [`LoopHandle::process_events`] waits with no timeout from this long on (about 136
/// years), which no clock deadline overflows below.
const NO_TIMEOUT_FROM: Duration = Duration::from_secs(1 << 32);

/// A unit of work run on the loop's thread.
pub(crate) type Task = Box<dyn FnOnce()>;

/// Work waiting for its turn in an iteration, first in first out: posted closures and
/// queued slots (`LoopInner::queue`), or the notifiers that the last poll found ready
/// (`LoopInner::ready`).
pub(crate) struct WorkQueue<T> {
    items: RefCell<VecDeque<T>>,
}

impl<T> Default for WorkQueue<T> {
    fn default() -> Self {
        WorkQueue {
            items: RefCell::new(VecDeque::new()),
        }
    }
}

impl<T> WorkQueue<T> {
    /// Queues `item`; returns whether the queue was empty before.
    pub(crate) fn push(&self, item: T) -> bool {
        let mut items = self.items.borrow_mut();
        items.push_back(item);
        items.len() == 1
    }

    pub(crate) fn len(&self) -> usize {
        self.items.borrow().len()
    }

    /// Calls `run` on each item queued now, with nothing borrowed, not on those queued
    /// meanwhile; stops early on an exit request. Returns how many ran.
    pub(crate) fn run_each(&self, exit_code: &Cell<Option<i32>>, mut run: impl FnMut(T)) -> usize {
        let n = self.len();
        for i in 0..n {
            if exit_code.get().is_some() {
                return i;
            }
            let Some(item) = self.items.borrow_mut().pop_front() else {
                return i;
            };
            run(item);
        }
        n
    }
}

pub(crate) struct LoopInner {
    /// Borrowed only for the duration of `dispatch`, during which no user code runs: every
    /// calloop callback of ours only records work in `ready`.
    calloop: RefCell<calloop::EventLoop<'static, ()>>,
    pub(crate) calloop_handle: calloop::LoopHandle<'static, ()>,
    /// Posted work: run at the start of the next iteration, before it polls.
    pub(crate) queue: WorkQueue<Task>,
    /// Notifier activations recorded during the poll: run after it, in the same iteration.
    pub(crate) ready: Rc<ReadyQueue>,
    /// Notifiers on fds the poller refused (regular files): queued in `ready` on every
    /// iteration while enabled.
    pub(crate) always_ready: AlwaysReady,
    pub(crate) timers: TimerQueue,
    remote: std::sync::Arc<Remote>,
    /// Wakes the poll when work is posted from outside `process_events` (an embedding loop
    /// driving our fd must see it readable).
    ping: Ping,
    /// How many `process_events` calls are on the stack.
    depth: Cell<u32>,
    exit_code: Cell<Option<i32>>,
    /// Signals that other threads may emit into, by id, for [`crate::RemoteEmitter`].
    pub(crate) registry: RefCell<remote::Registry>,
    /// A duplicate of the poller's epoll fd (same epoll instance), for embedding.
    poll_fd: OwnedFd,
}

/// The event loop: owns the poller and runs timers, fd notifiers, posted closures and
/// queued slots (Qt's `QEventLoop` with the thread's event dispatcher).
///
/// One `EventLoop` drives one thread. Everything that needs the loop takes a
/// [`LoopHandle`], a cheap `Rc` clone usable from inside slots, for nested waits too;
/// [`sender`](Self::sender) gives a `Send` handle for other threads.
///
/// ```
/// use sigloop_core::{EventLoop, Timer};
/// use std::time::Duration;
///
/// let event_loop = EventLoop::new()?;
/// let handle = event_loop.handle();
/// let timer = Timer::new(&handle);
/// let h = handle.clone();
/// timer.timeout().connect(move |()| h.exit(7));
/// timer.start(Duration::from_millis(5));
/// assert_eq!(event_loop.run()?, 7);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Dropping the `EventLoop` drops its pending work; handles that outlive it see a closed
/// loop (posting fails, timers and notifiers report errors).
pub struct EventLoop {
    handle: LoopHandle,
}

/// A cheap, clonable handle to an [`EventLoop`], for use on the loop's own thread.
///
/// It keeps the loop's state alive; store a [`WeakLoopHandle`] in objects the loop itself
/// owns, to avoid cycles.
#[derive(Clone)]
pub struct LoopHandle {
    inner: Rc<LoopInner>,
}

/// A weak [`LoopHandle`]: does not keep the loop alive.
#[derive(Clone, Default)]
pub struct WeakLoopHandle {
    inner: Weak<LoopInner>,
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop").finish_non_exhaustive()
    }
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("pending", &self.inner.queue.len())
            .field("depth", &self.inner.depth.get())
            .finish()
    }
}

impl fmt::Debug for WeakLoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakLoopHandle")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

fn to_io(e: calloop::Error) -> io::Error {
    e.into()
}

impl EventLoop {
    /// Creates an event loop for the calling thread.
    ///
    /// # Errors
    /// The poller, the wake-up eventfd or the timerfd could not be created (file
    /// descriptor limits).
    pub fn new() -> io::Result<EventLoop> {
        let calloop = calloop::EventLoop::try_new().map_err(to_io)?;
        let calloop_handle = calloop.handle();
        let (ping, ping_source) = make_ping()?;
        // The ping only wakes the poll; the iteration picks up the work.
        calloop_handle
            .insert_source(ping_source, |(), _, _| {})
            .map_err(|e| to_io(e.error))?;
        let ready = Rc::new(ReadyQueue::default());
        let timers = TimerQueue::new(&calloop_handle)?;
        let poll_fd = calloop.as_fd().try_clone_to_owned()?;
        let inner = Rc::new(LoopInner {
            calloop: RefCell::new(calloop),
            calloop_handle,
            queue: WorkQueue::default(),
            ready,
            always_ready: AlwaysReady::default(),
            timers,
            remote: Remote::new(ping.clone()),
            ping,
            depth: Cell::new(0),
            exit_code: Cell::new(None),
            registry: RefCell::new(Default::default()),
            poll_fd,
        });
        Ok(EventLoop {
            handle: LoopHandle { inner },
        })
    }

    /// A handle for this thread: pass it to timers, notifiers, sockets and slots.
    pub fn handle(&self) -> LoopHandle {
        self.handle.clone()
    }

    /// A `Send` handle for other threads. See [`LoopSender`].
    pub fn sender(&self) -> LoopSender {
        self.handle.sender()
    }

    /// Runs until [`quit`](LoopHandle::quit) or [`exit`](LoopHandle::exit) and returns the
    /// exit code (Qt's `QEventLoop::exec`). See [`LoopHandle::run`].
    ///
    /// # Errors
    /// Polling failed.
    pub fn run(&self) -> io::Result<i32> {
        self.handle.run()
    }

    /// Runs one iteration. See [`LoopHandle::process_events`].
    ///
    /// # Errors
    /// Polling failed.
    pub fn process_events(&self, timeout: Duration) -> io::Result<()> {
        self.handle.process_events(timeout)
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        self.handle.inner.remote.close();
    }
}

/// The poller's fd, for driving this loop from another one (tokio, glib, a GUI toolkit):
/// when it polls readable, call [`process_events`](LoopHandle::process_events) with a zero
/// timeout. Timers are backed by a timerfd registered in the poller and work posted from
/// outside the loop pings an eventfd, so the fd becomes readable whenever anything is due:
/// the outer loop needs no timeout of its own.
impl AsFd for EventLoop {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.handle.poll_fd()
    }
}

impl LoopHandle {
    /// A weak handle that does not keep the loop alive.
    pub fn downgrade(&self) -> WeakLoopHandle {
        WeakLoopHandle {
            inner: Rc::downgrade(&self.inner),
        }
    }

    pub(crate) fn inner(&self) -> &LoopInner {
        &self.inner
    }

    fn poll_fd(&self) -> BorrowedFd<'_> {
        self.inner.poll_fd.as_fd()
    }

    /// A `Send` handle that any thread can use to post closures onto this loop or make it
    /// exit.
    pub fn sender(&self) -> LoopSender {
        LoopSender::new(self.inner.remote.clone())
    }

    /// Queues `task` to run on a later iteration of the loop (Qt's
    /// `QMetaObject::invokeMethod(..., Qt::QueuedConnection)`).
    pub fn post<F: FnOnce() + 'static>(&self, task: F) {
        self.push_task(Box::new(task));
    }

    /// Makes the loop's fd readable if no iteration is running, so that a loop embedding
    /// this one calls [`process_events`](Self::process_events).
    pub(crate) fn wake(&self) {
        if self.inner.depth.get() == 0 {
            self.inner.ping.ping();
        }
    }

    pub(crate) fn push_task(&self, task: Task) {
        let first = self.inner.queue.push(task);
        if first && self.inner.depth.get() == 0 {
            // Outside our own iteration: someone else may be polling our fd.
            self.inner.ping.ping();
        }
    }

    /// Drops `value` on a later iteration (Qt's `QObject::deleteLater`).
    ///
    /// Sigloop objects are reference-counted handles: this drops *this* handle after the
    /// current slot and emission have returned, so an object can be let go of from inside
    /// its own signal; the object itself is destroyed when its last handle goes.
    pub fn delete_later<V: 'static>(&self, value: V) {
        self.post(move || drop(value));
    }

    /// Makes the innermost running [`run`](Self::run) return 0 (Qt's `QEventLoop::quit`).
    pub fn quit(&self) {
        self.exit(0);
    }

    /// Makes [`run`](Self::run) return `code` (Qt's `QEventLoop::exit`). Nested waits
    /// return early; the outermost `run` returns `code`. An exit requested while no `run`
    /// is active makes the next `run` return at once.
    pub fn exit(&self, code: i32) {
        self.inner.exit_code.set(Some(code));
        if self.inner.depth.get() == 0 {
            self.inner.ping.ping();
        }
    }

    /// Whether an exit was requested and no `run` has returned it yet.
    pub fn is_exiting(&self) -> bool {
        self.inner.exit_code.get().is_some()
    }

    /// Runs the loop until [`quit`](Self::quit) or [`exit`](Self::exit) and returns the
    /// code (Qt's `QEventLoop::exec`). May be called from inside a slot: the nested loop
    /// keeps dispatching everything.
    ///
    /// # Errors
    /// Polling failed.
    pub fn run(&self) -> io::Result<i32> {
        loop {
            if let Some(code) = self.inner.exit_code.take() {
                return Ok(code);
            }
            self.iterate(None, true)?;
        }
    }

    /// Runs one iteration (Qt's `QCoreApplication::processEvents`): first the work queued
    /// before the call, then waits up to `timeout` ([`Duration::MAX`], or anything from
    /// 2³² s on: until something happens; zero: not at all) for fd readiness or a timer,
    /// then runs the due timers and the ready notifiers' slots. Work queued meanwhile runs at the start of the next
    /// iteration, so a closure that reposts itself cannot starve the poll. If the call
    /// ran queued work it does not wait (the work may be what its caller waits for), nor
    /// while a notifier on an always-ready fd is enabled (see [`SocketNotifier::new`]); and
    /// if work is left when an outermost call returns (such a notifier counts), the loop's
    /// fd is made readable, so that a loop embedding this one calls again.
    ///
    /// [`SocketNotifier::new`]: crate::SocketNotifier::new
    ///
    /// # Errors
    /// Polling failed.
    pub fn process_events(&self, timeout: Duration) -> io::Result<()> {
        // Anything near `Duration::MAX` would overflow the poller's deadline: no timeout.
        let timeout = (timeout < NO_TIMEOUT_FROM).then_some(timeout);
        self.iterate(timeout, false)
    }

    /// One iteration. `for_run`: from [`run`](Self::run)'s own loop, which waits after
    /// running queued work (as Qt's `exec` does; only an exit request ends `run`, and
    /// that makes the poll return at once) and calls again at once, so it needs no
    /// wake-up for work left over. A socket's follow-up work (the `bytes_written` report
    /// of a write made in a notifier's slot) then costs no poll of its own.
    fn iterate(&self, timeout: Option<Duration>, for_run: bool) -> io::Result<()> {
        let inner = &*self.inner;
        inner.depth.set(inner.depth.get() + 1);
        let depth = DepthGuard(&inner.depth);
        // What was posted before this iteration, as Qt sends posted events before it
        // polls; what this posts waits for the next iteration.
        let ran = inner.queue.run_each(&inner.exit_code, |task| task());
        // Always-ready fds are ready in every iteration, as if this poll reported them.
        inner.always_ready.queue_ready(&inner.ready);
        let busy = (ran > 0 && !for_run)
            || inner.queue.len() > 0
            || inner.ready.len() > 0
            || inner.remote.has_tasks()
            || inner.exit_code.get().is_some()
            || inner.timers.due();
        let timeout = if busy { Some(Duration::ZERO) } else { timeout };
        {
            let mut calloop = inner.calloop.try_borrow_mut().map_err(|_| {
                io::Error::other("process_events called from inside a poller callback")
            })?;
            calloop.dispatch(timeout, &mut ()).map_err(to_io)?;
        }
        inner.timers.fire_due(self);
        if inner.remote.has_tasks() {
            for task in inner.remote.take_tasks() {
                task.run(self);
            }
        }
        inner
            .ready
            .run_each(&inner.exit_code, NotifierInner::activate);
        inner.timers.rearm();
        drop(depth);
        if !for_run
            && inner.depth.get() == 0
            && (inner.queue.len() > 0 || inner.always_ready.any_enabled())
        {
            inner.ping.ping();
        }
        Ok(())
    }

    /// Runs the loop until `signal` is emitted, for at most `timeout`, and returns a clone
    /// of the emitted argument (a nested `QEventLoop::exec` with a `QTimer` as guard).
    /// Returns `None` on timeout or when an exit is requested meanwhile.
    ///
    /// Everything keeps being dispatched while it waits, so it may be called from inside
    /// a slot.
    ///
    /// # Errors
    /// Polling failed.
    pub fn wait_for<T: Clone + 'static>(
        &self,
        signal: &Signal<T>,
        timeout: Duration,
    ) -> io::Result<Option<T>> {
        let got: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
        let sink = got.clone();
        let _conn = signal.connect_scoped(move |v: &T| {
            let mut sink = sink.borrow_mut();
            if sink.is_none() {
                *sink = Some(v.clone());
            }
        });
        let deadline = Instant::now() + timeout;
        self.wait_until(deadline, || got.borrow().is_some())?;
        let value = got.borrow_mut().take();
        Ok(value)
    }

    /// Runs the loop until `done()` returns true, `deadline` passes, or an exit is
    /// requested; returns `done()`'s last answer.
    ///
    /// # Errors
    /// Polling failed.
    pub fn wait_until(
        &self,
        deadline: Instant,
        mut done: impl FnMut() -> bool,
    ) -> io::Result<bool> {
        loop {
            if done() {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline || self.is_exiting() {
                return Ok(false);
            }
            self.process_events(deadline - now)?;
        }
    }
}

struct DepthGuard<'a>(&'a Cell<u32>);

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl WeakLoopHandle {
    /// The loop, if it is still alive.
    pub fn upgrade(&self) -> Option<LoopHandle> {
        self.inner.upgrade().map(|inner| LoopHandle { inner })
    }

    /// Posts `task` if the loop is alive; returns whether it was queued.
    pub fn post<F: FnOnce() + 'static>(&self, task: F) -> bool {
        match self.upgrade() {
            Some(h) => {
                h.push_task(Box::new(task));
                true
            }
            None => false,
        }
    }
}
