//! The slot list, and the crate's only `unsafe` code: [`SlotList`], a signal's slots and its emission;
//! [`slot_cell`], a slot's closure and state and the list's entries; and [`rc_ref`], the
//! counted reference a signal holds its slots and its shared state by.
#![allow(unsafe_code)]

pub(crate) mod rc_ref;
pub(crate) mod slot_cell;

use std::cell::{Cell, UnsafeCell};
use std::fmt;

use slot_cell::{Entry, SlotCell, SlotFn, IDLE, MARKED, SILENCED};

/// A signal's slots, which an emission calls in order while they may be connected and
/// disconnected from inside the calls, with no reference count or borrow flag touched
/// per emission.
///
/// **Snapshots.** A change made while an emission is in progress
/// ([`edit`](Self::edit)) does not touch the `Vec` being walked: it builds a copy, makes
/// that the live list, and keeps the old one in `retired` until the outermost emission
/// ends. Emissions started after the copy walk the copy. So the entries an emission
/// walks stay where they are, unchanged, until it ends.
///
/// **The cursor.** While an emission calls a slot, `cursor` holds that slot's cell's
/// address; it is null while no emission is in progress. That one word, stored once per
/// call, does the work of a running mark on every slot and of an emission depth:
///
/// - an emission that finds the cursor set at its start is nested in a slot's call. It
///   marks that slot ([`MARKED`], which makes it skip it: a running `FnMut` is never
///   entered again), and when it ends it puts the cursor back and unmarks the slot;
/// - a slot is running iff it is the cursor or marked. Disconnecting a running slot
///   ([`silence`](Self::silence)) leaves its closure alone and puts the slot in
///   `pending`; the outermost emission drops the closures there when it ends. So a call
///   returns to nothing to check: a slot's call costs a test of its state, one store,
///   and the call.
pub(crate) struct SlotList<T, E> {
    /// The live list. Only `edit` changes it, and only in place while no emission is
    /// walking its buffer (none in progress, or `fresh`).
    live: UnsafeCell<Vec<Entry<T, E>>>,
    /// The cell of the slot being called by the innermost emission in progress (or called
    /// last, between two calls), or null when no emission is in progress. Only compared,
    /// except where a nested emission marks and unmarks the cell it interrupted.
    cursor: Cell<*const ()>,
    /// The number of nested emissions in progress, plus [`RETIRED`] while `retired` holds
    /// lists and [`PENDING`] while `pending` holds slots. Zero in the common case, where
    /// an emission only tests it.
    flags: Cell<u32>,
    /// `live` was copied during the current outermost emission and no emission has
    /// started since, so nothing walks its buffer: it may change in place. Only ever set
    /// together with [`RETIRED`], so it is false whenever no emission is in progress.
    fresh: Cell<bool>,
    /// Lists replaced during an emission, dropped when the outermost emission ends.
    retired: UnsafeCell<Vec<Vec<Entry<T, E>>>>,
    /// Slots disconnected while they ran, whose closures the outermost emission drops
    /// when it ends.
    pending: UnsafeCell<Vec<Entry<T, E>>>,
}

/// The bit of `flags` that says `retired` is not empty.
const RETIRED: u32 = 1 << 31;
/// The bit of `flags` that says `pending` is not empty.
const PENDING: u32 = 1 << 30;

impl<T, E> SlotList<T, E> {
    pub(crate) fn new() -> Self {
        SlotList {
            live: UnsafeCell::new(Vec::new()),
            cursor: Cell::new(std::ptr::null()),
            flags: Cell::new(0),
            fresh: Cell::new(false),
            retired: UnsafeCell::new(Vec::new()),
            pending: UnsafeCell::new(Vec::new()),
        }
    }

    /// Whether the live list is empty.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: a shared read of the `Vec` header. The only writer, `edit`, holds no
        // reference across a call out of this module and is not running here (this
        // thread is here; the type is not `Sync`).
        unsafe { (*self.live.get()).is_empty() }
    }

    /// Calls `f` with the live list as it is now. `f` must not reach this list again
    /// (callers pass plain reads: lengths, searches); it runs no user code.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&[Entry<T, E>]) -> R) -> R {
        // SAFETY: a shared read of the list; `f` does not edit it (see above).
        f(unsafe { &*self.live.get() })
    }

    /// Changes the live list with `f`. During an emission the list is copied first (once
    /// per outermost emission, unless an emission started since).
    ///
    /// `f` gets the list by value-like `&mut Vec` outside the cell: if it reached this
    /// list again (it should not: callers pass plain list operations), it would see the
    /// list empty, and its own change would be lost, but nothing unsound can happen.
    #[inline]
    pub(crate) fn edit<R>(&self, f: impl FnOnce(&mut Vec<Entry<T, E>>) -> R) -> R {
        // SAFETY: writes to `live` and `retired` happen only here, in `retire_live` and in
        // `end_cold`, with no reference into either held across user code:
        // `take`/`replace` move whole `Vec` headers, and the buffer an emission walks is
        // never written to (see `emit`).
        unsafe {
            let mut list = if !self.cursor.get().is_null() && !self.fresh.get() {
                self.retire_live()
            } else {
                std::mem::take(&mut *self.live.get())
            };
            let r = f(&mut list);
            let empty = std::mem::replace(&mut *self.live.get(), list);
            // What `f` might have put there by reaching this list again is dropped here,
            // after the cell holds the real list again.
            drop(empty);
            r
        }
    }

    /// Moves the live list to `retired` (an emission walks it) and returns a copy of it.
    #[cold]
    #[inline(never)]
    fn retire_live(&self) -> Vec<Entry<T, E>> {
        // SAFETY: as in `edit`: whole `Vec` headers move, no reference is kept, and the
        // buffer being walked is not written to.
        unsafe {
            let copy = (*self.live.get()).clone();
            let old = std::mem::take(&mut *self.live.get());
            (*self.retired.get()).push(old);
            self.flags.set(self.flags.get() | RETIRED);
            self.fresh.set(true);
            copy
        }
    }

    /// Marks `entry`'s slot disconnected: no emission calls it again. Returns its closure
    /// for the caller to drop with nothing borrowed (dropping it may run user code), or
    /// `None` if it is running (the outermost emission in progress drops it when it
    /// ends) or was disconnected already.
    pub(crate) fn silence(&self, entry: &Entry<T, E>) -> Option<SlotFn<T>> {
        let cell = entry.cell();
        let state = cell.state.get();
        if state & SILENCED != 0 {
            return None;
        }
        cell.state.set(state | SILENCED);
        // Between two calls the cursor still holds the slot called last, but no user
        // code runs there: whoever calls this while the cursor holds `cell` runs inside
        // its call.
        if state & MARKED != 0 || std::ptr::eq(self.cursor.get(), cell_addr(cell)) {
            // SAFETY: `pending` is only reached here and in `end_cold`, which moves it
            // out before running any user code; no reference to it is held.
            unsafe { (*self.pending.get()).push(entry.clone()) };
            self.flags.set(self.flags.get() | PENDING);
            return None;
        }
        // Not running: nothing refers to the closure.
        Some(cell.take_closure())
    }

    /// Calls every slot of the live list as it is now, in order, with `args`; skips
    /// slots disconnected since and slots running further up the stack. See the type's
    /// docs for the bookkeeping.
    #[inline]
    pub(crate) fn emit(&self, args: &T) {
        let outer = self.cursor.get();
        if !outer.is_null() {
            self.begin_nested(outer);
        }
        let end = EndEmission { list: self, outer };
        // SAFETY: a shared read of the header, as in `is_empty`. The slice then stays
        // valid until `end` drops: while an emission is in progress (the cursor is not
        // null whenever user code runs), `edit` never writes to, moves out of or frees
        // this buffer (it is `live` until replaced, then in `retired`, which only the
        // outermost emission's end empties, after this one returned). Entries are only
        // read through shared references.
        let entries: &[Entry<T, E>] = unsafe {
            let live = &*self.live.get();
            std::slice::from_raw_parts(live.as_ptr(), live.len())
        };
        match entries {
            [one] => self.call(one, args),
            many => self.call_each(many, args),
        }
        drop(end);
    }

    /// Calls several slots. Out of line: its loop needs registers that every emission
    /// would save and restore, and one slot (the common case) needs none of them.
    #[inline(never)]
    fn call_each(&self, entries: &[Entry<T, E>], args: &T) {
        for entry in entries {
            self.call(entry, args);
        }
    }

    #[inline]
    fn call(&self, entry: &Entry<T, E>, args: &T) {
        let cell = entry.cell();
        if cell.state.get() != IDLE {
            return; // disconnected, or running further up the stack
        }
        self.cursor.set(cell_addr(cell));
        // SAFETY: the state is IDLE, so the slot is connected and its cell still owns
        // the closure the entry's pointer was copied from (only `take_closure` takes it,
        // after silencing, and a silenced state never goes back to IDLE). It is not
        // running: a running slot is marked, or it is the cursor of the innermost
        // emission, which is this one (the cursor was the caller's slot or null when
        // this emission began, and every call of this emission sets it). So this is the
        // only reference to the closure until the call returns: while it runs it is the
        // cursor or marked, so no emission calls it, and `silence` leaves it alone.
        unsafe { (*entry.func().as_ptr())(args) };
    }

    /// Starts an emission nested in the call of the slot whose cell is `outer`.
    #[cold]
    #[inline(never)]
    fn begin_nested(&self, outer: *const ()) {
        // At most one emission per stack frame, so the count cannot reach `PENDING`.
        self.flags.set(self.flags.get() + 1);
        // This emission may walk the live list, so that is no longer fresh.
        self.fresh.set(false);
        // SAFETY: a cursor that is not null is the cell of the slot the enclosing
        // emission is calling, which that emission's list keeps alive until it ends,
        // after this one. Only its state is touched.
        let cell = unsafe { &*outer.cast::<SlotCell<T>>() };
        debug_assert_eq!(
            cell.state.get() & MARKED,
            0,
            "the cursor's slot is not marked"
        );
        cell.state.set(cell.state.get() | MARKED);
    }

    /// Ends an emission that was nested, or during which lists were retired or running
    /// slots disconnected.
    #[cold]
    #[inline(never)]
    fn end_cold(&self, outer: *const ()) {
        if !outer.is_null() {
            self.flags.set(self.flags.get() - 1);
            // SAFETY: as in `begin_nested`: the enclosing emission is still calling this
            // cell's slot.
            let cell = unsafe { &*outer.cast::<SlotCell<T>>() };
            cell.state.set(cell.state.get() & !MARKED);
            return;
        }
        // The outermost emission, which retired lists or has closures to drop.
        debug_assert_eq!(self.flags.get() & !(RETIRED | PENDING), 0);
        self.flags.set(0);
        self.fresh.set(false);
        // SAFETY: no emission is in progress (this was the outermost), so nothing walks a
        // retired buffer, and no slot runs. Both `Vec`s are moved out before any drop
        // can run user code, which may emit and edit this list again.
        let (retired, pending) = unsafe {
            (
                std::mem::take(&mut *self.retired.get()),
                std::mem::take(&mut *self.pending.get()),
            )
        };
        for entry in pending {
            drop(entry.cell().take_closure());
        }
        drop(retired);
    }
}

fn cell_addr<T>(cell: &SlotCell<T>) -> *const () {
    (cell as *const SlotCell<T>).cast()
}

/// Ends an emission, on return or unwind: puts back the cursor of the emission it was
/// nested in (null if none).
struct EndEmission<'a, T, E> {
    list: &'a SlotList<T, E>,
    outer: *const (),
}

impl<T, E> Drop for EndEmission<'_, T, E> {
    #[inline]
    fn drop(&mut self) {
        self.list.cursor.set(self.outer);
        if self.list.flags.get() != 0 {
            self.list.end_cold(self.outer);
        }
    }
}

impl<T, E> fmt::Debug for SlotList<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotList")
            .field("nested", &(self.flags.get() & !(RETIRED | PENDING)))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    type List = SlotList<u32, u32>;

    fn entry(f: impl FnMut(&u32) + 'static, id: u32) -> Entry<u32, u32> {
        Entry::new(Box::new(f), id)
    }

    fn push(list: &List, id: u32, f: impl FnMut(&u32) + 'static) {
        list.edit(|v| v.push(entry(f, id)));
    }

    fn ids(list: &List) -> Vec<u32> {
        list.with(|v| v.iter().map(|e| *e.data()).collect())
    }

    #[test]
    fn edits_during_an_emission_do_not_change_what_it_walks() {
        let list = Rc::new(List::new());
        let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
        for id in 1..=3 {
            let (l, s) = (list.clone(), seen.clone());
            push(&list, id, move |_| {
                s.borrow_mut().push(id);
                if id == 1 {
                    l.edit(|v| v.clear());
                    let s = s.clone();
                    push(&l, 9, move |_| s.borrow_mut().push(9));
                    l.emit(&0); // nested: sees the edits
                }
            });
        }
        list.emit(&0);
        assert_eq!(*seen.borrow(), [1, 9, 2, 3]);
        assert_eq!(ids(&list), [9]);
        // Break the test's cycle (slot 1 held the list; it is retired and gone now).
        list.edit(|v| v.clear());
    }

    #[test]
    fn outside_emissions_edits_are_in_place() {
        let list = List::new();
        list.edit(|v| v.reserve(8));
        let before = list.with(|v| v.as_ptr());
        push(&list, 1, |_| {});
        assert_eq!(list.with(|v| v.as_ptr()), before);
    }

    #[test]
    fn retired_lists_are_dropped_when_the_outermost_emission_ends() {
        let token = Rc::new(());
        let list = Rc::new(List::new());
        let (l, t) = (list.clone(), token.clone());
        push(&list, 1, move |_| {
            let _keep = &t;
            l.edit(|v| v.clear());
        });
        list.emit(&0);
        assert_eq!(
            Rc::strong_count(&token),
            1,
            "the retired entry went at the end"
        );
        assert_eq!(list.flags.get(), 0);
        assert!(list.cursor.get().is_null());
    }

    #[test]
    fn a_panic_inside_an_emission_ends_it() {
        let list = List::new();
        push(&list, 1, |_| panic!("slot panicked"));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| list.emit(&0)));
        assert!(r.is_err());
        assert!(list.cursor.get().is_null());
        assert_eq!(list.flags.get(), 0);
        let before = list.with(|v| v.as_ptr());
        list.edit(|v| v[0] = entry(|_| {}, 2));
        assert_eq!(list.with(|v| v.as_ptr()), before, "in place again");
    }

    #[test]
    fn silencing_an_idle_slot_hands_back_its_closure_once() {
        let token = Rc::new(());
        let t = token.clone();
        let list = List::new();
        push(&list, 1, move |_| assert!(Rc::strong_count(&t) > 1));
        let e = list.with(|v| v[0].clone());
        let user = list.silence(&e).expect("idle: the closure comes back");
        assert_eq!(Rc::strong_count(&token), 2);
        drop(user);
        assert_eq!(Rc::strong_count(&token), 1);
        assert!(list.silence(&e).is_none(), "already silenced");
        list.emit(&0); // calls nothing
        assert_eq!(list.flags.get(), 0, "nothing pending");
    }

    #[test]
    fn a_slot_silenced_during_its_call_loses_its_closure_when_the_emission_ends() {
        let token = Rc::new(());
        let list = Rc::new(List::new());
        let (l, t) = (list.clone(), token.clone());
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        push(&list, 1, move |_| {
            let _keep = &t;
            c.set(c.get() + 1);
            let me = l.with(|v| v[0].clone());
            assert!(l.silence(&me).is_none(), "running: kept until it returns");
            assert_eq!(Rc::strong_count(&t), 2, "still held while it runs");
        });
        list.emit(&0);
        assert_eq!(
            Rc::strong_count(&token),
            1,
            "dropped when the emission ended"
        );
        list.emit(&0);
        assert_eq!(calls.get(), 1, "never called again");
    }

    #[test]
    fn a_nested_emission_skips_the_running_slot_and_unmarks_it() {
        let list = Rc::new(List::new());
        let depth = Rc::new(Cell::new(0));
        let (l, d) = (list.clone(), depth.clone());
        push(&list, 1, move |x| {
            d.set(d.get() + 1);
            if *x == 0 {
                l.emit(&1); // this slot is skipped
            }
        });
        list.emit(&0);
        assert_eq!(depth.get(), 1);
        list.with(|v| assert_eq!(v[0].cell().state.get(), IDLE));
        list.emit(&0);
        assert_eq!(depth.get(), 2);
        list.edit(|v| v.clear()); // the slot holds the list
    }

    #[test]
    fn a_marked_slot_silenced_by_a_nested_call_keeps_its_closure_until_the_outermost_end() {
        let token = Rc::new(());
        let list = Rc::new(List::new());
        let (l, t) = (list.clone(), token.clone());
        let after_nested = Rc::new(Cell::new(0));
        let a = after_nested.clone();
        push(&list, 1, move |x| {
            let _keep = &t;
            if *x == 0 {
                l.emit(&1); // slot 2 silences this one
                a.set(Rc::strong_count(&t));
            }
        });
        let l = list.clone();
        push(&list, 2, move |x| {
            if *x == 1 {
                let first = l.with(|v| v[0].clone());
                assert_eq!(first.cell().state.get(), MARKED);
                assert!(l.silence(&first).is_none(), "running further up");
            }
        });
        list.emit(&0);
        assert_eq!(after_nested.get(), 2, "kept while its call ran");
        assert_eq!(Rc::strong_count(&token), 1, "dropped at the end");
        list.with(|v| assert_eq!(v[0].cell().state.get(), SILENCED, "unmarked"));
        assert_eq!(list.flags.get(), 0);
        list.edit(|v| v.clear()); // slot 2 holds the list
    }
}
