//! The writer: slot allocation for the ring, gating, publish, backpressure.
//!
//! **Publish.** Claim a slot of the class and the next sequence, fill the
//! payload in place, write the descriptor (class, slot, generation, `len`,
//! `event_type`) with plain (relaxed) stores, then store `published = seq + 1`
//! with Release, once per event or once per [`Batch`].
//!
//! **Gating.** Sequence `s` reuses ring position `s % cap`, whose previous
//! occupant is `s - cap`. The writer may claim `s` only if `s < min + cap`,
//! where `min` is at most every active reader's cursor. It caches `min` and
//! recomputes it only when the cache says the ring might be full, or when it
//! needs a slot back (below).
//!
//! **Slots.** The writer keeps the slots it has used, per class, in a FIFO in
//! publication order, each with the sequence after which no reader needs it
//! (`held_until`). To fill a new event it takes the FIFO head if `held_until
//! <= min` and nobody retained it: one load and one store on its metadata
//! word, no read-modify-write (see `pool.rs` for why a store suffices). If
//! the head is still in use it first refreshes `min` (at most once per
//! `RECOMPUTE_EVERY` events), and otherwise takes a free slot from the pool
//! with one CAS. So the writer's working set is just what is in flight, its
//! slots stay hot in cache, and the rest of the pool stays free for the
//! standalone allocator. A head that `RingPtr`s still hold is handed to them
//! (one CAS) and forgotten: the last of them frees it.
//!
//! **Backpressure.** `try_*` return [`Full`] at once; the waiting variants
//! retry with the runtime's [`WaitStrategy`] until their timeout. A batch
//! that must wait publishes what it has first, so readers can make room.

use crate::error::{Full, FullKind, PublishError, WriterError};
use crate::event::SizeClass;
use crate::failpoint::failpoint;
use crate::layout::{header_word, meta, reader_state, slot_word};
use crate::lifetime::{Anchor, Shared, is_forked};
use crate::pool::{self, Reuse};
use crate::sync::{Arc, Ordering::*, PayloadMut, mutant};
use crate::wait::{self, Deadline, RoomWait, WaitStrategy};
use bytemuck::Pod;
use owned::{Owned, OwnedSlots};
use std::fmt;
use std::mem::ManuallyDrop;
use std::time::Duration;

/// Refresh the cached reader minimum at most once per this many events when
/// only a fresher value would let the writer reuse a slot. Between refreshes
/// it takes free slots instead, so the working set is about the readers'
/// lag plus this much.
const RECOMPUTE_EVERY: u64 = 32;

/// How many times `Writer::take` yields while this process holds the role
/// before it reports it taken: an allocator holds it for the few
/// microseconds it takes to return the ring's idle slots.
const OWN_ROLE_WAITS: u32 = 1000;

/// Every sequence (the published cursor, the gate word, a reader's cursor)
/// is below 2^63. A value at or above it in a shared file is corruption, not
/// history: at a billion events a second a writer needs 292 years to get
/// there. Bounding them keeps `cursor + capacity` from overflowing anywhere,
/// so the writer checks the published cursor once, when it takes the role,
/// and not per event.
pub(crate) const SEQUENCE_LIMIT: u64 = 1 << 63;

mod owned;

/// The writer's private state.
pub(crate) struct WriterCore {
    shared: Anchor,
    mask: u64,
    cap: u64,
    /// Next sequence to claim.
    next: u64,
    /// Last value stored to the `published` cursor.
    published: u64,
    /// Every active reader's cursor is at least this.
    gate_min: u64,
    /// `next` when `gate_min` was computed.
    gate_at: u64,
    owned: [OwnedSlots; SizeClass::COUNT],
    free_scan: [usize; SizeClass::COUNT],
    /// The class serving each class: itself, or the next larger one with
    /// slots ([`Config::class_for`](crate::Config::class_for)).
    route: [Option<SizeClass>; SizeClass::COUNT],
    wait: WaitStrategy,
    /// See `ArenaCtl::fork_epoch`: checked before every claim.
    fork_epoch: u64,
}

impl WriterCore {
    /// A writer continuing from the arena's published cursor.
    ///
    /// # Errors
    ///
    /// What is wrong, if that cursor is at or past [`SEQUENCE_LIMIT`].
    fn new(shared: Arc<Shared>) -> Result<Self, &'static str> {
        let cap = shared.config.ring_capacity() as u64;
        let owned = std::array::from_fn(|c| OwnedSlots::with_capacity(shared.config.slots[c] as usize));
        let wait = shared.config.wait;
        let route = SizeClass::ALL.map(|class| shared.config.class_for(class));
        let mut core = WriterCore {
            shared: Anchor::new(shared),
            mask: cap - 1,
            cap,
            next: 0,
            published: 0,
            gate_min: 0,
            gate_at: 0,
            owned,
            free_scan: [0; SizeClass::COUNT],
            route,
            wait,
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
        self.recompute_gate();

        // Where each `RING` slot last appeared in the ring window.
        let mut held: [Vec<u64>; SizeClass::COUNT] =
            std::array::from_fn(|c| vec![0; arena.slot_count(SizeClass::ALL[c])]);
        for seq in published.saturating_sub(self.cap)..published {
            let d = &arena.ring()[(seq & self.mask) as usize];
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

    /// Refreshes `gate_min` from the reader table. It is never above our own
    /// `published` (so never above `next`), whatever the cursors in the
    /// table say.
    fn recompute_gate(&mut self) {
        let arena = &self.shared.arena;
        let header = arena.header();
        // ORDERING(join): AcqRel RMW; pairs with the AcqRel RMW of a joining
        // reader (`Reader::join`). If the reader's comes first, we acquire
        // its entry and see it below; if ours comes first, the reader reads
        // at least this `published` and starts there, above anything this
        // computation lets us overwrite.
        header.gate.value.swap(self.published, AcqRel);
        let mut min = self.published;
        for entry in arena.readers() {
            // ORDERING(gating): Acquire; pairs with the reader's Release
            // state store (join, leave).
            if reader_state::kind(entry.state.load(Acquire)) == reader_state::ACTIVE {
                // ORDERING(gating): Acquire; pairs with the reader's Release
                // cursor store, so its reads below the cursor happen before
                // we overwrite what it read.
                min = min.min(entry.cursor.load(Acquire));
            }
        }
        self.gate_min = min;
        self.gate_at = self.next;
    }

    /// Finds a slot of `class` for sequence `self.next`, or says what is full,
    /// after releasing what dead processes held (shared runtimes, at most
    /// once a millisecond). The slot stays at the front of its FIFO until
    /// `commit`.
    fn try_claim_slot(&mut self, class: SizeClass) -> Result<(u32, u32), FullKind> {
        match self.claim_slot_once(class) {
            Err(_) if self.shared.sweep_dead(false) => {
                self.recompute_gate();
                self.claim_slot_once(class)
            }
            result => result,
        }
    }

    fn claim_slot_once(&mut self, class: SizeClass) -> Result<(u32, u32), FullKind> {
        // `gate_min <= published <= next` (see `recompute_gate`): the
        // differences cannot underflow, and no sum can overflow.
        if self.next - self.gate_min >= self.cap {
            self.recompute_gate();
            if self.next - self.gate_min >= self.cap {
                return Err(FullKind::Ring);
            }
        }
        let c = class.index();
        // ORDERING: Relaxed; a request flag, the slot words synchronise.
        if self.shared.arena.header().want.want[c].load(Relaxed) != 0 {
            self.give_back_idle(class);
        }
        let mut recomputed = false;
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
                    self.recompute_gate();
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
                self.recompute_gate();
                recomputed = true;
                continue;
            }
            return Err(FullKind::Pool(class));
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
    fn give_back_idle(&mut self, class: SizeClass) {
        self.recompute_gate();
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
    #[cold]
    #[inline(never)]
    fn claim_wait(&mut self, class: SizeClass, deadline: Deadline, defer: bool) -> Result<(u32, u32), Full> {
        let mut room = RoomWait::new(self.wait);
        loop {
            match self.try_claim_slot(class) {
                Ok(found) => return Ok(found),
                Err(kind) => {
                    if defer {
                        // Readers cannot make room for events they cannot see.
                        self.flush();
                    }
                    if !room.pause(deadline) {
                        return Err(Full::new(kind, ()));
                    }
                }
            }
        }
    }

    /// Writes the descriptor of the claimed slot at `self.next` and moves the
    /// slot to the back of its FIFO.
    #[inline]
    fn commit(&mut self, class: SizeClass, slot: u32, generation: u32, len: u32, event_type: u32) -> u64 {
        let seq = self.next;
        let d = self.shared.arena.descriptor(seq);
        // ORDERING: Relaxed; published by the Release store of `published`.
        d.slot.store(slot_word::pack(class.index(), slot, generation), Relaxed);
        d.header.store(header_word::pack(len, event_type), Relaxed);
        self.owned[class.index()].rotate(slot, seq + 1);
        self.next = seq + 1;
        seq
    }

    /// Makes every committed event visible: one store of `published`.
    #[inline]
    fn flush(&mut self) {
        if self.published == self.next {
            return;
        }
        let arena = &self.shared.arena;
        let header = arena.header();
        // ORDERING(publish): Release; pairs with the readers' Acquire loads of
        // `published`, making the descriptors and payloads written above
        // visible to them.
        header.published.value.store(self.next, mutant!("publish_relaxed", Relaxed, Release));
        self.published = self.next;
        if self.wait == WaitStrategy::Blocking {
            wait::wake_readers(header, arena.futex());
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
        if mutant!("fast_no_ring_check", false, self.next - self.gate_min >= self.cap) {
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
    /// ([`FullKind::NoSlots`]): no pool could ever make room.
    #[inline]
    fn claim_until(&mut self, class: SizeClass, deadline: Deadline, defer: bool) -> Result<Claim<'_>, Full> {
        let Some(class) = self.route[class.index()] else {
            return Err(no_slots(class));
        };
        if is_forked(self.fork_epoch) {
            return Err(forked());
        }
        let (slot, generation) = match self.try_claim_fast(class) {
            Some(found) => found,
            None => self.claim_wait(class, deadline, defer)?,
        };
        failpoint!("publish.claimed");
        // SAFETY: the slot is in range (ours), and the writer has it to
        // itself: a RING slot with refcount 0 that no reader's cursor covers
        // (see `pool.rs`), until `commit` publishes it.
        let payload = unsafe { self.shared.arena.payload_mut(class, slot as usize) };
        Ok(Claim {
            core: self,
            defer,
            class,
            slot,
            generation,
            payload: ManuallyDrop::new(payload),
            len: 0,
            event_type: 0,
            done: false,
        })
    }
}

#[cold]
#[inline(never)]
fn no_slots(class: SizeClass) -> Full {
    Full::new(FullKind::NoSlots(class), ())
}

#[cold]
#[inline(never)]
fn forked() -> Full {
    Full::new(FullKind::Forked, ())
}

/// The writer role of a runtime: the only thing that publishes.
///
/// At most one `Writer` exists per runtime at a time; dropping it frees the
/// role (and gives idle slots back to the pools). Publishing methods come from
/// the [`Publish`] trait, shared with [`Batch`].
///
/// ```
/// use slotcast::{Publish, Runtime, SizeClass};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new()?;
/// let reader = rt.reader()?;
/// let mut writer = rt.writer()?;
/// // Copy in: the class is chosen from the length.
/// writer.try_publish_bytes(1, b"copied")?;
/// // Zero copy: fill the slot in place.
/// writer.try_publish_with(SizeClass::XS, |ev| {
///     ev.buf_mut()[..5].copy_from_slice(b"built");
///     ev.set_len(5);
///     ev.set_event_type(2);
/// }).map_err(|full| full.kind())?;
/// // A batch: one cursor store for all three.
/// let mut batch = writer.batch();
/// for i in 0..3u64 {
///     batch.try_publish_pod(3, &i)?;
/// }
/// batch.commit();
/// assert_eq!(reader.lag(), 5);
/// # Ok(())
/// # }
/// ```
pub struct Writer {
    core: WriterCore,
}

impl Writer {
    pub(crate) fn take(shared: Arc<Shared>) -> Result<Writer, WriterError> {
        if shared.forked() {
            return Err(WriterError::Forked);
        }
        let token = shared.entry() as u64 + 1;
        let line = &shared.arena.header().writer;
        let mut swept = false;
        let mut waited = 0;
        // ORDERING(writer-role): Acquire on success; pairs with the Release
        // store in the previous writer's drop (or its reaper's), so its last
        // state is visible.
        while let Err(owner) = line.owner.compare_exchange(0, token, Acquire, Relaxed) {
            // A dead process's role can be taken over once it is reaped.
            if !swept && owner != token && shared.sweep_dead(true) {
                swept = true;
                continue;
            }
            // This process holds the role: perhaps only for a moment, an
            // allocator returning the ring's idle slots with it (`Allocator`).
            if owner == token && waited < OWN_ROLE_WAITS {
                waited += 1;
                crate::sync::yield_now();
                continue;
            }
            let pid = usize::try_from(owner - 1)
                .ok()
                .and_then(|entry| shared.arena.processes().get(entry))
                // ORDERING: Relaxed; for the message only.
                .map_or(0, |entry| entry.pid.load(Relaxed));
            return Err(WriterError::Taken { owner: pid });
        }
        // ORDERING: Relaxed; a counter for diagnostics.
        line.epoch.fetch_add(1, Relaxed);
        match WriterCore::new(Arc::clone(&shared)) {
            Ok(core) => Ok(Writer { core }),
            Err(what) => {
                // ORDERING(writer-role): Release; as in `drop`: we changed
                // nothing, the next taker finds the file as we did.
                shared.arena.header().writer.owner.store(0, Release);
                Err(WriterError::Corrupt { what })
            }
        }
    }

    /// Starts a batch: events published through it become visible together,
    /// with one store of the published cursor, when it is committed or
    /// dropped.
    pub fn batch(&mut self) -> Batch<'_> {
        Batch { core: &mut self.core }
    }

    /// Number of events published so far (the next sequence number).
    pub fn published(&self) -> u64 {
        self.core.published
    }

    /// The runtime's configuration (which classes have slots).
    #[cfg_attr(loom, allow(dead_code, reason = "used by the C ABI (ffi), which loom builds leave out"))]
    pub(crate) fn config(&self) -> &crate::Config {
        &self.core.shared.config
    }

    /// Returns to the pools every slot the writer keeps for reuse that no
    /// reader needs any more, so the standalone [`Allocator`](crate::Allocator)
    /// can use them. The writer also does this by itself after an allocator
    /// found a pool empty, on the next publish of that class that looks past
    /// its oldest slot (at the latest when its cached view of the readers
    /// runs out: within a ring's worth of events), and when it is dropped.
    pub fn give_back_idle_slots(&mut self) {
        for class in SizeClass::ALL {
            self.core.give_back_idle(class);
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.core.shared.forked() {
            // The role and the slots are the parent's.
            return;
        }
        self.give_back_idle_slots();
        // ORDERING(writer-role): Release; pairs with the Acquire CAS of the
        // next writer, which then sees our last state.
        self.core.shared.arena.header().writer.owner.store(0, mutant!("writer_role_relaxed", Relaxed, Release));
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").field("published", &self.core.published).finish_non_exhaustive()
    }
}

/// Events published together: each is written as it is published, and all of
/// them become visible to readers with one store of the published cursor when
/// the batch is committed or dropped. At 64 bytes that store (a cache-line
/// round trip to every reader) is what bounds a ring, so batching is the
/// fastest way to publish.
///
/// If the ring or a pool fills up during the batch, a waiting variant first
/// publishes what the batch holds so far, so readers can make room; the
/// `try_` variants publish it too and return `Full`.
pub struct Batch<'w> {
    core: &'w mut WriterCore,
}

impl Batch<'_> {
    /// Publishes the batch (also done on drop).
    pub fn commit(self) {}

    /// Events published in this batch and not yet visible to readers.
    pub fn pending(&self) -> u64 {
        self.core.next - self.core.published
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.core.flush();
    }
}

impl fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch").field("pending", &self.pending()).finish()
    }
}

/// A claimed slot: fill it in place, then [`publish`](Claim::publish) it.
/// Dropping a claim without publishing abandons it: nothing is published and
/// the slot is reused by the next claim.
pub struct Claim<'a> {
    core: &'a mut WriterCore,
    defer: bool,
    class: SizeClass,
    slot: u32,
    generation: u32,
    payload: ManuallyDrop<PayloadMut>,
    len: u32,
    event_type: u32,
    done: bool,
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

    /// The whole slot, to fill in place. Only `[..len]` is published (see
    /// [`set_len`](Claim::set_len)). Bytes of an earlier event may remain:
    /// slots are not cleared between uses.
    #[inline]
    pub fn buf_mut(&mut self) -> &mut [u8] {
        self.payload.bytes_mut()
    }

    /// The payload as it stands, `[..len]`.
    pub fn data(&self) -> &[u8] {
        &self.payload.bytes()[..self.len as usize]
    }

    /// Sets the payload length.
    ///
    /// # Panics
    ///
    /// If `len` exceeds [`capacity`](Claim::capacity).
    #[inline]
    pub fn set_len(&mut self, len: usize) {
        assert!(len <= self.capacity(), "length {len} exceeds the slot capacity {}", self.capacity());
        self.len = len as u32;
    }

    /// Payload length so far.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the payload is empty so far.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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

    /// Copies `bytes` into the slot and sets the length.
    ///
    /// # Errors
    ///
    /// [`PublishError::TooLarge`] if `bytes` exceeds the slot's capacity;
    /// the claim is unchanged.
    pub fn copy_from_slice(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        let buf = self.payload.bytes_mut();
        let Some(dst) = buf.get_mut(..bytes.len()) else {
            return Err(PublishError::TooLarge { len: bytes.len() });
        };
        dst.copy_from_slice(bytes);
        self.len = bytes.len() as u32;
        Ok(())
    }

    /// The sequence number this event gets when published.
    pub fn sequence(&self) -> u64 {
        self.core.next
    }

    /// Publishes the event (in a batch: adds it to the batch) and returns its
    /// sequence number.
    #[inline(always)]
    pub fn publish(mut self) -> u64 {
        // End the write access before the event can be read.
        // SAFETY: `payload` is not used again (`done` makes drop skip it).
        unsafe { ManuallyDrop::drop(&mut self.payload) };
        self.done = true;
        let seq = self.core.commit(self.class, self.slot, self.generation, self.len, self.event_type);
        failpoint!("publish.committed");
        if !self.defer {
            self.core.flush();
            failpoint!("publish.flushed");
        }
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
            .field("len", &self.len)
            .field("event_type", &self.event_type)
            .finish()
    }
}

mod sealed {
    use super::*;

    /// The one primitive [`Publish`] builds on. Sealed: `pub` only because a
    /// public trait names it as a supertrait.
    #[allow(unreachable_pub)]
    pub trait ClaimSlot {
        fn claim_slot(&mut self, class: SizeClass, deadline: Deadline) -> Result<Claim<'_>, Full>;
    }

    impl ClaimSlot for Writer {
        #[inline]
        fn claim_slot(&mut self, class: SizeClass, deadline: Deadline) -> Result<Claim<'_>, Full> {
            self.core.claim_until(class, deadline, false)
        }
    }

    impl ClaimSlot for Batch<'_> {
        #[inline]
        fn claim_slot(&mut self, class: SizeClass, deadline: Deadline) -> Result<Claim<'_>, Full> {
            self.core.claim_until(class, deadline, true)
        }
    }
}

/// Publishing, for a [`Writer`] (each event visible at once) and a [`Batch`]
/// (visible together at commit).
///
/// Every method comes in three forms: `try_` returns [`Full`] at once when
/// the ring or the class's pool is full; the plain form waits with the
/// runtime's [`WaitStrategy`] for as long as it takes; `_timeout` waits at
/// most that long. Nothing is lost on `Full`: a copied payload is still the
/// caller's, a closure is handed back unused.
///
/// A class configured with 0 slots is served by the next larger class that
/// has slots ([`Config::class_for`](crate::Config::class_for)); if there is
/// none, every form fails at once with [`FullKind::NoSlots`], since no
/// reader could ever make room.
pub trait Publish: sealed::ClaimSlot {
    /// Claims a slot of `class` to fill in place (zero copy). If `class` has
    /// no slots, the slot is of the next larger class with slots (see
    /// [`Claim::class`]).
    ///
    /// # Errors
    ///
    /// [`Full`] if the ring or the pool is full, or at once
    /// ([`FullKind::NoSlots`]) if neither `class` nor a larger class has
    /// slots.
    #[inline]
    fn try_claim(&mut self, class: SizeClass) -> Result<Claim<'_>, Full> {
        self.claim_slot(class, Deadline::now())
    }

    /// Claims a slot of `class`, waiting for room.
    ///
    /// # Errors
    ///
    /// [`Full`] with [`FullKind::NoSlots`], at once, if neither `class` nor
    /// a larger class has slots: there is nothing to wait for.
    #[inline]
    fn claim(&mut self, class: SizeClass) -> Result<Claim<'_>, Full> {
        self.claim_slot(class, Deadline::NEVER)
    }

    /// Claims a slot of `class`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`Full`] if there was no room before the timeout, or at once
    /// ([`FullKind::NoSlots`]) if neither `class` nor a larger class has
    /// slots.
    fn claim_timeout(&mut self, class: SizeClass, timeout: Duration) -> Result<Claim<'_>, Full> {
        self.claim_slot(class, Deadline::after(timeout))
    }

    /// Copies `bytes` into a slot of the smallest class that fits and has
    /// slots ([`Config::class_for_len`](crate::Config::class_for_len)) and
    /// publishes it. Returns the event's sequence number.
    ///
    /// # Errors
    ///
    /// [`PublishError::TooLarge`] over 16 KB, [`PublishError::Full`] if full
    /// or if no class that fits has slots ([`FullKind::NoSlots`]).
    #[inline]
    fn try_publish_bytes(&mut self, event_type: u32, bytes: &[u8]) -> Result<u64, PublishError> {
        publish_bytes_until(self, event_type, bytes, Deadline::now())
    }

    /// As [`try_publish_bytes`](Publish::try_publish_bytes), waiting for room.
    ///
    /// # Errors
    ///
    /// [`PublishError::TooLarge`] over 16 KB; at once,
    /// [`PublishError::Full`] with [`FullKind::NoSlots`] if no class that
    /// fits has slots.
    #[inline]
    fn publish_bytes(&mut self, event_type: u32, bytes: &[u8]) -> Result<u64, PublishError> {
        publish_bytes_until(self, event_type, bytes, Deadline::NEVER)
    }

    /// As [`try_publish_bytes`](Publish::try_publish_bytes), waiting at most
    /// `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PublishError::TooLarge`] over 16 KB, [`PublishError::Full`] on
    /// timeout, or at once if no class that fits has slots.
    fn publish_bytes_timeout(&mut self, event_type: u32, bytes: &[u8], timeout: Duration) -> Result<u64, PublishError> {
        publish_bytes_until(self, event_type, bytes, Deadline::after(timeout))
    }

    /// Publishes a copy of a plain-old-data value, in the smallest class that
    /// holds `size_of::<T>()` bytes. Read it back with
    /// [`EventRef::as_pod`](crate::EventRef::as_pod) or
    /// [`RingPtr::cast`](crate::RingPtr::cast).
    ///
    /// # Errors
    ///
    /// As [`try_publish_bytes`](Publish::try_publish_bytes).
    fn try_publish_pod<T: Pod>(&mut self, event_type: u32, value: &T) -> Result<u64, PublishError> {
        self.try_publish_bytes(event_type, bytemuck::bytes_of(value))
    }

    /// As [`try_publish_pod`](Publish::try_publish_pod), waiting for room.
    ///
    /// # Errors
    ///
    /// As [`publish_bytes`](Publish::publish_bytes).
    fn publish_pod<T: Pod>(&mut self, event_type: u32, value: &T) -> Result<u64, PublishError> {
        self.publish_bytes(event_type, bytemuck::bytes_of(value))
    }

    /// As [`try_publish_pod`](Publish::try_publish_pod), waiting at most
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// As [`publish_bytes_timeout`](Publish::publish_bytes_timeout).
    fn publish_pod_timeout<T: Pod>(
        &mut self,
        event_type: u32,
        value: &T,
        timeout: Duration,
    ) -> Result<u64, PublishError> {
        self.publish_bytes_timeout(event_type, bytemuck::bytes_of(value), timeout)
    }

    /// Claims a slot of `class`, lets `fill` write the event in place (set
    /// its length and type on the claim), then publishes it.
    ///
    /// # Errors
    ///
    /// [`Full`] holding `fill`, uncalled, if the ring or the pool is full,
    /// or if neither `class` nor a larger class has slots
    /// ([`FullKind::NoSlots`]).
    #[inline]
    fn try_publish_with<F: FnOnce(&mut Claim<'_>)>(&mut self, class: SizeClass, fill: F) -> Result<u64, Full<F>> {
        publish_with_until(self, class, fill, Deadline::now())
    }

    /// As [`try_publish_with`](Publish::try_publish_with), waiting for room.
    ///
    /// # Errors
    ///
    /// [`Full`] holding `fill`, uncalled, at once, if neither `class` nor a
    /// larger class has slots ([`FullKind::NoSlots`]): there is nothing to
    /// wait for.
    #[inline]
    fn publish_with<F: FnOnce(&mut Claim<'_>)>(&mut self, class: SizeClass, fill: F) -> Result<u64, Full<F>> {
        publish_with_until(self, class, fill, Deadline::NEVER)
    }

    /// As [`try_publish_with`](Publish::try_publish_with), waiting at most
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// [`Full`] holding `fill`, uncalled, on timeout, or at once if neither
    /// `class` nor a larger class has slots.
    fn publish_with_timeout<F: FnOnce(&mut Claim<'_>)>(
        &mut self,
        class: SizeClass,
        timeout: Duration,
        fill: F,
    ) -> Result<u64, Full<F>> {
        publish_with_until(self, class, fill, Deadline::after(timeout))
    }
}

impl Publish for Writer {}
impl Publish for Batch<'_> {}

#[inline]
fn publish_bytes_until<P: Publish + ?Sized>(
    publisher: &mut P,
    event_type: u32,
    bytes: &[u8],
    deadline: Deadline,
) -> Result<u64, PublishError> {
    let class = SizeClass::for_len(bytes.len()).ok_or(PublishError::TooLarge { len: bytes.len() })?;
    let mut claim = publisher.claim_slot(class, deadline)?;
    claim.payload.bytes_mut()[..bytes.len()].copy_from_slice(bytes);
    claim.len = bytes.len() as u32;
    claim.event_type = event_type;
    Ok(claim.publish())
}

#[inline]
fn publish_with_until<P: Publish + ?Sized, F: FnOnce(&mut Claim<'_>)>(
    publisher: &mut P,
    class: SizeClass,
    fill: F,
    deadline: Deadline,
) -> Result<u64, Full<F>> {
    match publisher.claim_slot(class, deadline) {
        Ok(mut claim) => {
            fill(&mut claim);
            Ok(claim.publish())
        }
        Err(full) => Err(Full::new(full.kind(), fill)),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::SEQUENCE_LIMIT;
    use crate::error::WriterError;
    use crate::sync::Ordering::Relaxed;
    use crate::{Publish, Runtime};

    #[test]
    fn a_published_cursor_past_the_sequence_bound_refuses_the_writer_role() {
        let rt = Runtime::builder().ring_capacity(8).build().unwrap();
        let published = &rt.shared().arena.header().published.value;
        // Each case: a published cursor that would overflow the writer's
        // sequence arithmetic (gating adds the ring capacity to it).
        for bad in [SEQUENCE_LIMIT, u64::MAX - 4, u64::MAX] {
            published.store(bad, Relaxed);
            let err = rt.writer().map(|_| ()).expect_err("published past 2^63 is corrupt");
            assert!(matches!(err, WriterError::Corrupt { .. }), "published {bad}: {err:?}");
        }
        // The refusals left the role free; just below the bound it works.
        published.store(SEQUENCE_LIMIT - 2, Relaxed);
        let mut w = rt.writer().expect("the role is free");
        let mut reader = rt.reader().unwrap();
        for i in 0..20u8 {
            assert_eq!(w.try_publish_bytes(0, &[i]), Ok(SEQUENCE_LIMIT - 2 + u64::from(i)));
            assert_eq!(reader.try_read(|ev, _| assert_eq!(ev.data(), [i])), Ok(1));
        }
    }
}
