//! Queued connections (Qt's `Qt::QueuedConnection`): a slot that runs on a later
//! iteration of the loop with a clone of the emission's argument.

use std::cell::Cell;
use std::rc::Rc;

use super::LoopHandle;
use crate::signal::{Connection, Signal, SlotFn};

impl<T: 'static> Signal<T> {
    /// Connects `slot` as a queued connection (Qt's `Qt::QueuedConnection`): each emission
    /// clones its argument and the slot runs with that clone on a later iteration of the
    /// loop behind `handle`, after the emitter has returned.
    ///
    /// Disconnecting also cancels deliveries already queued and not yet run. If the loop is
    /// gone when the signal is emitted, the emission is dropped with a `log` warning.
    pub fn connect_queued<F>(&self, handle: &LoopHandle, slot: F) -> Connection
    where
        T: Clone,
        F: FnMut(&T) + 'static,
    {
        let target = Rc::new(QueuedTarget {
            func: Cell::new(Some(Box::new(slot) as SlotFn<T>)),
            connected: Cell::new(true),
        });
        let hook = QueuedHook(target);
        let lp = handle.downgrade();
        self.insert(
            Box::new(move |args: &T| {
                let target = Rc::clone(&hook.0);
                let args = args.clone();
                if !lp.post(move || target.deliver(&args)) {
                    log::warn!("queued emission dropped: its event loop is gone");
                }
            }),
            None,
        )
    }
}

/// The receiving end of a queued connection, shared with deliveries not yet run.
struct QueuedTarget<T> {
    func: Cell<Option<SlotFn<T>>>,
    connected: Cell<bool>,
}

impl<T> QueuedTarget<T> {
    fn deliver(&self, args: &T) {
        if !self.connected.get() {
            return;
        }
        let Some(func) = self.func.take() else {
            return;
        };
        struct PutBack<'a, T>(&'a QueuedTarget<T>, Option<SlotFn<T>>);
        impl<T> Drop for PutBack<'_, T> {
            fn drop(&mut self) {
                if let Some(f) = self.1.take() {
                    if self.0.connected.get() {
                        self.0.func.set(Some(f));
                    }
                }
            }
        }
        let mut running = PutBack(self, Some(func));
        if let Some(f) = running.1.as_mut() {
            f(args);
        }
    }
}

/// Owned by the signal's slot closure: dropping it (on disconnect) cancels deliveries.
struct QueuedHook<T>(Rc<QueuedTarget<T>>);

impl<T> Drop for QueuedHook<T> {
    fn drop(&mut self) {
        self.0.connected.set(false);
        drop(self.0.func.take());
    }
}
