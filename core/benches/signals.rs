//! Signal costs, one line per case: `<case> <ns per operation>`.
//!
//! `floor_N` calls N boxed `FnMut` from a `Vec` (the least any slot list can cost);
//! `emit_N` emits a `Signal` to N slots with the same bodies; `queued_1` is one emission
//! through a queued connection plus its delivery by the loop (amortised over batches of
//! 64 emissions per loop iteration); `connect_disconnect` is one `connect` and one
//! `disconnect`. Each case reports the best of several rounds. The `ratio_*` lines give
//! emission cost over the floor for the same slot count.
//!
//! Run: `cargo bench -p sigloop-core --bench signals`

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_core::{EventLoop, Signal};

const ROUNDS: usize = 21;

/// Best ns per operation over `ROUNDS` rounds of `iters` calls of `f` (each call does
/// `ops_per_call` operations).
fn measure(iters: u64, ops_per_call: u64, mut f: impl FnMut()) -> f64 {
    // Warm up.
    for _ in 0..iters / 10 {
        f();
    }
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(start.elapsed());
    }
    best.as_nanos() as f64 / (iters * ops_per_call) as f64
}

fn slot_body(acc: &Rc<Cell<u64>>) -> impl FnMut(&u64) + 'static {
    let acc = acc.clone();
    move |x: &u64| acc.set(acc.get().wrapping_add(*x))
}

type Boxed = Box<dyn FnMut(&u64)>;

fn floor(n: usize) -> f64 {
    let acc = Rc::new(Cell::new(0));
    let mut slots: Vec<Boxed> = (0..n).map(|_| Box::new(slot_body(&acc)) as Boxed).collect();
    let slots = black_box(&mut slots);
    let r = measure(2_000_000, 1, || {
        let x = black_box(1u64);
        for s in slots.iter_mut() {
            s(&x);
        }
    });
    black_box(acc.get());
    r
}

fn emit(n: usize) -> f64 {
    let acc = Rc::new(Cell::new(0));
    let sig = Signal::<u64>::new();
    for _ in 0..n {
        sig.connect(slot_body(&acc));
    }
    let sig = black_box(&sig);
    let r = measure(2_000_000, 1, || sig.emit(&black_box(1u64)));
    black_box(acc.get());
    r
}

fn queued_1() -> f64 {
    const BATCH: u64 = 64;
    let el = EventLoop::new().expect("event loop");
    let h = el.handle();
    let acc = Rc::new(Cell::new(0));
    let sig = Signal::<u64>::new();
    sig.connect_queued(&h, slot_body(&acc));
    let r = measure(20_000, BATCH, || {
        for _ in 0..BATCH {
            sig.emit(&black_box(1u64));
        }
        el.process_events(Some(Duration::ZERO))
            .expect("process_events");
    });
    assert!(acc.get() > 0, "queued slot never ran");
    r
}

fn connect_disconnect() -> f64 {
    let sig = Signal::<u64>::new();
    // A few resident slots, so the list is not trivially empty.
    let acc = Rc::new(Cell::new(0));
    for _ in 0..3 {
        sig.connect(slot_body(&acc));
    }
    let sig = black_box(&sig);
    measure(2_000_000, 1, || {
        let c = sig.connect(|x: &u64| {
            black_box(x);
        });
        assert!(sig.disconnect(c));
    })
}

fn main() {
    let mut floors = Vec::new();
    for n in [1, 3, 10] {
        let ns = floor(n);
        println!("floor_{n} {ns:.2}");
        floors.push((n, ns));
    }
    println!("emit_0 {:.2}", emit(0));
    let mut ratios = Vec::new();
    for (n, floor_ns) in floors {
        let ns = emit(n);
        println!("emit_{n} {ns:.2}");
        ratios.push((n, ns / floor_ns));
    }
    println!("queued_1 {:.2}", queued_1());
    println!("connect_disconnect {:.2}", connect_disconnect());
    for (n, r) in ratios {
        println!("ratio_emit_{n}_over_floor_{n} {r:.2}");
    }
}
