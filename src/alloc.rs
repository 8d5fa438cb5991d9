//! The standalone allocator: `RingPtr`s from any thread, without the ring.
//!
//! It claims a free slot with one CAS on its metadata word (generation + 1,
//! `FILLING`), which is safe against the writer because the writer only
//! ever claims free slots with a CAS too, and reuses its own (`RING`) slots,
//! which the allocator never touches (see `pool.rs`). It fills the slot, then
//! publishes it with one Release store (refcount 1): until then no handle,
//! not even a guessed one, upgrades to the half-written slot. In a shared
//! runtime the claim names the claiming process, so that if it dies
//! mid-fill, the process that reaps it gives the slot back. When a pool
//! has no free slot, the allocator raises the class's "want" flag; the writer
//! then hands back the slots it keeps for reuse on its next publish of that
//! class. If no writer exists, an allocator that finds a pool empty takes
//! the free writer role for a moment to return the slots the last writer
//! kept (a writer dropped while readers still needed its last events, or
//! one whose process died).

use crate::error::{AllocError, UpgradeError, ViewError};
use crate::event::SizeClass;
use crate::failpoint::failpoint;
use crate::lifetime::{Anchor, Shared};
use crate::ring_ptr::{Handle, RingPtr, check_view};
use crate::slot_alloc;
use crate::sync::{Arc, Ordering::*};
use crate::writer::Writer;
use bytemuck::Pod;
use std::fmt;
#[cfg(not(loom))]
use {crate::task_wait::SlotWait, std::task::Poll};

/// Hands out [`RingPtr`]s to pool slots from any thread, with no ring in
/// between: the actor use case. Allocate and fill a slot, send clones to
/// several actors; the slot returns to its pool when the last clone drops.
///
/// `Allocator` is `Clone + Send + Sync`; allocation is lock-free (one CAS on
/// the slot found). A full pool is an error ([`AllocError::Full`]), never a
/// panic; the async forms ([`alloc_with_async`](Allocator::alloc_with_async)
/// and the others) wait for a free slot instead.
///
/// ```
/// use slotcast::{Runtime, SizeClass};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new()?;
/// let alloc = rt.allocator();
/// let msg = alloc.try_alloc_bytes(9, b"to every actor")?;
/// let copies: Vec<_> = (0..3).map(|_| msg.clone()).collect();
/// let handles: Vec<_> = copies
///     .into_iter()
///     .map(|m| std::thread::spawn(move || m.len()))
///     .collect();
/// for h in handles {
///     assert_eq!(h.join().unwrap(), 14);
/// }
/// drop(msg); // the last reference: the slot is free again
/// assert_eq!(rt.stats().pool(SizeClass::XS).in_use, 0);
/// # Ok(())
/// # }
/// ```
pub struct Allocator {
    shared: Anchor,
}

impl Allocator {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared: Anchor::new(shared) }
    }

    /// Allocates a slot of `class` (or, if `class` has no slots, of the
    /// next larger class that has: see [`Config::class_for`](crate::Config::class_for)),
    /// lets `fill` write the payload in place and returns the only pointer
    /// to it, of type `event_type`. `fill` gets the whole slot (bytes of an
    /// earlier event included) and returns the payload length: the same
    /// form as the writer's
    /// [`try_publish_with`](crate::Writer::try_publish_with), so one closure
    /// serves both, and a length cannot be forgotten.
    ///
    /// ```
    /// use slotcast::{AllocError, Runtime, SizeClass};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let alloc = rt.allocator();
    /// let ptr = alloc.try_alloc_with(SizeClass::XS, 4, |buf| {
    ///     buf[..2].copy_from_slice(b"hi");
    ///     2
    /// })?;
    /// assert_eq!((&ptr[..], ptr.event_type()), (&b"hi"[..], 4));
    /// // A length beyond the slot is refused, and the slot goes back.
    /// let err = alloc.try_alloc_with(SizeClass::XS, 4, |_| 65).unwrap_err();
    /// assert_eq!(err, AllocError::OverCapacity { len: 65, capacity: 64 });
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`AllocError::Full`] if the pool has no free slot;
    /// [`AllocError::NoSlots`] at once if neither `class` nor a larger class
    /// has slots; [`AllocError::OverCapacity`] if `fill` returns a length
    /// beyond the slot (the slot goes back to the pool);
    /// [`AllocError::Forked`] in a forked child.
    pub fn try_alloc_with<F: FnOnce(&mut [u8]) -> usize>(
        &self,
        class: SizeClass,
        event_type: u32,
        fill: F,
    ) -> Result<RingPtr, AllocError> {
        let class = self.route(class)?;
        let (slot, generation) = self.claim(class)?;
        failpoint!("alloc.claimed");
        slot_alloc::fill(&self.shared, class, slot, generation, event_type, fill)
    }

    /// Allocates a slot of the smallest class with slots that holds `bytes`
    /// and copies them in.
    ///
    /// # Errors
    ///
    /// [`AllocError::TooLarge`] over 16 KB, [`AllocError::NoSlots`] if no
    /// class that holds them has slots, [`AllocError::Full`].
    pub fn try_alloc_bytes(&self, event_type: u32, bytes: &[u8]) -> Result<RingPtr, AllocError> {
        let class = self.shared.config.pick_class(bytes.len())?;
        self.try_alloc_with(class, event_type, |buf| {
            buf[..bytes.len()].copy_from_slice(bytes);
            bytes.len()
        })
    }

    /// Allocates a copy of a plain-old-data value, as a typed pointer.
    ///
    /// # Errors
    ///
    /// [`AllocError::Align`] if `T` needs more than 64-byte alignment,
    /// [`AllocError::TooLarge`] if it is over 16 KB, and as
    /// [`try_alloc_bytes`](Allocator::try_alloc_bytes).
    pub fn try_alloc_pod<T: Pod>(&self, event_type: u32, value: &T) -> Result<RingPtr<T>, AllocError> {
        let view_error = |e| match e {
            ViewError::Align { required } => AllocError::Align { required },
            ViewError::Size { expected, .. } => AllocError::TooLarge { len: expected },
        };
        check_view::<T>(size_of::<T>()).map_err(view_error)?;
        let ptr = self.try_alloc_bytes(event_type, bytemuck::bytes_of(value))?;
        ptr.cast().map_err(view_error)
    }

    /// The event `handle` refers to, if still alive; see
    /// [`Runtime::upgrade`](crate::Runtime::upgrade).
    ///
    /// # Errors
    ///
    /// [`UpgradeError::Invalid`] or [`UpgradeError::Stale`].
    pub fn upgrade(&self, handle: Handle) -> Result<RingPtr, UpgradeError> {
        RingPtr::upgrade(self.shared.shared(), handle)
    }

    /// As [`try_alloc_with`](Allocator::try_alloc_with), waiting for a
    /// free slot as a future: back-pressure for a task that allocates
    /// faster than its readers drop pointers. The drop that frees a slot in
    /// this process wakes the waiting task (every pointer drop costs two
    /// dependent loads for it while nobody waits); a slot freed by another process,
    /// or by the writer handing back the slots it keeps, is seen at the
    /// wait's next nap (20 µs growing to 1 ms).
    ///
    /// Cancellation safe: dropping the future before it completes claims
    /// no slot and drops `fill` uncalled (the slot is claimed and filled in
    /// the poll that completes the future).
    ///
    /// ```
    /// use slotcast::{Runtime, SizeClass};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::builder().slots(SizeClass::S, 1).build()?;
    /// let alloc = rt.allocator();
    /// let first = alloc.alloc_bytes_async(0, &[1; 200]).await?;
    /// // The pool's only slot is taken: the next allocation waits for it.
    /// let release = tokio::spawn(async move {
    ///     tokio::task::yield_now().await;
    ///     drop(first);
    /// });
    /// let second = alloc.alloc_bytes_async(0, &[2; 200]).await?;
    /// assert_eq!(second[0], 2);
    /// release.await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_alloc_with`](Allocator::try_alloc_with), but never
    /// [`AllocError::Full`]: that is waited out.
    #[cfg(not(loom))]
    pub async fn alloc_with_async<F: FnOnce(&mut [u8]) -> usize>(
        &self,
        class: SizeClass,
        event_type: u32,
        fill: F,
    ) -> Result<RingPtr, AllocError> {
        let class = self.route(class)?;
        let mut wait = SlotWait::new(&self.shared.slot_tasks);
        let (slot, generation) = std::future::poll_fn(|cx| {
            // Registered before the look: a slot freed after it wakes us.
            wait.register(cx);
            match self.claim(class) {
                Err(AllocError::Full(_)) => {
                    wait.nap(cx);
                    Poll::Pending
                }
                claimed => Poll::Ready(claimed),
            }
        })
        .await?;
        drop(wait);
        failpoint!("alloc.claimed");
        slot_alloc::fill(&self.shared, class, slot, generation, event_type, fill)
    }

    /// As [`try_alloc_bytes`](Allocator::try_alloc_bytes), waiting for a
    /// free slot as a future (see [`alloc_with_async`](Allocator::alloc_with_async)).
    ///
    /// Cancellation safe, as [`alloc_with_async`](Allocator::alloc_with_async).
    ///
    /// # Errors
    ///
    /// As [`try_alloc_bytes`](Allocator::try_alloc_bytes), but never
    /// [`AllocError::Full`].
    #[cfg(not(loom))]
    pub async fn alloc_bytes_async(&self, event_type: u32, bytes: &[u8]) -> Result<RingPtr, AllocError> {
        let class = self.shared.config.pick_class(bytes.len())?;
        self.alloc_with_async(class, event_type, |buf| {
            buf[..bytes.len()].copy_from_slice(bytes);
            bytes.len()
        })
        .await
    }

    /// As [`try_alloc_pod`](Allocator::try_alloc_pod), waiting for a free
    /// slot as a future (see [`alloc_with_async`](Allocator::alloc_with_async)).
    ///
    /// Cancellation safe, as [`alloc_with_async`](Allocator::alloc_with_async).
    ///
    /// # Errors
    ///
    /// As [`try_alloc_pod`](Allocator::try_alloc_pod), but never
    /// [`AllocError::Full`].
    #[cfg(not(loom))]
    pub async fn alloc_pod_async<T: Pod>(&self, event_type: u32, value: &T) -> Result<RingPtr<T>, AllocError> {
        let view_error = |e| match e {
            ViewError::Align { required } => AllocError::Align { required },
            ViewError::Size { expected, .. } => AllocError::TooLarge { len: expected },
        };
        check_view::<T>(size_of::<T>()).map_err(view_error)?;
        let ptr = self.alloc_bytes_async(event_type, bytemuck::bytes_of(value)).await?;
        ptr.cast().map_err(view_error)
    }

    /// The class whose slots serve `class` (`class` itself, or the next
    /// larger class with slots); refuses in a forked child.
    fn route(&self, class: SizeClass) -> Result<SizeClass, AllocError> {
        if self.shared.forked() {
            return Err(AllocError::Forked);
        }
        self.shared.config.class_for(class).ok_or(AllocError::NoSlots(class))
    }

    /// As `claim_free`, and if the pool is empty, once more after releasing
    /// what dead processes held (shared runtimes) and what the ring keeps
    /// while no writer runs.
    fn claim(&self, class: SizeClass) -> Result<(u32, u32), AllocError> {
        match slot_alloc::claim_free(&self.shared, class) {
            Err(AllocError::Full(full)) => {
                let swept = self.shared.sweep_dead(false);
                if swept | self.return_ring_slots() {
                    slot_alloc::claim_free(&self.shared, class)
                } else {
                    Err(AllocError::Full(full))
                }
            }
            result => result,
        }
    }

    /// With no writer (it was dropped, or its process died), the slots it
    /// kept for reuse would stay the ring's until another writer comes:
    /// take the free role for a moment, so that the writer's own recovery
    /// and drop return every slot no reader needs any more. Returns whether
    /// it did. A live writer answers the `want` flag itself.
    ///
    /// Until a borrow returned every slot a writer (epoch) kept, once per
    /// process: taking the role builds a whole writer (allocations sized by
    /// the ring and the pools), which an allocator retrying on a full pool
    /// must not pay per attempt once there is nothing left to return (while
    /// a reader still covers kept slots, it does, to return them when the
    /// reader moves on). Epoch 0 (no writer ever) has nothing to return at
    /// all: the actor case, an allocator alone, never takes the role.
    fn return_ring_slots(&self) -> bool {
        let writer = &self.shared.arena.header().writer;
        // ORDERING: Relaxed; a pre-check, `Writer::borrow_role` acquires the role.
        if writer.owner.load(Relaxed) != 0 {
            return false;
        }
        // ORDERING: Relaxed; which writer's slots to return. Read before
        // the role is taken: a writer that comes and goes meanwhile has a
        // later epoch, so its slots are returned by a later call.
        let epoch = writer.epoch.load(Relaxed);
        // ORDERING: Relaxed; a process-local note, a hint.
        if epoch == self.shared.ring_slots_returned.load(Relaxed) {
            return false;
        }
        let Ok(mut writer) = Writer::borrow_role(Arc::clone(self.shared.shared_arc())) else {
            return false;
        };
        writer.give_back_idle_slots();
        // Slots a reader still covers stay the ring's: the next failed claim
        // borrows the role again to return them once the reader moved on.
        if !writer.keeps_slots() {
            // ORDERING: Relaxed; as above.
            self.shared.ring_slots_returned.store(epoch, Relaxed);
        }
        true
    }
}

impl Clone for Allocator {
    fn clone(&self) -> Self {
        Self::new(Arc::clone(self.shared.shared_arc()))
    }
}

impl fmt::Debug for Allocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Allocator").finish_non_exhaustive()
    }
}
