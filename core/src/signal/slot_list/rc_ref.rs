//! [`RcRef`]: a counted reference like `Rc`, pointing at the value itself.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::rc::{Rc, Weak};

/// A counted, shared reference to a value, as `Rc<S>` (it is one, held as a raw pointer),
/// but pointing at the value rather than at the `Rc`'s counters: the value's address is
/// the pointer itself. A signal's emission passes the address of a slot's first field,
/// and of the signal's slot list, to out-of-line functions after calls; through an `Rc`
/// each is the pointer plus an offset, which the compiler keeps in one more register
/// across the calls (one more register saved and restored per emission).
pub(crate) struct RcRef<S> {
    ptr: NonNull<S>,
    /// Owns an `Rc<S>`: not `Send` or `Sync`, and drops an `S`.
    _rc: PhantomData<Rc<S>>,
}

impl<S> RcRef<S> {
    pub(crate) fn new(value: S) -> Self {
        Self::from_rc(Rc::new(value))
    }

    pub(crate) fn from_rc(rc: Rc<S>) -> Self {
        let raw = Rc::into_raw(rc);
        RcRef {
            ptr: NonNull::new(raw.cast_mut()).expect("Rc::into_raw is never null"),
            _rc: PhantomData,
        }
    }

    /// The value, if this is its only reference, strong or weak (`Rc::get_mut`).
    pub(crate) fn get_mut(this: &mut Self) -> Option<&mut S> {
        let unique = Rc::get_mut(&mut this.as_rc()).is_some();
        // SAFETY: no other `Rc`, `Weak` or `RcRef` to the value exists (`Rc::get_mut`
        // said so), and `this` is borrowed mutably for as long as the result lives.
        unique.then(|| unsafe { &mut *this.ptr.as_ptr() })
    }

    /// A weak reference to the value (`Rc::downgrade`).
    pub(crate) fn downgrade(this: &Self) -> Weak<S> {
        Rc::downgrade(&this.as_rc())
    }

    /// The `Rc` this is, to ask it something: a copy that never gives back the count
    /// this `RcRef` holds.
    fn as_rc(&self) -> ManuallyDrop<Rc<S>> {
        // SAFETY: `ptr` came from `Rc::into_raw` and this `RcRef` holds one count, so the
        // `Rc` is alive; `ManuallyDrop` keeps the copy from giving that count back.
        ManuallyDrop::new(unsafe { Rc::from_raw(self.ptr.as_ptr()) })
    }

    /// The number of references to the value (`Rc::strong_count`).
    #[cfg(test)]
    pub(crate) fn count(this: &Self) -> usize {
        Rc::strong_count(&this.as_rc())
    }
}

impl<S> Clone for RcRef<S> {
    fn clone(&self) -> Self {
        // SAFETY: `ptr` came from `Rc::into_raw` and this `RcRef` holds one count, so
        // the `Rc` is alive; the new `RcRef` owns the count added here.
        unsafe { Rc::increment_strong_count(self.ptr.as_ptr()) };
        RcRef {
            ptr: self.ptr,
            _rc: PhantomData,
        }
    }
}

impl<S> Drop for RcRef<S> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Rc::into_raw`, and this `RcRef` owns one count, which
        // it gives back here, once.
        drop(unsafe { Rc::from_raw(self.ptr.as_ptr()) });
    }
}

impl<S> Deref for RcRef<S> {
    type Target = S;

    #[inline]
    fn deref(&self) -> &S {
        // SAFETY: the `Rc` is alive while this `RcRef` holds its count, and values
        // behind an `Rc` are only ever shared.
        unsafe { self.ptr.as_ref() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_an_rc_and_drops_the_value_with_the_last_reference() {
        let token = Rc::new(());
        let a = RcRef::new(token.clone());
        let b = a.clone();
        assert_eq!(RcRef::count(&a), 2);
        assert!(std::ptr::eq(&*a, &*b), "one value");
        drop(a);
        assert_eq!(RcRef::count(&b), 1);
        assert_eq!(Rc::strong_count(&token), 2);
        let mut b = b;
        assert_eq!(RcRef::get_mut(&mut b).map(|v| Rc::strong_count(v)), Some(2));
        let weak = RcRef::downgrade(&b);
        assert!(RcRef::get_mut(&mut b).is_none(), "a weak reference exists");
        assert!(weak.upgrade().is_some());
        drop(b);
        assert_eq!(Rc::strong_count(&token), 1);
        assert!(
            weak.upgrade().is_none(),
            "the value went with the last reference"
        );
    }
}
