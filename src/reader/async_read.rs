//! The async forms of the reader's waiting reads: `recv_async`,
//! `batch_async`, `read_async` (the waiting itself is `task_wait.rs`).

use super::{EventGuard, EventRef, ReadBatch, Reader};
use crate::error::ReadError;
use crate::task_wait::TaskWait;
use crate::wait::{self, Deadline};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Async reads. Each waits like its blocking form (`recv`, `batch`,
/// `read`), but as a future: the task, not its thread, waits, and any
/// executor can drive it (it uses nothing but the [`Waker`](std::task::Waker)).
/// The reader's [`WaitStrategy`](crate::WaitStrategy) plays no part: a
/// waiting task is woken by the writer's next publish (see the crate docs,
/// "Async").
///
/// **Cancellation safety.** Every one of these futures is cancellation
/// safe: dropping it before it completes (in a `select!` branch that lost,
/// or a timeout) reads nothing, leaves the cursor where it was and holds
/// nothing back. Once it completes, the event, batch or handler call it
/// returns is the reader's, as with the blocking forms.
///
/// ```
/// use slotcast::Runtime;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new()?;
/// let mut reader = rt.reader()?;
/// let mut writer = rt.writer()?;
/// let waiting = tokio::spawn(async move {
///     let event = reader.recv_async().await.unwrap();
///     (event.event_type(), event.data().to_vec())
/// });
/// tokio::task::yield_now().await; // the reader's task waits
/// writer.publish_bytes_async(1, b"hello").await?;
/// assert_eq!(waiting.await?, (1, b"hello".to_vec()));
/// # Ok(())
/// # }
/// ```
impl Reader {
    /// The next event, waiting for one as a future. The cursor moves past
    /// it when the returned guard is dropped.
    ///
    /// Cancellation safe: dropping the future before it completes reads
    /// nothing.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Reader::try_recv): what became of the stream
    /// ([`ReadError::Closed`], [`ReadError::WriterDead`], a lossy reader's
    /// [`ReadError::Lagged`]) ends the wait.
    pub async fn recv_async(&mut self) -> Result<EventGuard<'_>, ReadError> {
        Ready::new(self).await?;
        self.guard_at_cursor()
    }

    /// The events available (at least one, at most
    /// [`max_batch`](Reader::max_batch)), waiting for one as a future; the
    /// cursor moves past the events iterated when the batch is dropped.
    ///
    /// Cancellation safe: dropping the future before it completes reads
    /// nothing.
    ///
    /// # Errors
    ///
    /// As [`try_batch`](Reader::try_batch).
    pub async fn batch_async(&mut self) -> Result<ReadBatch<'_>, ReadError> {
        Ready::new(self).await?;
        self.batch_until(Deadline::now())
    }

    /// Calls `handler(event, end_of_batch)` for the events available, as
    /// [`try_read`](Reader::try_read) does, once at least one is: the wait
    /// is a future. Returns the number of events handled (at least one).
    ///
    /// Cancellation safe: dropping the future before it completes calls
    /// `handler` for nothing and reads nothing (the handler runs inside the
    /// poll that completes the future, never across an `.await`).
    ///
    /// # Errors
    ///
    /// As [`try_read`](Reader::try_read).
    pub async fn read_async<F: FnMut(EventRef<'_>, bool)>(&mut self, handler: F) -> Result<usize, ReadError> {
        Ready::new(self).await?;
        self.read_until(Deadline::now(), handler)
    }
}

/// Completes once the reader has an event to read (for a lossy reader:
/// pinned, as `available` leaves it) or the stream says what became of it.
/// The reads above go on in the same poll, so a pin never outlives it.
pub(super) struct Ready<'r> {
    reader: &'r mut Reader,
    wait: TaskWait,
}

impl<'r> Ready<'r> {
    pub(super) fn new(reader: &'r mut Reader) -> Self {
        Self { reader, wait: TaskWait::new() }
    }
}

impl Future for Ready<'_> {
    type Output = Result<(), ReadError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ready { reader, wait } = self.get_mut();
        poll_readable(reader, wait, cx)
    }
}

impl Drop for Ready<'_> {
    fn drop(&mut self) {
        self.wait.finish(&self.reader.shared);
    }
}

/// One poll of a wait for something to read: `Ready(Ok)` once an event is
/// available, `Ready(Err)` with what ended the stream (both end `wait`),
/// else `Pending` with the task registered to be woken.
pub(super) fn poll_readable(reader: &mut Reader, wait: &mut TaskWait, cx: &Context<'_>) -> Poll<Result<(), ReadError>> {
    // A registration that finds `published` moved (or the stream ended)
    // reads again; twice is enough among correct processes (the second
    // read finds the event or the end). A damaged file could make it
    // loop: then the task yields and is polled again.
    for _ in 0..3 {
        let found = match reader.available(Deadline::now()) {
            Ok(0) => None,
            Ok(_) => Some(Ok(())),
            Err(e) => Some(Err(e)),
        };
        if let Some(found) = found {
            wait.finish(&reader.shared);
            return Poll::Ready(found);
        }
        if let Some(registration) = reader.pos.blocking.take() {
            // A `Blocking` reader is counted in `blocking` for as long as it
            // is one (its sleeps need the writer's acknowledgement); a task
            // is counted only while it waits, so that the writer pays
            // nothing while no task waits. The next blocking wait counts
            // the reader again.
            wait::unregister_blocking(reader.shared.arena.header(), registration);
        }
        let dead_seen = Some(reader.pos.dead_seen);
        if wait.pend(&reader.shared, reader.pos.cursor, dead_seen, cx).is_none() {
            return Poll::Pending;
        }
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}
