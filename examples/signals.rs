//! Signals and slots: an object with signals, direct and weak-receiver slots, a queued
//! connection, signal blocking, and a worker thread emitting into the loop.
//!
//! Run: `cargo run --example signals`

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use sigloop::core::{EventLoop, ObjectBase, Signal};

/// A `QObject` subclass, the sigloop way: a cheap handle to state on the loop's thread.
#[derive(Clone, Default)]
struct Thermostat(Rc<ThermostatState>);

#[derive(Default)]
struct ThermostatState {
    base: ObjectBase,
    celsius: Cell<i32>,
    temperature_changed: Signal<i32>,
}

impl Thermostat {
    fn temperature_changed(&self) -> &Signal<i32> {
        &self.0.temperature_changed
    }

    fn set_temperature(&self, celsius: i32) {
        // State first, then emit with no borrow held: slots may call back in.
        if self.0.celsius.replace(celsius) != celsius {
            self.0.temperature_changed.emit(&celsius);
        }
    }
}

/// A receiver: held by `Rc`, connected weakly.
struct Display {
    name: &'static str,
}

impl Display {
    fn show(&self, celsius: i32) {
        println!("  [{}] {celsius} °C", self.name);
    }
}

fn main() -> std::io::Result<()> {
    let event_loop = EventLoop::new()?;
    let handle = event_loop.handle();

    let thermostat = Thermostat::default();
    thermostat.0.base.set_object_name("hall");
    thermostat
        .0
        .base
        .destroyed()
        .connect(|()| println!("thermostat destroyed"));

    println!("direct slot and a weak receiver:");
    thermostat
        .temperature_changed()
        .connect(|c| println!("  [direct] changed to {c}"));
    let display = Rc::new(Display { name: "display" });
    thermostat
        .temperature_changed()
        .connect_to(&display, |d, c| d.show(*c));
    thermostat.set_temperature(21);

    println!("the display is dropped; its slot disconnects by itself:");
    drop(display);
    thermostat.set_temperature(22);
    println!(
        "  receivers left: {}",
        thermostat.temperature_changed().receiver_count()
    );

    println!("blocked while a blocker lives:");
    {
        let _blocker = thermostat.temperature_changed().blocker();
        thermostat.set_temperature(23); // no output
    }

    println!("a queued slot runs on a later loop iteration:");
    let h = handle.clone();
    thermostat
        .temperature_changed()
        .connect_queued(&handle, move |c| {
            println!("  [queued] {c}");
            if *c >= 30 {
                h.quit();
            }
        });
    thermostat.set_temperature(24);
    println!("  (emitted 24; the queued slot has not run yet)");
    event_loop.process_events(Duration::ZERO)?;

    println!("a worker thread emits into the loop:");
    let emitter = Signal::<i32>::new();
    let t = thermostat.clone();
    emitter.connect(move |c| t.set_temperature(*c));
    let remote = emitter.remote_emitter(&handle);
    let worker = std::thread::spawn(move || {
        for c in [28, 30] {
            std::thread::sleep(Duration::from_millis(20));
            remote.emit(c).expect("loop alive");
        }
    });
    let code = event_loop.run()?;
    worker.join().expect("worker");
    println!("loop exited with {code}");
    Ok(())
}
