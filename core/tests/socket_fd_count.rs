//! 1,000 connect/disconnect cycles leave the process's fd count flat. In its own test
//! binary (its own process), so no other test opens fds meanwhile.

mod util;

use std::time::Duration;

use sigloop_core::{EventLoop, SignalSpy};
use util::{pair, Transport, LONG};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn thousand_cycles_leave_no_fd_behind() {
    let el = EventLoop::new().unwrap();
    let h = el.handle();
    // One warm-up cycle, so lazily created fds (timerfd re-arms, caches) exist already.
    let (c, s, keep) = pair(&h, Transport::UnixStream);
    c.disconnect_from_host();
    assert!(s.wait_for_disconnected(LONG));
    drop((c, s, keep));
    el.process_events(Duration::ZERO).unwrap();
    let before = open_fds();
    for i in 0..1000 {
        let transport = if i % 2 == 0 {
            Transport::Tcp
        } else {
            Transport::UnixStream
        };
        let (client, server, keep) = pair(&h, transport);
        let gone = SignalSpy::new(server.disconnected());
        client.write(b"x").unwrap();
        client.disconnect_from_host();
        assert!(gone.wait_for_count(&h, 1, LONG).unwrap(), "cycle {i}");
        assert!(client.wait_for_disconnected(LONG), "cycle {i}");
        drop((client, server, keep));
    }
    el.process_events(Duration::ZERO).unwrap();
    assert_eq!(open_fds(), before);
}
