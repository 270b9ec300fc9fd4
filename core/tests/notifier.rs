//! `SocketNotifier`: readiness as a signal, enable/disable, interest, nested loops; fds
//! that epoll refuses (regular files, `/dev/null`) are always ready.

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use sigloop_core::{single_shot, EventLoop, Interest, Readiness, SignalSpy, SocketNotifier};

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
    el.process_events(Duration::from_millis(20)).unwrap();
    assert_eq!(spy.count(), 0, "nothing to read yet");
    b.write_all(b"hi").unwrap();
    assert!(spy.wait(&h, LONG).unwrap());
    assert!(spy.get(0).unwrap().readable);
    // Level-triggered: not drained, so it fires again.
    assert!(spy.wait(&h, LONG).unwrap());
    let mut buf = [0u8; 8];
    assert_eq!((&*a).read(&mut buf).unwrap(), 2);
    spy.take();
    el.process_events(Duration::from_millis(20)).unwrap();
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
    el.process_events(Duration::from_millis(30)).unwrap();
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
    el.process_events(Duration::from_millis(20)).unwrap();
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
            h2.process_events(Duration::from_millis(5)).unwrap();
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
    el.process_events(Duration::from_millis(20)).unwrap();
    assert_eq!(hits.get(), 0);
}

/// A regular file with `content`, opened for reading; its name is removed at once.
fn regular_file(content: &[u8]) -> File {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "sigloop-notifier-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, content).unwrap();
    let file = File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

/// epoll refuses a regular file (EPERM); the notifier reports it ready on every iteration
/// while enabled, once per iteration, as poll(2) and Qt do, and not at all while disabled.
#[test]
fn regular_file_is_always_ready_while_enabled() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let n = SocketNotifier::new(&h, regular_file(b"data"), Interest::READ).unwrap();
    let spy = SignalSpy::new(n.activated());
    for i in 1..=5 {
        // Nothing is read: it stays ready, without the loop waiting out the timeout.
        let t = Instant::now();
        el.process_events(LONG).unwrap();
        assert!(
            t.elapsed() < LONG / 2,
            "the loop waited on an always-ready fd"
        );
        assert_eq!(spy.count(), i, "one activation per iteration");
    }
    assert_eq!(
        spy.get(0).unwrap(),
        Readiness {
            readable: true,
            writable: false,
            error: false
        }
    );
    n.set_enabled(false).unwrap();
    // The wake-up left for an embedding loop by the last iteration.
    el.process_events(Duration::ZERO).unwrap();
    spy.take();
    let t = Instant::now();
    el.process_events(Duration::from_millis(30)).unwrap();
    assert_eq!(spy.count(), 0, "disabled: nothing");
    assert!(
        t.elapsed() >= Duration::from_millis(25),
        "disabled: the loop sleeps again"
    );
    n.set_enabled(true).unwrap();
    assert!(spy.wait(&h, LONG).unwrap());
    // Both interests: both reported.
    n.set_interest(Interest::BOTH).unwrap();
    spy.take();
    assert!(spy.wait(&h, LONG).unwrap());
    assert_eq!(
        spy.get(0).unwrap(),
        Readiness {
            readable: true,
            writable: true,
            error: false
        }
    );
    // Watched for nothing: nothing to report, and the loop sleeps.
    n.set_interest(Interest::NONE).unwrap();
    el.process_events(Duration::ZERO).unwrap();
    spy.take();
    let t = Instant::now();
    el.process_events(Duration::from_millis(30)).unwrap();
    assert_eq!(spy.count(), 0, "Interest::NONE: nothing");
    assert!(t.elapsed() >= Duration::from_millis(25));
    n.set_interest(Interest::READ).unwrap();
    assert!(spy.wait(&h, LONG).unwrap());
    drop(n);
    spy.take();
    el.process_events(Duration::from_millis(20)).unwrap();
    assert_eq!(spy.count(), 0, "dropped: nothing");
}

/// Reading a file through its notifier, as `cmd < file` reads stdin: everything, then
/// end of file, then the slot disables the notifier.
#[test]
fn regular_file_is_read_to_end_through_the_notifier() {
    let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let file = Rc::new(regular_file(&content));
    let n = Rc::new(SocketNotifier::new(&h, file.clone(), Interest::READ).unwrap());
    let got = Rc::new(RefCell::new(Vec::new()));
    let eofs = Rc::new(Cell::new(0));
    let (g, e, h2, weak) = (got.clone(), eofs.clone(), h.clone(), Rc::downgrade(&n));
    n.activated().connect(move |_| {
        let mut buf = [0u8; 700];
        match (&*file).read(&mut buf).unwrap() {
            0 => {
                e.set(e.get() + 1);
                if let Some(n) = weak.upgrade() {
                    n.set_enabled(false).unwrap();
                }
                h2.quit();
            }
            k => g.borrow_mut().extend_from_slice(&buf[..k]),
        }
    });
    assert_eq!(el.run().unwrap(), 0);
    assert_eq!(*got.borrow(), content);
    assert_eq!(eofs.get(), 1);
    el.process_events(Duration::from_millis(20)).unwrap();
    assert_eq!(eofs.get(), 1, "disabled at end of file: not reported again");
}

/// `/dev/null` (a character device epoll refuses too): readable at once, at end of file;
/// opened for writing, writable.
#[test]
fn dev_null_is_always_ready() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let null = Rc::new(File::open("/dev/null").unwrap());
    let n = SocketNotifier::new(&h, null.clone(), Interest::READ).unwrap();
    let spy = SignalSpy::new(n.activated());
    assert!(spy.wait(&h, LONG).unwrap());
    assert!(spy.get(0).unwrap().readable);
    assert_eq!((&*null).read(&mut [0u8; 8]).unwrap(), 0);
    drop(n);

    let null = OpenOptions::new().write(true).open("/dev/null").unwrap();
    let n = SocketNotifier::new(&h, null, Interest::WRITE).unwrap();
    let spy = SignalSpy::new(n.activated());
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

/// An always-ready notifier whose slot reads nothing does not starve the other sources: a
/// timer and a pollable fd's notifier still fire, each iteration activating it once.
#[test]
fn always_ready_fd_does_not_starve_other_sources() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let n = SocketNotifier::new(&h, regular_file(b"x"), Interest::READ).unwrap();
    let spy = SignalSpy::new(n.activated());
    let (a, mut b) = pair();
    let pollable = SocketNotifier::new(&h, a.clone(), Interest::READ).unwrap();
    let got = Rc::new(Cell::new(false));
    let g = got.clone();
    pollable.activated().connect(move |_| {
        let _ = (&*a).read(&mut [0u8; 8]);
        g.set(true);
    });
    b.write_all(b"y").unwrap();
    let fired = Rc::new(Cell::new(false));
    let (f, h2) = (fired.clone(), h.clone());
    single_shot(&h, Duration::from_millis(30), move || {
        f.set(true);
        h2.quit();
    });
    let t = Instant::now();
    el.run().unwrap();
    assert!(fired.get());
    assert!(got.get());
    assert!(t.elapsed() < LONG);
    assert!(spy.count() > 1);
}

/// A nested loop in the slot of an always-ready notifier does not report it again; the
/// next iteration after the slot does.
#[test]
fn always_ready_fd_is_not_reported_to_a_nested_loop() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let n = SocketNotifier::new(&h, regular_file(b"x"), Interest::READ).unwrap();
    let calls = Rc::new(Cell::new(0));
    let (c, h2) = (calls.clone(), h.clone());
    n.activated().connect(move |_| {
        c.set(c.get() + 1);
        if c.get() == 1 {
            for _ in 0..5 {
                h2.process_events(Duration::ZERO).unwrap();
            }
        }
    });
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(calls.get(), 1);
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(calls.get(), 2);
}

/// A notifier dropped (or disabled) from its own slot is not activated again.
#[test]
fn always_ready_notifier_dropped_in_its_slot_stops() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let keep: Rc<RefCell<Option<SocketNotifier>>> = Rc::default();
    let n = SocketNotifier::new(&h, regular_file(b"x"), Interest::READ).unwrap();
    let calls = Rc::new(Cell::new(0));
    let (c, k) = (calls.clone(), keep.clone());
    n.activated().connect(move |_| {
        c.set(c.get() + 1);
        let old = k.borrow_mut().take();
        drop(old);
    });
    *keep.borrow_mut() = Some(n);
    for _ in 0..3 {
        el.process_events(Duration::from_millis(10)).unwrap();
    }
    assert_eq!(calls.get(), 1);
}

/// A loop embedded in another one: its fd stays readable while an always-ready notifier
/// is enabled, so the outer loop keeps calling `process_events`.
#[test]
fn always_ready_notifier_wakes_an_embedding_loop() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    el.process_events(Duration::ZERO).unwrap();
    let n = SocketNotifier::new(&h, regular_file(b"x"), Interest::READ).unwrap();
    let spy = SignalSpy::new(n.activated());
    let outer_ready = || {
        let mut fds = [PollFd::new(&el, PollFlags::IN)];
        poll(
            &mut fds,
            Some(&Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }),
        )
        .unwrap()
            == 1
    };
    for i in 1..=3 {
        assert!(
            outer_ready(),
            "the notifier is enabled, the fd must be readable"
        );
        el.process_events(Duration::ZERO).unwrap();
        assert_eq!(spy.count(), i);
    }
    n.set_enabled(false).unwrap();
    el.process_events(Duration::ZERO).unwrap();
    assert!(!outer_ready(), "disabled: the loop's fd goes quiet");
    n.set_enabled(true).unwrap();
    assert!(
        outer_ready(),
        "enabled again outside an iteration: the fd is woken"
    );
}

/// A pipe (which epoll watches) keeps the usual behaviour: quiet until written, then
/// readable, then end of file once the writer is gone.
#[test]
fn pipe_is_watched_by_the_poller() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    let (reader, mut writer) = std::io::pipe().unwrap();
    let reader = Rc::new(reader);
    let n = SocketNotifier::new(&h, reader.clone(), Interest::READ).unwrap();
    let spy = SignalSpy::new(n.activated());
    el.process_events(Duration::from_millis(20)).unwrap();
    assert_eq!(spy.count(), 0, "an empty pipe is not ready");
    writer.write_all(b"abc").unwrap();
    assert!(spy.wait(&h, LONG).unwrap());
    let mut buf = [0u8; 8];
    assert_eq!((&*reader).read(&mut buf).unwrap(), 3);
    spy.take();
    el.process_events(Duration::from_millis(20)).unwrap();
    assert_eq!(spy.count(), 0, "drained: quiet");
    drop(writer);
    assert!(spy.wait(&h, LONG).unwrap());
    assert_eq!((&*reader).read(&mut buf).unwrap(), 0);
}
