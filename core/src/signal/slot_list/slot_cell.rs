//! A connected slot as a signal's list holds it: [`SlotCell`], the user's closure with one
//! word of state; [`Slot`], the cell with the signal's own data about the connection; and
//! [`Entry`], a list entry, which counts a reference to the slot and carries a copy of
//! its closure's pointer.

use std::cell::Cell;
use std::ptr::NonNull;

use super::rc_ref::RcRef;

/// A boxed slot: the user's closure as a signal stores it.
pub(crate) type SlotFn<T> = Box<dyn FnMut(&T)>;

/// Neither marked nor silenced: an emission may call the closure.
pub(super) const IDLE: u32 = 0;
/// Running in an emission that a nested emission (of the same signal) interrupted: set
/// by the nested emission when it starts, cleared when it ends (see
/// [`SlotList`](super::SlotList)). The slot the innermost emission is calling is not
/// marked: the list's cursor points at it.
pub(super) const MARKED: u32 = 1;
/// Disconnected: never called again.
pub(super) const SILENCED: u32 = 2;

/// The closure a slot owns, as the raw pointer of its box.
type RawFn<T> = NonNull<dyn FnMut(&T)>;

/// A connected slot's closure and its state (a `u32`, not a byte: byte stores measured
/// 10-15 % slower emission on the project's machines, and the cell is 8-aligned anyway).
///
/// The state is written only off the common path: by a nested emission, and when the
/// slot is disconnected. Whether the slot is running right now is the list's cursor's
/// business (see [`SlotList`](super::SlotList)).
pub(crate) struct SlotCell<T> {
    pub(super) state: Cell<u32>,
    /// Owns the user's closure (a `Box`, held raw so that list entries can copy its
    /// pointer); the zero-sized no-op once silenced.
    func: Cell<RawFn<T>>,
}

impl<T> SlotCell<T> {
    fn new(func: SlotFn<T>) -> Self {
        SlotCell {
            state: Cell::new(IDLE),
            func: Cell::new(into_raw(func)),
        }
    }

    /// Whether the slot was disconnected.
    pub(crate) fn is_silenced(&self) -> bool {
        self.state.get() & SILENCED != 0
    }

    /// Takes the user's closure out, leaving the no-op.
    ///
    /// Callers make sure the closure is not running, and that the cell is silenced (see
    /// `SlotList::silence`).
    pub(super) fn take_closure(&self) -> SlotFn<T> {
        let user = self.func.replace(into_raw(noop()));
        // SAFETY: `user` came from `Box::into_raw` (in `new`) and the cell owned it; the
        // cell now owns the no-op instead, so this box is taken back exactly once. No
        // reference to the closure is alive: it is not running (see above), and list
        // entries only keep its pointer, which they use only while the state is IDLE,
        // which it never is again.
        unsafe { Box::from_raw(user.as_ptr()) }
    }
}

impl<T> Drop for SlotCell<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::into_raw` and the cell still owns it; with
        // the cell gone, no entry refers to it either (entries hold the slot).
        drop(unsafe { Box::from_raw(self.func.get().as_ptr()) });
    }
}

fn into_raw<T>(func: SlotFn<T>) -> RawFn<T> {
    NonNull::from(Box::leak(func))
}

/// The closure of a silenced slot: zero-sized, so boxing it allocates nothing.
fn noop<T>() -> SlotFn<T> {
    Box::new(|_: &T| {})
}

/// A connected slot: its cell and the signal's data `E` about it (its id, its receiver).
/// `cell` comes first (`repr(C)`), so that the cell's address is the slot's own.
#[repr(C)]
pub(crate) struct Slot<T, E> {
    cell: SlotCell<T>,
    pub(crate) data: E,
}

/// A list entry: a counted reference to a slot and a copy of its closure's pointer, so
/// that an emission reaches the closure straight from the list (one load less on the
/// way to each call).
pub(crate) struct Entry<T, E> {
    slot: RcRef<Slot<T, E>>,
    func: RawFn<T>,
}

impl<T, E> Entry<T, E> {
    pub(crate) fn new(func: SlotFn<T>, data: E) -> Self {
        Self::from_slot(RcRef::new(Slot {
            cell: SlotCell::new(func),
            data,
        }))
    }

    /// A new connection in the allocation of a disconnected one.
    #[inline]
    pub(crate) fn reuse(spare: Spare<T, E>, func: SlotFn<T>, data: E) -> Self {
        let mut slot = spare.0;
        let s = RcRef::get_mut(&mut slot).expect("a spare slot is unique");
        debug_assert_eq!(s.cell.state.get(), SILENCED);
        // A spare's cell holds the zero-sized no-op, whose box owns no memory and whose
        // drop does nothing: overwriting its pointer (instead of dropping it through its
        // vtable) loses nothing.
        s.cell.func.set(into_raw(func));
        s.cell.state.set(IDLE);
        s.data = data;
        Self::from_slot(slot)
    }

    fn from_slot(slot: RcRef<Slot<T, E>>) -> Self {
        let func = slot.cell.func.get();
        Entry { slot, func }
    }

    pub(crate) fn data(&self) -> &E {
        &self.slot.data
    }

    pub(super) fn cell(&self) -> &SlotCell<T> {
        &self.slot.cell
    }

    /// The closure's pointer as it was when the entry was made: valid while the cell's
    /// state is IDLE (a silenced cell no longer owns it).
    pub(super) fn func(&self) -> RawFn<T> {
        self.func
    }

    /// This entry's slot kept for reuse, if nothing else refers to it and it is
    /// silenced; `reset` clears the data it should not carry over.
    #[inline]
    pub(crate) fn into_spare(mut self, reset: impl FnOnce(&mut E)) -> Option<Spare<T, E>> {
        let slot = RcRef::get_mut(&mut self.slot)?;
        if !slot.cell.is_silenced() {
            return None;
        }
        reset(&mut slot.data);
        Some(Spare(self.slot))
    }

    /// The slot's address, for tests that check where it lives.
    #[cfg(test)]
    pub(crate) fn slot_ptr(&self) -> *const () {
        &*self.slot as *const Slot<T, E> as *const ()
    }
}

impl<T, E> Clone for Entry<T, E> {
    fn clone(&self) -> Self {
        Entry {
            slot: self.slot.clone(),
            func: self.func,
        }
    }
}

/// A disconnected slot's allocation, unique and silenced, kept for the next connection.
pub(crate) struct Spare<T, E>(RcRef<Slot<T, E>>);

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn silence<T, E>(entry: &Entry<T, E>) {
        entry.cell().state.set(SILENCED);
        drop(entry.cell().take_closure());
    }

    #[test]
    fn taking_the_closure_leaves_a_no_op_and_drops_nothing_twice() {
        let token = Rc::new(());
        let held = token.clone();
        let entry: Entry<(), ()> = Entry::new(
            Box::new(move |()| {
                let _keep = &held;
            }),
            (),
        );
        entry.cell().state.set(SILENCED);
        let user = entry.cell().take_closure();
        assert_eq!(Rc::strong_count(&token), 2, "handed over, not dropped");
        drop(user);
        assert_eq!(Rc::strong_count(&token), 1);
        drop(entry); // drops the no-op
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[test]
    fn a_dropped_slot_drops_its_closure() {
        let token = Rc::new(());
        let held = token.clone();
        let entry: Entry<(), ()> = Entry::new(
            Box::new(move |()| {
                let _keep = &held;
            }),
            (),
        );
        let copy = entry.clone();
        drop(entry);
        assert_eq!(Rc::strong_count(&token), 2, "a copy still holds the slot");
        drop(copy);
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[test]
    fn only_a_unique_silenced_slot_is_spared_and_its_reuse_runs_the_new_closure() {
        let entry: Entry<u32, u8> = Entry::new(Box::new(|_| {}), 7);
        let copy = entry.clone();
        silence(&copy);
        assert!(entry.into_spare(|_| {}).is_none(), "not unique");
        let live: Entry<u32, u8> = Entry::new(Box::new(|_| {}), 7);
        assert!(live.into_spare(|_| {}).is_none(), "not silenced");
        let silenced = copy;
        let before = silenced.slot_ptr();
        let spare = silenced
            .into_spare(|d| *d = 0)
            .expect("unique and silenced");
        let seen = Rc::new(Cell::new(0));
        let s = seen.clone();
        let reused = Entry::reuse(spare, Box::new(move |x: &u32| s.set(*x)), 9);
        assert_eq!(reused.slot_ptr(), before, "same allocation");
        assert_eq!(*reused.data(), 9);
        assert_eq!(reused.cell().state.get(), IDLE);
        // SAFETY: the state is IDLE and nothing else calls the closure.
        unsafe { (*reused.func().as_ptr())(&5) };
        assert_eq!(seen.get(), 5);
    }
}
