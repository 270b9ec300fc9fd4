//! The signal layer: [`Signal`] (a typed list of slots, emitted in connection order,
//! in this file), its connections and guards ([`connection`]), the slot list that
//! emission walks ([`slot_list`], the crate's only `unsafe` code), and emissions for
//! `async` code ([`stream`]). Nothing here knows the event loop: queued and cross-thread
//! connections are the loop's (`event_loop::queued`, `event_loop::remote`).

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};

mod connection;
mod slot_list;
mod stream;

pub(crate) use connection::SignalControl;
pub use connection::{Connection, ScopedConnection, SignalBlocker};
pub(crate) use slot_list::slot_cell::SlotFn;
pub use stream::{Lagged, NextEmission, SignalStream};

use slot_list::rc_ref::RcRef;
use slot_list::slot_cell::{Entry, Spare};
use slot_list::SlotList;

/// Connection ids come from one process-wide counter, so a [`Connection`] taken from one
/// signal never matches a slot of another, on any thread.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> NonZeroU64 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    NonZeroU64::new(id).expect("connection id counter wrapped")
}

/// What a signal knows about one connected slot, besides its closure (which the slot's
/// cell in [`slot_list`] owns). Disconnecting a slot silences it: an emission in
/// progress that reaches it later calls nothing, and the user's closure is dropped at
/// once, or, if it was disconnected while running, when the outermost emission in
/// progress ends.
struct SlotData {
    id: NonZeroU64,
    /// Liveness of the receiver this slot is bound to, if any.
    receiver: Option<Weak<dyn Any>>,
}

impl SlotData {
    fn receiver_gone(&self) -> bool {
        self.receiver
            .as_ref()
            .is_some_and(|r| r.strong_count() == 0)
    }
}

/// `slots` comes first (`repr(C)`), so that its address is the shared state's own (see
/// [`RcRef`]).
#[repr(C)]
pub(crate) struct Shared<T> {
    /// The connected slots, in connection order. An emission walks the list with
    /// nothing borrowed and no reference count touched; a change made meanwhile (a slot
    /// connecting or disconnecting) goes to a copy, so the emission in progress walks
    /// the list as it was when it started (see [`SlotList`]).
    slots: SlotList<T, SlotData>,
    blocked: Cell<bool>,
    /// The allocation of the last slot disconnected while nothing else referred to it,
    /// silenced and unbound, for the next `connect` to reuse: a connect and disconnect
    /// in turn (a scoped connection, `wait_for`) then allocate nothing for the slot.
    spare: Cell<Option<Spare<T, SlotData>>>,
}

/// A typed signal: Qt's `signals:` member, as a value.
///
/// Slots are closures taking `&T` (use a tuple for several arguments) and are called in
/// connection order by [`emit`](Signal::emit). Connecting returns a [`Connection`], a
/// small `Copy` token that disconnects the slot.
///
/// ```
/// use sigloop_core::Signal;
/// use std::{cell::Cell, rc::Rc};
///
/// let value_changed: Signal<(i32, &'static str)> = Signal::new();
/// let seen = Rc::new(Cell::new(0));
/// let s = seen.clone();
/// let conn = value_changed.connect(move |(v, _why)| s.set(*v));
/// value_changed.emit(&(42, "set by user"));
/// assert_eq!(seen.get(), 42);
/// assert!(value_changed.disconnect(conn));
/// assert!(!value_changed.disconnect(conn)); // stale tokens are harmless
/// ```
///
/// # Re-entrancy
///
/// No borrow or lock is held while a slot runs, so a slot may do anything with the signal
/// or the object that owns it. The rules:
///
/// - A slot may **emit the same signal** (recursion). The inner emission calls every slot
///   except those still running further up the stack: a running `FnMut` cannot be entered
///   twice.
/// - A slot **connected during an emission** is not called by that emission, only by
///   later ones.
/// - A slot **disconnected during an emission** and not yet called is skipped; a slot
///   disconnected while it runs (by itself, or by a slot of a nested emission) finishes
///   its current call, and its closure is dropped when the outermost emission of the
///   signal ends (Qt drops a functor slot when its call returns; the emission pays for
///   that with a check after every call). Either way `disconnect` returns `true` at once
///   and the slot is never called again.
/// - A slot may **drop the object that owns the signal** (its handle: the emitter holds
///   another while it emits); the emission in progress finishes normally.
/// - A **panicking slot** propagates the panic to the emitter; the signal stays usable and
///   the slot stays connected.
///
/// Emission order is connection order. A signal is not `Send`: it lives on one thread;
/// use [`RemoteEmitter`](crate::RemoteEmitter) to emit into it from others.
pub struct Signal<T: 'static> {
    shared: RcRef<Shared<T>>,
}

impl<T: 'static> Default for Signal<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static> fmt::Debug for Signal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("slots", &self.shared.len())
            .field("blocked", &self.shared.blocked.get())
            .finish()
    }
}

impl<T: 'static> Signal<T> {
    /// Creates a signal with no slots.
    pub fn new() -> Self {
        Signal {
            shared: RcRef::new(Shared {
                slots: SlotList::new(),
                blocked: Cell::new(false),
                spare: Cell::new(None),
            }),
        }
    }

    /// Calls every connected slot with `args`, in connection order (Qt: `emit sig(args)`).
    ///
    /// Does nothing while the signal is blocked. See the type's docs for what slots may do
    /// meanwhile.
    #[inline]
    pub fn emit(&self, args: &T) {
        let shared = &*self.shared;
        if shared.blocked.get() {
            return;
        }
        if shared.slots.is_empty() {
            return;
        }
        // A slot running further up the stack is skipped (a slot never runs inside
        // itself), and so is a disconnected one. A slot bound to a dropped receiver
        // returns at once (its closure fails to upgrade) and is removed by the next
        // `receiver_count`, `is_connected` or `disconnect`.
        shared.slots.emit(args);
    }

    /// Connects `slot`; it is called on every emission until disconnected (Qt's
    /// `Qt::DirectConnection`).
    pub fn connect<F>(&self, slot: F) -> Connection
    where
        F: FnMut(&T) + 'static,
    {
        self.insert(Box::new(slot), None)
    }

    /// Connects `slot` and returns a guard that disconnects it when dropped.
    ///
    /// Dropping the returned [`ScopedConnection`] disconnects at once; keep it in a
    /// variable or a struct field for as long as the slot should run, or call
    /// [`release`](ScopedConnection::release) to keep the connection for good.
    pub fn connect_scoped<F>(&self, slot: F) -> ScopedConnection
    where
        F: FnMut(&T) + 'static,
    {
        let conn = self.connect(slot);
        ScopedConnection::new(self.downgrade_dyn(), conn)
    }

    /// Connects `slot` bound to `receiver` (Qt's `connect(sender, signal, receiver, slot)`).
    ///
    /// The signal keeps only a [`Weak`] to the receiver: it never keeps it alive, and once
    /// the receiver is dropped the connection disappears by itself (Qt's auto-disconnect
    /// when the receiving `QObject` is destroyed) and the slot is never called again.
    ///
    /// ```
    /// use sigloop_core::Signal;
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// struct Label { text: Cell<i32> }
    /// let changed = Signal::<i32>::new();
    /// let label = Rc::new(Label { text: Cell::new(0) });
    /// changed.connect_to(&label, |label, v| label.text.set(*v));
    /// changed.emit(&7);
    /// assert_eq!(label.text.get(), 7);
    /// drop(label);
    /// assert_eq!(changed.receiver_count(), 0);
    /// ```
    pub fn connect_to<R, F>(&self, receiver: &Rc<R>, mut slot: F) -> Connection
    where
        R: 'static,
        F: FnMut(&R, &T) + 'static,
    {
        let weak = Rc::downgrade(receiver);
        let liveness: Weak<dyn Any> = weak.clone();
        self.insert(
            Box::new(move |args: &T| {
                if let Some(receiver) = weak.upgrade() {
                    slot(&receiver, args);
                }
            }),
            Some(liveness),
        )
    }

    pub(crate) fn insert(&self, func: SlotFn<T>, receiver: Option<Weak<dyn Any>>) -> Connection {
        let id = next_id();
        let data = SlotData { id, receiver };
        let entry = match self.shared.spare.take() {
            // Silenced and unbound (see `remove`): nothing of the old connection is left.
            Some(spare) => Entry::reuse(spare, func, data),
            None => Entry::new(func, data),
        };
        self.shared.slots.edit(|list| list.push(entry));
        Connection::from_id(id)
    }

    /// Disconnects one slot. Returns `false` (and changes nothing) if the token is stale,
    /// was already disconnected, or belongs to another signal.
    pub fn disconnect(&self, connection: Connection) -> bool {
        self.shared.remove(connection.id())
    }

    /// Disconnects every slot.
    pub fn disconnect_all(&self) {
        let old = self.shared.slots.edit(std::mem::take);
        // The list is already empty when user code (a closure's drop) first runs.
        let funcs: Vec<_> = old.iter().map(|e| self.shared.slots.silence(e)).collect();
        drop(funcs);
        drop(old);
    }

    /// Whether `connection` is a live connection of this signal (Qt's
    /// `QMetaObject::Connection` converted to `bool`). A slot bound to a dropped receiver
    /// is not connected.
    pub fn is_connected(&self, connection: Connection) -> bool {
        self.shared.prune();
        self.shared.slots.with(|list| {
            list.binary_search_by_key(&connection.id(), |e| e.data().id)
                .is_ok()
        })
    }

    /// The number of connected slots (Qt's `QObject::receivers`), not counting slots whose
    /// receiver was dropped.
    pub fn receiver_count(&self) -> usize {
        self.shared.prune();
        self.shared.len()
    }

    /// Blocks or unblocks the signal and returns the previous state (Qt's
    /// `QObject::blockSignals`). A blocked signal's emissions are dropped, not deferred.
    pub fn block_signals(&self, block: bool) -> bool {
        self.shared.blocked.replace(block)
    }

    /// Whether the signal is blocked (Qt's `QObject::signalsBlocked`).
    pub fn signals_blocked(&self) -> bool {
        self.shared.blocked.get()
    }

    /// Blocks the signal until the returned guard is dropped, which restores the previous
    /// state (Qt's `QSignalBlocker`).
    pub fn blocker(&self) -> SignalBlocker {
        let previous = self.block_signals(true);
        SignalBlocker::new(self.downgrade_dyn(), previous)
    }

    pub(crate) fn downgrade_dyn(&self) -> Weak<dyn SignalControl> {
        let weak: Weak<Shared<T>> = RcRef::downgrade(&self.shared);
        weak
    }

    pub(crate) fn downgrade(&self) -> Weak<Shared<T>> {
        RcRef::downgrade(&self.shared)
    }

    pub(crate) fn from_shared(shared: Rc<Shared<T>>) -> Self {
        Signal {
            shared: RcRef::from_rc(shared),
        }
    }
}

impl<T> Shared<T> {
    fn len(&self) -> usize {
        self.slots.with(<[_]>::len)
    }

    fn remove(&self, id: NonZeroU64) -> bool {
        let removed = self.slots.edit(|list| {
            // The newest slot first: scoped connections and waits disconnect in the
            // reverse order of connecting, and it comes out without a search or a shift.
            if list.last().is_some_and(|e| e.data().id == id) {
                return list.pop();
            }
            let pos = list.binary_search_by_key(&id, |e| e.data().id).ok()?;
            Some(list.remove(pos))
        });
        let Some(entry) = removed else {
            return false;
        };
        // Silenced and its closure dropped here, with the list back in place: a closure's
        // drop may run user code. A slot running now keeps its closure until the outermost
        // emission ends, which drops it.
        drop(self.slots.silence(&entry));
        // If nothing else refers to it (no emission in progress walks it), keep the
        // allocation for the next connect, unbound from its receiver.
        if let Some(spare) = entry.into_spare(|data| data.receiver = None) {
            // The one replaced, if any, is silenced and unbound too: no user code runs.
            drop(self.spare.replace(Some(spare)));
        }
        true
    }

    /// Drops connections whose receiver is gone.
    fn prune(&self) {
        let dead: Vec<NonZeroU64> = self.slots.with(|list| {
            list.iter()
                .filter(|e| e.data().receiver_gone())
                .map(|e| e.data().id)
                .collect()
        });
        for id in dead {
            self.remove(id);
        }
    }
}

impl<T: 'static> SignalControl for Shared<T> {
    fn disconnect_id(&self, id: NonZeroU64) -> bool {
        self.remove(id)
    }

    fn set_blocked(&self, blocked: bool) {
        self.blocked.set(blocked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn list_ptr<T>(sig: &Signal<T>) -> *const Entry<T, SlotData> {
        sig.shared.slots.with(<[_]>::as_ptr)
    }

    #[test]
    fn changes_during_an_emission_copy_the_list_instead_of_mutating_the_snapshot() {
        let sig = Rc::new(Signal::<()>::new());
        let s = sig.clone();
        let lens = Rc::new(RefCell::new(Vec::new()));
        let l = lens.clone();
        sig.connect(move |()| {
            let before = list_ptr(&s);
            s.connect(|()| {});
            let after = list_ptr(&s);
            l.borrow_mut().push(before != after);
        });
        sig.emit(&());
        assert_eq!(*lens.borrow(), [true], "copied while a snapshot was out");
        // No emission in progress: changes happen in place.
        let before = list_ptr(&sig);
        sig.connect(|()| {});
        assert_eq!(before, list_ptr(&sig));
        // Break the test's own cycle (the first slot holds the signal).
        sig.disconnect_all();
    }

    fn first_slot<T>(sig: &Signal<T>) -> *const () {
        sig.shared.slots.with(|list| list[0].slot_ptr())
    }

    #[test]
    fn a_disconnected_slot_s_allocation_is_reused_by_the_next_connect() {
        let sig = Signal::<u32>::new();
        let token = Rc::new(());
        let t = token.clone();
        let first = sig.connect(move |_| {
            let _keep = &t;
        });
        let before = first_slot(&sig);
        assert!(sig.disconnect(first));
        assert_eq!(
            Rc::strong_count(&token),
            1,
            "the closure went at disconnect"
        );
        let seen = Rc::new(Cell::new(0));
        let s = seen.clone();
        let second = sig.connect(move |x| s.set(*x));
        assert_eq!(first_slot(&sig), before, "the slot's allocation was reused");
        sig.emit(&7);
        assert_eq!(seen.get(), 7, "the new closure runs");
        assert!(!sig.disconnect(first), "the old token stays stale");
        assert!(sig.is_connected(second));
    }

    #[test]
    fn a_reused_slot_is_not_bound_to_the_receiver_of_the_one_before() {
        let sig = Signal::<()>::new();
        let receiver = Rc::new(Cell::new(0));
        let bound = sig.connect_to(&receiver, |r, ()| r.set(r.get() + 1));
        assert!(sig.disconnect(bound));
        drop(receiver);
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        let plain = sig.connect(move |()| c.set(c.get() + 1));
        assert_eq!(sig.receiver_count(), 1, "not pruned for the old receiver");
        assert!(sig.is_connected(plain));
        sig.emit(&());
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn a_slot_still_walked_by_an_emission_is_not_kept_for_reuse() {
        let sig = Rc::new(Signal::<()>::new());
        let (s, own) = (sig.clone(), Rc::new(Cell::new(None)));
        let o = own.clone();
        let conn = sig.connect(move |()| {
            if let Some(c) = o.take() {
                assert!(s.disconnect(c));
            }
        });
        own.set(Some(conn));
        sig.emit(&());
        assert!(
            sig.shared.spare.take().is_none(),
            "the emission still held it"
        );
        assert_eq!(sig.receiver_count(), 0);
        // Break the test's own cycle (the closure holds the signal).
        sig.disconnect_all();
    }

    #[test]
    fn connection_ids_are_increasing_so_the_list_stays_sorted() {
        let sig = Signal::<()>::new();
        let ids: Vec<_> = (0..5).map(|_| sig.connect(|()| {}).id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let ids_in_list: Vec<_> = sig
            .shared
            .slots
            .with(|list| list.iter().map(|e| e.data().id).collect());
        assert_eq!(ids_in_list, ids);
    }
}
