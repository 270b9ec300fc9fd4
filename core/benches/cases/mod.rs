//! The signal cases that are measured, shared by `benches/signals.rs` (timed) and
//! `examples/emit_loop.rs` (instructions counted by valgrind), so that both measure the
//! same compiled functions.

use std::cell::Cell;
use std::rc::Rc;

use sigloop_core::Signal;

/// A slot as the floor case stores it.
pub type Boxed = Box<dyn FnMut(&u64)>;

/// The body of every slot, in both cases: adds its argument to `acc`.
pub fn slot_body(acc: &Rc<Cell<u64>>) -> impl FnMut(&u64) + 'static {
    let acc = acc.clone();
    move |x: &u64| acc.set(acc.get().wrapping_add(*x))
}

/// One call of every slot in `slots`: the floor. Kept out of line, like `emit_once`, so
/// that both cases are compiled as a user's function would be, with the same call
/// overhead, whatever the optimiser decides for the loops around them: inlined into one
/// `main`, the two shared a register allocation, and the floor's count moved by 10 % with
/// unrelated changes to the emission.
#[inline(never)]
pub fn floor_once(slots: &mut [Boxed], x: &u64) {
    for s in slots.iter_mut() {
        s(x);
    }
}

/// One emission of `sig`.
#[inline(never)]
pub fn emit_once(sig: &Signal<u64>, x: &u64) {
    sig.emit(x);
}
