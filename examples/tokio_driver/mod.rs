//! Shared by the tokio examples: drives a sigloop `EventLoop` from inside tokio, and
//! awaits a signal's stream.
#![allow(dead_code)]

use std::future::poll_fn;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use rustix::event::{poll, PollFd, PollFlags};
use sigloop::core::EventLoop;
use tokio::io::unix::AsyncFd;

/// Runs `event_loop`'s work whenever its fd turns readable, until `stop()` says so.
///
/// tokio's readiness is edge-triggered: after processing, look again (a zero-timeout
/// poll) before waiting for the next edge, so nothing that is still due waits unseen.
pub async fn drive(event_loop: &EventLoop, stop: impl Fn() -> bool) -> std::io::Result<()> {
    // tokio 1.54 marks its safe `AsyncFd` constructors deprecated because a generic
    // inner value might close or replace its fd while registered; the replacement,
    // `register`, is `unsafe`. Here the inner value is an `OwnedFd` (a duplicate of the
    // loop's epoll fd) that `AsyncFd` owns and nothing replaces, which is the condition
    // `register` asks for, so the safe constructor is used as it stands.
    #[allow(deprecated)]
    let fd = AsyncFd::new(event_loop.as_fd().try_clone_to_owned()?)?;
    while !stop() {
        let mut guard = fd.readable().await?;
        loop {
            event_loop.process_events(Duration::ZERO)?;
            let mut fds = [PollFd::new(fd.get_ref(), PollFlags::IN)];
            if stop() || poll(&mut fds, Some(&rustix::time::Timespec::default()))? == 0 {
                break;
            }
        }
        guard.clear_ready();
    }
    Ok(())
}

/// The next item of a stream (`StreamExt::next` without the extra crate).
pub async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}
