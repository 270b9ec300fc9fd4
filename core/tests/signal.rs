//! `Signal`: connection order, tokens, guards, receivers and every re-entrancy rule.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use sigloop_core::{ObjectBase, Signal, SignalSpy};

type Log = Rc<RefCell<Vec<&'static str>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, s: &'static str) -> impl FnMut(&()) + 'static {
    let log = log.clone();
    move |()| log.borrow_mut().push(s)
}

#[test]
fn slots_run_in_connection_order_with_the_argument() {
    let sig = Signal::<(i32, String)>::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    for tag in 0..3 {
        let seen = seen.clone();
        sig.connect(move |(n, s)| seen.borrow_mut().push(format!("{tag}:{n}:{s}")));
    }
    sig.emit(&(5, "x".into()));
    assert_eq!(*seen.borrow(), ["0:5:x", "1:5:x", "2:5:x"]);
    assert_eq!(sig.receiver_count(), 3);
}

#[test]
fn disconnect_twice_stale_and_foreign_tokens_report_false() {
    let a = Signal::<()>::new();
    let b = Signal::<()>::new();
    let l = log();
    let ca = a.connect(push(&l, "a"));
    let _cb = b.connect(push(&l, "b"));
    assert!(a.is_connected(ca));
    assert!(
        !b.disconnect(ca),
        "a token of another signal must not match"
    );
    assert!(a.disconnect(ca));
    assert!(!a.disconnect(ca), "second disconnect");
    assert!(!a.is_connected(ca));
    a.emit(&());
    b.emit(&());
    assert_eq!(*l.borrow(), ["b"]);
}

#[test]
fn disconnect_all_then_connect_again() {
    let sig = Signal::<()>::new();
    let l = log();
    let c = sig.connect(push(&l, "1"));
    sig.connect(push(&l, "2"));
    sig.disconnect_all();
    assert_eq!(sig.receiver_count(), 0);
    assert!(!sig.disconnect(c));
    sig.connect(push(&l, "3"));
    sig.emit(&());
    assert_eq!(*l.borrow(), ["3"]);
}

#[test]
fn scoped_connection_disconnects_on_drop_and_release_keeps_it() {
    let sig = Signal::<()>::new();
    let l = log();
    {
        let _guard = sig.connect_scoped(push(&l, "scoped"));
        sig.emit(&());
    }
    sig.emit(&());
    let kept = sig.connect_scoped(push(&l, "kept")).release();
    sig.emit(&());
    assert_eq!(*l.borrow(), ["scoped", "kept"]);
    assert!(sig.is_connected(kept));
    let guard = sig.connect_scoped(push(&l, "x"));
    assert!(guard.disconnect());
    assert_eq!(sig.receiver_count(), 1);
}

#[test]
fn scoped_connection_outliving_its_signal_is_harmless() {
    let sig = Signal::<()>::new();
    let guard = sig.connect_scoped(|()| {});
    drop(sig);
    assert!(!guard.disconnect());
}

#[test]
fn receiver_is_held_weakly_and_its_drop_disconnects() {
    struct Receiver {
        hits: Cell<u32>,
    }
    let sig = Signal::<u32>::new();
    let r = Rc::new(Receiver { hits: Cell::new(0) });
    let c = sig.connect_to(&r, |r, n| r.hits.set(r.hits.get() + n));
    sig.emit(&2);
    assert_eq!(r.hits.get(), 2);
    assert_eq!(
        Rc::strong_count(&r),
        1,
        "the signal must not keep the receiver alive"
    );
    let weak = Rc::downgrade(&r);
    drop(r);
    assert!(weak.upgrade().is_none());
    assert!(!sig.is_connected(c));
    assert_eq!(sig.receiver_count(), 0);
    sig.emit(&1); // nothing to call, nothing to panic
}

#[test]
fn dropped_receiver_is_skipped_during_emission() {
    // Slot 1 drops the receiver of slot 2 while the signal is being emitted.
    struct R;
    let sig = Signal::<()>::new();
    let holder = Rc::new(RefCell::new(Some(Rc::new(R))));
    let h = holder.clone();
    sig.connect(move |()| drop(h.borrow_mut().take()));
    let called = Rc::new(Cell::new(false));
    let c2 = called.clone();
    let receiver = holder.borrow().clone().unwrap();
    sig.connect_to(&receiver, move |_r, ()| c2.set(true));
    drop(receiver);
    sig.emit(&());
    assert!(!called.get());
    assert_eq!(sig.receiver_count(), 1);
}

#[test]
fn rule_recursive_emission_skips_only_running_slots() {
    let sig = Rc::new(Signal::<u32>::new());
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (s, sg) = (seen.clone(), sig.clone());
    sig.connect(move |depth| {
        s.borrow_mut().push(("a", *depth));
        if *depth < 2 {
            sg.emit(&(depth + 1));
        }
    });
    let s = seen.clone();
    sig.connect(move |depth| s.borrow_mut().push(("b", *depth)));
    sig.emit(&0);
    // "a" runs once (it is running during the inner emissions); "b" runs in every one.
    assert_eq!(*seen.borrow(), [("a", 0), ("b", 1), ("b", 0)]);
    drop(seen);
    // The signal is intact afterwards: "a" is called again.
    let spy = SignalSpy::new(&sig);
    sig.emit(&5);
    assert_eq!(spy.take(), vec![5]);
}

#[test]
fn rule_slot_connected_during_emission_waits_for_next_emission() {
    let sig = Rc::new(Signal::<()>::new());
    let l = log();
    let (sg, l2) = (sig.clone(), l.clone());
    let once = Cell::new(true);
    sig.connect(move |()| {
        l2.borrow_mut().push("outer");
        if once.replace(false) {
            sg.connect(push(&l2, "late"));
        }
    });
    sig.emit(&());
    assert_eq!(*l.borrow(), ["outer"]);
    sig.emit(&());
    assert_eq!(*l.borrow(), ["outer", "outer", "late"]);
}

#[test]
fn rule_slot_disconnected_during_emission_is_skipped() {
    let sig = Rc::new(Signal::<()>::new());
    let l = log();
    let victim = Rc::new(Cell::new(None));
    let (sg, v, l2) = (sig.clone(), victim.clone(), l.clone());
    sig.connect(move |()| {
        l2.borrow_mut().push("first");
        if let Some(c) = v.take() {
            assert!(sg.disconnect(c));
        }
    });
    victim.set(Some(sig.connect(push(&l, "victim"))));
    sig.connect(push(&l, "third"));
    sig.emit(&());
    assert_eq!(*l.borrow(), ["first", "third"]);
}

#[test]
fn rule_slot_may_disconnect_itself_and_its_closure_is_dropped() {
    struct DropFlag(Rc<Cell<bool>>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let sig = Rc::new(Signal::<()>::new());
    let me = Rc::new(Cell::new(None));
    let dropped = Rc::new(Cell::new(false));
    let calls = Rc::new(Cell::new(0));
    let (sg, m, flag, c) = (
        sig.clone(),
        me.clone(),
        DropFlag(dropped.clone()),
        calls.clone(),
    );
    me.set(Some(sig.connect(move |()| {
        let _keep = &flag;
        c.set(c.get() + 1);
        assert!(sg.disconnect(m.get().unwrap()));
        assert!(!sg.disconnect(m.get().unwrap()));
    })));
    sig.emit(&());
    assert!(dropped.get(), "closure dropped once its call returned");
    sig.emit(&());
    assert_eq!(calls.get(), 1);
    assert_eq!(sig.receiver_count(), 0);
}

/// The object pattern of `ObjectBase`'s docs, as a test fixture.
#[derive(Clone, Default)]
struct Counter(Rc<CounterState>);

#[derive(Default)]
struct CounterState {
    base: ObjectBase,
    value: Cell<i32>,
    value_changed: Signal<i32>,
}

impl Counter {
    fn set_value(&self, v: i32) {
        if self.0.value.replace(v) != v {
            self.0.value_changed.emit(&v);
        }
    }
}

#[test]
fn rule_slot_may_drop_the_object_that_owns_the_signal() {
    let holder: Rc<RefCell<Option<Counter>>> = Rc::new(RefCell::new(Some(Counter::default())));
    let counter = holder.borrow().clone().unwrap();
    let destroyed = Rc::new(Cell::new(false));
    let d = destroyed.clone();
    counter.0.base.destroyed().connect(move |()| d.set(true));
    let (h, l) = (holder.clone(), log());
    let l2 = l.clone();
    counter.0.value_changed.connect(move |_| {
        l2.borrow_mut().push("dropping");
        drop(h.borrow_mut().take());
    });
    counter.0.value_changed.connect(push_i32(&l, "after"));
    // The caller's handle is the last one; the slot dropped the holder's.
    counter.set_value(1);
    assert_eq!(*l.borrow(), ["dropping", "after"]);
    assert!(!destroyed.get());
    drop(counter);
    assert!(
        destroyed.get(),
        "destroyed is emitted when the last handle goes"
    );
}

fn push_i32(log: &Log, s: &'static str) -> impl FnMut(&i32) + 'static {
    let log = log.clone();
    move |_| log.borrow_mut().push(s)
}

#[test]
fn rule_slot_may_call_back_into_the_emitting_object() {
    let counter = Counter::default();
    let c = counter.clone();
    counter.0.value_changed.connect(move |v| {
        if *v < 3 {
            c.set_value(v + 1);
        }
    });
    counter.set_value(1);
    // set_value(2) from inside the slot worked (no borrow held); its emission skipped the
    // slot that was still running, so the chain stops there.
    assert_eq!(counter.0.value.get(), 2);
    counter.set_value(5);
    assert_eq!(counter.0.value.get(), 5);
}

#[test]
fn rule_panicking_slot_leaves_the_signal_usable() {
    let sig = Signal::<bool>::new();
    let l = Rc::new(RefCell::new(Vec::new()));
    let l2 = l.clone();
    sig.connect(move |fail| {
        l2.borrow_mut().push(*fail);
        if *fail {
            panic!("slot failed");
        }
    });
    let l3 = l.clone();
    sig.connect(move |_| l3.borrow_mut().push(false));
    let r = catch_unwind(AssertUnwindSafe(|| sig.emit(&true)));
    assert!(r.is_err());
    sig.emit(&false);
    assert_eq!(*l.borrow(), [true, false, false]);
    assert_eq!(sig.receiver_count(), 2);
}

#[test]
fn block_signals_and_nested_blockers() {
    let sig = Signal::<()>::new();
    let spy = SignalSpy::new(&sig);
    assert!(!sig.block_signals(true));
    sig.emit(&());
    assert!(sig.block_signals(false));
    {
        let _outer = sig.blocker();
        {
            let _inner = sig.blocker();
            sig.emit(&());
        }
        assert!(
            sig.signals_blocked(),
            "inner blocker restores the outer state"
        );
        sig.emit(&());
    }
    assert!(!sig.signals_blocked());
    let b = sig.blocker();
    b.unblock();
    sig.emit(&());
    assert_eq!(spy.count(), 1);
}

#[test]
fn signal_spy_records_and_disconnects_on_drop() {
    let sig = Signal::<&'static str>::new();
    let spy = SignalSpy::new(&sig);
    sig.emit(&"a");
    sig.emit(&"b");
    assert_eq!(spy.get(1), Some("b"));
    assert_eq!(spy.records(), vec!["a", "b"]);
    assert_eq!(spy.take(), vec!["a", "b"]);
    assert!(spy.is_empty());
    drop(spy);
    assert_eq!(sig.receiver_count(), 0);
}
