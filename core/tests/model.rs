//! Model-based test: random sequences of connect, disconnect, emit, receiver drops and
//! re-entrant calls from inside slots, run against `Signal` and against a plain model of
//! the documented rules; both must call the same slots in the same order.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use proptest::prelude::*;
use sigloop_core::{Connection, Signal};

/// Deepest emission a slot may start (the top-level emission is depth 0).
const MAX_DEPTH: u32 = 2;

#[derive(Debug, Clone, Copy)]
enum Behavior {
    Record,
    EmitAgain,
    DisconnectOther(usize),
    DisconnectSelf,
    ConnectNew,
    DropReceiverOf(usize),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Connect { behavior: Behavior, receiver: bool },
    Disconnect(usize),
    Emit,
    DropReceiver(usize),
}

fn behavior() -> impl Strategy<Value = Behavior> {
    prop_oneof![
        3 => Just(Behavior::Record),
        1 => Just(Behavior::EmitAgain),
        1 => any::<usize>().prop_map(Behavior::DisconnectOther),
        1 => Just(Behavior::DisconnectSelf),
        1 => Just(Behavior::ConnectNew),
        1 => any::<usize>().prop_map(Behavior::DropReceiverOf),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (behavior(), any::<bool>()).prop_map(|(behavior, receiver)| Op::Connect { behavior, receiver }),
        1 => any::<usize>().prop_map(Op::Disconnect),
        3 => Just(Op::Emit),
        1 => any::<usize>().prop_map(Op::DropReceiver),
    ]
}

// ---- the model ----

struct ModelSlot {
    behavior: Behavior,
    connected: bool,
    receiver: Option<usize>,
    running: bool,
}

#[derive(Default)]
struct Model {
    slots: Vec<ModelSlot>,
    receivers: Vec<bool>,
    log: Vec<(usize, u32)>,
}

impl Model {
    fn connect(&mut self, behavior: Behavior, receiver: bool) {
        let receiver = receiver.then(|| {
            self.receivers.push(true);
            self.receivers.len() - 1
        });
        self.slots.push(ModelSlot {
            behavior,
            connected: true,
            receiver,
            running: false,
        });
    }

    fn receiver_alive(&self, i: usize) -> bool {
        self.slots[i].receiver.is_none_or(|r| self.receivers[r])
    }

    fn emit(&mut self, depth: u32) {
        let snapshot: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].connected)
            .collect();
        for i in snapshot {
            if !self.slots[i].connected {
                continue;
            }
            if !self.receiver_alive(i) {
                self.slots[i].connected = false;
                continue;
            }
            if self.slots[i].running {
                continue;
            }
            self.log.push((i, depth));
            self.slots[i].running = true;
            match self.slots[i].behavior {
                Behavior::Record => {}
                Behavior::EmitAgain => {
                    if depth < MAX_DEPTH {
                        self.emit(depth + 1);
                    }
                }
                Behavior::DisconnectOther(k) => {
                    let k = k % self.slots.len();
                    self.slots[k].connected = false;
                }
                Behavior::DisconnectSelf => self.slots[i].connected = false,
                Behavior::ConnectNew => self.connect(Behavior::Record, false),
                Behavior::DropReceiverOf(k) => {
                    if !self.receivers.is_empty() {
                        let k = k % self.receivers.len();
                        self.receivers[k] = false;
                    }
                }
            }
            self.slots[i].running = false;
        }
    }

    fn live_count(&self) -> usize {
        (0..self.slots.len())
            .filter(|&i| self.slots[i].connected && self.receiver_alive(i))
            .count()
    }
}

// ---- the real thing ----

#[derive(Default)]
struct Real {
    signal: Signal<u32>,
    connections: RefCell<Vec<Connection>>,
    receivers: RefCell<Vec<Option<Rc<()>>>>,
    log: RefCell<Vec<(usize, u32)>>,
}

fn act(ctx: &Weak<Real>, me: usize, behavior: Behavior, depth: u32) {
    let ctx = ctx.upgrade().expect("context alive during the test");
    ctx.log.borrow_mut().push((me, depth));
    match behavior {
        Behavior::Record => {}
        Behavior::EmitAgain => {
            if depth < MAX_DEPTH {
                ctx.signal.emit(&(depth + 1));
            }
        }
        Behavior::DisconnectOther(k) => {
            let c = {
                let conns = ctx.connections.borrow();
                conns[k % conns.len()]
            };
            ctx.signal.disconnect(c);
        }
        Behavior::DisconnectSelf => {
            let c = ctx.connections.borrow()[me];
            ctx.signal.disconnect(c);
        }
        Behavior::ConnectNew => connect(&ctx, Behavior::Record, false),
        Behavior::DropReceiverOf(k) => {
            let victim = {
                let mut receivers = ctx.receivers.borrow_mut();
                let n = receivers.len();
                if n == 0 {
                    None
                } else {
                    receivers[k % n].take()
                }
            };
            drop(victim);
        }
    }
}

fn connect(ctx: &Rc<Real>, behavior: Behavior, receiver: bool) {
    let me = ctx.connections.borrow().len();
    let weak = Rc::downgrade(ctx);
    let c = if receiver {
        let r = Rc::new(());
        let c = ctx
            .signal
            .connect_to(&r, move |_r, depth| act(&weak, me, behavior, *depth));
        ctx.receivers.borrow_mut().push(Some(r));
        c
    } else {
        ctx.signal
            .connect(move |depth| act(&weak, me, behavior, *depth))
    };
    ctx.connections.borrow_mut().push(c);
}

proptest! {
    // Under Miri (which checks the slot list's `unsafe`), a sample: each case is slow there.
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 24 } else { 512 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn signal_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let real = Rc::new(Real::default());
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Connect { behavior, receiver } => {
                    connect(&real, behavior, receiver);
                    model.connect(behavior, receiver);
                }
                Op::Disconnect(k) => {
                    let n = model.slots.len();
                    if n > 0 {
                        let k = k % n;
                        let c = real.connections.borrow()[k];
                        let expected = model.slots[k].connected && model.receiver_alive(k);
                        let got = real.signal.disconnect(c);
                        // A slot whose receiver died may still be listed until pruned.
                        if expected {
                            prop_assert!(got);
                        }
                        model.slots[k].connected = false;
                    }
                }
                Op::Emit => {
                    real.signal.emit(&0);
                    model.emit(0);
                }
                Op::DropReceiver(k) => {
                    let n = model.receivers.len();
                    if n > 0 {
                        let victim = real.receivers.borrow_mut()[k % n].take();
                        drop(victim);
                        model.receivers[k % n] = false;
                    }
                }
            }
            prop_assert_eq!(&*real.log.borrow(), &model.log);
            prop_assert_eq!(real.signal.receiver_count(), model.live_count());
        }
    }
}
