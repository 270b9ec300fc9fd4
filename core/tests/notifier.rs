//! `SocketNotifier`: readiness as a signal, enable/disable, interest, nested loops.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use sigloop_core::{EventLoop, Interest, Readiness, SignalSpy, SocketNotifier};

const LONG: Duration = Duration::from_secs(10);

fn pair() -> (Rc<UnixStream>, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    (Rc::new(a), b)
}

#[test]
fn readable_fd_activates_until_drained() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (a, mut b) = pair();
    let n = SocketNotifier::new(&h, a.clone(), Interest::READ).unwrap();
    assert_eq!(n.interest(), Interest::READ);
    let spy = SignalSpy::new(n.activated());
    el.process_events(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(spy.count(), 0, "nothing to read yet");
    b.write_all(b"hi").unwrap();
    assert!(spy.wait(&h, LONG).unwrap());
    assert!(spy.get(0).unwrap().readable);
    // Level-triggered: not drained, so it fires again.
    assert!(spy.wait(&h, LONG).unwrap());
    let mut buf = [0u8; 8];
    assert_eq!((&*a).read(&mut buf).unwrap(), 2);
    spy.take();
    el.process_events(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(spy.count(), 0, "drained fd must go quiet");
}

#[test]
fn disabled_notifier_stays_quiet_and_resumes() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (a, mut b) = pair();
    let n = SocketNotifier::new(&h, a, Interest::READ).unwrap();
    let spy = SignalSpy::new(n.activated());
    n.set_enabled(false).unwrap();
    assert!(!n.is_enabled());
    b.write_all(b"x").unwrap();
    el.process_events(Some(Duration::from_millis(30))).unwrap();
    assert_eq!(spy.count(), 0);
    n.set_enabled(true).unwrap();
    assert!(spy.wait(&h, LONG).unwrap());
}

#[test]
fn interest_can_change_in_place() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (a, _b) = pair();
    let n = SocketNotifier::new(&h, a, Interest::NONE).unwrap();
    let spy = SignalSpy::new(n.activated());
    el.process_events(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(spy.count(), 0);
    n.set_interest(Interest::WRITE).unwrap();
    assert!(spy.wait(&h, LONG).unwrap());
    assert_eq!(
        spy.get(0).unwrap(),
        Readiness {
            readable: false,
            writable: true,
            error: false
        }
    );
}

#[test]
fn hang_up_is_reported_as_readable() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (a, b) = pair();
    let n = SocketNotifier::new(&h, a, Interest::READ).unwrap();
    let spy = SignalSpy::new(n.activated());
    drop(b);
    assert!(spy.wait(&h, LONG).unwrap());
    assert!(spy.get(0).unwrap().readable);
}

#[test]
fn nested_loop_in_a_slot_does_not_reenter_or_spin() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (a, mut b) = pair();
    let n = Rc::new(SocketNotifier::new(&h, a.clone(), Interest::READ).unwrap());
    let calls = Rc::new(Cell::new(0));
    let (c, h2, a2) = (calls.clone(), h.clone(), a.clone());
    n.activated().connect(move |_| {
        c.set(c.get() + 1);
        // A nested loop while the fd is still readable: it must not report it again.
        for _ in 0..5 {
            h2.process_events(Some(Duration::from_millis(5))).unwrap();
        }
        let mut buf = [0u8; 8];
        let _ = (&*a2).read(&mut buf);
        h2.quit();
    });
    b.write_all(b"x").unwrap();
    el.run().unwrap();
    assert_eq!(calls.get(), 1);
    // Re-registered afterwards: new data activates again.
    let spy = SignalSpy::new(n.activated());
    b.write_all(b"y").unwrap();
    assert!(spy.wait(&h, LONG).unwrap());
}

#[test]
fn dropped_notifier_emits_nothing() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (a, mut b) = pair();
    let hits = Rc::new(Cell::new(0));
    let n = SocketNotifier::new(&h, a, Interest::READ).unwrap();
    let hh = hits.clone();
    n.activated().connect(move |_| hh.set(hh.get() + 1));
    b.write_all(b"x").unwrap();
    drop(n);
    el.process_events(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(hits.get(), 0);
}
