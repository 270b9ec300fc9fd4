// A closure that captures an `Rc` cannot be posted from another thread.
use std::rc::Rc;

fn main() {
    let event_loop = sigloop_core::EventLoop::new().unwrap();
    let sender = event_loop.sender();
    let local = Rc::new(1);
    let _ = sender.post(move || drop(local));
}
