//! Signal costs, one line per case: `<case> <ns per operation>`.
//!
//! `floor_N` calls N boxed `FnMut` from a `Vec` (the least any slot list can cost);
//! `emit_N` emits a `Signal` to N slots with the same bodies; `queued_1` is one emission
//! through a queued connection plus its delivery by the loop (amortised over batches of
//! 64 emissions per loop iteration); `connect_disconnect` is one `connect` and one
//! `disconnect`. Each case reports the best of several rounds; the rounds of `floor_N` and
//! `emit_N` alternate, so that their ratio compares like with like. The `ratio_*` lines
//! give emission cost over the floor for the same slot count.
//!
//! Run: `cargo bench -p sigloop-core --bench signals`

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_core::{EventLoop, Signal};

mod cases;
use cases::{emit_once, floor_once, slot_body, Boxed};

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

/// Best ns per emission to `n` slots for the floor and for a `Signal`, measured in
/// alternating rounds so that both see the same machine: on a shared or virtual
/// machine, speed drifts between rounds by tens of percent.
fn floor_and_emit(n: usize) -> (f64, f64) {
    const ITERS: u64 = 2_000_000;
    let acc = Rc::new(Cell::new(0));
    let mut slots: Vec<Boxed> = (0..n).map(|_| Box::new(slot_body(&acc)) as Boxed).collect();
    let sig = Signal::<u64>::new();
    for _ in 0..n {
        sig.connect(slot_body(&acc));
    }
    let (mut floor, mut emit) = (f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        floor = floor.min(measure_once(ITERS, || {
            floor_once(black_box(&mut slots), &black_box(1u64))
        }));
        emit = emit.min(measure_once(ITERS, || {
            emit_once(black_box(&sig), &black_box(1u64))
        }));
    }
    black_box(acc.get());
    (floor, emit)
}

/// ns per call of `f` over one round of `iters` calls, after a warm-up.
fn measure_once(iters: u64, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn emit_0() -> f64 {
    let sig = Signal::<u64>::new();
    measure(2_000_000, 1, || {
        emit_once(black_box(&sig), &black_box(1u64))
    })
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
        el.process_events(Duration::ZERO).expect("process_events");
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
    let pairs: Vec<_> = [1, 3, 10].map(|n| (n, floor_and_emit(n))).into();
    for (n, (floor, _)) in &pairs {
        println!("floor_{n} {floor:.2}");
    }
    println!("emit_0 {:.2}", emit_0());
    for (n, (_, emit)) in &pairs {
        println!("emit_{n} {emit:.2}");
    }
    println!("queued_1 {:.2}", queued_1());
    println!("connect_disconnect {:.2}", connect_disconnect());
    for (n, (floor, emit)) in &pairs {
        println!("ratio_emit_{n}_over_floor_{n} {:.2}", emit / floor);
    }
}
