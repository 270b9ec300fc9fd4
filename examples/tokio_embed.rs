//! A sigloop event loop driven from inside a tokio application, timers included.
//!
//! tokio watches the loop's fd (`EventLoop` is `AsFd`) and calls `process_events` when it
//! turns readable; sigloop's timers live inside that fd, so tokio needs no timeout of its
//! own. A tokio task reads a sigloop signal as an `async` stream at the same time, and a
//! tokio timer runs alongside to show that neither loop starves the other.
//!
//! Run: `cargo run --example tokio_embed`

#[path = "tokio_driver/mod.rs"]
mod tokio_driver;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use sigloop::core::{single_shot, EventLoop, Signal, Timer};

fn main() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run())
}

async fn run() -> std::io::Result<()> {
    let event_loop = EventLoop::new()?;
    let handle = event_loop.handle();

    // sigloop side: a timer every 50 ms emits `tick`; a single shot ends the demo.
    let tick = Rc::new(Signal::<u32>::new());
    let count = Rc::new(Cell::new(0u32));
    let timer = Timer::new(&handle);
    let (t, c) = (tick.clone(), count.clone());
    timer.timeout().connect(move |()| {
        c.set(c.get() + 1);
        t.emit(&c.get());
    });
    timer.start(Duration::from_millis(50));
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    single_shot(&handle, Duration::from_millis(520), move || d.set(true));

    // tokio side: a task that awaits sigloop's signal as a stream.
    let mut ticks = tick.stream(16);
    let reader = tokio::task::spawn_local(async move {
        let mut seen = Vec::new();
        while let Some(item) = tokio_driver::next(&mut ticks).await {
            match item {
                Ok(n) => {
                    seen.push(n);
                    if n == 10 {
                        break;
                    }
                }
                Err(lagged) => println!("tokio task: {lagged}"),
            }
        }
        seen
    });
    // ... and a tokio timer of its own.
    let tokio_timer = tokio::task::spawn_local(async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        println!("tokio timer fired at 200 ms");
    });

    // Drive sigloop from tokio until the single shot fires.
    tokio_driver::drive(&event_loop, || done.get()).await?;
    timer.stop();
    tokio_timer.await.expect("the tokio timer task");
    let seen = reader.await.expect("the reader task");
    println!(
        "sigloop timer ticked {} times; the tokio task read {seen:?}",
        count.get()
    );
    assert_eq!(seen, (1..=10).collect::<Vec<_>>(), "every tick, in order");
    Ok(())
}
