//! [`SocketNotifier`]: fd readiness as a signal.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::rc::{Rc, Weak};

use calloop::generic::Generic;
use calloop::{Dispatcher, Mode, PostAction, RegistrationToken};

use super::{LoopHandle, WeakLoopHandle, WorkQueue};
use crate::signal::Signal;

/// Which readiness a [`SocketNotifier`] watches (Qt's `QSocketNotifier::Type`; one
/// notifier may watch both, as one fd can be registered with the poller only once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interest {
    /// Readable (Qt: `QSocketNotifier::Read`).
    pub readable: bool,
    /// Writable (Qt: `QSocketNotifier::Write`).
    pub writable: bool,
}

impl Interest {
    /// Nothing: only errors and hang-ups are reported.
    pub const NONE: Interest = Interest {
        readable: false,
        writable: false,
    };
    /// Readable only.
    pub const READ: Interest = Interest {
        readable: true,
        writable: false,
    };
    /// Writable only.
    pub const WRITE: Interest = Interest {
        readable: false,
        writable: true,
    };
    /// Readable and writable.
    pub const BOTH: Interest = Interest {
        readable: true,
        writable: true,
    };

    fn to_calloop(self) -> calloop::Interest {
        calloop::Interest {
            readable: self.readable,
            writable: self.writable,
        }
    }
}

/// What an fd is ready for, as reported by [`SocketNotifier::activated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Readiness {
    /// Reading will not block (this includes end of file).
    pub readable: bool,
    /// Writing will not block.
    pub writable: bool,
    /// An error or hang-up is pending (Qt: `QSocketNotifier::Exception`).
    pub error: bool,
}

type FdSource = Generic<Box<dyn AsFd>>;

pub(crate) struct NotifierInner {
    calloop: calloop::LoopHandle<'static, ()>,
    dispatcher: Dispatcher<'static, FdSource, ()>,
    token: Cell<Option<RegistrationToken>>,
    raw_fd: RawFd,
    interest: Cell<Interest>,
    enabled: Cell<bool>,
    /// Whether the poller currently watches the fd.
    registered: Cell<bool>,
    /// The poller refused the fd (a regular file, `/dev/null`): it is always ready, never
    /// registered, and listed in the loop's [`AlwaysReady`], which queues it on every
    /// iteration while it is enabled.
    always_ready: Cell<bool>,
    /// The loop, to take an always-ready notifier off its list and to wake it.
    event_loop: WeakLoopHandle,
    /// An activation is waiting in the loop's queue.
    queued: Cell<bool>,
    /// `activated` is being emitted: a nested loop must not report the fd again.
    emitting: Cell<bool>,
    pending: Cell<Readiness>,
    activated: Signal<Readiness>,
    /// Called instead of emitting `activated`, for the crate's own sockets and servers:
    /// one call per readiness instead of an emission into a slot that calls it.
    handler: Option<Box<dyn Fn(Readiness)>>,
}

/// Watches a file descriptor and emits [`activated`](Self::activated) while it is ready
/// (Qt's `QSocketNotifier`).
///
/// Level-triggered, as in Qt: as long as the fd stays readable (or writable, when asked
/// for) the signal is emitted again on every loop iteration, so a slot should consume what
/// is ready or disable the notifier. While a slot of `activated` runs, the fd is not
/// reported again, not even to a nested loop started from that slot.
///
/// The notifier owns the `F` it was given (an `OwnedFd`, a socket, an `Rc` to one, a
/// `File`, or `std::io::Stdin`). Dropping the notifier unregisters the fd and drops `F`.
/// [`set_enabled`](Self::set_enabled) and [`set_interest`](Self::set_interest) change the
/// registration in place.
///
/// An fd that epoll refuses (a regular file, or a character device such as `/dev/null`:
/// stdin for `cmd < file`) is *always ready*, as `poll(2)` and Qt report it: see
/// [`new`](Self::new).
#[must_use = "dropping a SocketNotifier stops watching its fd"]
pub struct SocketNotifier {
    inner: Rc<NotifierInner>,
}

impl fmt::Debug for SocketNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketNotifier")
            .field("fd", &self.inner.raw_fd)
            .field("interest", &self.inner.interest.get())
            .field("enabled", &self.inner.enabled.get())
            .field("always_ready", &self.inner.always_ready.get())
            .finish()
    }
}

impl SocketNotifier {
    /// Watches `fd` for `interest` on `event_loop`; enabled at once.
    ///
    /// # Always-ready fds
    /// epoll refuses some fds with `EPERM`: regular files, and character devices without
    /// poll support such as `/dev/null`. That is what stdin is for `cmd < file` or
    /// `cmd < /dev/null`. `poll(2)` reports such an fd always readable and writable, and so
    /// does Qt's `QSocketNotifier`; so does this one, instead of failing: while enabled, it
    /// emits [`activated`](Self::activated) once on every loop iteration, `readable` and
    /// `writable` as the interest asks (never `error`; with [`Interest::NONE`], nothing
    /// at all). Such an iteration still polls the
    /// other sources, without waiting, and runs their work as usual, so they are not
    /// starved; but the loop does not sleep while the notifier is enabled, so a slot should
    /// consume what it reads (a read at end of file returns 0) and disable or drop the
    /// notifier once done. Disabled, it reports nothing; nor, as for any fd, while its own
    /// slot runs (to a nested loop).
    ///
    /// # Errors
    /// The poller refused the fd for another reason (e.g. `EBADF`, or `EEXIST` for an fd
    /// another notifier of this loop already watches).
    pub fn new<F: AsFd + 'static>(
        event_loop: &LoopHandle,
        fd: F,
        interest: Interest,
    ) -> io::Result<SocketNotifier> {
        Self::build(event_loop, fd, interest, None)
    }

    /// A notifier that calls `handler` where [`new`](Self::new)'s would emit
    /// `activated` (which then never fires), with the same rules otherwise.
    pub(crate) fn with_handler<F: AsFd + 'static>(
        event_loop: &LoopHandle,
        fd: F,
        interest: Interest,
        handler: impl Fn(Readiness) + 'static,
    ) -> io::Result<SocketNotifier> {
        Self::build(event_loop, fd, interest, Some(Box::new(handler)))
    }

    fn build<F: AsFd + 'static>(
        event_loop: &LoopHandle,
        fd: F,
        interest: Interest,
        handler: Option<Box<dyn Fn(Readiness)>>,
    ) -> io::Result<SocketNotifier> {
        let raw_fd = fd.as_fd().as_raw_fd();
        let queue: Rc<ReadyQueue> = event_loop.inner().ready.clone();
        let calloop = event_loop.inner().calloop_handle.clone();
        let inner = Rc::new_cyclic(|weak: &Weak<NotifierInner>| {
            let weak = weak.clone();
            let source: FdSource = Generic::new(
                Box::new(fd) as Box<dyn AsFd>,
                interest.to_calloop(),
                Mode::Level,
            );
            let dispatcher = Dispatcher::new(source, move |r: calloop::Readiness, _, _| {
                Ok(on_ready(&weak, &queue, r))
            });
            NotifierInner {
                calloop,
                dispatcher,
                token: Cell::new(None),
                raw_fd,
                interest: Cell::new(interest),
                enabled: Cell::new(true),
                registered: Cell::new(true),
                always_ready: Cell::new(false),
                event_loop: event_loop.downgrade(),
                queued: Cell::new(false),
                emitting: Cell::new(false),
                pending: Cell::new(Readiness::default()),
                activated: Signal::new(),
                handler,
            }
        });
        match inner.calloop.register_dispatcher(inner.dispatcher.clone()) {
            Ok(token) => inner.token.set(Some(token)),
            Err(e) => {
                let e = io::Error::from(e);
                if e.raw_os_error() != Some(rustix::io::Errno::PERM.raw_os_error()) {
                    return Err(e);
                }
                inner.registered.set(false);
                inner.always_ready.set(true);
                event_loop.inner().always_ready.add(&inner);
                event_loop.wake();
            }
        }
        Ok(SocketNotifier { inner })
    }

    /// Emitted while the fd is ready for what the notifier watches (Qt's
    /// `QSocketNotifier::activated`).
    pub fn activated(&self) -> &Signal<Readiness> {
        &self.inner.activated
    }

    /// The watched fd (Qt's `QSocketNotifier::socket`).
    pub fn fd(&self) -> RawFd {
        self.inner.raw_fd
    }

    /// What the notifier watches.
    pub fn interest(&self) -> Interest {
        self.inner.interest.get()
    }

    /// Changes what the notifier watches, keeping its registration.
    ///
    /// # Errors
    /// The poller refused the change.
    pub fn set_interest(&self, interest: Interest) -> io::Result<()> {
        let inner = &self.inner;
        if inner.interest.replace(interest) == interest {
            return Ok(());
        }
        inner.dispatcher.as_source_mut().interest = interest.to_calloop();
        if inner.always_ready.get() {
            inner.wake();
        } else if inner.registered.get() {
            if let Some(token) = inner.token.get() {
                inner.calloop.update(&token).map_err(io::Error::from)?;
            }
        }
        Ok(())
    }

    /// Whether the notifier reports readiness (Qt's `QSocketNotifier::isEnabled`).
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled.get()
    }

    /// Stops or resumes reporting readiness (Qt's `QSocketNotifier::setEnabled`). An
    /// activation already queued is dropped when disabled before it runs.
    ///
    /// # Errors
    /// The poller refused the change.
    pub fn set_enabled(&self, enabled: bool) -> io::Result<()> {
        let inner = &self.inner;
        inner.enabled.set(enabled);
        if inner.always_ready.get() {
            // Nothing registered: the loop looks at `enabled` on every iteration.
            if enabled {
                inner.wake();
            }
        } else if enabled {
            if !inner.emitting.get() {
                inner.sync_registration()?;
            }
        } else if inner.registered.get() {
            if let Some(token) = inner.token.get() {
                inner.calloop.disable(&token).map_err(io::Error::from)?;
            }
            inner.registered.set(false);
        }
        Ok(())
    }
}

/// Runs inside calloop's dispatch: records readiness for after the poll, no user code.
fn on_ready(weak: &Weak<NotifierInner>, queue: &ReadyQueue, r: calloop::Readiness) -> PostAction {
    let Some(n) = weak.upgrade() else {
        return PostAction::Continue;
    };
    if n.emitting.get() || !n.enabled.get() {
        // Reported again while its slot runs (a nested loop): stop watching until the
        // slot returns, instead of spinning on a level-triggered fd.
        n.registered.set(false);
        return PostAction::Disable;
    }
    let old = n.pending.get();
    n.pending.set(Readiness {
        readable: old.readable || r.readable,
        writable: old.writable || r.writable,
        error: old.error || r.error,
    });
    if !n.queued.replace(true) {
        queue.push(n);
    }
    PostAction::Continue
}

/// The notifiers that the last poll found ready, in order, for the loop to activate after
/// the poll. Kept as the notifiers themselves, not boxed closures: no allocation per
/// activation.
pub(crate) type ReadyQueue = WorkQueue<Rc<NotifierInner>>;

impl NotifierInner {
    pub(crate) fn activate(self: Rc<Self>) {
        self.queued.set(false);
        let r = self.pending.take();
        if !self.enabled.get() {
            return;
        }
        let interest = self.interest.get();
        // An always-ready fd was queued with `pending` all ready: the interest picks.
        let r = Readiness {
            readable: r.readable && interest.readable,
            writable: r.writable && interest.writable,
            error: r.error,
        };
        if !(r.readable || r.writable || r.error) {
            return;
        }
        struct Emitting<'a>(&'a NotifierInner);
        impl Drop for Emitting<'_> {
            fn drop(&mut self) {
                self.0.emitting.set(false);
                if self.0.enabled.get() {
                    if let Err(e) = self.0.sync_registration() {
                        log::error!("re-enabling notifier on fd {}: {e}", self.0.raw_fd);
                    }
                }
            }
        }
        self.emitting.set(true);
        let _guard = Emitting(&self);
        match &self.handler {
            Some(handler) => handler(r),
            None => self.activated.emit(&r),
        }
    }

    /// Registers the fd again if it was unregistered.
    fn sync_registration(&self) -> io::Result<()> {
        if !self.registered.get() && !self.always_ready.get() {
            if let Some(token) = self.token.get() {
                self.calloop.enable(&token).map_err(io::Error::from)?;
                self.registered.set(true);
            }
        }
        Ok(())
    }
}

impl NotifierInner {
    fn unregister(&self) {
        self.enabled.set(false);
        if let Some(token) = self.token.take() {
            self.calloop.remove(token);
        }
        if self.always_ready.get() {
            if let Some(h) = self.event_loop.upgrade() {
                h.inner().always_ready.remove(self);
            }
        }
    }

    /// Whether an always-ready fd is to be reported: enabled, and watched for something
    /// (an always-ready fd has no errors to report).
    fn reports_always_ready(&self) -> bool {
        let interest = self.interest.get();
        self.enabled.get() && (interest.readable || interest.writable)
    }

    /// Makes a loop that is not iterating now (one embedded in another loop) iterate, so
    /// that it reports this always-ready fd.
    fn wake(&self) {
        if let Some(h) = self.event_loop.upgrade() {
            h.wake();
        }
    }
}

/// The loop's notifiers on always-ready fds (those the poller refused, see
/// [`SocketNotifier::new`]), in creation order. Weak: a notifier takes itself off the
/// list when dropped.
#[derive(Default)]
pub(crate) struct AlwaysReady {
    items: RefCell<Vec<Weak<NotifierInner>>>,
}

impl AlwaysReady {
    fn add(&self, n: &Rc<NotifierInner>) {
        self.items.borrow_mut().push(Rc::downgrade(n));
    }

    fn remove(&self, n: &NotifierInner) {
        let n: *const NotifierInner = n;
        self.items
            .borrow_mut()
            .retain(|w| !std::ptr::eq(w.as_ptr(), n));
    }

    /// Queues in `ready` every enabled notifier that is not queued or emitting already, as
    /// if the poll had found its fd ready. Runs no user code.
    pub(crate) fn queue_ready(&self, ready: &ReadyQueue) {
        for i in 0.. {
            // Not borrowed past this statement: the `Rc` is dropped (or queued) after.
            let Some(n) = self.items.borrow().get(i).map(Weak::upgrade) else {
                return;
            };
            let Some(n) = n else { continue };
            if !n.reports_always_ready() || n.emitting.get() || n.queued.get() {
                continue;
            }
            n.pending.set(Readiness {
                readable: true,
                writable: true,
                error: false,
            });
            n.queued.set(true);
            ready.push(n);
        }
    }

    /// Whether an enabled notifier will be queued by the next iteration.
    pub(crate) fn any_enabled(&self) -> bool {
        self.items
            .borrow()
            .iter()
            .any(|w| w.upgrade().is_some_and(|n| n.reports_always_ready()))
    }
}

impl Drop for SocketNotifier {
    /// Unregisters the fd at once; an activation already queued is not emitted.
    fn drop(&mut self) {
        self.inner.unregister();
    }
}
