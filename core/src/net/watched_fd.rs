//! [`WatchedFd`]: the fd of a socket or server with the notifier that watches it.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;

use crate::{Interest, LoopHandle, Readiness, SocketNotifier};

/// An fd watched on the loop, its readiness handed to one handler (no signal in
/// between). Shared by [`AbstractSocket`](crate::AbstractSocket) and
/// [`SocketServer`](crate::SocketServer); dropping it stops watching and closes the fd
/// once no other clone of the fd's `Rc` is left.
pub(crate) struct WatchedFd {
    fd: Rc<OwnedFd>,
    notifier: SocketNotifier,
}

impl WatchedFd {
    /// Watches `fd` for `interest` (enabled at once; [`Interest::NONE`] disables).
    pub(crate) fn new(
        handle: &LoopHandle,
        fd: OwnedFd,
        interest: Interest,
        handler: impl Fn(Readiness) + 'static,
    ) -> io::Result<WatchedFd> {
        let fd = Rc::new(fd);
        let notifier = SocketNotifier::with_handler(handle, fd.clone(), interest, handler)?;
        let watched = WatchedFd { fd, notifier };
        if interest == Interest::NONE {
            watched.notifier.set_enabled(false)?;
        }
        Ok(watched)
    }

    /// The fd, for calls that must outlive a borrow of the holder.
    pub(crate) fn fd(&self) -> &Rc<OwnedFd> {
        &self.fd
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Watches for `interest` from now on. With no interest at all the poller would
    /// still report hang-ups, level-triggered: the notifier is switched off instead.
    pub(crate) fn watch(&self, interest: Interest) -> io::Result<()> {
        if interest == Interest::NONE {
            self.notifier.set_enabled(false)
        } else {
            self.notifier.set_interest(interest)?;
            self.notifier.set_enabled(true)
        }
    }

    /// Stops or resumes watching, keeping the interest.
    pub(crate) fn set_enabled(&self, enabled: bool) -> io::Result<()> {
        self.notifier.set_enabled(enabled)
    }

    /// Gives up the watch and returns the fd (with whatever other clones exist).
    pub(crate) fn into_fd(self) -> Rc<OwnedFd> {
        drop(self.notifier);
        self.fd
    }
}
