//! Shared runtimes: which processes hold a slot, recorded so that whatever
//! a dead process held is released exactly, wherever it died.
//!
//! In process, a slot's metadata refcount counts `RingPtr`s. Across
//! processes that cannot work: a process may die between any two
//! instructions, and a count does not say whose references it holds, so a
//! process killed between raising the count and recording that it did (or
//! between forgetting and lowering) leaks the slot or frees it twice. So a
//! shared arena records holds as **one bit per process and slot** (the
//! slot's holder words, see `layout.rs`), and setting or clearing one's own
//! bit is idempotent: a survivor that reaps a dead process clears its bits,
//! whatever step it died at.
//!
//! The metadata word's refcount field then counts nothing: it is non-zero
//! exactly while the slot is held, and every new hold changes it (one CAS,
//! [`meta::next_touch`]), so that whoever frees a slot can tell whether a
//! hold came in meanwhile.
//!
//! **Hold** (retain, upgrade): set our bit, then the touch CAS, which checks
//! the generation (and, for an upgrade, that the slot is held). On failure,
//! clear the bit and try to free.
//! **Allocate**: claim the slot `FILLING` (tagged with our process entry),
//! fill it, set our bit, then publish it held (`pool::finish_alloc`).
//! **Release**: clear our bit, then [`try_free`]: if the slot is held and no
//! bit is set, free it with a CAS from the value read before the bits.
//!
//! Why the free is right: a holder sets its bit *before* its touch CAS. If
//! the freer's CAS succeeds, no touch came between its load of the word and
//! its CAS, so any hold that touched did so before that load; the freer
//! acquired that touch (Release) and so sees the holder's bit, and would not
//! have freed. A hold whose touch comes after the free sees the word freed
//! (or recycled: another generation) and fails. `try_free` is safe for
//! anyone at any time, which is what makes recovery simple: the reaper
//! clears the dead process's bits and runs `try_free` on every slot.
//!
//! Killed at each step (the kill points in `tests/kill_points.rs`):
//! after setting its bit (`hold.bit_set`, `alloc.bit_set`): the reaper
//! clears it; after the touch (`hold.counted`) or the fill's publication
//! (`alloc.finished`): the reaper clears the bit and frees the slot; after
//! clearing its bit (`unhold.bit_cleared`): the slot is held with no bit,
//! and the reaper's `try_free` frees it; mid-fill: `process::reap` gives the
//! `FILLING` slot back by its tag.
//!
//! **This process's pointers** are counted in process memory
//! ([`ProcessHolds`]), one word per slot: the number of `RingPtr`s, a `HELD`
//! flag (this process has set its bit for the slot), and a `BUSY` flag under
//! which one thread at a time moves `HELD` (the bit is one per process, so
//! the first pointer of a slot and the last must not race each other). The
//! hold count that decides when the process unmaps the file (1 for the
//! handles, plus one per `HELD` slot) follows only these local words:
//! nothing another process writes into the file decides when this process
//! frees memory. A peer that damages a holder bit or a metadata word can
//! make a slot be reused while this process still reads it (wrong bytes,
//! as the trust model allows), never make this process unmap memory it
//! still uses.

use crate::failpoint::failpoint;
use crate::layout::HOLDERS_PER_WORD;
use crate::layout::meta::{self, FILLING, ORPHAN, RC_MASK};
use crate::sync::{self, AtomicU32, AtomicU64, Ordering::*, mutant};

/// The word and bit of process entry `entry` among a slot's holder words.
#[inline]
fn bit(entry: usize) -> (usize, u64) {
    (entry / HOLDERS_PER_WORD, 1 << (entry % HOLDERS_PER_WORD))
}

/// Sets `entry`'s holder bit of a slot.
#[inline]
pub(crate) fn set_bit(bits: &[AtomicU64], entry: usize) {
    let (w, b) = bit(entry);
    if let Some(word) = bits.get(w) {
        // ORDERING(holders): Relaxed; the Release write that makes the slot
        // count as held afterwards (the touch CAS in `hold`, the store in
        // `pool::finish_alloc`) publishes it to every `try_free` that reads
        // that write (see the module docs).
        word.fetch_or(b, Relaxed);
    }
}

/// Clears `entry`'s holder bit of a slot. Returns whether it was set.
#[inline]
pub(crate) fn clear_bit(bits: &[AtomicU64], entry: usize) -> bool {
    let (w, b) = bit(entry);
    // ORDERING(holders): AcqRel. Release: pairs with the Acquire bit loads of
    // `try_free`, so our reads of the slot happen before whoever frees it
    // (and whoever claims it after). Acquire: a reaper clearing a dead
    // process's bit orders the dead process's accesses before the free.
    bits.get(w).is_some_and(|word| word.fetch_and(!b, AcqRel) & b != 0)
}

/// Whether process entry `entry`'s bit is set.
pub(crate) fn has_bit(bits: &[AtomicU64], entry: usize) -> bool {
    let (w, b) = bit(entry);
    // ORDERING: Relaxed; statistics and reaping decide nothing from it but
    // whether to clear the bit (an idempotent RMW).
    bits.get(w).is_some_and(|word| word.load(Relaxed) & b != 0)
}

/// Takes a hold of process `entry` on a slot that holds `generation`: sets
/// the bit, then the touch CAS. With `need_live` (an upgrade) the slot must
/// already be held; without it (a reader's retain, whose cursor keeps the
/// slot in the ring) a ring-owned slot nobody holds is fine too. Returns
/// whether the hold was taken; on failure nothing of ours is left.
pub(crate) fn hold(word: &AtomicU64, bits: &[AtomicU64], entry: usize, generation: u32, need_live: bool) -> bool {
    set_bit(bits, entry);
    failpoint!("hold.bit_set");
    // ORDERING: Relaxed; the expected value of the CAS below.
    let mut m = word.load(Relaxed);
    loop {
        let live = meta::refcount(m) != 0 || (!need_live && meta::is_ring(m));
        if meta::generation(m) != generation || m & (FILLING | ORPHAN) != 0 || !live {
            // A freer may have stood down because it saw our bit.
            clear_bit(bits, entry);
            try_free(word, bits);
            return false;
        }
        // ORDERING(fill): AcqRel. Acquire, as `pool::upgrade`: pairs with the
        // Release write that made the slot held (`finish_alloc`, an earlier
        // touch), continued by every later RMW, so the event's bytes and
        // its slot header are visible whatever way a handle came. Release:
        // continues that release sequence with this retainer's view (it
        // acquired the writer's fill through `published`), and publishes our
        // bit to every `try_free` that reads this value.
        // Mutant: a CAS that leaves the word as it was (a freer that read
        // it before our bit was set then frees the slot under us).
        let touched = mutant!("hold_no_touch", m, meta::next_touch(m));
        match word.compare_exchange_weak(m, touched, AcqRel, Relaxed) {
            Ok(_) => break,
            Err(now) => m = now,
        }
    }
    failpoint!("hold.counted");
    true
}

/// Gives back process `entry`'s hold on a slot: clears the bit, then frees
/// the slot if no other process holds it.
pub(crate) fn unhold(word: &AtomicU64, bits: &[AtomicU64], entry: usize) {
    clear_bit(bits, entry);
    failpoint!("unhold.bit_cleared");
    try_free(word, bits);
    failpoint!("unhold.freed");
}

/// Frees a slot that is held (refcount field non-zero) while no holder bit
/// is set. Safe for anyone at any time (see the module docs). Returns
/// whether it freed the slot.
pub(crate) fn try_free(word: &AtomicU64, bits: &[AtomicU64]) -> bool {
    // ORDERING(holders): Acquire; pairs with the Release touch of the last
    // hold, so the bits loaded below include the holder's.
    let mut m = word.load(Acquire);
    loop {
        if meta::refcount(m) == 0 || m & (FILLING | ORPHAN) != 0 {
            return false;
        }
        // ORDERING(holders): Acquire; pairs with the Release clear of every
        // holder bit, so each holder's reads of the slot happen before the
        // free (and the next claimer's writes).
        if bits.iter().any(|w| w.load(Acquire) != 0) {
            return false;
        }
        // ORDERING(slot-free): Release; pairs with the Acquire of whoever
        // claims or reuses the slot next (`pool::claim_for_*`, `reuse`).
        // Failure: Acquire, as the load above.
        match word.compare_exchange(m, m & !RC_MASK, Release, Acquire) {
            Ok(_) => return true,
            Err(now) => m = now,
        }
    }
}

/// The local word's flag: this process has set its holder bit for the slot.
const HELD: u32 = 1 << 30;
/// The local word's flag: a thread is moving `HELD`; others wait.
const BUSY: u32 = 1 << 31;
/// The local word's pointer count.
const COUNT: u32 = HELD - 1;
/// Abort when an increment finds the count at this value (process memory:
/// an overflow is this process's bug, as for `Arc`), leaving 2^29 racing
/// increments of headroom below `HELD`.
const LIMIT: u32 = 1 << 29;

#[cold]
#[inline(never)]
fn overflow() -> ! {
    std::process::abort()
}

/// This process's pointers into a shared arena, in process memory (see the
/// module docs).
pub(crate) struct ProcessHolds {
    /// Per slot (numbered by `Arena::slot_index`): `BUSY | HELD | count`.
    words: Box<[AtomicU32]>,
    /// 1 for the runtime's handles + 1 per `HELD` slot: the process's view
    /// of the arena is freed when it reaches 0.
    holds: AtomicU64,
}

impl ProcessHolds {
    pub(crate) fn new(total_slots: usize) -> Self {
        Self { words: (0..total_slots).map(|_| AtomicU32::new(0)).collect(), holds: AtomicU64::new(1) }
    }

    /// See the field.
    pub(crate) fn holds(&self) -> &AtomicU64 {
        &self.holds
    }

    /// The local word of slot `index`.
    pub(crate) fn word(&self, index: usize) -> Option<&AtomicU32> {
        self.words.get(index)
    }

    /// One more pointer of this process to the slot of `local`. `held`
    /// runs when the process already holds the slot (it only checks the
    /// event, which cannot change while the hold lasts); `take` when it does
    /// not (it takes the hold in the file, see [`hold`]); `give` gives the
    /// hold back if `held` refused a pointer that turned out to be the
    /// process's last (see [`release`](Self::release)). Returns whether the
    /// pointer exists. The caller holds a handle of the runtime, so this
    /// never ends the process's view of the arena.
    pub(crate) fn acquire(
        &self,
        local: &AtomicU32,
        held: impl FnOnce() -> bool,
        take: impl FnOnce() -> bool,
        give: impl FnOnce(),
    ) -> bool {
        // Each runs at most once: every path that runs one returns.
        let (mut held, mut take, mut give) = (Some(held), Some(take), Some(give));
        let mut held = move || held.take().is_some_and(|check| check());
        // ORDERING: Acquire; pairs with the Release store or RMW of the
        // thread that made this process's hold, so its view of the event
        // (and the generation) is ours.
        let mut w = local.load(Acquire);
        loop {
            if w & BUSY != 0 {
                // Another thread is moving the hold: a few instructions.
                sync::yield_now();
                // ORDERING: Acquire; as above.
                w = local.load(Acquire);
                continue;
            }
            if w & COUNT != 0 {
                // Another pointer of this process held the slot when we
                // loaded `w` (perhaps no longer: a load may be stale). Take a
                // pointer first, then check the event: once the CAS has
                // succeeded our pointer keeps the hold, so the check is
                // about the slot as it stays.
                // ORDERING: AcqRel; Acquire as above, Release for the next
                // thread that takes a pointer this way.
                match local.compare_exchange_weak(w, w + 1, AcqRel, Acquire) {
                    Ok(_) if w & COUNT >= LIMIT => overflow(),
                    Ok(_) if held() => return true,
                    Ok(_) => {
                        // Not this event (a stale handle): our pointer goes.
                        let last = self.release(local, || give.take().into_iter().for_each(|give| give()));
                        debug_assert!(!last, "the caller's handle keeps the view of the arena");
                        return false;
                    }
                    Err(now) => w = now,
                }
                continue;
            }
            // ORDERING: Acquire; as above.
            if let Err(now) = local.compare_exchange_weak(w, w | BUSY, Acquire, Acquire) {
                w = now;
                continue;
            }
            // `HELD` with no pointer: a thread that dropped the last one is
            // on its way to give the hold back; it will find our pointer and
            // leave the hold to us.
            let was_held = w & HELD != 0;
            let ok = if was_held { held() } else { take.take().is_some_and(|take| take()) };
            if ok && !was_held {
                // ORDERING: Relaxed; the handles' hold keeps the count above 0
                // meanwhile, as `Arc::clone`.
                self.holds.fetch_add(1, Relaxed);
            }
            let flags = if ok || was_held { HELD } else { 0 };
            // ORDERING: Release; pairs with the Acquire loads above in this
            // process's other threads.
            local.store(flags | u32::from(ok), Release);
            return ok;
        }
    }

    /// `RingPtr::clone`: one more pointer of this process to the slot.
    #[inline]
    pub(crate) fn clone_one(local: &AtomicU32) {
        // ORDERING: Relaxed, as `Arc::clone`: formed from an existing pointer.
        if local.fetch_add(1, Relaxed) & COUNT >= LIMIT {
            overflow();
        }
    }

    /// `RingPtr::drop`: one pointer fewer; the last pointer of this process
    /// to the slot runs `give` (which gives the hold in the file back, see
    /// [`unhold`]). Returns whether this was the process's last hold of
    /// anything and its handles are gone too: the caller must then free the
    /// process's view of the arena.
    #[inline]
    pub(crate) fn release(&self, local: &AtomicU32, give: impl FnOnce()) -> bool {
        // ORDERING: Release; as `Arc::drop`: this pointer's reads happen
        // before the release of the slot by the last pointer (which acquires
        // below).
        if local.fetch_sub(1, Release) & COUNT != 1 {
            return false;
        }
        // ORDERING: Acquire; pairs with the Release decrements of this
        // process's other pointers.
        sync::fence(Acquire);
        // ORDERING: Acquire; as in `acquire`.
        let mut w = local.load(Acquire);
        loop {
            if w & COUNT != 0 || w & HELD == 0 {
                // Another thread took a pointer meanwhile (the hold is its
                // own now), or gave the hold back already.
                return false;
            }
            if w & BUSY != 0 {
                sync::yield_now();
                // ORDERING: Acquire; as in `acquire`.
                w = local.load(Acquire);
                continue;
            }
            // ORDERING: Acquire; as in `acquire`.
            match local.compare_exchange_weak(w, w | BUSY, Acquire, Acquire) {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        give();
        // ORDERING: Release; pairs with the Acquire loads of `acquire`.
        local.store(0, Release);
        // ORDERING: AcqRel; whoever brings the count to 0 frees the view of
        // the arena, after every other use of it in this process.
        self.holds.fetch_sub(1, AcqRel) == 1
    }

    /// Slots this process holds.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn held(&self) -> usize {
        // ORDERING: Relaxed; a snapshot.
        self.words.iter().filter(|w| w.load(Relaxed) & HELD != 0).count()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn words(n: usize) -> Vec<AtomicU64> {
        (0..n).map(|_| AtomicU64::new(0)).collect()
    }

    /// A held slot of generation 5: refcount field 1, process 3's bit set.
    fn held_slot(bits: &[AtomicU64]) -> AtomicU64 {
        set_bit(bits, 3);
        AtomicU64::new((5 << meta::GEN_SHIFT) | 1)
    }

    #[test]
    fn the_last_holder_frees_and_a_hold_in_between_keeps_the_slot() {
        let bits = words(2);
        let word = held_slot(&bits);
        assert!(hold(&word, &bits, 70, 5, true), "process 70 (second word) holds too");
        unhold(&word, &bits, 3);
        assert_ne!(meta::refcount(word.load(Relaxed)), 0, "process 70 still holds it");
        unhold(&word, &bits, 70);
        assert_eq!(word.load(Relaxed), 5 << meta::GEN_SHIFT, "free, same generation");
        assert!(!hold(&word, &bits, 3, 5, true), "an upgrade never revives a free slot");
        assert!(bits.iter().all(|w| w.load(Relaxed) == 0), "a failed hold leaves no bit");
    }

    #[test]
    fn a_retain_takes_a_ring_slot_nobody_holds_but_checks_the_generation() {
        let bits = words(1);
        let word = AtomicU64::new((9 << meta::GEN_SHIFT) | meta::RING);
        assert!(!hold(&word, &bits, 0, 8, false), "another generation: refused");
        assert!(hold(&word, &bits, 0, 9, false));
        assert_eq!(meta::refcount(word.load(Relaxed)), 1);
        unhold(&word, &bits, 0);
        assert_eq!(word.load(Relaxed), (9 << meta::GEN_SHIFT) | meta::RING, "back to the writer");
    }

    #[test]
    fn a_held_slot_without_bits_is_freed_by_anyone_once() {
        let bits = words(1);
        let word = held_slot(&bits);
        assert!(!try_free(&word, &bits), "process 3 holds it");
        // Process 3 died after clearing its bit, before freeing.
        clear_bit(&bits, 3);
        assert!(try_free(&word, &bits));
        assert!(!try_free(&word, &bits), "already free");
        let filling = AtomicU64::new(FILLING | 2);
        assert!(!try_free(&filling, &bits), "a fill in progress is the reaper's, by its tag");
    }

    #[test]
    fn touches_never_overflow_or_reach_zero_whatever_the_file_holds() {
        for rc in [1, meta::RC_LIMIT - 1, meta::RC_LIMIT, meta::RC_MASK] {
            let next = meta::refcount(meta::next_touch((7 << meta::GEN_SHIFT) | rc));
            assert!((1..=meta::RC_LIMIT).contains(&next), "{rc} -> {next}");
        }
        let bits = words(1);
        let word = AtomicU64::new((1 << meta::GEN_SHIFT) | meta::RC_LIMIT);
        assert!(hold(&word, &bits, 0, 1, true), "a huge count is no reason to abort");
        assert_eq!(meta::generation(word.load(Relaxed)), 1, "no carry into the generation");
    }

    #[test]
    fn local_counts_move_the_hold_once_per_slot() {
        let local = ProcessHolds::new(1);
        let w = local.word(0).unwrap();
        let (mut takes, mut gives) = (0, 0);
        let take = || {
            takes += 1;
            true
        };
        assert!(local.acquire(w, || unreachable!(), take, || unreachable!()));
        assert!(local.acquire(w, || true, || unreachable!(), || unreachable!()), "a second pointer only checks");
        assert!(!local.acquire(w, || false, || unreachable!(), || unreachable!()), "a refused check undoes itself");
        ProcessHolds::clone_one(w);
        assert_eq!(local.holds().load(Relaxed), 2, "handles + one held slot");
        assert!(!local.release(w, || unreachable!()));
        assert!(!local.release(w, || unreachable!()));
        assert!(!local.release(w, || gives += 1), "the handles' hold remains");
        assert_eq!((takes, gives, local.held()), (1, 1, 0));
        assert!(!local.acquire(w, || unreachable!(), || false, || unreachable!()), "a refused take leaves nothing");
        assert_eq!(w.load(Relaxed), 0);
        assert_eq!(local.holds().fetch_sub(1, Relaxed), 1);
    }

    #[test]
    fn threads_racing_the_first_and_last_pointer_keep_the_hold_exact() {
        use crate::sync::Arc;
        let local = Arc::new(ProcessHolds::new(1));
        let bit = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (local, bit) = (Arc::clone(&local), Arc::clone(&bit));
                std::thread::spawn(move || {
                    let w = local.word(0).unwrap();
                    for _ in 0..if cfg!(miri) { 50 } else { 20_000 } {
                        let give = || assert_eq!(bit.swap(0, Relaxed), 1, "given back once");
                        assert!(local.acquire(w, || bit.load(Relaxed) == 1, || bit.swap(1, Relaxed) == 0, give));
                        assert_eq!(bit.load(Relaxed), 1, "a live pointer always has the hold");
                        local.release(w, || assert_eq!(bit.swap(0, Relaxed), 1, "given back once"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!((bit.load(Relaxed), local.held(), local.holds().load(Relaxed)), (0, 0, 1));
    }
}

/// What another process writes into a shared file: this process neither
/// aborts nor frees memory it still uses.
#[cfg(all(test, not(loom), not(miri), target_os = "linux"))]
mod damaged_file {
    use crate::Runtime;
    use crate::event::SizeClass;
    use crate::layout::meta;
    use crate::sync::Ordering::*;

    fn shared(tag: &str) -> Runtime {
        let path = std::env::temp_dir().join(format!("slotcast-holders-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Runtime::builder().shared(path).build().unwrap()
    }

    #[test]
    fn a_peer_erasing_every_hold_never_makes_this_process_unmap_early() {
        let rt = shared("erase");
        let p = rt.allocator().try_alloc_bytes(1, b"keep").unwrap();
        let q = p.clone();
        // A peer erases every record of holds: bits and refcount fields.
        let arena = &rt.shared().arena;
        for word in arena.holders().unwrap() {
            word.store(0, Relaxed);
        }
        for class in SizeClass::ALL {
            for word in arena.metas(class) {
                word.fetch_and(!meta::RC_MASK, Relaxed);
            }
        }
        drop(rt);
        drop(q);
        // Still mapped: the hold count lives in this process.
        assert_eq!(&*p, b"keep");
        drop(p);
    }

    #[test]
    fn huge_counts_in_the_file_are_no_reason_to_abort() {
        let rt = shared("huge");
        let mut reader = rt.reader().unwrap();
        let mut writer = rt.writer().unwrap();
        // In a pool slot (an XS event would be read in the ring).
        let event = |buf: &mut [u8]| {
            buf[..5].copy_from_slice(b"event");
            5
        };
        writer.try_publish_with(SizeClass::S, 3, event).unwrap();
        let kept = rt.allocator().try_alloc_bytes(4, b"allocated").unwrap();
        let arena = &rt.shared().arena;
        // Every refcount field as large as it gets.
        for word in arena.metas(SizeClass::XS).iter().chain(arena.metas(SizeClass::S)) {
            let m = word.load(Relaxed);
            if !meta::is_filling(m) {
                word.store((m & !meta::RC_MASK) | (meta::RC_LIMIT + 5), Relaxed);
            }
        }
        let event = reader.try_recv().unwrap().unwrap();
        let retained = event.retain().expect("a huge count does not stop a retain");
        drop(event);
        let upgraded = rt.upgrade(kept.handle()).expect("nor an upgrade");
        assert_eq!((&*retained, &*upgraded), (&b"event"[..], &b"allocated"[..]));
        drop((retained, upgraded, kept));
    }
}

/// The race that `try_free`'s correctness rests on, under loom (run by
/// `.ci/loom` with `cargo test --lib holders::loom_model`; in-crate, since
/// loom runtimes are in-process and never reach these functions through the
/// public API). Loom cannot judge the Acquire/Release of the bit RMWs (it
/// lets an RMW see the newest store); the touch, which the mutant
/// `hold_no_touch` removes, is what the model checks.
#[cfg(all(loom, test))]
mod loom_model {
    use super::*;
    use crate::sync::Arc;

    /// Process 0 holds the slot and gives it back while process 1 upgrades
    /// a handle to it: either process 1 holds it afterwards (and the slot is
    /// not free) or its upgrade failed (and the slot is free, with no bit).
    #[test]
    fn an_upgrade_racing_the_last_release_holds_a_live_slot_or_fails() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let word = Arc::new(AtomicU64::new((5 << meta::GEN_SHIFT) | 1));
            let bits = Arc::new([AtomicU64::new(1)]);
            let releaser = {
                let (word, bits) = (Arc::clone(&word), Arc::clone(&bits));
                loom::thread::spawn(move || unhold(&word, &bits[..], 0))
            };
            let held = hold(&word, &bits[..], 1, 5, true);
            releaser.join().unwrap();
            let (m, b) = (word.load(Relaxed), bits[0].load(Relaxed));
            if held {
                assert_ne!(meta::refcount(m), 0, "process 1 holds a slot that was freed");
                assert_eq!(b, 0b10);
            } else {
                assert_eq!((meta::refcount(m), b), (0, 0), "a failed upgrade found the slot free");
            }
        });
    }
}
