// The loop's own handle stays on its thread.
fn main() {
    let event_loop = sigloop_core::EventLoop::new().unwrap();
    let handle = event_loop.handle();
    std::thread::spawn(move || handle.quit());
}
