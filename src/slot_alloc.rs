//! Allocating one pool slot outside the ring: claim a free slot with one
//! CAS, fill it, publish it as held by one `RingPtr`. The standalone
//! [`Allocator`](crate::Allocator) is this plus its fallbacks; a reader
//! retaining an event carried in the ring (an XS event, see
//! `layout::RING_ENTRY`) copies it into a slot this way.
//!
//! See `alloc.rs` for why a claim here is safe against the writer.

use crate::error::{AllocError, Full};
use crate::event::SizeClass;
use crate::failpoint::failpoint;
use crate::holders;
use crate::layout::header_word;
use crate::lifetime::{Anchor, SharedHold};
use crate::pool;
use crate::ring_ptr::RingPtr;
use crate::sync::{AtomicU64, Ordering::*};

/// Gives back a freshly claimed slot if filling it panics or fails.
struct ClaimGuard<'a> {
    word: &'a AtomicU64,
    generation: u32,
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        pool::abandon_alloc(self.word, self.generation);
    }
}

/// Claims a free slot of `class`: `(slot, generation)`.
pub(crate) fn claim_free(shared: &Anchor, class: SizeClass) -> Result<(u32, u32), AllocError> {
    let arena = &shared.arena;
    let header = arena.header();
    let metas = arena.metas(class);
    let n = metas.len();
    let hint = &header.alloc_hint[class.index()].value;
    // Who fills the slot: in a shared arena our process entry + 1, so
    // that if we die mid-fill, whoever reaps us gives the slot back.
    let filler = shared.me.map_or(0, |entry| entry as u64 + 1);
    if n > 0 {
        // ORDERING: Relaxed; a hint where to start looking. Any value is
        // safe: it is reduced modulo the pool size.
        // The hint is the last slot taken + 1, so below `n` + 1 unless a
        // peer damaged it: a compare, not a division, in the common case.
        let hinted = hint.load(Relaxed);
        let start = if hinted < n as u64 { hinted as usize } else { (hinted % n as u64) as usize };
        let (tail, head) = metas.split_at(start);
        for (i, word) in head.iter().chain(tail).enumerate() {
            if let Some(generation) = pool::claim_for_alloc(word, filler) {
                let slot = if start + i < n { start + i } else { start + i - n };
                hint.store(slot as u64 + 1, Relaxed);
                return Ok((slot as u32, generation));
            }
        }
    }
    // ORDERING: Relaxed; a request flag for the writer (see module docs).
    header.want.want[class.index()].store(1, Relaxed);
    Err(AllocError::Full(Full::Pool(class)))
}

/// Lets `fill` write the claimed slot `slot` of `class` (taken with
/// [`claim_free`] at `generation`) and returns the only pointer to it, of
/// type `event_type`. If `fill` returns a length beyond the slot, or
/// panics, the slot goes back to the pool.
///
/// # Errors
///
/// [`AllocError::OverCapacity`]; [`AllocError::Full`] for a damaged shared
/// file with no holder words for the slot.
#[inline]
pub(crate) fn fill<F: FnOnce(&mut [u8]) -> usize>(
    shared: &Anchor,
    class: SizeClass,
    slot: u32,
    generation: u32,
    event_type: u32,
    fill: F,
) -> Result<RingPtr, AllocError> {
    let arena = &shared.arena;
    let word = &arena.metas(class)[slot as usize];
    let guard = ClaimGuard { word, generation };
    let len = {
        // SAFETY: the slot is in range, and ours alone: we took it free
        // and it stays `FILLING`, which nothing but `finish_alloc` (or
        // the reaper, once this process is dead) changes, until we
        // publish it below.
        let mut payload = unsafe { arena.payload_mut(class, slot as usize) };
        fill(payload.bytes_mut())
    };
    if len > class.capacity() {
        // `guard` gives the slot back.
        return Err(AllocError::OverCapacity { len, capacity: class.capacity() });
    }
    std::mem::forget(guard);
    failpoint!("alloc.filled");
    // The slot's record of the event, for handle upgrades. ORDERING:
    // Relaxed; published by the Release store of `finish_alloc`.
    arena.slot_headers(class)[slot as usize].store(header_word::pack(len as u32, event_type), Relaxed);
    // In a shared runtime our holder bit is set before the slot counts
    // as held, so that if we die at any point a reaper finds the hold.
    let publish = |word: &AtomicU64, bits: &[AtomicU64], entry| {
        holders::set_bit(bits, entry);
        failpoint!("alloc.bit_set");
        pool::finish_alloc(word, generation);
        failpoint!("alloc.finished");
        true
    };
    // `held` too: the slot was free, so no pointer of ours held it; only
    // a peer erasing our holder bit gets there. Publish it all the same.
    let how = SharedHold { held: publish, take: publish };
    let local = match shared.hold_shared(class, slot, how) {
        Some(Ok(local)) => Some(local),
        Some(Err(())) => {
            // A damaged file (no holder words for the slot): give it back.
            pool::abandon_alloc(word, generation);
            return Err(AllocError::Full(Full::Pool(class)));
        }
        None => {
            pool::finish_alloc(word, generation);
            None
        }
    };
    // SAFETY: the arena is alive, the slot in range, and the reference
    // published above (refcount 1 in process, this process's hold and
    // local word in a shared runtime), for `generation`, moves into the
    // pointer.
    Ok(unsafe { RingPtr::from_reference(shared.ctl_ptr(), class, slot, generation, len as u32, event_type, local) })
}
