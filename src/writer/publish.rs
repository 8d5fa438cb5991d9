//! The publishing forms of [`Writer`]: claim, copy bytes, copy a value, fill
//! in place with a closure; each as `try_x` / `x` / `x_timeout` /
//! `x_deadline`.

use super::Writer;
use super::claim::Claim;
use crate::error::{PublishError, TryPublishError};
use crate::event::SizeClass;
use crate::layout::INLINE_ALIGN;
use crate::wait::Deadline;
use bytemuck::Pod;
use std::time::{Duration, Instant};

/// Publishing. Every operation comes in four forms, crossbeam-channel's:
/// `try_x` returns [`Full`](crate::Full) at once when the ring or the
/// class's pool is full; `x` waits for room as long as it takes;
/// `x_timeout` waits at most a duration and `x_deadline` until an instant.
/// The writer waits with its [`wait_strategy`](Writer::wait_strategy), and
/// stores its published cursor before it waits (and before a `try_` form
/// reports full), so readers see every event it deferred and can make room.
///
/// Nothing is lost on failure: a copied payload is still the caller's, a
/// closure is handed back uncalled ([`TryPublishError`]).
///
/// XS events (up to 64 bytes) are carried in the ring entry and need no
/// slot. A larger class configured with 0 slots is served by the next larger
/// class that has slots ([`Config::class_for`](crate::Config::class_for));
/// if there is none, every form fails at once with
/// [`PublishError::NoSlots`], since no reader could ever make room.
impl Writer {
    /// Claims a slot of `class` to fill in place (zero copy) and publish
    /// with [`Claim::publish`]. If `class` has no slots, the slot is of the
    /// next larger class with slots (see [`Claim::class`]).
    ///
    /// # Errors
    ///
    /// [`PublishError::Full`] if the ring or the pool is full;
    /// [`PublishError::NoSlots`] if neither `class` nor a larger class has
    /// slots; [`PublishError::Forked`] in a forked child.
    #[inline]
    pub fn try_claim(&mut self, class: SizeClass) -> Result<Claim<'_>, PublishError> {
        Ok(self.core.claim_until(class, Deadline::now())?)
    }

    /// Claims a slot of `class`, waiting for room.
    ///
    /// # Errors
    ///
    /// At once, [`PublishError::NoSlots`] or [`PublishError::Forked`] (see
    /// [`try_claim`](Writer::try_claim)): there is nothing to wait for.
    #[inline]
    pub fn claim(&mut self, class: SizeClass) -> Result<Claim<'_>, PublishError> {
        Ok(self.core.claim_until(class, Deadline::NEVER)?)
    }

    /// Claims a slot of `class`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`try_claim`](Writer::try_claim); [`PublishError::Full`] once the
    /// timeout has passed.
    pub fn claim_timeout(&mut self, class: SizeClass, timeout: Duration) -> Result<Claim<'_>, PublishError> {
        Ok(self.core.claim_until(class, Deadline::after(timeout))?)
    }

    /// Claims a slot of `class`, waiting until `deadline` for room.
    ///
    /// # Errors
    ///
    /// As [`try_claim`](Writer::try_claim); [`PublishError::Full`] once the
    /// deadline has passed.
    pub fn claim_deadline(&mut self, class: SizeClass, deadline: Instant) -> Result<Claim<'_>, PublishError> {
        Ok(self.core.claim_until(class, Deadline::At(deadline))?)
    }

    /// Copies `bytes` into a slot of the smallest class that fits and has
    /// slots ([`Config::class_for_len`](crate::Config::class_for_len)) and
    /// publishes it. Returns the event's sequence number.
    ///
    /// # Errors
    ///
    /// [`PublishError::TooLarge`] over 16 KB, and as
    /// [`try_claim`](Writer::try_claim).
    #[inline]
    pub fn try_publish_bytes(&mut self, event_type: u32, bytes: &[u8]) -> Result<u64, PublishError> {
        self.publish_bytes_until(event_type, bytes, Deadline::now())
    }

    /// As [`try_publish_bytes`](Writer::try_publish_bytes), waiting for room.
    ///
    /// # Errors
    ///
    /// At once, [`PublishError::TooLarge`] over 16 KB,
    /// [`PublishError::NoSlots`] or [`PublishError::Forked`].
    #[inline]
    pub fn publish_bytes(&mut self, event_type: u32, bytes: &[u8]) -> Result<u64, PublishError> {
        self.publish_bytes_until(event_type, bytes, Deadline::NEVER)
    }

    /// As [`try_publish_bytes`](Writer::try_publish_bytes), waiting at most
    /// `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`try_publish_bytes`](Writer::try_publish_bytes);
    /// [`PublishError::Full`] once the timeout has passed.
    pub fn publish_bytes_timeout(
        &mut self,
        event_type: u32,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<u64, PublishError> {
        self.publish_bytes_until(event_type, bytes, Deadline::after(timeout))
    }

    /// As [`try_publish_bytes`](Writer::try_publish_bytes), waiting until
    /// `deadline` for room.
    ///
    /// # Errors
    ///
    /// As [`try_publish_bytes`](Writer::try_publish_bytes);
    /// [`PublishError::Full`] once the deadline has passed.
    pub fn publish_bytes_deadline(
        &mut self,
        event_type: u32,
        bytes: &[u8],
        deadline: Instant,
    ) -> Result<u64, PublishError> {
        self.publish_bytes_until(event_type, bytes, Deadline::At(deadline))
    }

    /// Publishes a copy of a plain-old-data value, in the smallest class that
    /// holds `size_of::<T>()` bytes; a value of up to 64 bytes that needs
    /// more than 16-byte alignment goes to a pool slot (class S or larger)
    /// rather than the ring entry, so that it can be viewed in place. Read it
    /// back with
    /// [`EventRef::as_pod`](crate::EventRef::as_pod) or
    /// [`RingPtr::cast`](crate::RingPtr::cast).
    ///
    /// # Errors
    ///
    /// As [`try_publish_bytes`](Writer::try_publish_bytes); for a value of
    /// up to 64 bytes needing more than 16-byte alignment, as for an S
    /// event ([`PublishError::NoSlots`] if no class from S up has slots).
    #[inline]
    pub fn try_publish_pod<T: Pod>(&mut self, event_type: u32, value: &T) -> Result<u64, PublishError> {
        self.publish_pod_until(event_type, value, Deadline::now())
    }

    /// As [`try_publish_pod`](Writer::try_publish_pod), waiting for room.
    ///
    /// # Errors
    ///
    /// As [`publish_bytes`](Writer::publish_bytes).
    pub fn publish_pod<T: Pod>(&mut self, event_type: u32, value: &T) -> Result<u64, PublishError> {
        self.publish_pod_until(event_type, value, Deadline::NEVER)
    }

    /// As [`try_publish_pod`](Writer::try_publish_pod), waiting at most
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// As [`publish_bytes_timeout`](Writer::publish_bytes_timeout).
    pub fn publish_pod_timeout<T: Pod>(
        &mut self,
        event_type: u32,
        value: &T,
        timeout: Duration,
    ) -> Result<u64, PublishError> {
        self.publish_pod_until(event_type, value, Deadline::after(timeout))
    }

    /// As [`try_publish_pod`](Writer::try_publish_pod), waiting until
    /// `deadline`.
    ///
    /// # Errors
    ///
    /// As [`publish_bytes_deadline`](Writer::publish_bytes_deadline).
    pub fn publish_pod_deadline<T: Pod>(
        &mut self,
        event_type: u32,
        value: &T,
        deadline: Instant,
    ) -> Result<u64, PublishError> {
        self.publish_pod_until(event_type, value, Deadline::At(deadline))
    }

    /// Claims a slot of `class`, lets `fill` write the event in place and
    /// publishes it as type `event_type`. `fill` gets the whole slot (for
    /// XS, the ring entry's 64 payload bytes; bytes of an earlier event
    /// included) and returns the payload length.
    ///
    /// This is the allocator's form too
    /// ([`Allocator::try_alloc_with`](crate::Allocator::try_alloc_with)):
    /// plain bytes in, the length out. Returning the length makes it
    /// impossible to forget, and the closure needs no slotcast type.
    ///
    /// ```
    /// use slotcast::{Runtime, SizeClass};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut writer = rt.writer()?;
    /// writer.try_publish_with(SizeClass::XS, 1, |buf| {
    ///     buf[..3].copy_from_slice(b"abc");
    ///     3
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryPublishError::Full`], [`TryPublishError::NoSlots`] or
    /// [`TryPublishError::Forked`] holding `fill`, uncalled, as
    /// [`try_claim`](Writer::try_claim) fails;
    /// [`TryPublishError::OverCapacity`] if `fill` returns a length beyond
    /// the slot: nothing is published and the slot is given back.
    #[inline]
    pub fn try_publish_with<F>(&mut self, class: SizeClass, event_type: u32, fill: F) -> Result<u64, TryPublishError<F>>
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        self.publish_with_until(class, event_type, fill, Deadline::now())
    }

    /// As [`try_publish_with`](Writer::try_publish_with), waiting for room.
    ///
    /// # Errors
    ///
    /// At once, [`TryPublishError::NoSlots`] or [`TryPublishError::Forked`]
    /// holding `fill`, uncalled; [`TryPublishError::OverCapacity`].
    #[inline]
    pub fn publish_with<F>(&mut self, class: SizeClass, event_type: u32, fill: F) -> Result<u64, TryPublishError<F>>
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        self.publish_with_until(class, event_type, fill, Deadline::NEVER)
    }

    /// As [`try_publish_with`](Writer::try_publish_with), waiting at most
    /// `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`try_publish_with`](Writer::try_publish_with);
    /// [`TryPublishError::Full`] once the timeout has passed.
    pub fn publish_with_timeout<F>(
        &mut self,
        class: SizeClass,
        event_type: u32,
        fill: F,
        timeout: Duration,
    ) -> Result<u64, TryPublishError<F>>
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        self.publish_with_until(class, event_type, fill, Deadline::after(timeout))
    }

    /// As [`try_publish_with`](Writer::try_publish_with), waiting until
    /// `deadline` for room.
    ///
    /// # Errors
    ///
    /// As [`try_publish_with`](Writer::try_publish_with);
    /// [`TryPublishError::Full`] once the deadline has passed.
    pub fn publish_with_deadline<F>(
        &mut self,
        class: SizeClass,
        event_type: u32,
        fill: F,
        deadline: Instant,
    ) -> Result<u64, TryPublishError<F>>
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        self.publish_with_until(class, event_type, fill, Deadline::At(deadline))
    }

    #[inline]
    fn publish_bytes_until(&mut self, event_type: u32, bytes: &[u8], deadline: Deadline) -> Result<u64, PublishError> {
        let class = SizeClass::for_len(bytes.len()).ok_or(PublishError::TooLarge { len: bytes.len() })?;
        self.publish_copy_until(class, event_type, bytes, deadline)
    }

    #[inline]
    fn publish_pod_until<T: Pod>(
        &mut self,
        event_type: u32,
        value: &T,
        deadline: Deadline,
    ) -> Result<u64, PublishError> {
        let bytes = bytemuck::bytes_of(value);
        let class = match SizeClass::for_len(bytes.len()) {
            // An XS event's payload is only 16-aligned in its ring entry.
            Some(SizeClass::XS) if align_of::<T>() > INLINE_ALIGN => SizeClass::S,
            Some(class) => class,
            None => return Err(PublishError::TooLarge { len: bytes.len() }),
        };
        self.publish_copy_until(class, event_type, bytes, deadline)
    }

    /// Copies `bytes`, which fit `class`, into a claim of `class`.
    #[inline]
    fn publish_copy_until(
        &mut self,
        class: SizeClass,
        event_type: u32,
        bytes: &[u8],
        deadline: Deadline,
    ) -> Result<u64, PublishError> {
        let mut claim = self.core.claim_until(class, deadline)?;
        // The claimed class is `class` or larger: `bytes` fits.
        claim.payload.bytes_mut()[..bytes.len()].copy_from_slice(bytes);
        claim.event_type = event_type;
        Ok(claim.commit(bytes.len() as u32))
    }

    #[inline]
    fn publish_with_until<F>(
        &mut self,
        class: SizeClass,
        event_type: u32,
        fill: F,
        deadline: Deadline,
    ) -> Result<u64, TryPublishError<F>>
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        match self.core.claim_until(class, deadline) {
            Ok(mut claim) => {
                let len = fill(claim.payload.bytes_mut());
                let capacity = claim.capacity();
                if len > capacity {
                    // Dropped unpublished: the slot stays first in its FIFO.
                    return Err(TryPublishError::OverCapacity { len, capacity });
                }
                claim.event_type = event_type;
                Ok(claim.commit(len as u32))
            }
            Err(why) => Err(TryPublishError::refused(why, fill)),
        }
    }
}
