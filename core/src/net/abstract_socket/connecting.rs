//! Adopting an fd and connecting: the [`SocketTransport`] hooks, and completing a
//! non-blocking connect.

use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use rustix::io::Errno;

use super::closer::close_off_thread;
use super::{AbstractSocket, Inner, CONNECT_RECHECK};
use crate::net::transport::{DrainCheck, SocketTransport};
use crate::net::watched_fd::WatchedFd;
use crate::{single_shot, Interest, SocketError, SocketState};

impl crate::net::transport::sealed::Sealed for AbstractSocket {}

impl SocketTransport for AbstractSocket {
    fn adopt_descriptor(&self, fd: OwnedFd, state: SocketState) -> Result<(), SocketError> {
        if !matches!(state, SocketState::Connected | SocketState::Connecting) {
            return Err(SocketError::Operation);
        }
        self.check_unconnected()?;
        rustix::io::ioctl_fionbio(&fd, true).map_err(|e| self.os_error(e.into()))?;
        self.install(fd, state)?;
        self.set_state(state);
        if state == SocketState::Connected {
            self.inner.update_interest();
        }
        Ok(())
    }

    fn begin_lookup(&self, state: SocketState) -> Result<(), SocketError> {
        if !matches!(state, SocketState::HostLookup | SocketState::ServiceLookup) {
            return Err(SocketError::Operation);
        }
        self.check_unconnected()?;
        self.clear_for_new_connection();
        self.set_state(state);
        Ok(())
    }

    fn begin_connect(&self, fd: OwnedFd, result: io::Result<()>) -> Result<(), SocketError> {
        if !matches!(
            self.state(),
            SocketState::Unconnected | SocketState::HostLookup | SocketState::ServiceLookup
        ) {
            return Err(SocketError::Operation);
        }
        if self.state() == SocketState::Unconnected {
            self.clear_for_new_connection();
        }
        let started = match result {
            Ok(()) => true,
            Err(e) => {
                let errno = e.raw_os_error().map(Errno::from_raw_os_error);
                // EAGAIN is not "started": AF_UNIX says so when the server's backlog
                // is full, and the connect did not happen (Qt: TemporaryError).
                if errno == Some(Errno::INPROGRESS) {
                    true
                } else {
                    let err = (self.inner.error_mapping.get())(&e);
                    close_off_thread(Rc::new(fd), &self.inner.event_loop);
                    self.inner.fail_connect(err, &e.to_string());
                    return Err(err);
                }
            }
        };
        debug_assert!(started);
        if let Err(e) = self.install(fd, SocketState::Connecting) {
            self.inner.fail_connect(e, &self.error_string());
            return Err(e);
        }
        self.set_state(SocketState::Connecting);
        self.inner.update_interest();
        Ok(())
    }

    fn set_error_mapping(&self, mapping: fn(&io::Error) -> SocketError) {
        self.inner.error_mapping.set(mapping);
    }

    fn set_close_drain(&self, drained: DrainCheck) {
        self.inner.close_drain.set(Some(drained));
    }

    fn fail_connect(&self, error: SocketError, message: &str) {
        self.inner.fail_connect(error, message);
    }

    fn set_max_write_chunk(&self, bytes: usize) {
        self.inner.write_chunk.set(bytes.max(1));
    }
}

impl AbstractSocket {
    pub(super) fn check_unconnected(&self) -> Result<(), SocketError> {
        if self.state() != SocketState::Unconnected || self.inner.io.borrow().is_some() {
            return Err(SocketError::Operation);
        }
        Ok(())
    }

    pub(super) fn clear_for_new_connection(&self) {
        let inner = &self.inner;
        inner.error.set(None);
        inner.error_string.borrow_mut().clear();
        inner.peer_closed.set(false);
        inner.write_failed.set(None);
        inner.read.borrow_mut().clear();
        inner.write.borrow_mut().clear();
    }

    pub(super) fn install(&self, fd: OwnedFd, state: SocketState) -> Result<(), SocketError> {
        let handle = self
            .inner
            .event_loop
            .upgrade()
            .ok_or(SocketError::Operation)?;
        if state == SocketState::Connected {
            self.clear_for_new_connection();
        }
        let weak = Rc::downgrade(&self.inner);
        let io = WatchedFd::new(&handle, fd, Interest::NONE, move |r| {
            if let Some(inner) = weak.upgrade() {
                inner.on_ready(r);
            }
        })
        .map_err(|e| self.os_error(e))?;
        self.inner.generation.bump();
        *self.inner.io.borrow_mut() = Some(io);
        Ok(())
    }

    pub(super) fn os_error(&self, e: io::Error) -> SocketError {
        let err = (self.inner.error_mapping.get())(&e);
        self.inner.error.set(Some(err));
        *self.inner.error_string.borrow_mut() = e.to_string();
        err
    }
}

impl Inner {
    pub(super) fn check_connect(self: &Rc<Self>) {
        let Some(fd) = self.fd() else { return };
        let outcome = match rustix::net::sockopt::socket_error(&*fd) {
            Ok(Ok(())) => match rustix::net::getpeername(&*fd) {
                Ok(_) => Ok(true),
                Err(Errno::NOTCONN) => Ok(false),
                Err(e) => Err(io::Error::from(e)),
            },
            Ok(Err(errno)) => Err(io::Error::from(errno)),
            Err(e) => Err(io::Error::from(e)),
        };
        // Let go of this clone before a failure closes the fd: `close_off_thread` can
        // hand the fd to its thread only while it holds the last reference, and would
        // otherwise leave the close to this thread.
        drop(fd);
        match outcome {
            Ok(true) => {
                self.set_state(SocketState::Connected);
                if self.state.get() == SocketState::Connected {
                    self.signals.connected.emit(&());
                }
            }
            Ok(false) => {
                // Writable but not connected yet: look again shortly instead of spinning
                // on a level-triggered writable fd.
                if let Some(io) = self.io.borrow().as_ref() {
                    let _ = io.set_enabled(false);
                }
                let Some(handle) = self.event_loop.upgrade() else {
                    return;
                };
                let weak = Rc::downgrade(self);
                let generation = self.generation.stamp();
                single_shot(&handle, CONNECT_RECHECK, move || {
                    if let Some(inner) = weak.upgrade() {
                        if inner.generation.is_current(generation)
                            && inner.state.get() == SocketState::Connecting
                        {
                            inner.check_connect();
                            inner.update_interest();
                        }
                    }
                });
            }
            Err(e) => self.fail_connect((self.error_mapping.get())(&e), &e.to_string()),
        }
    }

    pub(super) fn fail_connect(&self, error: SocketError, message: &str) {
        let io = self.io.borrow_mut().take();
        if let Some(io) = io {
            close_off_thread(io.into_fd(), &self.event_loop);
        }
        self.set_error(error, message);
        self.signals.error_occurred.emit(&error);
        self.set_state(SocketState::Unconnected);
    }
}
