//! A claimed slot, filled in place and published with its length.

use super::core::WriterCore;
use crate::error::PublishError;
use crate::event::SizeClass;
use crate::failpoint::failpoint;
use crate::sync::PayloadMut;
use std::fmt;
use std::mem::ManuallyDrop;

/// A claimed slot: fill it in place through [`buf_mut`](Claim::buf_mut),
/// then [`publish`](Claim::publish) it with the length written.
///
/// The length is an argument of `publish`, not state of the claim: a claim
/// cannot be published without saying how much of the slot is the event, so
/// a forgotten length cannot publish an empty event. Dropping a claim
/// without publishing abandons it: nothing is published and the slot is
/// reused by the next claim.
///
/// ```
/// use slotcast::{Runtime, SizeClass};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new()?;
/// let mut reader = rt.reader()?;
/// let mut writer = rt.writer()?;
/// let mut claim = writer.try_claim(SizeClass::XS)?;
/// claim.buf_mut()[..5].copy_from_slice(b"hello");
/// claim.set_event_type(7);
/// let seq = claim.publish(5)?;
/// let ev = reader.try_recv()?.expect("published");
/// assert_eq!((ev.sequence(), ev.event_type(), ev.data()), (seq, 7, &b"hello"[..]));
/// # Ok(())
/// # }
/// ```
pub struct Claim<'a> {
    pub(super) core: &'a mut WriterCore,
    pub(super) class: SizeClass,
    pub(super) slot: u32,
    pub(super) generation: u32,
    pub(super) payload: ManuallyDrop<PayloadMut>,
    pub(super) event_type: u32,
    /// Committed: the payload access has ended.
    pub(super) done: bool,
}

impl Claim<'_> {
    /// The class of the slot: the class asked for, or the next larger one
    /// with slots if it has none.
    pub fn class(&self) -> SizeClass {
        self.class
    }

    /// Payload bytes the slot can hold.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.class.capacity()
    }

    /// The whole slot, to fill in place. Only the first `len` bytes given to
    /// [`publish`](Claim::publish) are published. Bytes of an earlier event
    /// may remain: slots are not cleared between uses.
    #[inline]
    pub fn buf_mut(&mut self) -> &mut [u8] {
        self.payload.bytes_mut()
    }

    /// Sets the event type tag (0 by default).
    #[inline]
    pub fn set_event_type(&mut self, event_type: u32) {
        self.event_type = event_type;
    }

    /// The event type tag so far.
    pub fn event_type(&self) -> u32 {
        self.event_type
    }

    /// The sequence number this event gets when published.
    pub fn sequence(&self) -> u64 {
        self.core.next
    }

    /// Publishes the first `len` bytes of the slot as the event and returns
    /// its sequence number. The event is visible to readers at once, or, if
    /// the writer defers its cursor store
    /// ([`Writer::set_flush_every`](crate::Writer::set_flush_every)), at the
    /// next flush.
    ///
    /// # Errors
    ///
    /// [`PublishError::OverCapacity`] if `len` exceeds
    /// [`capacity`](Claim::capacity): nothing is published and the slot is
    /// given back to the writer, reused by its next claim.
    #[inline(always)]
    pub fn publish(self, len: usize) -> Result<u64, PublishError> {
        let capacity = self.capacity();
        if len > capacity {
            // Dropped unpublished: the slot stays first in its FIFO.
            return Err(PublishError::OverCapacity { len, capacity });
        }
        Ok(self.commit(len as u32))
    }

    /// Commits the event with `len <= capacity` and flushes if due.
    #[inline(always)]
    pub(super) fn commit(mut self, len: u32) -> u64 {
        // End the write access before the event can be read.
        // SAFETY: `payload` is not used again (`done` makes drop skip it).
        unsafe { ManuallyDrop::drop(&mut self.payload) };
        self.done = true;
        let seq = self.core.commit(self.class, self.slot, self.generation, len, self.event_type);
        failpoint!("publish.committed");
        self.core.flush_if_due();
        seq
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Abandoned: the slot stays first in its FIFO, reusable at once.
            // SAFETY: `payload` is not used again.
            unsafe { ManuallyDrop::drop(&mut self.payload) };
        }
    }
}

impl fmt::Debug for Claim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claim")
            .field("class", &self.class)
            .field("sequence", &self.core.next)
            .field("event_type", &self.event_type)
            .finish()
    }
}
