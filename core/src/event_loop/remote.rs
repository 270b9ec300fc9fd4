//! Cross-thread delivery: [`LoopSender`] and [`RemoteEmitter`].

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Weak;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use calloop::ping::Ping;

use super::LoopHandle;
use crate::signal::{Shared, Signal};

/// A closure posted from another thread; it gets the loop's handle when it runs.
pub(crate) struct RemoteTask(Box<dyn FnOnce(&LoopHandle) + Send>);

impl RemoteTask {
    pub(crate) fn run(self, handle: &LoopHandle) {
        (self.0)(handle)
    }
}

pub(crate) struct Remote {
    state: Mutex<RemoteState>,
    /// Set while `state.tasks` is non-empty, so the loop can skip the lock.
    pending: AtomicBool,
    ping: Ping,
}

struct RemoteState {
    tasks: Vec<RemoteTask>,
    closed: bool,
}

impl Remote {
    pub(crate) fn new(ping: Ping) -> Arc<Remote> {
        Arc::new(Remote {
            state: Mutex::new(RemoteState {
                tasks: Vec::new(),
                closed: false,
            }),
            pending: AtomicBool::new(false),
            ping,
        })
    }

    fn lock(&self) -> MutexGuard<'_, RemoteState> {
        // No user code runs under this lock, so it cannot be poisoned by a slot's panic;
        // recover the data if it somehow is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, task: RemoteTask) -> Result<(), LoopClosed> {
        let mut state = self.lock();
        if state.closed {
            return Err(LoopClosed);
        }
        state.tasks.push(task);
        let first = state.tasks.len() == 1;
        self.pending.store(true, Ordering::Release);
        drop(state);
        if first {
            self.ping.ping();
        }
        Ok(())
    }

    pub(crate) fn has_tasks(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    pub(crate) fn take_tasks(&self) -> Vec<RemoteTask> {
        let mut state = self.lock();
        self.pending.store(false, Ordering::Release);
        std::mem::take(&mut state.tasks)
    }

    /// Refuses further tasks and drops the pending ones (outside the lock).
    pub(crate) fn close(&self) {
        let tasks = {
            let mut state = self.lock();
            state.closed = true;
            self.pending.store(false, Ordering::Release);
            std::mem::take(&mut state.tasks)
        };
        drop(tasks);
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// The loop a [`LoopSender`] or [`RemoteEmitter`] points to has been dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopClosed;

impl fmt::Display for LoopClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event loop is closed")
    }
}

impl Error for LoopClosed {}

/// A `Send + Sync` handle to an [`EventLoop`](crate::EventLoop) for other threads: posts
/// closures that run on the loop's thread, and asks the loop to exit.
///
/// Only `Send` closures are accepted; the compiler refuses one that captures an `Rc`:
///
/// ```compile_fail
/// # let event_loop = sigloop_core::EventLoop::new().unwrap();
/// let sender = event_loop.sender();
/// let local = std::rc::Rc::new(1);
/// std::thread::spawn(move || sender.post(move || drop(local)));
/// ```
#[derive(Clone)]
pub struct LoopSender {
    remote: Arc<Remote>,
}

impl fmt::Debug for LoopSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopSender")
            .field("closed", &self.remote.is_closed())
            .finish()
    }
}

impl LoopSender {
    pub(crate) fn new(remote: Arc<Remote>) -> Self {
        LoopSender { remote }
    }

    /// Queues `task` to run on the loop's thread, waking the loop.
    ///
    /// # Errors
    /// [`LoopClosed`] if the loop was dropped; `task` is dropped.
    pub fn post<F: FnOnce() + Send + 'static>(&self, task: F) -> Result<(), LoopClosed> {
        self.remote
            .push(RemoteTask(Box::new(move |_: &LoopHandle| task())))
    }

    pub(crate) fn post_with_handle<F>(&self, task: F) -> Result<(), LoopClosed>
    where
        F: FnOnce(&LoopHandle) + Send + 'static,
    {
        self.remote.push(RemoteTask(Box::new(task)))
    }

    /// Makes the loop's `run` return `code`, as [`LoopHandle::exit`] does on its thread.
    ///
    /// # Errors
    /// [`LoopClosed`] if the loop was dropped.
    pub fn exit(&self, code: i32) -> Result<(), LoopClosed> {
        self.post_with_handle(move |h| h.exit(code))
    }

    /// `exit(0)`.
    ///
    /// # Errors
    /// [`LoopClosed`] if the loop was dropped.
    pub fn quit(&self) -> Result<(), LoopClosed> {
        self.exit(0)
    }

    /// Whether the loop was dropped.
    pub fn is_closed(&self) -> bool {
        self.remote.is_closed()
    }
}

static NEXT_EMITTER: AtomicU64 = AtomicU64::new(1);

/// Registry of signals reachable from other threads, kept on the loop's thread.
pub(crate) type Registry = HashMap<u64, Box<dyn std::any::Any>>;

/// A `Send` handle that emits a [`Signal`] on its loop's thread from any thread.
///
/// Each [`emit`](Self::emit) moves its value to the loop's thread, where the signal is
/// emitted on a later iteration with the slots' usual rules. The value must be `Send`:
///
/// ```compile_fail
/// # let event_loop = sigloop_core::EventLoop::new().unwrap();
/// let signal = sigloop_core::Signal::<std::rc::Rc<u8>>::new();
/// let emitter = signal.remote_emitter(&event_loop.handle());
/// ```
///
/// Dropping the emitter unregisters it; it never keeps the signal alive. Emissions into a
/// signal that was dropped in the meantime are discarded.
#[must_use = "dropping a RemoteEmitter unregisters it: later emissions through it are refused"]
pub struct RemoteEmitter<T: Send + 'static> {
    id: u64,
    sender: LoopSender,
    _arg: PhantomData<fn(T)>,
}

impl<T: Send + 'static> fmt::Debug for RemoteEmitter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteEmitter")
            .field("id", &self.id)
            .finish()
    }
}

impl<T: Send + 'static> Clone for RemoteEmitter<T> {
    fn clone(&self) -> Self {
        // A clone needs its own registration, made on the loop's thread.
        let id = NEXT_EMITTER.fetch_add(1, Ordering::Relaxed);
        let from = self.id;
        let _ = self.sender.post_with_handle(move |h| {
            let mut reg = h.inner().registry.borrow_mut();
            let weak = reg
                .get(&from)
                .and_then(|b| b.downcast_ref::<Weak<Shared<T>>>())
                .cloned();
            if let Some(weak) = weak {
                reg.insert(id, Box::new(weak));
            }
        });
        RemoteEmitter {
            id,
            sender: self.sender.clone(),
            _arg: PhantomData,
        }
    }
}

impl<T: 'static> Signal<T> {
    /// A `Send` handle through which any thread can emit this signal on `handle`'s
    /// thread. See [`RemoteEmitter`].
    pub fn remote_emitter(&self, handle: &LoopHandle) -> RemoteEmitter<T>
    where
        T: Send,
    {
        RemoteEmitter::register(self, handle)
    }
}

impl<T: Send + 'static> RemoteEmitter<T> {
    pub(crate) fn register(signal: &Signal<T>, handle: &LoopHandle) -> Self {
        let id = NEXT_EMITTER.fetch_add(1, Ordering::Relaxed);
        handle
            .inner()
            .registry
            .borrow_mut()
            .insert(id, Box::new(signal.downgrade()));
        RemoteEmitter {
            id,
            sender: handle.sender(),
            _arg: PhantomData,
        }
    }

    /// Emits `value` on the loop's thread.
    ///
    /// # Errors
    /// [`LoopClosed`] if the loop was dropped; `value` is dropped.
    pub fn emit(&self, value: T) -> Result<(), LoopClosed> {
        let id = self.id;
        self.sender.post_with_handle(move |h| {
            let shared = h
                .inner()
                .registry
                .borrow()
                .get(&id)
                .and_then(|b| b.downcast_ref::<Weak<Shared<T>>>())
                .and_then(Weak::upgrade);
            match shared {
                Some(shared) => Signal::from_shared(shared).emit(&value),
                None => log::debug!("remote emission discarded: its signal is gone"),
            }
        })
    }
}

impl<T: Send + 'static> Drop for RemoteEmitter<T> {
    fn drop(&mut self) {
        let id = self.id;
        let _ = self.sender.post_with_handle(move |h| {
            let entry = h.inner().registry.borrow_mut().remove(&id);
            drop(entry);
        });
    }
}
