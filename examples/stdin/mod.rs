//! Reading stdin through the event loop (a `SocketNotifier` on it, not a thread), for the
//! examples that do: `chat`, the echo clients and `tcp_echo --client ADDR` (which needs
//! no Bluetooth, so `scripts/test` checks this module on any machine).
//!
//! Works whatever stdin is: a terminal or a pipe, which the poller watches; a regular file
//! or `/dev/null` (`cmd < file`), which epoll refuses and the notifier reports always
//! ready, so they are read to their end in one go. The fd is read directly, not through
//! std's `Stdin`: its buffer could keep bytes that the notifier never reports again.
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::rc::{Rc, Weak};

use sigloop::core::{Interest, LoopHandle, SocketNotifier};

/// What [`watch`] hands on.
pub enum Input<'a> {
    /// Bytes read.
    Data(&'a [u8]),
    /// The end of stdin (or a read error, printed first); the last call.
    End,
}

/// Calls `on` with what stdin gives, `chunk` bytes at most at a time, then once with
/// [`Input::End`]; the notifier is disabled at the end. Dropping the returned notifier
/// stops reading.
///
/// # Errors
/// Stdin is not open, or the loop refused it.
pub fn watch(
    h: &LoopHandle,
    chunk: usize,
    mut on: impl FnMut(Input<'_>) + 'static,
) -> io::Result<Rc<SocketNotifier>> {
    let stdin = Rc::new(File::from(io::stdin().as_fd().try_clone_to_owned()?));
    let notifier = Rc::new(SocketNotifier::new(h, stdin.clone(), Interest::READ)?);
    let weak: Weak<SocketNotifier> = Rc::downgrade(&notifier);
    let mut buf = vec![0u8; chunk.max(1)];
    notifier.activated().connect(move |_| {
        let n = match (&*stdin).read(&mut buf) {
            Ok(n) => n,
            // Try again at the next activation.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                return
            }
            Err(e) => {
                eprintln!("error: reading stdin: {e}");
                0
            }
        };
        if n > 0 {
            on(Input::Data(&buf[..n]));
            return;
        }
        // Stop watching: a file or /dev/null would report its end on every iteration.
        if let Some(notifier) = weak.upgrade() {
            let _ = notifier.set_enabled(false);
        }
        on(Input::End);
    });
    Ok(notifier)
}

/// [`watch`] by lines: calls `line` with each line (trailing white space trimmed; a last
/// line without a line break too), then `end` once.
///
/// # Errors
/// As [`watch`].
pub fn watch_lines(
    h: &LoopHandle,
    mut line: impl FnMut(&str) + 'static,
    end: impl FnOnce() + 'static,
) -> io::Result<Rc<SocketNotifier>> {
    let mut pending = Vec::new();
    let mut end = Some(end);
    watch(h, 4096, move |input| match input {
        Input::Data(data) => {
            pending.extend_from_slice(data);
            while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let text: Vec<u8> = pending.drain(..=i).collect();
                line(String::from_utf8_lossy(&text).trim_end());
            }
        }
        Input::End => {
            if !pending.is_empty() {
                line(String::from_utf8_lossy(&std::mem::take(&mut pending)).trim_end());
            }
            if let Some(end) = end.take() {
                end();
            }
        }
    })
}
