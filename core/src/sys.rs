//! The crate's only `unsafe` code: [`SnapshotList`], the slot list a signal iterates over
//! without reference counting; [`slot_cell`], a slot's closure with its running mark; and
//! [`rc_ref`], the counted reference a signal holds its slots and its shared state by.
#![allow(unsafe_code)]

pub(crate) mod rc_ref;
pub(crate) mod slot_cell;

use std::cell::{Cell, UnsafeCell};
use std::fmt;

/// A list that can be iterated while it is changed from inside the iteration, with no
/// reference count or borrow flag touched per iteration.
///
/// Iterating ([`with`](Self::with)) marks the list as iterated; a change made
/// meanwhile ([`edit`](Self::edit)) does not touch the `Vec` being iterated: it builds a
/// copy, makes that the live list, and keeps the old one in `retired` until the
/// outermost iteration ends. Iterations started after the copy see the copy. So the
/// elements an iteration walks stay where they are, unchanged, until it ends.
///
/// This replaces an `Rc<Vec<_>>` snapshot: cloning and dropping that `Rc` is two
/// read-modify-writes of one counter per emission, a chain of memory dependencies from
/// one emission to the next that costs more than calling a slot.
pub(crate) struct SnapshotList<S> {
    /// The live list. Only `edit` changes it, and only in place while no iteration is
    /// walking its buffer (no iteration in progress, or `fresh`).
    live: UnsafeCell<Vec<S>>,
    /// The number of iterations in progress (nested, on this thread), plus [`RETIRED`]
    /// while `retired` holds lists. The common iteration (outermost, nothing retired)
    /// only tests this word and stores a constant into it at each end: no value flows
    /// from one iteration's store into the next one's, which would chain back-to-back
    /// emissions together through memory (an increment and a decrement would).
    depth: Cell<u32>,
    /// `live` was copied during the current outermost iteration and no iteration has
    /// started since, so nothing walks its buffer: it may change in place. Only ever set
    /// together with [`RETIRED`], so it is false whenever no iteration is in progress.
    fresh: Cell<bool>,
    /// Lists replaced while iterated, dropped when the outermost iteration ends.
    retired: UnsafeCell<Vec<Vec<S>>>,
}

/// The bit of `depth` that says `retired` is not empty.
const RETIRED: u32 = 1 << 31;

impl<S: Clone> SnapshotList<S> {
    pub(crate) fn new() -> Self {
        SnapshotList {
            live: UnsafeCell::new(Vec::new()),
            depth: Cell::new(0),
            fresh: Cell::new(false),
            retired: UnsafeCell::new(Vec::new()),
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

    /// Calls `f` on each element of the live list as it is now. `f` may iterate and edit
    /// this list again; its edits do not change what this iteration walks.
    #[cfg(test)]
    fn for_each(&self, mut f: impl FnMut(&S)) {
        self.with(|items| {
            for item in items {
                f(item);
            }
        });
    }

    /// Changes the live list with `f`. During an iteration the list is copied first
    /// (once per outermost iteration, unless an iteration started since).
    ///
    /// `f` gets the list by value-like `&mut Vec` outside the cell: if it reached this
    /// list again (it should not: callers pass plain list operations), it would see the
    /// list empty, and its own change would be lost, but nothing unsound can happen.
    #[inline]
    pub(crate) fn edit<R>(&self, f: impl FnOnce(&mut Vec<S>) -> R) -> R {
        // SAFETY: writes to `live` and `retired` happen only here and in
        // `end_nested_or_retired`, with no reference into either held across user code:
        // `take`/`replace` move whole `Vec` headers, and the buffer an iteration walks is
        // never written to (see `with`).
        unsafe {
            let mut list = if self.depth.get() & !RETIRED != 0 && !self.fresh.get() {
                let copy = (*self.live.get()).clone();
                let old = std::mem::take(&mut *self.live.get());
                (*self.retired.get()).push(old);
                self.depth.set(self.depth.get() | RETIRED);
                self.fresh.set(true);
                copy
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

    /// Calls `f` with the live list as it is now, as one iteration: `f` may iterate and
    /// edit this list again, and its edits do not change the slice it was given.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&[S]) -> R) -> R {
        if self.depth.get() == 0 {
            self.depth.set(1); // `fresh` is already false (see its docs)
        } else {
            self.begin_nested();
        }
        let end = EndIteration { list: self };
        // SAFETY: a shared read of the header, as in `is_empty`. The slice then stays
        // valid until `end` drops: while an iteration is in progress, `edit` never writes to,
        // moves out of or frees this buffer (it is `live` until replaced, then in
        // `retired`, which only the outermost `EndIteration` empties, after this
        // iteration returned). Elements are only read through shared references.
        let items: &[S] = unsafe {
            let live = &*self.live.get();
            std::slice::from_raw_parts(live.as_ptr(), live.len())
        };
        let r = f(items);
        drop(end);
        r
    }
}

/// Ends an iteration, on return or unwind. The outermost one drops the lists retired
/// meanwhile (which may drop closures, so user code, with nothing borrowed).
struct EndIteration<'a, S> {
    list: &'a SnapshotList<S>,
}

impl<S> Drop for EndIteration<'_, S> {
    #[inline]
    fn drop(&mut self) {
        if self.list.depth.get() == 1 {
            self.list.depth.set(0);
        } else {
            self.list.end_nested_or_retired();
        }
    }
}

impl<S> SnapshotList<S> {
    /// Starts an iteration inside another one.
    #[cold]
    #[inline(never)]
    fn begin_nested(&self) {
        // At most one iteration per stack frame, so the count cannot reach `RETIRED`.
        self.depth.set(self.depth.get() + 1);
        // It may walk the live list, so that is no longer fresh.
        self.fresh.set(false);
    }

    /// Ends an iteration that was nested, or during which lists were retired.
    #[cold]
    #[inline(never)]
    fn end_nested_or_retired(&self) {
        let depth = self.depth.get() - 1;
        if depth != RETIRED {
            self.depth.set(depth); // nested: an outer iteration is still walking
            return;
        }
        self.depth.set(0);
        self.fresh.set(false);
        // SAFETY: no iteration is in progress (this was the outermost), so nothing walks a
        // retired buffer; the `Vec` of them is moved out before any element drop can run
        // user code, which may iterate and edit this list again.
        let retired = std::mem::take(unsafe { &mut *self.retired.get() });
        drop(retired);
    }
}

impl<S> fmt::Debug for SnapshotList<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotList")
            .field("depth", &(self.depth.get() & !RETIRED))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn edits_during_an_iteration_do_not_change_what_it_walks() {
        let list = Rc::new(SnapshotList::new());
        list.edit(|v| v.extend([1, 2, 3]));
        let mut seen = Vec::new();
        list.for_each(|&x| {
            seen.push(x);
            if x == 1 {
                list.edit(|v| v.clear());
                list.edit(|v| v.push(9));
                let mut inner = Vec::new();
                list.for_each(|&y| inner.push(y));
                assert_eq!(inner, [9], "a nested iteration sees the edits");
                list.edit(|v| v.push(10));
            }
        });
        assert_eq!(seen, [1, 2, 3]);
        assert_eq!(list.with(|v| v.to_vec()), [9, 10]);
    }

    #[test]
    fn outside_iterations_edits_are_in_place() {
        let list = SnapshotList::new();
        list.edit(|v| v.reserve(8));
        let before = list.with(|v| v.as_ptr());
        list.edit(|v| v.push(1));
        assert_eq!(list.with(|v| v.as_ptr()), before);
    }

    #[test]
    fn retired_lists_are_dropped_when_the_outermost_iteration_ends() {
        let item = Rc::new(());
        let list = SnapshotList::new();
        list.edit(|v| v.push(item.clone()));
        list.for_each(|_| {
            list.edit(|v| v.clear());
            assert_eq!(
                Rc::strong_count(&item),
                2,
                "the iterated list still holds it"
            );
        });
        assert_eq!(Rc::strong_count(&item), 1);
    }

    #[test]
    fn a_panic_inside_an_iteration_ends_it() {
        let list = SnapshotList::new();
        list.edit(|v| v.push(1));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            list.for_each(|_| panic!("slot panicked"));
        }));
        assert!(r.is_err());
        assert_eq!(list.depth.get(), 0);
        let before = list.with(|v| v.as_ptr());
        list.edit(|v| v[0] = 2);
        assert_eq!(list.with(|v| v.as_ptr()), before, "in place again");
    }
}
