//! bluetoothd over D-Bus, through `bluer`: one helper thread runs a tokio runtime, and
//! results come back to the caller (blocking, with a timeout) or into the caller's event
//! loop. Only what needs bluetoothd lives here (SDP records, adapters, discovery);
//! sockets never go through it.
//!
//! The thread starts on the first D-Bus call and serves the process from then on; a
//! program that never uses these features never starts it.

mod call_queue;
mod error;
pub(crate) mod registration;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use std::pin::Pin;

use futures_core::Stream;
use tokio::sync::OnceCell;

use crate::BluetoothAddress;

pub(crate) use call_queue::CallQueue;
pub use error::BluezError;
pub use registration::ServiceRegistration;

/// Every D-Bus exchange with bluetoothd is given up after this long.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

struct Helper {
    runtime: tokio::runtime::Handle,
    session: Arc<OnceCell<bluer::Session>>,
}

static HELPER: OnceLock<Result<Helper, String>> = OnceLock::new();

fn helper() -> Result<&'static Helper, BluezError> {
    HELPER
        .get_or_init(start_helper)
        .as_ref()
        .map_err(|e| BluezError::Runtime(e.clone()))
}

fn start_helper() -> Result<Helper, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("sigloop-bluez".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => {
                    let _ = tx.send(Ok(runtime.handle().clone()));
                    runtime.block_on(std::future::pending::<()>());
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
        .map_err(|e| e.to_string())?;
    let runtime = rx
        .recv()
        .map_err(|_| "the D-Bus helper thread ended at start".to_string())??;
    Ok(Helper {
        runtime,
        session: Arc::new(OnceCell::new()),
    })
}

/// The session, connected on first use.
async fn session(cell: &OnceCell<bluer::Session>) -> Result<bluer::Session, BluezError> {
    cell.get_or_try_init(bluer::Session::new)
        .await
        .cloned()
        .map_err(|e| BluezError::NoSystemBus(e.to_string()))
}

/// Runs `f` on the helper thread with the session, bounded by [`CALL_TIMEOUT`];
/// `deliver` gets the result there (send it on with a `RemoteEmitter`).
pub(crate) fn spawn<T, F, Fut>(f: F, deliver: impl FnOnce(Result<T, BluezError>) + Send + 'static)
where
    T: Send + 'static,
    F: FnOnce(bluer::Session) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, BluezError>> + Send + 'static,
{
    let helper = match helper() {
        Ok(h) => h,
        Err(e) => return deliver(Err(e)),
    };
    let cell = helper.session.clone();
    helper.runtime.spawn(async move {
        let work = async {
            let session = session(&cell).await?;
            f(session).await
        };
        let result = tokio::time::timeout(CALL_TIMEOUT, work)
            .await
            .unwrap_or(Err(BluezError::Timeout));
        deliver(result);
    });
}

/// Runs `f` on the helper thread and waits for its result (at most [`CALL_TIMEOUT`]).
pub(crate) fn call<T, F, Fut>(f: F) -> Result<T, BluezError>
where
    T: Send + 'static,
    F: FnOnce(bluer::Session) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, BluezError>> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    spawn(f, move |r| {
        let _ = tx.send(r);
    });
    rx.recv_timeout(CALL_TIMEOUT + Duration::from_secs(1))
        .unwrap_or(Err(BluezError::Timeout))
}

/// Runs a long-lived task (an event watch) on the helper thread, without the call
/// timeout; it gets the session, or why there is none, to report as it sees fit.
pub(crate) fn watch<F, Fut>(f: F) -> Result<(), BluezError>
where
    F: FnOnce(Result<bluer::Session, BluezError>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let helper = helper()?;
    let cell = helper.session.clone();
    helper.runtime.spawn(async move {
        f(session(&cell).await).await;
    });
    Ok(())
}

/// The adapter with `address`; the default adapter for the null address.
pub(crate) async fn adapter(
    session: &bluer::Session,
    address: BluetoothAddress,
) -> Result<bluer::Adapter, BluezError> {
    if address.is_null() {
        return session.default_adapter().await.map_err(BluezError::from);
    }
    for name in session.adapter_names().await? {
        let adapter = session.adapter(&name)?;
        if from_bluer(adapter.address().await?) == address {
            return Ok(adapter);
        }
    }
    Err(BluezError::NoAdapter)
}

/// bluer's address as ours (both most significant byte first).
pub(crate) fn from_bluer(address: bluer::Address) -> BluetoothAddress {
    BluetoothAddress::new(address.0)
}

/// The next item of a stream (what `StreamExt::next` does).
pub(crate) async fn next<S: Stream + ?Sized>(stream: &mut Pin<Box<S>>) -> Option<S::Item> {
    std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}
