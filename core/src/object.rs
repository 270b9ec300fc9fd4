//! [`ObjectBase`]: what a `QObject` subclass gets from its base class.

use std::cell::RefCell;
use std::fmt;

use crate::signal::Signal;

/// The part of `QObject` an object type embeds: the [`destroyed`](Self::destroyed) signal
/// and an object name.
///
/// The pattern for a `QObject` subclass: a cheap-to-clone handle (`Rc`) to a private
/// state struct that lives on the loop's thread and holds an `ObjectBase` and the
/// object's signals. Methods change state through `Cell`s or short `RefCell` borrows and
/// **release every borrow before emitting**, so a slot can call back into any method of
/// the object, or drop its handle to it:
///
/// ```
/// use sigloop_core::{ObjectBase, Signal};
/// use std::{cell::Cell, rc::Rc};
///
/// #[derive(Clone, Default)]
/// pub struct Counter(Rc<CounterState>);
///
/// #[derive(Default)]
/// struct CounterState {
///     base: ObjectBase,
///     value: Cell<i32>,
///     value_changed: Signal<i32>,
/// }
///
/// impl Counter {
///     pub fn value_changed(&self) -> &Signal<i32> { &self.0.value_changed }
///     pub fn destroyed(&self) -> &Signal<()> { self.0.base.destroyed() }
///     pub fn value(&self) -> i32 { self.0.value.get() }
///     pub fn set_value(&self, v: i32) {
///         if self.0.value.replace(v) != v {
///             // No borrow is held here: slots may call `set_value` again.
///             self.0.value_changed.emit(&v);
///         }
///     }
/// }
///
/// let a = Counter::default();
/// let b = Counter::default();
/// let b2 = b.clone();
/// a.value_changed().connect(move |v| b2.set_value(*v * 2));
/// a.set_value(21);
/// assert_eq!(b.value(), 42);
/// ```
///
/// Dropping the state (the last handle) drops the `ObjectBase`, which emits `destroyed`
/// (Qt's `QObject::destroyed`). Declare the `ObjectBase` first in the state struct, so it
/// is dropped (and emits) before the other fields. To let go of an object from inside one
/// of its own slots, hand the handle to
/// [`LoopHandle::delete_later`](crate::LoopHandle::delete_later) (Qt's `deleteLater`).
#[derive(Default)]
pub struct ObjectBase {
    destroyed: Signal<()>,
    object_name: RefCell<String>,
}

impl ObjectBase {
    /// A base with no name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Emitted once, when the object is dropped (Qt's `QObject::destroyed`).
    pub fn destroyed(&self) -> &Signal<()> {
        &self.destroyed
    }

    /// The object's name (Qt's `QObject::objectName`).
    pub fn object_name(&self) -> String {
        self.object_name.borrow().clone()
    }

    /// Sets the object's name (Qt's `QObject::setObjectName`).
    pub fn set_object_name(&self, name: impl Into<String>) {
        *self.object_name.borrow_mut() = name.into();
    }
}

impl Drop for ObjectBase {
    fn drop(&mut self) {
        self.destroyed.emit(&());
    }
}

impl fmt::Debug for ObjectBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectBase")
            .field("object_name", &*self.object_name.borrow())
            .finish()
    }
}
