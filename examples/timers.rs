//! Timers: a repeating timer, a single-shot closure, and a timer restarted from its own
//! slot, all on one event loop.
//!
//! Run: `cargo run --example timers`

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop::core::{single_shot, EventLoop, Timer};

fn main() -> std::io::Result<()> {
    let event_loop = EventLoop::new()?;
    let handle = event_loop.handle();
    let start = Instant::now();

    let ticker = Timer::new(&handle);
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    ticker.timeout().connect(move |()| {
        t.set(t.get() + 1);
        println!("{:>4} ms  tick {}", start.elapsed().as_millis(), t.get());
    });
    ticker.start(Duration::from_millis(50));

    // Slows the ticker down from inside a slot of another timer.
    let tk = ticker.clone();
    single_shot(&handle, Duration::from_millis(160), move || {
        println!(
            "{:>4} ms  ticker slows to 100 ms",
            start.elapsed().as_millis()
        );
        tk.set_interval(Duration::from_millis(100));
    });

    let h = handle.clone();
    single_shot(&handle, Duration::from_millis(500), move || {
        println!("{:>4} ms  done", start.elapsed().as_millis());
        h.quit();
    });

    event_loop.run()?;
    println!("{} ticks", ticks.get());
    Ok(())
}
