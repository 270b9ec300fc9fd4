//! [`SlotCell`]: a connected slot's closure with its running mark.

use std::cell::{Cell, UnsafeCell};

use crate::signal::SlotFn;

/// Neither running nor silenced: [`SlotCell::call`] may enter.
const IDLE: u32 = 0;
/// The closure is running (further up the stack).
const RUNNING: u32 = 1;
/// Disconnected: never called again. Set together with `RUNNING` when the slot was
/// disconnected during its own call.
const SILENCED: u32 = 2;

/// A connected slot's closure and one word of state, which a signal calls with no
/// borrow flag: the word says whether the closure is running (a running `FnMut` is never
/// entered again, so a nested emission skips it) and whether the slot was disconnected
/// (then it is never called again, and the user's closure is dropped as soon as it is
/// not running).
///
/// One test and two stores per call, where a `RefCell` borrow keeps a second pointer
/// live across the call and a separate "connected" flag costs a second test. The state is
/// a `u32`, not a byte: with byte loads and stores around each call, emission to 3 and 10
/// slots measured 10-15 % slower on this project's machines (AMD Zen 3), for no saving in
/// size (the closure's pointers align the cell to 8 bytes anyway).
pub(crate) struct SlotCell<T> {
    state: Cell<u32>,
    func: UnsafeCell<SlotFn<T>>,
}

impl<T> SlotCell<T> {
    pub(crate) fn new(func: SlotFn<T>) -> Self {
        SlotCell {
            state: Cell::new(IDLE),
            func: UnsafeCell::new(func),
        }
    }

    /// Calls the closure with `args`, unless it is running further up the stack or the
    /// slot was silenced. If it is silenced while it runs, its closure is dropped when it
    /// returns (or unwinds).
    #[inline]
    pub(crate) fn call(&self, args: &T) {
        if self.state.get() != IDLE {
            return;
        }
        self.state.set(RUNNING);
        let running = Running(self);
        // SAFETY: the state went from IDLE to RUNNING here and stays RUNNING until
        // `running` drops: `call` does not enter while it is, and `silence` leaves the
        // closure alone, so this is the only reference to the closure while it runs.
        // Through the signal the closure may reach this cell again, but all it can do
        // there is read and set `state`.
        unsafe { (*self.func.get())(args) };
        drop(running);
    }

    /// Marks the slot disconnected and returns the user's closure for the caller to drop
    /// with nothing borrowed (dropping it may run user code). `None` while the closure
    /// runs (the call running it drops it when it returns) or if it was silenced already.
    pub(crate) fn silence(&self) -> Option<SlotFn<T>> {
        let state = self.state.get();
        self.state.set(state | SILENCED);
        if state != IDLE {
            return None;
        }
        // SAFETY: the state was IDLE, so the closure is not running and no reference to
        // it exists; this moves the box out and puts a no-op in its place.
        Some(unsafe { std::mem::replace(&mut *self.func.get(), noop()) })
    }

    /// Ends a silenced cell whose allocation is reused, without calling the no-op's drop
    /// through its vtable.
    pub(crate) fn discard_silenced(self) {
        debug_assert_eq!(
            self.state.get(),
            SILENCED,
            "only a silenced cell is discarded"
        );
        if self.state.get() == SILENCED {
            // A silenced cell holds the zero-sized no-op (`silence` and
            // `end_silenced_call` put it there), whose box owns no memory and whose drop
            // does nothing: forgetting it loses nothing.
            std::mem::forget(self.func.into_inner());
        }
        // Otherwise `self` drops normally here.
    }

    /// Ends a call during which the slot was silenced: drops the user's closure now.
    #[cold]
    #[inline(never)]
    fn end_silenced_call(&self) {
        self.state.set(SILENCED);
        // SAFETY: the call has returned or unwound (this runs from its guard), so no
        // reference to the closure exists.
        let user = unsafe { std::mem::replace(&mut *self.func.get(), noop()) };
        // User code may run here; the state already says SILENCED, so a nested emission
        // skips this slot.
        drop(user);
    }
}

/// Ends a call, on return or unwind.
struct Running<'a, T>(&'a SlotCell<T>);

impl<T> Drop for Running<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.0.state.get() == RUNNING {
            self.0.state.set(IDLE);
        } else {
            self.0.end_silenced_call();
        }
    }
}

/// The closure of a silenced slot: zero-sized, so boxing it allocates nothing.
fn noop<T>() -> SlotFn<T> {
    Box::new(|_: &T| {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::{Rc, Weak};

    /// A cell whose closure gets the cell itself.
    fn cell_with<T: 'static>(f: impl Fn(&SlotCell<T>, &T) + 'static) -> Rc<SlotCell<T>> {
        let back: Rc<RefCell<Weak<SlotCell<T>>>> = Rc::default();
        let b = back.clone();
        let cell = Rc::new(SlotCell::new(Box::new(move |x: &T| {
            let cell = b.borrow().upgrade().expect("cell alive while called");
            f(&cell, x);
        })));
        *back.borrow_mut() = Rc::downgrade(&cell);
        cell
    }

    #[test]
    fn a_running_closure_is_not_entered_again() {
        let depth = Rc::new(Cell::new(0));
        let d = depth.clone();
        let cell = cell_with(move |cell, x: &u32| {
            d.set(d.get() + 1);
            cell.call(&(x + 1)); // refused: running
        });
        cell.call(&1);
        assert_eq!(depth.get(), 1);
        cell.call(&1);
        assert_eq!(depth.get(), 2, "idle again after the call");
    }

    #[test]
    fn silenced_while_running_drops_the_closure_when_the_call_returns() {
        let token = Rc::new(());
        let held = token.clone();
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        let cell = cell_with(move |cell, ()| {
            let _keep = &held;
            c.set(c.get() + 1);
            assert!(cell.silence().is_none(), "running: kept until it returns");
        });
        cell.call(&());
        assert_eq!(Rc::strong_count(&token), 1, "dropped right after the call");
        cell.call(&()); // silenced: nothing runs
        assert_eq!(calls.get(), 1);
        assert!(cell.silence().is_none(), "already silenced");
    }

    #[test]
    fn silencing_an_idle_slot_hands_back_its_closure() {
        let token = Rc::new(());
        let held = token.clone();
        let cell: SlotCell<()> = SlotCell::new(Box::new(move |()| {
            let _keep = &held;
        }));
        let user = cell.silence().expect("idle: the closure comes back");
        assert_eq!(Rc::strong_count(&token), 2);
        drop(user);
        assert_eq!(Rc::strong_count(&token), 1);
        cell.call(&()); // a no-op now
    }

    #[test]
    fn a_panicking_closure_leaves_the_cell_callable() {
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        let cell: SlotCell<()> = SlotCell::new(Box::new(move |()| {
            c.set(c.get() + 1);
            if c.get() == 1 {
                panic!("slot panicked");
            }
        }));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cell.call(&())));
        assert!(r.is_err());
        cell.call(&());
        assert_eq!(calls.get(), 2);
    }
}
