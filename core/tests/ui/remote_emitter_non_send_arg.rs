// A signal whose argument is not `Send` cannot be emitted from another thread.
use std::rc::Rc;

fn main() {
    let event_loop = sigloop_core::EventLoop::new().unwrap();
    let signal = sigloop_core::Signal::<Rc<u8>>::new();
    let _emitter = signal.remote_emitter(&event_loop.handle());
}
