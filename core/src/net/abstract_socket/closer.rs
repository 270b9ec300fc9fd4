//! Closing a failed connect's fd on a helper thread, away from the loop.

use std::os::fd::OwnedFd;
use std::rc::Rc;

use crate::WeakLoopHandle;

/// Closes the fd of a failed connect on a short-lived helper thread.
///
/// Some kernels fail in `close()` there: on Debian's Linux 6.1, releasing an L2CAP
/// socket whose connect ended in a page timeout (`EHOSTDOWN`) hits a kernel BUG (list
/// corruption in `hci_chan_del`), and the thread that closed it never comes back. The
/// loop thread must not be that thread; a helper thread that is leaks only itself.
pub(super) fn close_off_thread(fd: Rc<OwnedFd>, event_loop: &WeakLoopHandle) {
    PendingClose {
        fd: Some(fd),
        event_loop: event_loop.clone(),
        attempts: CLOSE_ATTEMPTS,
    }
    .attempt();
}

/// How many loop iterations a failed connect's fd may wait for its other holders (the
/// notifier's activation still running when the connect failed) before it is closed on
/// the loop thread after all.
const CLOSE_ATTEMPTS: u32 = 8;

/// A failed connect's fd on its way to a closing thread. Dropped before it got there
/// (its loop went away with the retry still queued), it makes one last attempt.
struct PendingClose {
    fd: Option<Rc<OwnedFd>>,
    event_loop: WeakLoopHandle,
    attempts: u32,
}

impl PendingClose {
    /// Hands the fd over now if nothing else holds it (the drop does that), or posts
    /// itself to look again on the next iteration.
    fn attempt(mut self) {
        let shared = self.fd.as_ref().is_some_and(|fd| Rc::strong_count(fd) > 1);
        if shared && self.attempts > 0 {
            let retry = PendingClose {
                fd: self.fd.take(),
                event_loop: self.event_loop.clone(),
                attempts: self.attempts - 1,
            };
            // If the loop is gone, the retry is dropped at once: its `Drop` tries.
            self.event_loop.post(move || retry.attempt());
        }
    }
}

impl Drop for PendingClose {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take() {
            match Rc::try_unwrap(fd) {
                Ok(fd) => spawn_close(fd),
                Err(fd) => {
                    log::warn!("a failed socket is closed on the loop thread: still shared");
                    drop(fd);
                }
            }
        }
    }
}

fn spawn_close(fd: OwnedFd) {
    let spawned = std::thread::Builder::new()
        .name("sigloop-close".into())
        .spawn(move || drop(fd));
    if let Err(e) = spawned {
        log::warn!("could not start a thread to close a failed socket: {e}");
    }
}
