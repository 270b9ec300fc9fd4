//! sigloop inside a glib main loop (GTK's loop): glib watches the sigloop `EventLoop`'s
//! fd and calls `process_events` when it turns readable. sigloop timers run on a timerfd
//! inside that fd, so they fire with no timeout of glib's own; a glib timeout emits a
//! sigloop signal, whose slots run at once on the same thread.
//!
//! Prints three sigloop timer ticks and what the slots got from glib, then quits glib's
//! loop and exits 0.
//!
//! Run: `cargo run --example glib_embed` (needs `libglib2.0-dev` to build)

use std::cell::Cell;
use std::os::fd::{AsFd, AsRawFd};
use std::rc::Rc;
use std::time::Duration;

use glib::{ControlFlow, IOCondition, MainLoop};
use sigloop::core::{EventLoop, Signal, Timer};

fn main() -> std::io::Result<()> {
    let event_loop = Rc::new(EventLoop::new()?);
    let handle = event_loop.handle();
    let main_loop = MainLoop::new(None, false);

    // glib runs sigloop: whenever the loop's fd is readable, process what is due.
    let el = event_loop.clone();
    let watch = glib::source::unix_fd_add_local(
        event_loop.as_fd().as_raw_fd(),
        IOCondition::IN,
        move |_, _| {
            if let Err(e) = el.process_events(Duration::ZERO) {
                eprintln!("error: sigloop: {e}");
                std::process::exit(1);
            }
            ControlFlow::Continue
        },
    );

    // A sigloop signal fed from a glib timeout.
    let from_glib = Rc::new(Signal::<u32>::new());
    let heard = Rc::new(Cell::new(0u32));
    let h2 = heard.clone();
    from_glib.connect(move |n| {
        h2.set(h2.get() + 1);
        println!("sigloop slot: glib timeout {n}");
    });
    let (sig, count) = (from_glib.clone(), Cell::new(0u32));
    let glib_timeout = glib::timeout_add_local(Duration::from_millis(35), move || {
        count.set(count.get() + 1);
        sig.emit(&count.get());
        ControlFlow::Continue
    });

    // A sigloop timer that ends glib's loop after three ticks.
    let timer = Timer::new(&handle);
    let (ticks, ml) = (Rc::new(Cell::new(0u32)), main_loop.clone());
    let t = ticks.clone();
    timer.timeout().connect(move |()| {
        t.set(t.get() + 1);
        println!("sigloop timer tick {}", t.get());
        if t.get() == 3 {
            ml.quit();
        }
    });
    timer.start(Duration::from_millis(100));

    main_loop.run();
    watch.remove();
    glib_timeout.remove();
    println!(
        "glib loop done: {} sigloop ticks, {} signals from glib",
        ticks.get(),
        heard.get()
    );
    if ticks.get() != 3 || heard.get() == 0 {
        eprintln!("error: expected 3 ticks and at least one signal from glib");
        std::process::exit(1);
    }
    Ok(())
}
