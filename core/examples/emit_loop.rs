//! `emit_loop CASE N ITERS`: runs one signal cost case in a loop, for counting
//! instructions with valgrind (`scripts/bench-signals-ir`), which gives figures free of
//! the timing noise of a shared machine. CASE is `floor` (N boxed `FnMut` called from a
//! `Vec`, the least any slot list can cost) or `emit` (a `Signal` with N slots of the
//! same body), or `connect` (one `connect` and one `disconnect` on a `Signal` with N
//! resident slots); ITERS is the number of emissions or connect/disconnect pairs.
//!
//! Each case runs through one out-of-line function, the same as in `benches/signals.rs`
//! (`benches/cases`).

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;

use sigloop_core::Signal;

#[path = "../benches/cases/mod.rs"]
mod cases;
use cases::{emit_once, floor_once, slot_body, Boxed};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [case, n, iters] = args.as_slice() else {
        eprintln!("usage: emit_loop floor|emit|connect N ITERS");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let iters: u64 = iters.parse().expect("ITERS is a number");
    let acc = Rc::new(Cell::new(0u64));
    match case.as_str() {
        "floor" => {
            let mut slots: Vec<Boxed> =
                (0..n).map(|_| Box::new(slot_body(&acc)) as Boxed).collect();
            let slots = black_box(&mut slots);
            for _ in 0..iters {
                floor_once(black_box(&mut *slots), &black_box(1u64));
            }
        }
        "emit" => {
            let sig = Signal::<u64>::new();
            let _connections: Vec<_> = (0..n).map(|_| sig.connect(slot_body(&acc))).collect();
            let sig = black_box(&sig);
            for _ in 0..iters {
                emit_once(black_box(sig), &black_box(1u64));
            }
        }
        "connect" => {
            // One `connect` and one `disconnect` per iteration, with N resident slots.
            let sig = Signal::<u64>::new();
            let _connections: Vec<_> = (0..n).map(|_| sig.connect(slot_body(&acc))).collect();
            let sig = black_box(&sig);
            for _ in 0..iters {
                let c = sig.connect(|x: &u64| {
                    black_box(x);
                });
                assert!(sig.disconnect(c));
            }
        }
        other => {
            eprintln!("emit_loop: unknown case {other}");
            std::process::exit(2);
        }
    }
    black_box(acc.get());
}
