//! The sockets bluetoothd hands out for writes without response (`AcquireWrite`), one
//! per characteristic a `LowEnergyService` writes that way: kept on the helper thread
//! between writes, so that a write is one datagram, with no D-Bus round trip.
//!
//! Order. A service's requests run one at a time in call order (its `CallQueue`), but
//! bluetoothd reads such a socket and its D-Bus connection separately. So before any
//! request that goes over D-Bus, [`Writers::settle`] waits until bluetoothd has read
//! everything written to the sockets: by then each of those writes is queued in its ATT
//! layer, which sends commands before later requests. While a socket is held bluetoothd
//! refuses `WriteValue` on that characteristic ("Write acquired"), so a write with
//! response there, or a value longer than the socket carries, first gives the socket
//! back ([`Writers::release`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bluer::gatt::remote::{Characteristic, CharacteristicWriteRequest};
use bluer::gatt::{CharacteristicWriter, WriteOp};

use crate::sys;

/// How long bluetoothd may take to read what was written to its sockets, or to let a
/// socket go; a busy link does not slow these (bluetoothd queues the writes itself).
const SETTLE_LIMIT: Duration = Duration::from_secs(2);
/// How often those waits look again.
const SETTLE_STEP: Duration = Duration::from_millis(1);

/// The held sockets, by characteristic handle. Only the service's queued requests use
/// them, one at a time; the loop thread only [`clear`](Writers::clear)s them.
#[derive(Default)]
pub(crate) struct Writers {
    held: Mutex<HashMap<u16, CharacteristicWriter>>,
    /// What bluetoothd answered the last `AcquireWrite` of a characteristic: no socket
    /// (`None`: not asked again), or one carrying at most this many bytes (a longer
    /// value goes through `WriteValue` without taking a socket first).
    offered: Mutex<HashMap<u16, Option<usize>>>,
    /// Characteristics whose socket was closed by a failed send or a send cut short (its
    /// call timed out): bluetoothd may still hold it for a moment ("Write acquired").
    dropped: Mutex<HashSet<u16>>,
    /// The service is gone: nothing is kept any more.
    cleared: AtomicBool,
}

impl Writers {
    fn take(&self, handle: u16) -> Option<CharacteristicWriter> {
        self.lock().remove(&handle)
    }

    fn put(&self, handle: u16, writer: CharacteristicWriter) {
        let mut held = self.lock();
        if !self.cleared.load(Ordering::SeqCst) {
            held.insert(handle, writer);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u16, CharacteristicWriter>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_dropped(&self) -> std::sync::MutexGuard<'_, HashSet<u16>> {
        self.dropped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_offered(&self) -> std::sync::MutexGuard<'_, HashMap<u16, Option<usize>>> {
        self.offered.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes every socket and keeps none from now on (the service went invalid).
    pub(crate) fn clear(&self) {
        let held = {
            let mut held = self.lock();
            self.cleared.store(true, Ordering::SeqCst);
            std::mem::take(&mut *held)
        };
        drop(held);
    }

    /// Writes `value` without response on a socket held for `handle`, if there is one
    /// and the value fits it: `None` when the caller must look the characteristic up and
    /// call [`write_command`](Self::write_command).
    pub(crate) async fn write_held(&self, handle: u16, value: &[u8]) -> Option<Result<(), String>> {
        let writer = self.take(handle)?;
        if value.len() > writer.mtu() || writer.is_closed().unwrap_or(true) {
            self.put(handle, writer);
            return None;
        }
        Some(self.send(handle, writer, value).await)
    }

    /// Writes `value` without response: on a socket bluetoothd hands out for `c` (kept
    /// for the next writes), or through `WriteValue` where it offers none or the value
    /// is longer than the socket carries (bluetoothd then decides).
    pub(crate) async fn write_command(
        &self,
        c: &Characteristic,
        handle: u16,
        value: &[u8],
    ) -> Result<(), String> {
        let mut released = self.lock_dropped().remove(&handle);
        let offered = self.lock_offered().get(&handle).copied();
        if let Some(held) = self.take(handle) {
            if value.len() <= held.mtu() && !held.is_closed().unwrap_or(true) {
                return self.send(handle, held, value).await;
            }
            self.put(handle, held);
            released = self.release(handle).await?;
        } else if offered.is_none_or(|o| o.is_some_and(|mtu| value.len() <= mtu)) {
            match c.write_io().await {
                Ok(writer) => {
                    self.lock_offered().insert(handle, Some(writer.mtu()));
                    if value.len() <= writer.mtu() {
                        return self.send(handle, writer, value).await;
                    }
                    drop(writer);
                    released = true;
                }
                // Not for this characteristic, or not for this program: not asked again.
                Err(e)
                    if matches!(
                        e.kind,
                        bluer::ErrorKind::NotSupported | bluer::ErrorKind::NotAuthorized
                    ) =>
                {
                    self.lock_offered().insert(handle, None);
                }
                // Held by another program, or the link is going: `WriteValue` says so.
                Err(_) => {}
            }
        }
        self.settle().await?;
        let req = CharacteristicWriteRequest {
            op_type: WriteOp::Command,
            ..Default::default()
        };
        write_value(c, value, &req, released).await
    }

    /// One datagram on `writer`, kept afterwards unless the socket failed.
    async fn send(
        &self,
        handle: u16,
        writer: CharacteristicWriter,
        value: &[u8],
    ) -> Result<(), String> {
        // bluetoothd reads each socket on its own: what another one still holds must
        // be read before this one gets a write.
        if let Err(e) = self.settle().await {
            self.put(handle, writer);
            return Err(e);
        }
        // Marked while the send runs: if this call is cut short, the socket goes with it.
        self.lock_dropped().insert(handle);
        match writer.send(value).await {
            Ok(()) => {
                self.lock_dropped().remove(&handle);
                self.put(handle, writer);
                Ok(())
            }
            Err(e) => Err(format!(
                "the write socket bluetoothd handed out failed: {e}"
            )),
        }
    }

    /// Waits until bluetoothd has read everything written on every held socket (a
    /// socket it closed counts as read: its link is gone).
    pub(crate) async fn settle(&self) -> Result<(), String> {
        let end = tokio::time::Instant::now() + SETTLE_LIMIT;
        loop {
            let unread = self
                .lock()
                .values()
                .filter(|w| !w.is_closed().unwrap_or(true))
                .map(|w| sys::writer_unread(w).unwrap_or(0))
                .sum::<usize>();
            if unread == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= end {
                return Err(format!(
                    "bluetoothd did not take the writes without response queued before \
                     this request within {SETTLE_LIMIT:?} ({unread} bytes of socket \
                     memory unread)"
                ));
            }
            tokio::time::sleep(SETTLE_STEP).await;
        }
    }

    /// Gives back the socket held for `handle`, if any, once bluetoothd read what it
    /// carries. Returns whether there was one: bluetoothd then refuses `WriteValue`
    /// until its main loop saw the hang-up, which [`write_value`] waits out.
    pub(crate) async fn release(&self, handle: u16) -> Result<bool, String> {
        self.settle().await?;
        Ok(self.take(handle).is_some())
    }
}

/// `WriteValue` on `c`. After [`Writers::release`] gave its socket back (`released`),
/// bluetoothd may not have seen the hang-up yet and answers "Write acquired"
/// (NotPermitted, and nothing is sent): that answer is waited out, bounded.
pub(crate) async fn write_value(
    c: &Characteristic,
    value: &[u8],
    req: &CharacteristicWriteRequest,
    released: bool,
) -> Result<(), String> {
    let end = tokio::time::Instant::now() + SETTLE_LIMIT;
    loop {
        match c.write_ext(value, req).await {
            Err(e)
                if released
                    && e.kind == bluer::ErrorKind::NotPermitted
                    && e.message.contains("Write acquired")
                    && tokio::time::Instant::now() < end =>
            {
                tokio::time::sleep(SETTLE_STEP).await;
            }
            r => return r.map_err(|e| e.to_string()),
        }
    }
}
