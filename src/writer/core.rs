//! The writer's protocol: claiming a slot and a sequence, gating on the
//! readers, committing a descriptor and flushing the published cursor.
//!
//! [`WriterCore`] is everything the [`Writer`](super::Writer) handle owns;
//! the public forms (`writer.rs`, `claim.rs`, `publish.rs`) only call
//! [`WriterCore::claim_until`], [`WriterCore::commit`] and
//! [`WriterCore::flush`]. See `writer.rs` for the protocol as a whole.

use super::claim::Claim;
use super::owned::{Owned, OwnedSlots};
use crate::error::{Full, Refused};
use crate::event::SizeClass;
use crate::failpoint::failpoint;
use crate::layout::{CURSOR_PIN, GATE_BUSY, INLINE_SLOT, header_word, meta, reader_state, slot_word};
use crate::lifetime::{Anchor, Shared, is_forked};
use crate::pool::{self, Reuse};
use crate::sync::{Arc, Ordering::*, mutant};
use crate::wait::{self, Deadline, RoomWait, WaitStrategy};
use std::mem::ManuallyDrop;

/// Refresh the cached reader minimum at most once per this many events when
/// only a fresher value would let the writer reuse a slot. Between refreshes
/// it takes free slots instead, so the working set is about the readers'
/// lag plus this much.
const RECOMPUTE_EVERY: u64 = 32;

/// Ring room the writer grants itself per gating computation, at most, and
/// how far past the room it needs a lapped lossy reader is moved: a quarter
/// of the ring (at least 1). So a late joiner starting from the oldest
/// event finds at least three quarters of a ring still protected, a
/// stalled lossy reader costs the writer one gating computation per
/// quarter ring, and one that is lapped resumes a quarter ring past the
/// oldest event (the ones in between would be overwritten before it could
/// read them).
pub(crate) fn lap_slack(cap: u64) -> u64 {
    (cap / 4).max(1)
}

/// Every sequence (the published cursor, the gate word, a reader's cursor)
/// is below 2^63. A value at or above it in a shared file is corruption, not
/// history: at a billion events a second a writer needs 292 years to get
/// there. Bounding them keeps `cursor + capacity` from overflowing anywhere,
/// so the writer checks the published cursor once, when it takes the role,
/// and not per event.
pub(crate) const SEQUENCE_LIMIT: u64 = 1 << 63;

/// The writer's private state.
pub(crate) struct WriterCore {
    pub(super) shared: Anchor,
    cap: u64,
    /// Next sequence to claim.
    pub(super) next: u64,
    /// Last value stored to the `published` cursor.
    pub(super) published: u64,
    /// The slot floor: every reader's cursor that the writer must respect
    /// (gating readers', pinned or unlapped lossy readers') is at least
    /// this; slots last published below it are reusable. Never decreases.
    gate_min: u64,
    /// The ring floor: at most `gate_min`, and at least a ring minus
    /// [`lap_slack`] behind `next` when it was computed. Never decreases.
    ring_floor: u64,
    /// `ring_floor + cap`: the first sequence the writer may not claim by
    /// the cached gate (one compare per event instead of a subtraction and
    /// a compare; no overflow, sequences are below 2^63).
    room_until: u64,
    /// `next` when `gate_min` was computed.
    gate_at: u64,
    owned: [OwnedSlots; SizeClass::COUNT],
    free_scan: [usize; SizeClass::COUNT],
    /// The class serving each class: itself, or the next larger one with
    /// slots ([`Config::class_for`](crate::Config::class_for)). Not used
    /// for XS, which the ring entry carries (`claim_until`).
    route: [Option<SizeClass>; SizeClass::COUNT],
    /// How this writer waits for room (the runtime's strategy unless
    /// [`Writer::set_wait_strategy`](super::Writer::set_wait_strategy)).
    pub(super) wait: WaitStrategy,
    /// Store the published cursor once this many events are committed and
    /// not yet visible (1: after every event). At least 1.
    pub(super) flush_every: u64,
    /// See `ArenaCtl::fork_epoch`: checked before every claim.
    pub(super) fork_epoch: u64,
}

impl WriterCore {
    /// A writer continuing from the arena's published cursor.
    ///
    /// # Errors
    ///
    /// What is wrong, if that cursor is at or past [`SEQUENCE_LIMIT`].
    pub(super) fn new(shared: Arc<Shared>) -> Result<Self, &'static str> {
        let cap = shared.config.ring_capacity() as u64;
        let owned = std::array::from_fn(|c| OwnedSlots::with_capacity(shared.config.slots[c] as usize));
        let wait = shared.config.wait;
        let route = SizeClass::ALL.map(|class| shared.config.class_for(class));
        let mut core = WriterCore {
            shared: Anchor::new(shared),
            cap,
            next: 0,
            published: 0,
            gate_min: 0,
            ring_floor: 0,
            room_until: 0,
            gate_at: 0,
            owned,
            free_scan: [0; SizeClass::COUNT],
            route,
            wait,
            flush_every: 1,
            fork_epoch: u64::MAX,
        };
        core.fork_epoch = core.shared.fork_epoch;
        core.rebuild()?;
        Ok(core)
    }

    /// Recovers the ring position and the owned slots from the arena: the
    /// same path for a first writer, a writer taking over from a dropped one,
    /// and (across processes) from a dead one. Refuses a published cursor at
    /// or past [`SEQUENCE_LIMIT`]: sequences above it would overflow.
    fn rebuild(&mut self) -> Result<(), &'static str> {
        let anchor = Anchor::new(Arc::clone(self.shared.shared_arc()));
        let arena = &anchor.arena;
        // ORDERING(publish): Acquire; pairs with the previous writer's
        // Release store, so its descriptors are visible.
        let published = arena.header().published.value.load(Acquire);
        if published >= SEQUENCE_LIMIT {
            return Err("the published cursor is at or past 2^63");
        }
        self.next = published;
        self.published = published;
        // The floors never decrease: start from the last writer's (what it
        // may already have overwritten), never above `published`.
        let gate = &arena.header().gate;
        // ORDERING: Relaxed; the role's Acquire CAS ordered the previous
        // writer's stores before this.
        self.gate_min = gate.slot_floor.load(Relaxed).min(published);
        self.ring_floor = gate.ring_floor.load(Relaxed).min(self.gate_min);
        self.recompute_gate(0);

        // Where each `RING` slot last appeared in the ring window.
        let mut held: [Vec<u64>; SizeClass::COUNT] =
            std::array::from_fn(|c| vec![0; arena.slot_count(SizeClass::ALL[c])]);
        for seq in published.saturating_sub(self.cap)..published {
            let d = arena.descriptor(seq);
            // ORDERING: Relaxed; ordered after the Acquire load above.
            let (c, slot, generation) = slot_word::unpack(d.slot.load(Relaxed));
            let Some(class) = SizeClass::from_index(c) else { continue };
            let Some(word) = arena.meta(class, slot as usize) else { continue };
            let m = word.load(Relaxed);
            if meta::is_ring(m) && meta::generation(m) == generation {
                held[c][slot as usize] = seq + 1;
            }
        }
        for class in SizeClass::ALL {
            let c = class.index();
            let mut found: Vec<Owned> = arena
                .metas(class)
                .iter()
                .enumerate()
                // ORDERING(slot-free): Acquire; as in `pool::reuse`.
                .filter(|(_, word)| meta::is_ring(word.load(Acquire)))
                .map(|(slot, _)| Owned { slot: slot as u32, held_until: held[c][slot] })
                .collect();
            found.sort_by_key(|o| o.held_until);
            let owned = &mut self.owned[c];
            owned.clear();
            for o in found {
                owned.push_back(o);
            }
        }
        Ok(())
    }

    /// Refreshes the floors from the reader table, lapping every unpinned
    /// lossy reader whose cursor is below `lap_below` (0: none). Neither
    /// floor is ever above our own `published` (so never above `next`),
    /// whatever the cursors in the table say, nor below its previous value.
    ///
    /// The computation is bracketed on the gate word: it starts with a swap
    /// to `published | GATE_BUSY` (the join handshake, see `Reader::join`)
    /// and ends by storing the floors, then `published` without the flag.
    fn recompute_gate(&mut self, lap_below: u64) {
        let arena = &self.shared.arena;
        let gate = &arena.header().gate;
        // ORDERING(join): AcqRel RMW; pairs with the AcqRel RMW of a joining
        // reader (`Reader::join`). If the reader's comes first, we acquire
        // its entry and see it below; if ours comes first, the reader reads
        // at least this `published` and starts there (or, starting from the
        // oldest event, at the floors we store below), above anything this
        // computation lets us overwrite.
        gate.gate.swap(self.published | GATE_BUSY, AcqRel);
        let mut min = self.published;
        let mut lossy = false;
        for entry in arena.readers() {
            // ORDERING(gating): Acquire; pairs with the reader's Release
            // state store (join, leave).
            let kind = reader_state::kind(entry.state.load(Acquire));
            if kind == reader_state::ACTIVE {
                // ORDERING(gating): Acquire; pairs with the reader's Release
                // cursor store, so its reads below the cursor happen before
                // we overwrite what it read.
                min = min.min(entry.cursor.load(Acquire));
            } else if kind == reader_state::LOSSY {
                lossy = true;
                // ORDERING(lossy): Acquire; as above, and pairs with the
                // reader's pin, a CAS: a pinned cursor gates like any other.
                let c = entry.cursor.load(Acquire);
                if c & CURSOR_PIN != 0 {
                    min = min.min(c & !CURSOR_PIN);
                }
            }
        }
        if lossy {
            min = self.lap_lossy(min, lap_below);
        }
        let slack = lap_slack(self.cap);
        self.gate_min = self.gate_min.max(min);
        let ring = min.min((self.next + slack).saturating_sub(self.cap));
        self.ring_floor = self.ring_floor.max(ring).min(self.gate_min);
        let gate = &self.shared.arena.header().gate;
        // ORDERING(join): Relaxed; published by the Release store below.
        gate.ring_floor.store(self.ring_floor, Relaxed);
        gate.slot_floor.store(self.gate_min, Relaxed);
        // ORDERING(join): Release; pairs with the Acquire RMW of a joiner
        // starting from the oldest event that reads this value: it then
        // sees the floors above.
        gate.gate.store(self.published, Release);
        self.room_until = self.ring_floor + self.cap;
        self.gate_at = self.next;
    }

    /// The second pass of [`recompute_gate`](Self::recompute_gate) over the
    /// unpinned lossy readers: one whose cursor is below `lap_below` is
    /// lapped (its cursor moved forward by a CAS, which fails if it pinned
    /// meanwhile) to `lap_below + lap_slack`, or to `min` (the gating
    /// minimum so far) if that is lower; any other bounds `min` as a gating
    /// reader does. Returns the new minimum.
    #[cold]
    #[inline(never)]
    fn lap_lossy(&self, mut min: u64, lap_below: u64) -> u64 {
        let target = min.min(lap_below.saturating_add(lap_slack(self.cap)));
        for entry in self.shared.arena.readers() {
            // ORDERING(gating): Acquire; as in the first pass.
            if reader_state::kind(entry.state.load(Acquire)) != reader_state::LOSSY {
                continue;
            }
            // ORDERING(lossy): Acquire; as in the first pass.
            let mut c = entry.cursor.load(Acquire);
            loop {
                if c & CURSOR_PIN != 0 {
                    min = min.min(c & !CURSOR_PIN);
                    break;
                }
                if c >= lap_below || target <= c {
                    min = min.min(c);
                    break;
                }
                // Mutant: move the cursor with a plain store (a reader that
                // pinned meanwhile is then read under while it reads).
                if cfg!(slotcast_mutant = "lap_store") {
                    entry.cursor.store(target, Release);
                    min = min.min(target);
                    break;
                }
                // ORDERING(lossy): AcqRel on success. Acquire: pairs with
                // the reader's Release store of its unpinned cursor `c`, so
                // its reads below `c` happen before we overwrite them.
                // Release: the reader whose pin fails on this value then
                // loads a `published` at least `target` (stored before).
                // Failure: Acquire, as the loads above (the reader pinned
                // or moved).
                match entry.cursor.compare_exchange(c, target, AcqRel, Acquire) {
                    Ok(_) => {
                        min = min.min(target);
                        break;
                    }
                    Err(now) => c = now,
                }
            }
        }
        min
    }

    /// Finds a slot of `class` for sequence `self.next`, or says what is full,
    /// after releasing what dead processes held (shared runtimes, at most
    /// once a millisecond). The slot stays at the front of its FIFO until
    /// `commit`.
    fn try_claim_slot(&mut self, class: SizeClass) -> Result<(u32, u32), Full> {
        match self.claim_slot_once(class) {
            Err(_) if self.shared.sweep_dead(false) => {
                self.recompute_gate(0);
                self.claim_slot_once(class)
            }
            result => result,
        }
    }

    fn claim_slot_once(&mut self, class: SizeClass) -> Result<(u32, u32), Full> {
        // `ring_floor <= gate_min <= published <= next` (see
        // `recompute_gate`): no sum can overflow. A lossy reader that holds
        // the ring is lapped.
        if self.next >= self.room_until {
            self.recompute_gate((self.next + 1).saturating_sub(self.cap));
            if self.next >= self.room_until {
                return Err(Full::Ring);
            }
        }
        // The allocators' (and XS retains') requests for slots, of every
        // class: a stream of one class would otherwise never answer another
        // class's (an XS-only stream, none at all).
        self.answer_wants();
        if class == SizeClass::XS {
            // Carried in the ring entry: room in the ring is all it needs.
            return Ok((INLINE_SLOT, 0));
        }
        let c = class.index();
        let mut recomputed = false;
        let mut lapped = false;
        loop {
            if let Some(head) = self.owned[c].front() {
                if head.held_until <= self.gate_min {
                    let word = &self.shared.arena.metas(class)[head.slot as usize];
                    match pool::reuse(word) {
                        Reuse::Reused(generation) => return Ok((head.slot, generation)),
                        Reuse::HandedOff | Reuse::NotOwned => {
                            self.owned[c].pop_front();
                            continue;
                        }
                    }
                }
                if !recomputed && self.next - self.gate_at >= RECOMPUTE_EVERY {
                    self.recompute_gate(0);
                    recomputed = true;
                    continue;
                }
            }
            if self.owned[c].len() < self.shared.arena.slot_count(class) {
                if let Some(slot) = self.claim_free(class) {
                    self.owned[c].push_front(Owned { slot, held_until: 0 });
                    continue;
                }
            }
            if !recomputed {
                self.recompute_gate(0);
                recomputed = true;
                continue;
            }
            // The pool is exhausted: lap the lossy readers that hold the
            // oldest slot (if they do; a gating reader's hold stays).
            if let (false, Some(head)) = (lapped, self.owned[c].front()) {
                if head.held_until > self.gate_min {
                    let need = head.held_until;
                    self.recompute_gate(need);
                    lapped = true;
                    continue;
                }
            }
            return Err(Full::Pool(class));
        }
    }

    /// Gives back the idle slots of every class whose pool an allocator (or
    /// a reader retaining an XS event) found empty.
    fn answer_wants(&mut self) {
        for class in SizeClass::ALL {
            // ORDERING: Relaxed; a request flag, the slot words synchronise.
            if self.shared.arena.header().want.want[class.index()].load(Relaxed) != 0 {
                self.give_back_idle(class);
            }
        }
    }

    /// Takes a free slot of `class` into the writer's set (one CAS).
    fn claim_free(&mut self, class: SizeClass) -> Option<u32> {
        let metas = self.shared.arena.metas(class);
        let n = metas.len();
        let start = self.free_scan[class.index()];
        for i in 0..n {
            let slot = (start + i) % n;
            if pool::claim_for_ring(&metas[slot]) {
                self.free_scan[class.index()] = slot + 1;
                return Some(slot as u32);
            }
        }
        None
    }

    /// Returns every owned slot of `class` that no reader needs any more to
    /// the pool (or to the `RingPtr`s that retain it).
    /// Whether any class's FIFO still holds a slot.
    pub(super) fn keeps_slots(&self) -> bool {
        self.owned.iter().any(|owned| owned.len() != 0)
    }

    pub(super) fn give_back_idle(&mut self, class: SizeClass) {
        self.recompute_gate(0);
        let metas = self.shared.arena.metas(class);
        let owned = &mut self.owned[class.index()];
        // The FIFO is sorted by `held_until`: the idle slots are a prefix.
        while let Some(head) = owned.front() {
            if head.held_until > self.gate_min {
                break;
            }
            pool::give_back(&metas[head.slot as usize]);
            owned.pop_front();
        }
        // ORDERING: Relaxed; a request flag.
        self.shared.arena.header().want.want[class.index()].store(0, Relaxed);
    }

    /// Claims a slot the whole way, waiting for room until `deadline`.
    /// Before pausing it stores the published cursor and tries again:
    /// readers cannot make room by reading events they cannot see, so a
    /// writer deferring its cursor store would otherwise wait for (or, in a
    /// `try_` form, report `Full` because of) its own events.
    #[cold]
    #[inline(never)]
    fn claim_wait(&mut self, class: SizeClass, deadline: Deadline) -> Result<(u32, u32), Full> {
        let mut room = RoomWait::new(self.wait);
        loop {
            match self.try_claim_slot(class) {
                Ok(found) => return Ok(found),
                // Deferred events hold the room: store the cursor and try
                // again before pausing (with no reader, the flush alone
                // makes the room; a `try_` form must not report `Full`).
                Err(_) if self.published != self.next => self.flush(),
                Err(full) => {
                    if !room.pause(deadline) {
                        return Err(full);
                    }
                }
            }
        }
    }

    /// Writes the descriptor of the claimed slot at `self.next` and moves the
    /// slot to the back of its FIFO.
    #[inline]
    pub(super) fn commit(&mut self, class: SizeClass, slot: u32, generation: u32, len: u32, event_type: u32) -> u64 {
        let seq = self.next;
        let d = self.shared.arena.descriptor(seq);
        if slot == INLINE_SLOT {
            // ORDERING: Relaxed; published by the Release store of `published`.
            d.slot.store(slot_word::INLINE, Relaxed);
        } else {
            // ORDERING: Relaxed; as above.
            d.slot.store(slot_word::pack(class.index(), slot, generation), Relaxed);
            self.owned[class.index()].rotate(slot, seq + 1);
        }
        // ORDERING: Relaxed; as above.
        d.header.store(header_word::pack(len, event_type), Relaxed);
        self.next = seq + 1;
        seq
    }

    /// Makes every committed event visible: one store of `published`, then
    /// wakes the readers sleeping on the futex word, whatever this writer's
    /// own wait strategy (a reader chooses how it waits).
    #[inline]
    pub(super) fn flush(&mut self) {
        if self.published != self.next {
            self.store_published();
        }
    }

    /// The store of [`flush`](Self::flush), for callers that know an event
    /// is pending.
    #[inline]
    fn store_published(&mut self) {
        let arena = &self.shared.arena;
        let header = arena.header();
        // ORDERING(publish): Release; pairs with the readers' Acquire loads of
        // `published`, making the descriptors and payloads written above
        // visible to them.
        header.published.value.store(self.next, mutant!("publish_relaxed", Relaxed, Release));
        self.published = self.next;
        wait::wake_readers(header, arena.futex());
    }

    /// After a commit: flushes if `flush_every` events are now pending.
    #[inline(always)]
    pub(super) fn flush_if_due(&mut self) {
        // `published <= next`: no underflow. `flush_every >= 1`, so an
        // event is pending.
        if self.next - self.published >= self.flush_every {
            self.store_published();
            failpoint!("publish.flushed");
        }
    }

    /// The common case of [`try_claim_slot`](Self::try_claim_slot), inlined
    /// into every publish: the ring has room by the cached gate, and the
    /// oldest slot of the class is past every reader and not retained.
    /// Anything else (`None`) goes the whole way. An allocator's request for
    /// slots is answered there too, not here: it costs a load of another line
    /// per event, and the whole way comes at least every time the cached gate
    /// runs out (within a ring's worth of events, `RECOMPUTE_EVERY` in a
    /// steady stream).
    #[inline]
    fn try_claim_fast(&mut self, class: SizeClass) -> Option<(u32, u32)> {
        if class == SizeClass::XS {
            // In the ring entry: the ring check is all that guards it.
            if mutant!("inline_no_ring_check", false, self.next >= self.room_until) {
                return None;
            }
            return Some((INLINE_SLOT, 0));
        }
        if mutant!("fast_no_ring_check", false, self.next >= self.room_until) {
            return None;
        }
        let head = self.owned[class.index()].front()?;
        if head.held_until > self.gate_min {
            return None;
        }
        let generation = pool::try_reuse(self.shared.arena.metas(class).get(head.slot as usize)?)?;
        Some((head.slot, generation))
    }

    /// Claims a slot of `class`, or of the next larger class with slots if
    /// it has none: the inlined fast path, else
    /// [`claim_wait`](Self::claim_wait). With no such class, fails at once
    /// ([`Refused::NoSlots`]): no pool could ever make room.
    #[inline]
    pub(super) fn claim_until(&mut self, class: SizeClass, deadline: Deadline) -> Result<Claim<'_>, Refused> {
        // XS is always served by the ring entry itself: no route.
        let class = match class {
            SizeClass::XS => SizeClass::XS,
            _ => self.route[class.index()].ok_or_else(|| no_slots(class))?,
        };
        if is_forked(self.fork_epoch) {
            return Err(forked());
        }
        let (slot, generation) = match self.try_claim_fast(class) {
            Some(found) => found,
            None => self.claim_wait(class, deadline).map_err(Refused::Full)?,
        };
        // What both paths return for XS, said once more so that a caller
        // passing XS as a constant gets no test of it in `commit`.
        let slot = if class == SizeClass::XS { INLINE_SLOT } else { slot };
        failpoint!("publish.claimed");
        let payload = if slot == INLINE_SLOT {
            // SAFETY: the entry of `next` was last used for `next - cap`,
            // which every cursor the writer respects has passed (`next <
            // ring_floor + cap`, checked by the claim; a lossy reader below
            // it was lapped, and cannot pin what it was lapped past), and no
            // reader reads `next` before `commit` publishes it.
            unsafe { self.shared.arena.inline_payload_mut(self.next) }
        } else {
            // SAFETY: the slot is in range (ours), and the writer has it to
            // itself: a RING slot with refcount 0 that no reader's cursor
            // covers (see `pool.rs`), until `commit` publishes it.
            unsafe { self.shared.arena.payload_mut(class, slot as usize) }
        };
        Ok(Claim {
            core: self,
            class,
            slot,
            generation,
            payload: ManuallyDrop::new(payload),
            event_type: 0,
            done: false,
        })
    }
}

impl WriterCore {
    /// Whether a claim of `class` would find room now (the async forms'
    /// test before they claim): [`claim_until`](Self::claim_until) without
    /// the claim, and the same refusals. Nothing claimed stays claimed: the
    /// slot found stays at the front of its FIFO (its generation bumped,
    /// and bumped again by the claim that follows, as a claim dropped
    /// unpublished leaves it).
    #[cfg(not(loom))]
    pub(super) fn has_room(&mut self, class: SizeClass) -> Result<bool, Refused> {
        let class = match class {
            SizeClass::XS => SizeClass::XS,
            _ => self.route[class.index()].ok_or_else(|| no_slots(class))?,
        };
        if is_forked(self.fork_epoch) {
            return Err(forked());
        }
        Ok(self.try_claim_fast(class).is_some() || self.claim_wait(class, Deadline::now()).is_ok())
    }
}

#[cold]
#[inline(never)]
fn no_slots(class: SizeClass) -> Refused {
    Refused::NoSlots(class)
}

#[cold]
#[inline(never)]
fn forked() -> Refused {
    Refused::Forked
}
