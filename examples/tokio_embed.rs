//! A sigloop event loop driven from inside a tokio application, timers included.
//!
//! tokio watches the loop's fd (`EventLoop` is `AsFd`) and calls `process_events` when it
//! turns readable; sigloop's timers live inside that fd, so tokio needs no timeout of its
//! own. A tokio task reads a sigloop signal as an `async` stream at the same time, and a
//! tokio timer runs alongside to show that neither loop starves the other.
//!
//! Run: `cargo run --example tokio_embed`

use std::cell::Cell;
use std::future::poll_fn;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use futures_core::Stream;
use rustix::event::{poll, PollFd, PollFlags};
use sigloop::core::{single_shot, EventLoop, Signal, Timer};
use tokio::io::unix::AsyncFd;

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
        while let Some(item) = poll_fn(|cx| Pin::new(&mut ticks).poll_next(cx)).await {
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

    // Drive sigloop from tokio. tokio's readiness is edge-triggered: after processing,
    // look again (a zero-timeout poll) before waiting for the next edge, so nothing that
    // is still due waits unseen.
    // tokio 1.54 marks its safe `AsyncFd` constructors deprecated because a generic
    // inner value might close or replace its fd while registered; the replacement,
    // `register`, is `unsafe`. Here the inner value is an `OwnedFd` (a duplicate of the
    // loop's epoll fd) that `AsyncFd` owns and nothing replaces, which is the condition
    // `register` asks for, so the safe constructor is used as it stands.
    #[allow(deprecated)]
    let fd = AsyncFd::new(event_loop.as_fd().try_clone_to_owned()?)?;
    while !done.get() {
        let mut guard = fd.readable().await?;
        loop {
            event_loop.process_events(Some(Duration::ZERO))?;
            let mut fds = [PollFd::new(fd.get_ref(), PollFlags::IN)];
            if done.get() || poll(&mut fds, Some(&rustix::time::Timespec::default()))? == 0 {
                break;
            }
        }
        guard.clear_ready();
    }
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
