//! `libtestbed_epoll1.so`, loaded into btvirt with `LD_PRELOAD`, guards against two
//! btvirt bugs: every `epoll_wait` reports at most one ready descriptor (below), and ACL
//! data reaches a controller under its own connection handle for the link, not the
//! sender's ([`acl`]: `read`, `writev` and `close` on `/dev/vhci` descriptors).
//!
//! Why the test bed needs it: btvirt runs on BlueZ's `src/shared/mainloop.c` (5.66, and
//! unchanged upstream since). Its loop takes a batch of events from `epoll_wait` and
//! calls each one's handler through the record stored with the descriptor. A handler
//! that removes another descriptor frees that descriptor's record at once, so when the
//! removed descriptor also has an event later in the same batch the loop reads the freed
//! record and calls whatever its handler slot now holds.
//!
//! btvirt does exactly that when an HCI Inquiry_Cancel arrives in the same batch as the
//! expiry of the inquiry's 100 ms timer: the cancel removes the timer. Valgrind shows the
//! read of freed memory on every such round; without Valgrind, btvirt usually survives
//! because the freed record has already been reused, and once in a while it dies with a
//! general protection fault, taking every controller with it. Every `StopDiscovery`
//! during an inquiry (the test bed's bring-up, the discovery tests) risks it.
//!
//! With one event per wait there is no later event left to go stale. Nothing is lost or
//! starved: the loop's descriptors are level-triggered, so one not reported stays ready
//! for the next wait, and epoll moves a reported level-triggered descriptor behind the
//! others that are ready.
// The crate's whole purpose is to replace a libc symbol, which takes `no_mangle` and
// raw pointers; it has nothing else.
#![allow(unsafe_code)]

use libc::{c_int, epoll_event};

pub mod acl;

/// Interposes libc's `epoll_wait`: the same call with `maxevents` capped at one.
///
/// # Safety
/// `epoll_wait`'s own contract: `events` points to room for `maxevents` entries.
#[no_mangle]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut epoll_event,
    maxevents: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: `events` has room for `maxevents` entries (the caller's contract) and at
    // most `min(maxevents, 1)` are written; a zero or negative count still reaches the
    // kernel, which refuses it with EINVAL as before. `epoll_pwait` with no signal mask
    // is `epoll_wait`, and it is a different symbol, so this does not call itself.
    unsafe { libc::epoll_pwait(epfd, events, maxevents.min(1), timeout, std::ptr::null()) }
}

#[cfg(test)]
mod tests {
    use super::epoll_wait;
    use libc::{c_int, epoll_event};

    fn check(r: c_int) -> c_int {
        assert!(r >= 0, "{}", std::io::Error::last_os_error());
        r
    }

    /// Two ready descriptors: each wait reports one, and two waits report both.
    #[test]
    fn one_event_per_wait_and_none_starved() {
        // SAFETY: plain syscalls on descriptors this test creates and closes; every
        // pointer is to a live local of the right type and size.
        unsafe {
            let ep = check(libc::epoll_create1(libc::EPOLL_CLOEXEC));
            let fds = [check(libc::eventfd(1, 0)), check(libc::eventfd(1, 0))];
            for fd in fds {
                let mut ev = epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: fd as u64,
                };
                check(libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev));
            }
            let mut seen = Vec::new();
            for _ in 0..2 {
                let mut out = [epoll_event {
                    events: 0,
                    u64: u64::MAX,
                }; 8];
                assert_eq!(check(epoll_wait(ep, out.as_mut_ptr(), 8, 0)), 1);
                assert_eq!({ out[1].u64 }, u64::MAX, "a second entry was written");
                seen.push({ out[0].u64 } as c_int);
            }
            seen.sort_unstable();
            assert_eq!(seen, fds.to_vec());
            let mut out = [epoll_event { events: 0, u64: 0 }; 1];
            assert_eq!(epoll_wait(ep, out.as_mut_ptr(), 0, 0), -1);
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EINVAL)
            );
            for fd in fds {
                libc::close(fd);
            }
            libc::close(ep);
        }
    }
}
