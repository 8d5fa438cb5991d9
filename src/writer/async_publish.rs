//! The async publishing forms of [`Writer`]: each waits for room in the
//! ring or a pool as a future (see `task_wait.rs` for how).

use super::Writer;
use super::claim::Claim;
use crate::error::{PublishError, TryPublishError};
use crate::event::SizeClass;
use crate::task_wait::RoomBackoff;
use bytemuck::Pod;

/// Async publishing: the forms of `claim`, `publish_bytes`, `publish_pod`
/// and `publish_with` that wait for room as futures, on any executor.
/// Readers never wake the writer (that would cost every read an atomic
/// read-modify-write): a task facing a full ring or pool yields to its
/// executor a few times, then looks again after naps of 20 µs growing to
/// 1 ms, as a `Blocking` writer sleeps.
///
/// **Cancellation safety.** Every one of these futures is cancellation
/// safe: dropping it before it completes publishes nothing and claims
/// nothing (the event is published, whole, in the poll that completes the
/// future, or not at all); the bytes or value are still the caller's, and
/// the closure of [`publish_with_async`](Writer::publish_with_async) is
/// dropped uncalled.
///
/// ```
/// use slotcast::Runtime;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::builder().ring_capacity(16).build()?;
/// let mut reader = rt.reader()?;
/// let mut writer = rt.writer()?;
/// // Twice the ring: the writer waits for the reader, task to task.
/// let reading = tokio::spawn(async move {
///     let mut sum = 0u64;
///     for _ in 0..32 {
///         sum += u64::from(reader.recv_async().await.unwrap().data()[0]);
///     }
///     sum
/// });
/// for i in 0..32u8 {
///     writer.publish_bytes_async(0, &[i]).await?;
/// }
/// assert_eq!(reading.await?, (0..32).sum::<u64>());
/// # Ok(())
/// # }
/// ```
impl Writer {
    /// Claims a slot of `class` to fill in place and publish with
    /// [`Claim::publish`], waiting for room as a future.
    ///
    /// Cancellation safe: dropping the future before it completes claims
    /// nothing.
    ///
    /// # Errors
    ///
    /// As [`claim`](Writer::claim): [`PublishError::NoSlots`] or
    /// [`PublishError::Forked`] at once.
    pub async fn claim_async(&mut self, class: SizeClass) -> Result<Claim<'_>, PublishError> {
        let mut backoff = RoomBackoff::new();
        while !self.core.has_room(class)? {
            backoff.pause().await;
        }
        self.try_claim(class)
    }

    /// Copies `bytes` into a slot of the smallest class that fits and
    /// publishes it, waiting for room as a future. Returns the sequence.
    ///
    /// Cancellation safe: dropping the future before it completes publishes
    /// nothing.
    ///
    /// # Errors
    ///
    /// As [`publish_bytes`](Writer::publish_bytes).
    pub async fn publish_bytes_async(&mut self, event_type: u32, bytes: &[u8]) -> Result<u64, PublishError> {
        let mut backoff = RoomBackoff::new();
        loop {
            match self.try_publish_bytes(event_type, bytes) {
                Err(PublishError::Full(_)) => backoff.pause().await,
                done => return done,
            }
        }
    }

    /// Publishes a copy of a plain-old-data value (as
    /// [`try_publish_pod`](Writer::try_publish_pod)), waiting for room as a
    /// future.
    ///
    /// Cancellation safe: dropping the future before it completes publishes
    /// nothing.
    ///
    /// # Errors
    ///
    /// As [`publish_pod`](Writer::publish_pod).
    pub async fn publish_pod_async<T: Pod>(&mut self, event_type: u32, value: &T) -> Result<u64, PublishError> {
        let mut backoff = RoomBackoff::new();
        loop {
            match self.try_publish_pod(event_type, value) {
                Err(PublishError::Full(_)) => backoff.pause().await,
                done => return done,
            }
        }
    }

    /// Claims a slot of `class`, lets `fill` write the payload in place and
    /// publishes it (as [`try_publish_with`](Writer::try_publish_with)),
    /// waiting for room as a future; `fill` runs once there is room.
    ///
    /// Cancellation safe: dropping the future before it completes drops
    /// `fill` uncalled and publishes nothing.
    ///
    /// # Errors
    ///
    /// As [`publish_with`](Writer::publish_with) (the closure handed back
    /// uncalled).
    pub async fn publish_with_async<F>(
        &mut self,
        class: SizeClass,
        event_type: u32,
        fill: F,
    ) -> Result<u64, TryPublishError<F>>
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        let mut backoff = RoomBackoff::new();
        let mut fill = fill;
        loop {
            match self.try_publish_with(class, event_type, fill) {
                Err(TryPublishError::Full(_, back)) => {
                    fill = back;
                    backoff.pause().await;
                }
                done => return done,
            }
        }
    }
}
