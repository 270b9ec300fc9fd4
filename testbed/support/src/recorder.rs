//! Recorders for socket tests: a socket's signals in emission order, everything it
//! received, and a sender that respects its write chunk.

use std::cell::RefCell;
use std::rc::Rc;

use sigloop_core::AbstractSocket;

/// Records the names of a socket's signals in emission order (`state:Connected`,
/// `connected`, `disconnected`, `read_channel_finished`, `error:...`).
pub fn record(socket: &AbstractSocket) -> Rc<RefCell<Vec<String>>> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    socket
        .state_changed()
        .connect(move |s| l.borrow_mut().push(format!("state:{s:?}")));
    let l = log.clone();
    socket
        .connected()
        .connect(move |()| l.borrow_mut().push("connected".into()));
    let l = log.clone();
    socket
        .disconnected()
        .connect(move |()| l.borrow_mut().push("disconnected".into()));
    let l = log.clone();
    socket
        .read_channel_finished()
        .connect(move |()| l.borrow_mut().push("read_channel_finished".into()));
    let l = log.clone();
    socket
        .error_occurred()
        .connect(move |e| l.borrow_mut().push(format!("error:{e:?}")));
    log
}

/// Sends `data` in writes of at most the socket's write chunk (one packet each on a
/// packet socket).
///
/// # Panics
/// If a write is refused or short.
pub fn send(s: &AbstractSocket, data: &[u8]) {
    for piece in data.chunks(s.max_write_chunk()) {
        assert_eq!(s.write(piece), Ok(piece.len()));
    }
}

/// Collects everything `s` receives, read as each `ready_read` arrives.
pub fn collect(s: &AbstractSocket) -> Rc<RefCell<Vec<u8>>> {
    let got = Rc::new(RefCell::new(Vec::new()));
    let (g, w) = (got.clone(), s.downgrade());
    s.ready_read().connect(move |()| {
        if let Some(s) = w.upgrade() {
            g.borrow_mut().extend(s.read_all());
        }
    });
    got
}
