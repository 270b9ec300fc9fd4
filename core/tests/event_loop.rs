//! `EventLoop`: run/exit, posting, nested waits, queued and cross-thread delivery,
//! embedding.

use std::cell::{Cell, RefCell};
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use sigloop_core::{
    single_shot, EventLoop, Interest, LoopClosed, Signal, SignalSpy, SocketNotifier, Timer,
};

const LONG: Duration = Duration::from_secs(10);

#[test]
fn run_returns_the_exit_code() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let h2 = h.clone();
    h.post(move || h2.exit(42));
    assert_eq!(el.run().unwrap(), 42);
}

#[test]
fn exit_before_run_is_not_lost() {
    let el = EventLoop::new().unwrap();
    el.handle().quit();
    assert!(el.handle().is_exiting());
    assert_eq!(el.run().unwrap(), 0);
    assert!(!el.handle().is_exiting());
}

#[test]
fn posted_closures_run_in_order_on_a_later_iteration() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let seen = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3 {
        let s = seen.clone();
        h.post(move || s.borrow_mut().push(i));
    }
    assert!(
        seen.borrow().is_empty(),
        "post must not run anything at once"
    );
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(*seen.borrow(), [0, 1, 2]);
}

#[test]
fn a_self_reposting_closure_does_not_starve_the_iteration() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let count = Rc::new(Cell::new(0));
    fn again(h: sigloop_core::LoopHandle, count: Rc<Cell<u32>>) {
        count.set(count.get() + 1);
        let h2 = h.clone();
        h.post(move || again(h2, count));
    }
    let (h2, c) = (h.clone(), count.clone());
    h.post(move || again(h2, c));
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(count.get(), 1);
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(count.get(), 2);
}

#[test]
fn nested_wait_for_inside_a_slot_keeps_dispatching() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let inner_signal = Rc::new(Signal::<u32>::new());
    let got = Rc::new(Cell::new(None));
    // A timer fires `inner_signal` later; a posted closure waits for it in a nested loop.
    let s = inner_signal.clone();
    single_shot(&h, Duration::from_millis(20), move || s.emit(&9));
    let (h2, s, g) = (h.clone(), inner_signal.clone(), got.clone());
    h.post(move || {
        g.set(h2.wait_for(&s, LONG).unwrap());
        h2.exit(1);
    });
    assert_eq!(el.run().unwrap(), 1);
    assert_eq!(got.get(), Some(9));
}

#[test]
fn exit_interrupts_a_nested_wait() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let never = Rc::new(Signal::<()>::new());
    let result = Rc::new(Cell::new(Some(Some(()))));
    let h2 = h.clone();
    single_shot(&h, Duration::from_millis(10), move || h2.exit(5));
    let (h3, n, r) = (h.clone(), never.clone(), result.clone());
    h.post(move || r.set(Some(h3.wait_for(&n, LONG).unwrap())));
    let started = Instant::now();
    assert_eq!(el.run().unwrap(), 5);
    assert_eq!(result.get(), Some(None));
    assert!(started.elapsed() < LONG);
}

#[test]
fn wait_for_times_out_with_none() {
    let el = EventLoop::new().unwrap();
    let sig = Signal::<()>::new();
    assert_eq!(
        el.handle()
            .wait_for(&sig, Duration::from_millis(20))
            .unwrap(),
        None
    );
    assert_eq!(sig.receiver_count(), 0, "the waiter disconnects itself");
}

#[test]
fn delete_later_drops_after_the_current_slot() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    h.delete_later(Flag(dropped.clone()));
    assert!(!dropped.get());
    el.process_events(Duration::ZERO).unwrap();
    assert!(dropped.get());
}

#[test]
fn queued_connection_delivers_a_clone_later() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let sig = Signal::<String>::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    sig.connect_queued(&h, move |v: &String| s.borrow_mut().push(v.clone()));
    sig.emit(&"one".to_string());
    sig.emit(&"two".to_string());
    assert!(seen.borrow().is_empty());
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(*seen.borrow(), ["one", "two"]);
}

#[test]
fn disconnecting_a_queued_connection_cancels_pending_deliveries() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let sig = Signal::<u8>::new();
    let hits = Rc::new(Cell::new(0));
    let hh = hits.clone();
    let c = sig.connect_queued(&h, move |_| hh.set(hh.get() + 1));
    sig.emit(&1);
    assert!(sig.disconnect(c));
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(hits.get(), 0);
}

#[test]
fn loop_sender_posts_from_another_thread() {
    let el = EventLoop::new().unwrap();
    let sender = el.sender();
    let t = std::thread::spawn(move || {
        sender.post(|| {}).unwrap();
        sender.exit(17).unwrap();
    });
    assert_eq!(el.run().unwrap(), 17);
    t.join().unwrap();
}

#[test]
fn remote_emitter_emits_on_the_loop_thread() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let sig = Signal::<(u32, String)>::new();
    let spy = SignalSpy::new(&sig);
    let loop_thread = std::thread::current().id();
    let on_thread = Rc::new(Cell::new(false));
    let o = on_thread.clone();
    sig.connect(move |_| o.set(std::thread::current().id() == loop_thread));
    let emitter = sig.remote_emitter(&h);
    let t = std::thread::spawn(move || {
        for i in 0..3 {
            emitter.emit((i, format!("n{i}"))).unwrap();
        }
    });
    assert!(spy.wait_for_count(&h, 3, LONG).unwrap());
    t.join().unwrap();
    assert!(on_thread.get());
    assert_eq!(
        spy.take(),
        vec![(0, "n0".into()), (1, "n1".into()), (2, "n2".into())]
    );
}

#[test]
fn remote_emission_into_a_dropped_signal_is_discarded() {
    let el = EventLoop::new().unwrap();
    let sig = Signal::<u8>::new();
    let emitter = sig.remote_emitter(&el.handle());
    drop(sig);
    emitter.emit(1).unwrap();
    el.process_events(Duration::ZERO).unwrap();
}

#[test]
fn sender_reports_a_closed_loop() {
    let el = EventLoop::new().unwrap();
    let sender = el.sender();
    assert!(!sender.is_closed());
    drop(el);
    assert!(sender.is_closed());
    assert_eq!(sender.post(|| {}), Err(LoopClosed));
    assert_eq!(sender.quit(), Err(LoopClosed));
}

/// What an outer loop (tokio, glib) does: poll our fd, then process events without
/// blocking. The timer must make the fd readable by itself.
#[test]
fn embedded_loop_fd_turns_readable_when_a_timer_is_due() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let timer = Timer::new(&h);
    timer.set_single_shot(true);
    let spy = SignalSpy::new(timer.timeout());
    timer.start(Duration::from_millis(30));
    // Flush the start-up wake-ups (nothing is due yet).
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(spy.count(), 0);
    let deadline = Instant::now() + LONG;
    while spy.count() == 0 && Instant::now() < deadline {
        let mut fds = [PollFd::new(&el, PollFlags::IN)];
        let n = poll(
            &mut fds,
            Some(&Timespec {
                tv_sec: LONG.as_secs() as _,
                tv_nsec: 0,
            }),
        )
        .unwrap();
        assert_eq!(
            n, 1,
            "the outer poll timed out: the timer never woke the fd"
        );
        el.process_events(Duration::ZERO).unwrap();
    }
    assert_eq!(spy.count(), 1);
    let _ = el.as_fd();
}

#[test]
fn embedded_loop_fd_turns_readable_when_work_is_posted() {
    let el = EventLoop::new().unwrap();
    el.process_events(Duration::ZERO).unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    el.handle().post(move || r.set(true));
    let mut fds = [PollFd::new(&el, PollFlags::IN)];
    let n = poll(
        &mut fds,
        Some(&Timespec {
            tv_sec: LONG.as_secs() as _,
            tv_nsec: 0,
        }),
    )
    .unwrap();
    assert_eq!(n, 1);
    el.process_events(Duration::ZERO).unwrap();
    assert!(ran.get());
}

/// Work that a notifier's slot posts runs at the start of the next iteration, before it
/// polls; an outer loop learns of it because the fd turns readable.
#[test]
fn work_posted_by_a_notifier_slot_wakes_an_embedding_loop() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let notifier = SocketNotifier::new(&h, reader, Interest::READ).unwrap();
    let ran = Rc::new(Cell::new(0));
    let (r, h2) = (ran.clone(), h.clone());
    notifier.activated().connect(move |_| {
        let r = r.clone();
        h2.post(move || r.set(r.get() + 1));
    });
    el.process_events(Duration::ZERO).unwrap();
    rustix::io::write(&writer, b"x").unwrap();
    // The notifier's slot runs and posts; the posted closure has not run yet.
    el.process_events(LONG).unwrap();
    assert_eq!(ran.get(), 0);
    notifier.set_enabled(false).unwrap();
    let mut fds = [PollFd::new(&el, PollFlags::IN)];
    let n = poll(
        &mut fds,
        Some(&Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        }),
    )
    .unwrap();
    assert_eq!(n, 1, "work is left, but the loop's fd is not readable");
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(ran.get(), 1);
}

/// A `process_events` that ran posted work does not then wait out its timeout: the work
/// may be what the caller was waiting for.
#[test]
fn process_events_returns_after_running_posted_work() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    el.process_events(Duration::ZERO).unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    h.post(move || r.set(true));
    let start = Instant::now();
    el.process_events(LONG).unwrap();
    assert!(ran.get());
    assert!(
        start.elapsed() < LONG / 2,
        "waited {:?} after the work was done",
        start.elapsed()
    );
}

/// `Duration::MAX` waits with no timeout at all: the call returns when something
/// happens (here a timer), not at an overflowed deadline.
#[test]
fn process_events_with_duration_max_waits_for_an_event() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    el.process_events(Duration::ZERO).unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    single_shot(&h, Duration::from_millis(30), move || f.set(true));
    let start = Instant::now();
    while !fired.get() {
        el.process_events(Duration::MAX).unwrap();
        assert!(start.elapsed() < LONG, "the timer never fired");
    }
    assert!(start.elapsed() >= Duration::from_millis(30));
}
