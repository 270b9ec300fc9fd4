//! Calls on the helper thread that run one at a time, in the order they were queued.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;

use super::{helper, session, BluezError, CALL_TIMEOUT};

/// A queued call: given the session (or why there is none), the work and its delivery.
type Job = Box<
    dyn FnOnce(Result<bluer::Session, BluezError>) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send,
>;

/// Runs calls as [`spawn`](super::spawn) does, each bounded by [`CALL_TIMEOUT`], but
/// one at a time in the order they were queued: a call starts once the one before it
/// has delivered. (Calls of `spawn` are tasks of their own and keep their order only as
/// long as the runtime runs tasks first in, first out and every call makes the same
/// round trips.) The queue's task starts with the first call and ends, after the calls
/// queued, when the queue is dropped.
#[derive(Default)]
pub(crate) struct CallQueue {
    jobs: RefCell<Option<mpsc::UnboundedSender<Job>>>,
}

impl CallQueue {
    /// Queues `f`; `deliver` gets its result on the helper thread.
    pub(crate) fn spawn<T, F, Fut>(
        &self,
        f: F,
        deliver: impl FnOnce(Result<T, BluezError>) + Send + 'static,
    ) where
        T: Send + 'static,
        F: FnOnce(bluer::Session) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, BluezError>> + Send + 'static,
    {
        let helper = match helper() {
            Ok(h) => h,
            Err(e) => return deliver(Err(e)),
        };
        let job: Job = Box::new(move |session| {
            Box::pin(async move {
                let result = match session {
                    Ok(session) => tokio::time::timeout(CALL_TIMEOUT, f(session))
                        .await
                        .unwrap_or(Err(BluezError::Timeout)),
                    Err(e) => Err(e),
                };
                deliver(result);
            })
        });
        let mut jobs = self.jobs.borrow_mut();
        let job = match jobs.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                // The queue's task is gone (a call panicked): a new one takes over.
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let cell = helper.session.clone();
        helper.runtime.spawn(async move {
            let session = session(&cell).await;
            while let Some(job) = rx.recv().await {
                job(session.clone()).await;
            }
        });
        // The receiver lives in the task just spawned.
        let _ = tx.send(job);
        *jobs = Some(tx);
    }
}
