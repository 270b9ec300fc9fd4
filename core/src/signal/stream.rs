//! Signals as `async` streams and one-shot futures, for code that awaits emissions
//! instead of connecting slots.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use super::{ScopedConnection, Signal};

/// Emissions a [`SignalStream`] could not keep because its buffer was full: yielded in
/// place of the values lost, before the next value that was kept (never silently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} emissions were dropped: the stream's buffer was full",
            self.0
        )
    }
}

impl std::error::Error for Lagged {}

/// What a full [`Queue`] does with a new value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WhenFull {
    /// Drop the oldest and count it as lagged (streams).
    DropOldest,
    /// Ignore the newcomer (the one-shot future wants the first emission).
    KeepFirst,
}

/// What the slot and the stream share.
struct Queue<T> {
    values: RefCell<VecDeque<T>>,
    bound: usize,
    when_full: WhenFull,
    lagged: Cell<u64>,
    waker: RefCell<Option<Waker>>,
    /// The signal is gone: nothing more will come.
    ended: Cell<bool>,
}

impl<T> Queue<T> {
    fn new(bound: usize, when_full: WhenFull) -> Rc<Self> {
        Rc::new(Queue {
            values: RefCell::new(VecDeque::new()),
            bound: bound.max(1),
            when_full,
            lagged: Cell::new(0),
            waker: RefCell::new(None),
            ended: Cell::new(false),
        })
    }

    fn wake(&self) {
        // Taken out first: waking may run user code (a local executor's bookkeeping).
        let waker = self.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn push(&self, value: T) {
        {
            let mut values = self.values.borrow_mut();
            if values.len() >= self.bound {
                if self.when_full == WhenFull::KeepFirst {
                    return;
                }
                values.pop_front();
                self.lagged.set(self.lagged.get() + 1);
            }
            values.push_back(value);
        }
        self.wake();
    }

    fn register(&self, cx: &Context<'_>) {
        let mut waker = self.waker.borrow_mut();
        match &*waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
    }
}

/// Lives in the slot closure: when the signal drops its slots (the signal itself is
/// dropped, or `disconnect_all`), the stream ends.
struct EndOnDrop<T>(Rc<Queue<T>>);

impl<T> Drop for EndOnDrop<T> {
    fn drop(&mut self) {
        self.0.ended.set(true);
        self.0.wake();
    }
}

fn connect_queue<T: Clone + 'static>(signal: &Signal<T>, queue: &Rc<Queue<T>>) -> ScopedConnection {
    let end = EndOnDrop(Rc::clone(queue));
    signal.connect_scoped(move |v: &T| end.0.push(v.clone()))
}

/// A signal's emissions as a [`Stream`] (see [`Signal::stream`]). Dropping it
/// disconnects; it ends when the signal is dropped or disconnects all its slots.
#[must_use = "streams do nothing unless polled; dropping this disconnects it"]
pub struct SignalStream<T: 'static> {
    queue: Rc<Queue<T>>,
    _connection: ScopedConnection,
}

impl<T> fmt::Debug for SignalStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalStream")
            .field("buffered", &self.queue.values.borrow().len())
            .field("bound", &self.queue.bound)
            .field("ended", &self.queue.ended.get())
            .finish()
    }
}

impl<T> Stream for SignalStream<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let q = &self.queue;
        let lagged = q.lagged.replace(0);
        if lagged > 0 {
            return Poll::Ready(Some(Err(Lagged(lagged))));
        }
        if let Some(v) = q.values.borrow_mut().pop_front() {
            return Poll::Ready(Some(Ok(v)));
        }
        if q.ended.get() {
            return Poll::Ready(None);
        }
        q.register(cx);
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.queue.values.borrow().len(), None)
    }
}

/// The next emission of a signal (see [`Signal::next_emission`]): `Some(value)`, or
/// `None` if the signal is dropped first. Dropping it disconnects.
#[must_use = "futures do nothing unless awaited; dropping this disconnects it"]
pub struct NextEmission<T: 'static> {
    queue: Rc<Queue<T>>,
    _connection: ScopedConnection,
}

impl<T> fmt::Debug for NextEmission<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextEmission")
            .field("ready", &!self.queue.values.borrow().is_empty())
            .finish()
    }
}

impl<T> Future for NextEmission<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let q = &self.queue;
        if let Some(v) = q.values.borrow_mut().pop_front() {
            return Poll::Ready(Some(v));
        }
        if q.ended.get() {
            return Poll::Ready(None);
        }
        q.register(cx);
        Poll::Pending
    }
}

impl<T: Clone + 'static> Signal<T> {
    /// The emissions from now on as a [`Stream`] of `Ok(value)`, for `async` code
    /// (any executor on this thread: calloop's, a tokio `LocalSet`, …).
    ///
    /// At most `bound` values wait for the reader (at least 1). When an emission finds
    /// the buffer full the oldest value is dropped, and the reader gets
    /// `Err(Lagged(n))` in its place before the next value: a slow reader is told, never
    /// silently skipped, and an emitter is never blocked. The stream ends when the
    /// signal is dropped or disconnects all its slots; dropping the stream disconnects.
    pub fn stream(&self, bound: usize) -> SignalStream<T> {
        let queue = Queue::new(bound, WhenFull::DropOldest);
        let connection = connect_queue(self, &queue);
        SignalStream {
            queue,
            _connection: connection,
        }
    }

    /// A future for the next emission: `Some(value)`, or `None` if the signal goes away
    /// first (Qt has no counterpart; `QSignalSpy::wait` is the blocking cousin).
    pub fn next_emission(&self) -> NextEmission<T> {
        let queue = Queue::new(1, WhenFull::KeepFirst);
        let connection = connect_queue(self, &queue);
        NextEmission {
            queue,
            _connection: connection,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll_stream<T>(s: &mut SignalStream<T>, waker: &Waker) -> Poll<Option<Result<T, Lagged>>> {
        Pin::new(s).poll_next(&mut Context::from_waker(waker))
    }

    #[test]
    fn values_arrive_in_order_and_wake_the_reader() {
        let sig = Signal::<u32>::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut s = sig.stream(8);
        assert_eq!(poll_stream(&mut s, &waker), Poll::Pending);
        sig.emit(&1);
        sig.emit(&2);
        assert!(
            count.0.load(Ordering::SeqCst) >= 1,
            "the waiting reader was woken"
        );
        assert_eq!(poll_stream(&mut s, &waker), Poll::Ready(Some(Ok(1))));
        assert_eq!(poll_stream(&mut s, &waker), Poll::Ready(Some(Ok(2))));
        assert_eq!(poll_stream(&mut s, &waker), Poll::Pending);
    }

    #[test]
    fn a_full_buffer_reports_what_it_dropped() {
        let sig = Signal::<u32>::new();
        let waker = Waker::noop();
        let mut s = sig.stream(2);
        for v in 1..=5 {
            sig.emit(&v);
        }
        assert_eq!(
            poll_stream(&mut s, waker),
            Poll::Ready(Some(Err(Lagged(3))))
        );
        assert_eq!(poll_stream(&mut s, waker), Poll::Ready(Some(Ok(4))));
        assert_eq!(poll_stream(&mut s, waker), Poll::Ready(Some(Ok(5))));
        assert_eq!(poll_stream(&mut s, waker), Poll::Pending);
    }

    #[test]
    fn the_stream_ends_with_the_signal_and_disconnects_when_dropped() {
        let sig = Signal::<u32>::new();
        let waker = Waker::noop();
        let s = sig.stream(4);
        assert_eq!(sig.receiver_count(), 1);
        drop(s);
        assert_eq!(sig.receiver_count(), 0, "dropping the stream disconnects");
        let mut s = sig.stream(4);
        sig.emit(&7);
        drop(sig);
        assert_eq!(
            poll_stream(&mut s, waker),
            Poll::Ready(Some(Ok(7))),
            "kept values first"
        );
        assert_eq!(poll_stream(&mut s, waker), Poll::Ready(None));
    }

    #[test]
    fn next_emission_resolves_once_or_with_none_when_the_signal_goes() {
        let sig = Signal::<String>::new();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut next = sig.next_emission();
        assert_eq!(Pin::new(&mut next).poll(&mut cx), Poll::Pending);
        sig.emit(&"first".to_string());
        assert_eq!(
            Pin::new(&mut next).poll(&mut cx),
            Poll::Ready(Some("first".to_string()))
        );
        drop(next);
        assert_eq!(sig.receiver_count(), 0);
        // Two emissions before the first poll: the future gives the first.
        let mut next = sig.next_emission();
        sig.emit(&"one".to_string());
        sig.emit(&"two".to_string());
        assert_eq!(
            Pin::new(&mut next).poll(&mut cx),
            Poll::Ready(Some("one".to_string()))
        );
        drop(next);
        let mut next = sig.next_emission();
        drop(sig);
        assert_eq!(Pin::new(&mut next).poll(&mut cx), Poll::Ready(None));
    }
}
