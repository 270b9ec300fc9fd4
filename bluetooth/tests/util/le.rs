//! bluer on a thread of its own, for the LE tests' peers written without sigloop.

use std::future::Future;
use std::time::Duration;

use sigloop_bluetooth::BluetoothAddress;

/// What a [`serve`] setup returned, kept alive on its thread until this is dropped.
pub struct Served {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// The adapter with `address`.
pub async fn adapter(session: &bluer::Session, address: BluetoothAddress) -> bluer::Adapter {
    for name in session.adapter_names().await.unwrap() {
        let a = session.adapter(&name).unwrap();
        if a.address().await.unwrap().0 == address.octets() {
            return a;
        }
    }
    panic!("no adapter {address}");
}

/// The characteristic `uuid` among the services of `peer`, as bluer sees them from the
/// adapter at `local`.
pub async fn characteristic(
    session: &bluer::Session,
    local: BluetoothAddress,
    peer: BluetoothAddress,
    uuid: uuid::Uuid,
) -> bluer::gatt::remote::Characteristic {
    let device = adapter(session, local)
        .await
        .device(bluer::Address(peer.octets()))
        .unwrap();
    for s in device.services().await.unwrap() {
        for c in s.characteristics().await.unwrap() {
            if c.uuid().await.unwrap() == uuid {
                return c;
            }
        }
    }
    panic!("{peer} has no characteristic {uuid}");
}

/// Runs `setup` with the adapter at `address` on a thread with a tokio runtime of its
/// own, and keeps what it returns (registrations, advertisements) until the handle is
/// dropped. Returns once `setup` has.
pub fn serve<F, Fut, K>(address: BluetoothAddress, setup: F) -> Served
where
    F: FnOnce(bluer::Adapter) -> Fut + Send + 'static,
    Fut: Future<Output = K>,
{
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        block_on(async move {
            let session = bluer::Session::new().await.unwrap();
            let kept = setup(adapter(&session, address).await).await;
            ready_tx.send(()).unwrap();
            let _ = stopped.await;
            drop(kept);
        });
    });
    ready
        .recv_timeout(Duration::from_secs(30))
        .expect("the bluer side starts");
    Served {
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// Runs `f` to its end on a runtime of its own.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Closes the LE link from the adapter at `local` to `peer` through bluetoothd, whose
/// ATT channel otherwise keeps it up after the test's own channels closed.
pub fn disconnect(local: BluetoothAddress, peer: BluetoothAddress) {
    block_on(async {
        let session = bluer::Session::new().await.unwrap();
        let a = adapter(&session, local).await;
        if let Ok(d) = a.device(bluer::Address(peer.octets())) {
            let _ = d.disconnect().await;
        }
    });
}

/// Closes the LE link between two adapters when dropped (so also when a test fails).
pub struct LinkGuard(pub BluetoothAddress, pub BluetoothAddress);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        disconnect(self.0, self.1);
    }
}

/// Every device info `agent` reports, discovered or updated, in order.
pub fn collect(
    agent: &sigloop_bluetooth::DeviceDiscoveryAgent,
) -> std::rc::Rc<std::cell::RefCell<Vec<sigloop_bluetooth::DeviceInfo>>> {
    let seen: std::rc::Rc<std::cell::RefCell<Vec<sigloop_bluetooth::DeviceInfo>>> =
        Default::default();
    let sink = seen.clone();
    agent
        .device_discovered()
        .connect(move |info| sink.borrow_mut().push(info.clone()));
    let sink = seen.clone();
    agent
        .device_updated()
        .connect(move |(info, _)| sink.borrow_mut().push(info.clone()));
    seen
}
