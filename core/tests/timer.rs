//! `Timer` and `single_shot`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sigloop_core::{single_shot, EventLoop, SignalSpy, Timer};

const LONG: Duration = Duration::from_secs(10);

#[test]
fn single_shot_timer_fires_once_and_goes_inactive() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let t = Timer::new(&h);
    t.set_single_shot(true);
    assert!(t.is_single_shot());
    let spy = SignalSpy::new(t.timeout());
    let start = Instant::now();
    t.start(Duration::from_millis(20));
    assert!(t.is_active());
    assert!(t.remaining_time().unwrap() <= Duration::from_millis(20));
    assert!(spy.wait(&h, LONG).unwrap());
    assert!(start.elapsed() >= Duration::from_millis(20), "fired early");
    assert!(!t.is_active());
    assert_eq!(t.remaining_time(), None);
    // Nothing more comes.
    assert!(!spy.wait(&h, Duration::from_millis(60)).unwrap());
    assert_eq!(spy.count(), 1);
}

#[test]
fn repeating_timer_fires_until_stopped_from_its_own_slot() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let t = Timer::new(&h);
    let ticks = Rc::new(Cell::new(0));
    let (tk, t2, h2) = (ticks.clone(), t.clone(), h.clone());
    t.timeout().connect(move |()| {
        tk.set(tk.get() + 1);
        if tk.get() == 3 {
            t2.stop();
            h2.quit();
        }
    });
    t.start(Duration::from_millis(5));
    assert_eq!(t.interval(), Duration::from_millis(5));
    assert_eq!(el.run().unwrap(), 0);
    assert_eq!(ticks.get(), 3);
    assert!(!t.is_active());
    el.process_events(Duration::from_millis(30)).unwrap();
    assert_eq!(ticks.get(), 3);
}

#[test]
fn restart_postpones_and_set_interval_restarts() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let t = Timer::new(&h);
    t.set_single_shot(true);
    let spy = SignalSpy::new(t.timeout());
    t.start(Duration::from_secs(3600));
    t.set_interval(Duration::from_millis(10));
    assert!(t.is_active());
    assert!(t.remaining_time().unwrap() <= Duration::from_millis(10));
    assert!(spy.wait(&h, LONG).unwrap());
    assert_eq!(
        spy.count(),
        1,
        "the hour-long start was replaced, not added"
    );
}

#[test]
fn dropping_the_last_handle_stops_the_timer() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let fired = Rc::new(Cell::new(false));
    {
        let t = Timer::new(&h);
        let f = fired.clone();
        t.timeout().connect(move |()| f.set(true));
        t.start(Duration::from_millis(5));
    }
    el.process_events(Duration::from_millis(40)).unwrap();
    el.process_events(Duration::ZERO).unwrap();
    assert!(!fired.get());
}

#[test]
fn zero_interval_timer_fires_once_per_iteration() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let t = Timer::new(&h);
    let spy = SignalSpy::new(t.timeout());
    t.start(Duration::ZERO);
    for expected in 1..=3 {
        el.process_events(LONG).unwrap();
        assert_eq!(spy.count(), expected);
    }
}

#[test]
fn single_shot_function_runs_in_deadline_order() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let order = Rc::new(std::cell::RefCell::new(Vec::new()));
    for (ms, tag) in [(30u64, "late"), (10, "early"), (20, "middle")] {
        let o = order.clone();
        single_shot(&h, Duration::from_millis(ms), move || {
            o.borrow_mut().push(tag)
        });
    }
    let h2 = h.clone();
    single_shot(&h, Duration::from_millis(40), move || h2.quit());
    el.run().unwrap();
    assert_eq!(*order.borrow(), ["early", "middle", "late"]);
}
