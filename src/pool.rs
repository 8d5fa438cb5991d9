//! Slot lifetime: every transition of a slot's metadata word.
//!
//! The word is `generation << 32 | RING | ORPHAN | FILLING | refcount` (see
//! [`layout::meta`](crate::layout::meta)). The transitions, and who makes
//! them:
//!
//! ```text
//!                  writer: claim_for_ring (CAS)
//!   FREE (g,0) ─────────────────────────────────────▶ RING (g,0)
//!    │ ▲  ▲                                          │  ▲   │
//!    │ │  │ last RingPtr drops (fetch_sub)           │  │   │ writer: reuse (load + store, no RMW)
//!    │ │  │                                          │  └───┘ (g+1), only when no reader can see
//!    │ │  │        writer: hand_off (CAS)            │        the old event and refcount is 0
//!    │ │  └──────── (g,n) ◀──────────────────────────┘ when refcount > 0: RING cleared,
//!    │ │                                              the last RingPtr frees the slot
//!    │ │ allocator: abandon_alloc (store), or
//!    │ │ the reaper of a dead filler: reclaim_fill (CAS)
//!    │ └───────────────────────┐
//!    │ allocator:              │          allocator: finish_alloc (store)
//!    └─ claim_for_alloc (CAS) ─▶ FILLING (g+1,tag) ───────────────────────▶ ALLOCATED (g+1,1)
//!
//!   ALLOCATED (g, n) ── clone/retain/upgrade +1, drop −1 ──▶ FREE when 0
//! ```
//!
//! A `FILLING` word's refcount field is no count but the filler's tag: its
//! process entry + 1 (so 1 in process, where the one entry is 0; never 0,
//! which a reaper never reclaims).
//!
//! In a shared arena the refcount field of a filled or retained slot counts
//! nothing: it is non-zero while some process holds the slot, and which
//! processes do is recorded in the slot's holder bits (`holders.rs`). The
//! transitions above hold as drawn, with "+1" a touch of the field and "the
//! last drop" the `holders::try_free` of a slot left with no holder bit.
//!
//! The writer reuses its own slots with a plain store because nobody else can
//! write the word of a `RING` slot whose refcount is 0 and that no reader can
//! see any more: the allocator's CAS only takes slots without `RING`; clone
//! and drop need a live `RingPtr` (refcount > 0); upgrade's CAS refuses a
//! refcount of 0; and retain needs a reader whose cursor still covers the
//! slot's sequence. An event nobody retains therefore costs no atomic
//! read-modify-write from publish to reuse. The allocator publishes a filled
//! slot with a plain store for the same reason: a `FILLING` word is no free
//! slot, has no `RING` and no references, so nobody else writes it (but the
//! reaper of a filler that died, see `process::reap`).
//!
//! A refcount above 0 means "these bytes are complete and visible to
//! whoever acquires the count": every way it leaves 0 is a Release write
//! made after the bytes were written or acquired (`finish_alloc`, and
//! `retain` by a reader that acquired the writer's `published`), and every
//! later increment or decrement is a read-modify-write, which continues that
//! release sequence. So `upgrade`, which acquires the count, may read the
//! bytes even with a handle that reached it without any synchronisation (a
//! handle is plain data: it can be copied, guessed, or come from another
//! runtime).
//!
//! Every function returns what happened; none panics on a corrupted word.

use crate::layout::meta::{self, FILLING, ORPHAN, RC_LIMIT, RING};
use crate::sync::{self, AtomicU64, Ordering::*, mutant};

/// Aborts the process: a refcount about to overflow, as `Arc` does.
#[cold]
#[inline(never)]
fn refcount_overflow() -> ! {
    std::process::abort()
}

/// Writer: takes a free slot into its ring-owned set. Generation unchanged;
/// [`reuse`] bumps it when the slot is filled.
#[inline]
pub(crate) fn claim_for_ring(word: &AtomicU64) -> bool {
    // ORDERING: Relaxed; a pre-check, the CAS below acquires.
    let m = word.load(Relaxed);
    // ORDERING(slot-free): Acquire on success; pairs with the Release
    // fetch_sub of the slot's last `RingPtr` (or the writer's Release
    // `give_back` store), so their reads happen before our writes.
    meta::is_free(m) && word.compare_exchange(m, m | RING, Acquire, Relaxed).is_ok()
}

/// Allocator: takes a free slot to fill: a new generation and `FILLING`, so
/// no upgrade can reach it until [`finish_alloc`], tagged with `filler`
/// (the filler's process entry + 1; see [`reclaim_fill`]). Returns the
/// generation on success.
#[inline]
pub(crate) fn claim_for_alloc(word: &AtomicU64, filler: u64) -> Option<u32> {
    debug_assert!(filler <= meta::RC_MASK);
    // ORDERING: Relaxed; a pre-check, the CAS below acquires.
    let m = word.load(Relaxed);
    if !meta::is_free(m) {
        return None;
    }
    // Mutant: take the slot already referenced, as if filled (upgrades can
    // then reach it while it is being written).
    let new = mutant!(
        "alloc_unfilled",
        meta::next_generation(m, 0, 1),
        meta::next_generation(m, FILLING, filler & meta::RC_MASK)
    );
    // ORDERING(slot-free): Acquire on success; as in `claim_for_ring`.
    word.compare_exchange(m, new, Acquire, Relaxed).ok()?;
    Some(meta::generation(new))
}

/// Allocator: the slot claimed by [`claim_for_alloc`] with `generation` is
/// filled; it now has one reference, owned by the caller.
#[inline]
pub(crate) fn finish_alloc(word: &AtomicU64, generation: u32) {
    let filled = (u64::from(generation) << meta::GEN_SHIFT) | 1;
    // ORDERING(fill): Release; pairs with the Acquire CAS of `upgrade`, which
    // then sees the bytes written by the fill. A plain store: nobody else
    // writes a `FILLING` word (see the module docs).
    if !cfg!(slotcast_mutant = "alloc_unfilled") {
        word.store(filled, Release);
    }
}

/// Allocator: gives back a slot claimed by [`claim_for_alloc`] with
/// `generation` without publishing it (its fill failed or panicked).
pub(crate) fn abandon_alloc(word: &AtomicU64, generation: u32) {
    let free = u64::from(generation) << meta::GEN_SHIFT;
    // ORDERING(slot-free): Release; pairs with the Acquire CAS of the next
    // claimer, so our writes happen before theirs.
    word.store(free, Release);
}

/// Reaper: gives back a slot that the dead process tagged `filler` (its
/// entry + 1) claimed with [`claim_for_alloc`] and never published. Returns
/// whether it did.
pub(crate) fn reclaim_fill(word: &AtomicU64, filler: u64) -> bool {
    // ORDERING: Relaxed; the expected value of the CAS below.
    let m = word.load(Relaxed);
    if !meta::is_filling(m) || meta::filler(m) != filler || filler == 0 {
        return false;
    }
    let free = u64::from(meta::generation(m)) << meta::GEN_SHIFT;
    // ORDERING(slot-free): Release, as `abandon_alloc`; the filler is dead,
    // so its writes to the slot are over. A CAS, not a store: the word is
    // in a file other processes may have damaged.
    word.compare_exchange(m, free, Release, Relaxed).is_ok()
}

/// What the writer found when it went to reuse one of its slots.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// The slot is the writer's again, with this new generation.
    Reused(u32),
    /// `RingPtr`s still hold it: `RING` was cleared and the last of them
    /// will free it; the writer must forget the slot.
    HandedOff,
    /// The word is not a `RING` slot (corrupted, or taken over): forget it.
    NotOwned,
}

/// Writer, fast path of [`reuse`]: reuses a `RING` slot that no reader can
/// see any more and nobody retained (the common case), or returns `None` and
/// leaves the word alone, for [`reuse`] to sort out.
///
/// The caller guarantees what [`reuse`] requires.
#[inline]
pub(crate) fn try_reuse(word: &AtomicU64) -> Option<u32> {
    // ORDERING(slot-free): Acquire; as in `reuse`.
    let m = word.load(mutant!("fast_reuse_relaxed", Relaxed, Acquire));
    if m & (RING | ORPHAN | meta::RC_MASK) != RING {
        return None;
    }
    let new = mutant!("fast_reuse_no_bump", m, meta::next_generation(m, RING, 0));
    // ORDERING: Relaxed; as in `reuse`: only this thread writes a RING word
    // with a zero refcount.
    word.store(new, Relaxed);
    Some(meta::generation(new))
}

/// Writer: reuses a `RING` slot that no reader can see any more.
///
/// The caller guarantees that no reader's cursor covers the slot's last
/// sequence, so no new `RingPtr` can appear except from existing ones.
#[inline]
pub(crate) fn reuse(word: &AtomicU64) -> Reuse {
    // ORDERING(slot-free): Acquire; pairs with the Release fetch_sub of the
    // slot's last `RingPtr`, so its reads happen before our writes.
    let mut m = word.load(Acquire);
    loop {
        if !meta::is_ring(m) || m & ORPHAN != 0 {
            return Reuse::NotOwned;
        }
        if meta::refcount(m) == 0 {
            let new = meta::next_generation(m, RING, 0);
            // ORDERING: Relaxed; only this thread writes a RING word with a
            // zero refcount (see the module docs), and readers learn the new
            // generation from the descriptor, published with Release.
            word.store(new, Relaxed);
            return Reuse::Reused(meta::generation(new));
        }
        // Retained: give the slot to its `RingPtr`s.
        // ORDERING(slot-free): Release; the `fetch_sub`s of the `RingPtr`s
        // continue this release sequence, so the Acquire CAS of whoever
        // claims the slot after the last of them (`claim_for_*`) sees every
        // read of the event that this thread acquired from the readers'
        // cursors, not only the reads of the threads that retained it.
        // Failure: Acquire, as the load above (the count may now be 0).
        match word.compare_exchange_weak(m, m & !RING, mutant!("handoff_relaxed", Relaxed, Release), Acquire) {
            Ok(_) => return Reuse::HandedOff,
            Err(now) => m = now,
        }
    }
}

/// Writer: returns a `RING` slot that no reader can see any more to the free
/// set (refcount 0), or hands it to its `RingPtr`s (refcount > 0).
pub(crate) fn give_back(word: &AtomicU64) {
    // ORDERING(slot-free): Acquire; as in `reuse`.
    let mut m = word.load(Acquire);
    loop {
        if !meta::is_ring(m) {
            return;
        }
        // ORDERING(slot-free): Release; pairs with the Acquire CAS of the next
        // claimer, ordering the writer's (and readers') accesses before it.
        match word.compare_exchange_weak(m, m & !RING, Release, Acquire) {
            Ok(_) => return,
            Err(now) => m = now,
        }
    }
}

/// Reader: a new `RingPtr` for a slot the reader's cursor still covers.
/// Fails (and undoes the increment) if the word's generation is not the
/// descriptor's, which only a corrupted shared mapping can cause.
#[inline]
pub(crate) fn retain(word: &AtomicU64, generation: u32) -> bool {
    // ORDERING(fill): Release; the reader acquired the writer's fill of the
    // slot (through `published`), and an `upgrade` that acquires this count
    // (or a later one: increments and decrements continue the release
    // sequence) sees it too, whatever way its handle came (see the module
    // docs). The writer sees the new count through the reader's later
    // Release cursor store before it can consider the slot.
    let old = word.fetch_add(1, mutant!("retain_relaxed", Relaxed, Release));
    if meta::refcount(old) >= RC_LIMIT {
        refcount_overflow();
    }
    if meta::generation(old) != generation {
        release(word);
        return false;
    }
    true
}

/// `RingPtr::clone`: one more reference to a slot we already reference.
#[inline]
pub(crate) fn clone(word: &AtomicU64) {
    // ORDERING: Relaxed, as `Arc::clone`: a new reference is formed from an
    // existing one, which keeps the slot alive.
    let old = word.fetch_add(1, Relaxed);
    if meta::refcount(old) >= RC_LIMIT {
        refcount_overflow();
    }
}

/// What dropping a reference did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Released {
    /// Other references remain.
    Done,
    /// This was the last reference: the slot is free (or back with the
    /// writer, if the ring still covers it). A waiting allocator may look.
    Freed,
    /// This was the last reference of a slot of a dropped runtime: the caller
    /// must take part in freeing the arena.
    LastOrphan,
}

/// `RingPtr::drop`: one reference fewer.
#[inline]
pub(crate) fn release(word: &AtomicU64) -> Released {
    // ORDERING(slot-free): Release; pairs with the Acquire of whoever reuses
    // or claims the slot next (`reuse`, `claim_for_*`), so our reads of the
    // payload happen before their writes. Also with the Acquire fence of the
    // runtime's drop, which frees the arena after reading the count.
    let old = word.fetch_sub(1, mutant!("drop_relaxed", Relaxed, Release));
    if meta::refcount(old) == 1 && old & ORPHAN != 0 {
        // ORDERING(orphan): Acquire; pairs with the Release CAS in
        // `mark_orphan`, so this thread sees the arena's orphan count.
        sync::fence(Acquire);
        return Released::LastOrphan;
    }
    if meta::refcount(old) == 1 { Released::Freed } else { Released::Done }
}

/// `upgrade(handle)`: +1 only if the slot still holds `generation` and has
/// at least one reference, in one CAS. Never revives a count of 0.
#[inline]
pub(crate) fn upgrade(word: &AtomicU64, generation: u32) -> bool {
    // ORDERING: Relaxed; the expected value of the CAS below, which acquires.
    let mut m = word.load(Relaxed);
    loop {
        // A `FILLING` word is refused whatever its filler tag.
        if meta::generation(m) != generation || meta::refcount(m) == 0 || m & (ORPHAN | FILLING) != 0 {
            return false;
        }
        if meta::refcount(m) >= RC_LIMIT {
            refcount_overflow();
        }
        if cfg!(slotcast_mutant = "upgrade_split") {
            // Mutant: check, then increment: no longer one atomic step.
            // ORDERING(fill): as the CAS below.
            word.fetch_add(1, Acquire);
            return true;
        }
        // ORDERING(fill): Acquire on success, as `Weak::upgrade`; pairs with
        // the Release that made the count non-zero (`finish_alloc`,
        // `retain`), continued by every later RMW, so the event's bytes are
        // visible whatever way the handle came.
        match word.compare_exchange_weak(m, m + 1, Acquire, Relaxed) {
            Ok(_) => return true,
            Err(now) => m = now,
        }
    }
}

/// The runtime is being dropped: flags a slot that `RingPtr`s still hold so
/// its last drop reports [`Released::LastOrphan`]. Returns whether it did.
pub(crate) fn mark_orphan(word: &AtomicU64) -> bool {
    // ORDERING: Relaxed; the expected value of the CAS below. A count of 0
    // read here is acquired by the fence in `Shared::drop`.
    let mut m = word.load(Relaxed);
    loop {
        // A `FILLING` word's refcount field is a filler tag, no reference.
        if meta::refcount(m) == 0 || meta::is_filling(m) {
            return false;
        }
        // ORDERING(orphan): Release; pairs with the Acquire fence in
        // `release`, publishing the orphan count stored before.
        match word.compare_exchange_weak(m, m | ORPHAN, Release, Relaxed) {
            Ok(_) => return true,
            Err(now) => m = now,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::layout::meta::{generation, refcount};

    #[test]
    fn ring_cycle_costs_plain_stores_and_bumps_generations() {
        let w = AtomicU64::new(0);
        assert!(claim_for_ring(&w));
        assert!(!claim_for_ring(&w), "a RING slot is not free");
        assert_eq!(claim_for_alloc(&w, 0), None, "the allocator never takes a RING slot");
        assert_eq!(reuse(&w), Reuse::Reused(1));
        assert_eq!(reuse(&w), Reuse::Reused(2));
        give_back(&w);
        assert!(meta::is_free(w.load(Relaxed)));
    }

    #[test]
    fn retained_ring_slot_is_handed_off_and_freed_by_its_last_pointer() {
        let w = AtomicU64::new(0);
        assert!(claim_for_ring(&w));
        let Reuse::Reused(g) = reuse(&w) else { panic!() };
        assert!(retain(&w, g));
        clone(&w);
        assert_eq!(reuse(&w), Reuse::HandedOff);
        assert_eq!(refcount(w.load(Relaxed)), 2);
        assert!(!meta::is_free(w.load(Relaxed)));
        assert_eq!(release(&w), Released::Done);
        assert_eq!(release(&w), Released::Freed);
        assert!(meta::is_free(w.load(Relaxed)));
        assert_eq!(generation(w.load(Relaxed)), g);
    }

    /// `claim_for_alloc`, then `finish_alloc`: one reference.
    fn alloc(w: &AtomicU64) -> Option<u32> {
        let g = claim_for_alloc(w, 0)?;
        finish_alloc(w, g);
        Some(g)
    }

    #[test]
    fn allocation_is_unreachable_until_filled() {
        let w = AtomicU64::new(0);
        let g = claim_for_alloc(&w, 0).unwrap();
        assert!(!meta::is_free(w.load(Relaxed)), "a slot being filled is taken");
        assert_eq!(claim_for_alloc(&w, 0), None);
        assert!(!claim_for_ring(&w));
        assert!(!upgrade(&w, g), "an upgrade never reaches a slot being filled");
        assert_eq!(reuse(&w), Reuse::NotOwned);
        assert!(!mark_orphan(&w));
        finish_alloc(&w, g);
        assert_eq!(refcount(w.load(Relaxed)), 1);
        assert!(upgrade(&w, g), "filled: the handle upgrades");
        assert_eq!(release(&w), Released::Done);
        assert_eq!(release(&w), Released::Freed);
        assert!(meta::is_free(w.load(Relaxed)));
    }

    #[test]
    fn a_dead_fillers_slot_is_reclaimed_by_its_tag_only() {
        let w = AtomicU64::new(0);
        let g = claim_for_alloc(&w, 3).unwrap();
        assert!(!upgrade(&w, g), "the filler tag is no reference");
        assert!(!mark_orphan(&w), "nor for the orphan protocol");
        assert!(!reclaim_fill(&w, 2), "another process's tag");
        assert!(!reclaim_fill(&w, 0), "tag 0 names no filler and is never reclaimed");
        assert!(reclaim_fill(&w, 3));
        assert!(meta::is_free(w.load(Relaxed)));
        assert_eq!(generation(w.load(Relaxed)), g);
        assert!(!reclaim_fill(&w, 3), "a free slot is left alone");
        // A published fill is not reclaimed by its tag: its holder bit is
        // cleared instead (`holders.rs`).
        let g = claim_for_alloc(&w, 3).unwrap();
        finish_alloc(&w, g);
        assert!(!reclaim_fill(&w, 3));
        assert_eq!(refcount(w.load(Relaxed)), 1);
    }

    #[test]
    fn abandoned_allocation_is_free_with_its_new_generation() {
        let w = AtomicU64::new(0);
        let g = claim_for_alloc(&w, 0).unwrap();
        abandon_alloc(&w, g);
        assert!(meta::is_free(w.load(Relaxed)));
        assert_eq!(generation(w.load(Relaxed)), g);
        assert!(!upgrade(&w, g));
        assert_eq!(alloc(&w), Some(g.wrapping_add(1)));
    }

    #[test]
    fn upgrade_checks_generation_and_liveness_together() {
        let w = AtomicU64::new(0);
        let g = alloc(&w).unwrap();
        assert!(upgrade(&w, g));
        assert!(!upgrade(&w, g.wrapping_add(1)), "wrong generation");
        assert_eq!(release(&w), Released::Done);
        assert_eq!(release(&w), Released::Freed);
        assert!(!upgrade(&w, g), "a count of 0 is never revived");
        let g2 = alloc(&w).unwrap();
        assert_ne!(g, g2);
        assert!(!upgrade(&w, g), "a recycled slot refuses the old generation");
    }

    #[test]
    fn retain_with_a_foreign_generation_is_refused_and_undone() {
        let w = AtomicU64::new(0);
        let g = alloc(&w).unwrap();
        assert!(!retain(&w, g + 7));
        assert_eq!(refcount(w.load(Relaxed)), 1);
    }

    #[test]
    fn orphan_marks_only_referenced_slots_and_the_last_drop_reports_it() {
        let w = AtomicU64::new(0);
        assert!(!mark_orphan(&w));
        alloc(&w).unwrap();
        clone(&w);
        assert!(mark_orphan(&w));
        assert_eq!(release(&w), Released::Done);
        assert_eq!(release(&w), Released::LastOrphan);
        assert!(!meta::is_free(w.load(Relaxed)), "an orphaned slot is never claimed again");
    }

    #[test]
    fn reuse_refuses_words_it_does_not_own() {
        let w = AtomicU64::new(0);
        assert_eq!(reuse(&w), Reuse::NotOwned);
        alloc(&w).unwrap();
        assert_eq!(reuse(&w), Reuse::NotOwned);
    }
}
