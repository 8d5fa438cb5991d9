//! Readers: join and leave, borrowed events, batches.
//!
//! **Consume.** A reader loads `published` with Acquire, reads every
//! descriptor and payload in `[cursor, published)` in place, then stores its
//! cursor with Release: once per event with [`Reader::try_recv`], once per
//! batch with [`Reader::try_batch`] and once per step of at most
//! [`Reader::max_batch`] events with [`Reader::try_read`]. No atomic
//! read-modify-write on this path (a `Blocking` reader has one when it
//! turns blocking, and per sleep: see [`wait`](crate::wait)). Everything read from the arena is
//! bounds-checked (class, slot index, length, how far `published` runs
//! ahead): a corrupted shared mapping yields a [`ReadError`], never undefined
//! behaviour.
//!
//! **Join.** A reader takes a free entry (if none is free, after reaping
//! the entries of dead processes), sets its cursor to the current
//! `published` and marks it active, then performs an AcqRel RMW on the gate
//! word, which the writer also performs (a `swap` storing its `published`)
//! every time it recomputes its gating minimum. The two RMWs are ordered: if
//! the writer's comes later it sees the new entry; if earlier, the reader
//! reads the `published` value that computation was based on and starts no
//! lower, so nothing it reads can have been released to the writer by a
//! computation that missed it. Either way every event from the reader's
//! start on is seen completely. The gate word is therefore never above the
//! `published` value loaded after that RMW, and sequences stay below 2^63
//! (see `SEQUENCE_LIMIT`): a file that says otherwise is corrupted, and the
//! join is refused with [`JoinError::Corrupt`], the entry given back.
//!
//! **Cursors.** A `published` below the reader's cursor, or more than a ring
//! above it, is [`ReadError::Corrupt`] (one wrapping comparison per load of
//! `published`), never "nothing new" or a wait that cannot end.
//!
//! **Leave.** Storing the entry's state `FREE` (Release); the writer's next
//! gating computation ignores it.

use crate::error::{JoinError, ReadError, ViewError};
use crate::event::SizeClass;
use crate::holders;
use crate::layout::{
    CURSOR_PIN, GATE_BUSY, INLINE_CAPACITY, INLINE_SLOT, ReaderEntry, header_word, meta, reader_state, slot_word,
    stream,
};
use crate::lifetime::{Anchor, Shared, SharedHold, is_forked};
use crate::policy::{Policy, ReaderOptions, StartAt};
use crate::pool;
use crate::ring_ptr::{Handle, RingPtr, check_view};
use crate::slot_alloc;
use crate::sync::{Arc, AtomicU64, Ordering::*, PayloadRef};
use crate::wait::{self, Blocking, Deadline, WaitStrategy};
use crate::writer::SEQUENCE_LIMIT;
use bytemuck::Pod;
use std::cell::Cell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::time::{Duration, Instant};

// The borrow API serves the C ABI only (`ffi`, with the `capi` feature,
// which loom builds leave out).
#[cfg(all(feature = "capi", not(loom)))]
mod borrow;

// The async forms (Waker-based; `loom_tests/task_wake.rs` models them) and
// the `Stream`.
mod async_read;
#[cfg(not(loom))]
mod event_stream;
#[cfg(not(loom))]
pub use event_stream::{OwnedEvent, ReaderStream};

/// How many times a joiner starting from the oldest event looks again at a
/// gate word the writer is computing its floors under (a few hundred
/// nanoseconds of work) before it starts from the writer's published
/// cursor instead (the writer's process may have died mid-computation).
const BUSY_GATE_LOOKS: u32 = 1000;

/// A `try_` read of a shared runtime that finds nothing reaps dead
/// processes (so that it learns of a dead writer) once per this many: a
/// reap costs a clock read and, once a millisecond, a census of the
/// processes' locks, which an empty poll should not pay each time.
const REAP_EVERY_EMPTY: u32 = 16;

/// A reader's position, split from its `Arc<Shared>` so that a guard can
/// hold both a `&mut` to the position and a `&` to the arena.
struct Position {
    index: usize,
    /// Next sequence to read.
    cursor: u64,
    /// `published` as last loaded: events in `[cursor, avail)` are readable.
    avail: u64,
    cap: u64,
    /// How far `published` may run ahead of the cursor before `available`
    /// leaves its fast path: the ring capacity for a gating reader (more is
    /// corruption); 0 for a lossy reader, so that every read with events
    /// available goes through [`lossy_pin`] (no test of the policy on a
    /// gating reader's path).
    fast_room: u64,
    /// At most this many events per cursor store (`try_read`) or batch.
    max_batch: u64,
    wait: WaitStrategy,
    /// Our registration as a reader that may sleep: `Some` only while
    /// `wait` is `Blocking` (see `wait`'s module docs), taken when it turns
    /// `Blocking`. An async wait gives it up (a waiting task is counted
    /// only while it waits, see `task_wait.rs`); the next blocking wait
    /// takes it again.
    blocking: Option<Blocking>,
    /// See `ArenaCtl::fork_epoch`: a forked child never moves the cursor.
    fork_epoch: u64,
    /// The arena is this process's own (not a shared file): only this
    /// crate's writer wrote its descriptors, so none is malformed and
    /// `try_read` need not decode one event ahead to mark the last good
    /// event before a malformed one. Every descriptor is still checked.
    private: bool,
    /// [`Policy::Lossy`]: every read pins the cursor first.
    lossy: bool,
    /// Events lost to laps since the reader joined.
    lost: u64,
    /// The writer epoch whose death this reader reported ([`ReadError::WriterDead`]),
    /// or `u64::MAX`: each dead writer is reported once, then reads wait
    /// for a writer to take over.
    dead_seen: u64,
    /// Reads that found nothing (a shared runtime's reaping cadence).
    empty_reads: u32,
}

/// One reader of a runtime: sees every event published while it is joined,
/// in order, exactly once.
///
/// Events are borrowed in place, never copied: [`try_recv`](Reader::try_recv)
/// gives one event at a time (the cursor advances when the guard drops),
/// [`try_batch`](Reader::try_batch) and [`try_read`](Reader::try_read) give
/// what is available, up to [`max_batch`](Reader::max_batch) events per
/// cursor store. Each has waiting forms named after crossbeam's rule:
/// `recv`/`batch`/`read` wait as long as it takes, `_timeout` for a
/// `Duration`, `_deadline` until an `Instant` (the clock is read only when
/// there is nothing to read yet). They wait with the reader's own
/// [`WaitStrategy`], the runtime's unless
/// [`set_wait_strategy`](Reader::set_wait_strategy) chose another.
/// [`EventRef::retain`] keeps an event past the cursor.
///
/// Every read reports what became of the stream once the reader has read
/// everything: [`ReadError::Closed`] after the writer closed it (or was
/// dropped), [`ReadError::WriterDead`] after the writer's process died; a
/// lossy reader ([`Policy::Lossy`]) reports [`ReadError::Lagged`] when the
/// writer lapped it. None of them is final: the reader can read again
/// (a new writer reopens the stream; a lapped reader goes on from where
/// the writer moved it).
///
/// Dropping the reader leaves: the writer stops waiting for it at once.
///
/// ```
/// use slotcast::Runtime;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new()?;
/// let mut reader = rt.reader()?;
/// let mut writer = rt.writer()?;
/// for i in 0..3u8 {
///     writer.try_publish_bytes(0, &[i; 10])?;
/// }
/// let batch = reader.try_batch()?;
/// let mut seen = Vec::new();
/// for event in &batch {
///     seen.push(event.data()[0]);
/// }
/// drop(batch); // one cursor store for the three events
/// assert_eq!(seen, [0, 1, 2]);
/// assert_eq!(reader.lag(), 0);
/// # Ok(())
/// # }
/// ```
pub struct Reader {
    shared: Anchor,
    pos: Position,
}

impl Reader {
    pub(crate) fn join(shared: Arc<Shared>, options: ReaderOptions) -> Result<Reader, JoinError> {
        if shared.forked() {
            return Err(JoinError::Forked);
        }
        let arena = &shared.arena;
        let header = arena.header();
        let pid = u64::from(std::process::id());
        let me = shared.entry();
        let cap = shared.config.ring_capacity() as u64;
        let claim = || {
            arena.readers().iter().enumerate().find(|(_, e)| {
                // ORDERING: Acquire on success; pairs with the Release store of
                // the entry's previous reader leaving (or of its reaper).
                let claimed = reader_state::pack(reader_state::CLAIMED, me);
                e.state.compare_exchange(reader_state::FREE, claimed, Acquire, Relaxed).is_ok()
            })
        };
        // Entries of dead readers come back once their process is reaped:
        // with none free, reap (as taking the writer role does) and look again.
        let Some((index, entry)) = claim().or_else(|| if shared.sweep_dead(true) { claim() } else { None }) else {
            return Err(JoinError::TooManyReaders { max: arena.readers().len() });
        };
        // A corrupted cursor refuses the join and gives the entry back.
        let refuse = |what| {
            // ORDERING: Release; pairs with the next claimer's Acquire CAS.
            entry.state.store(reader_state::FREE, Release);
            Err(JoinError::Corrupt { what })
        };
        // ORDERING(publish): Acquire; the sequence we start from.
        let at = header.published.value.load(Acquire);
        if at >= SEQUENCE_LIMIT {
            return refuse("the published cursor is at or past 2^63");
        }
        // Starting from the oldest event, the entry gates from a ring below
        // `at` while the handshake runs: the writer's floors then decide.
        let from = match options.start {
            StartAt::Now => at,
            StartAt::Oldest => at.saturating_sub(cap),
        };
        // ORDERING(gating): Release; pairs with the writer's Acquire cursor
        // load in `WriterCore::recompute_gate`, which may read this position
        // next to the entry's previous reader's `ACTIVE` state: the claim
        // above acquired that reader's leave, and this carries its reads on.
        entry.cursor.store(from, crate::sync::mutant!("join_relaxed", Relaxed, Release));
        // ORDERING: Relaxed; for display (`stats`), published with the
        // entry by the Release store of its state below.
        entry.pid.store(pid, Relaxed);
        entry.lost.store(0, Relaxed);
        // ORDERING(gating): Release; pairs with the writer's Acquire load of
        // the state, which then sees the cursor above.
        entry.state.store(reader_state::pack(reader_state::ACTIVE, me), Release);
        let gate = &header.gate.gate;
        // ORDERING(join): AcqRel RMW; pairs with the writer's `swap` in
        // `WriterCore::recompute_gate` (see the module docs).
        let mut g = gate.fetch_add(0, AcqRel);
        if options.start == StartAt::Oldest {
            // The floors are those of the computation before our RMW once
            // it has cleared its busy flag (see `layout::GateLine`).
            let mut looks = 0;
            while g & GATE_BUSY != 0 && looks < BUSY_GATE_LOOKS && !cfg!(slotcast_mutant = "oldest_ignores_busy") {
                crate::sync::yield_now();
                // ORDERING(join): as above.
                g = gate.fetch_add(0, AcqRel);
                looks += 1;
            }
        }
        let gate_published = g & !GATE_BUSY;
        // ORDERING(publish): Acquire; the writer stored (or read)
        // `published = gate_published` before its swap, which our RMW
        // acquired: a fresh load is no lower.
        let now = header.published.value.load(Acquire);
        if gate_published > now || now >= SEQUENCE_LIMIT {
            return refuse("the gate word is above the published cursor or past 2^63");
        }
        let start = match options.start {
            // No lower than the `published` the writer's latest computation
            // was based on: anything below it may be released by a
            // computation that missed us.
            StartAt::Now => at.max(gate_published),
            // Mutant: take the floors while the writer computes them (they
            // may be a computation older than the one that missed us).
            StartAt::Oldest if crate::sync::mutant!("oldest_ignores_busy", false, g & GATE_BUSY != 0) => {
                from.max(gate_published)
            }
            StartAt::Oldest => {
                // ORDERING(join): Relaxed; the Acquire RMW that read the
                // computation's final gate store ordered its floors before.
                // Each is that computation's or a later one's (which saw
                // us, and never lowers a floor): no lower than what the
                // computation that missed us may reuse.
                let ring_floor = header.gate.ring_floor.load(Relaxed);
                let slot_floor = header.gate.slot_floor.load(Relaxed);
                if ring_floor > now || slot_floor > now {
                    return refuse("the writer's floors are above the published cursor");
                }
                // No more than a ring below `now` (`published` may have
                // moved since `from` was computed).
                let from = from.max(now.saturating_sub(cap));
                replay_start(arena, from.max(ring_floor), from.max(slot_floor), now)
            }
        };
        // ORDERING(consume): Release; pairs with the writer's Acquire load.
        entry.cursor.store(start, Release);
        let lossy = options.policy == Policy::Lossy;
        if lossy {
            // From now on the writer may lap the entry, never before its
            // cursor is final. ORDERING(gating): Release; as the store of
            // `ACTIVE` above.
            entry.state.store(reader_state::pack(reader_state::LOSSY, me), Release);
        }
        let wait = shared.config.wait;
        let blocking = (wait == WaitStrategy::Blocking).then(|| wait::register_blocking(header));
        let fork_epoch = shared.fork_epoch;
        let max_batch = default_max_batch(cap);
        let private = !shared.config.is_shared();
        let pos = Position {
            index,
            cursor: start,
            avail: start,
            cap,
            fast_room: if lossy { 0 } else { cap },
            max_batch,
            wait,
            blocking,
            fork_epoch,
            private,
            lossy,
            lost: 0,
            dead_seen: u64::MAX,
            empty_reads: 0,
        };
        Ok(Reader { shared: Anchor::new(shared), pos })
    }

    /// This reader's policy, chosen when it joined.
    pub fn policy(&self) -> Policy {
        if self.pos.lossy { Policy::Lossy } else { Policy::Gating }
    }

    /// Events this reader lost to the writer lapping it since it joined
    /// (always 0 for a gating reader): the sum of every
    /// [`ReadError::Lagged`] it returned.
    pub fn lost(&self) -> u64 {
        self.pos.lost
    }

    /// How this reader waits in [`recv`](Reader::recv), [`batch`](Reader::batch),
    /// [`read`](Reader::read) and their `_timeout` and `_deadline` forms:
    /// the runtime's strategy until [`set_wait_strategy`](Reader::set_wait_strategy).
    ///
    /// ```
    /// use slotcast::{Runtime, WaitStrategy};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::builder().wait_strategy(WaitStrategy::Yield).build()?;
    /// assert_eq!(rt.reader()?.wait_strategy(), WaitStrategy::Yield);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.pos.wait
    }

    /// Sets how this reader waits, whatever the runtime's strategy (the
    /// default) and the other readers' and writer's, in this process or
    /// another. A `Blocking` reader can sleep on the arena's futex word; the
    /// writer then looks for sleepers after each publish (one atomic
    /// read-modify-write per publish while any reader of the runtime is
    /// `Blocking`, one load otherwise). Turning `Blocking` is one atomic
    /// read-modify-write (a compare-and-swap, retried only if raced), and
    /// so is turning back. A reader that turned
    /// `Blocking` naps (1 ms growing to 100 ms) rather than sleeps until the
    /// writer's next publish, which lets it sleep from then on (see
    /// [`WaitStrategy::Blocking`]).
    ///
    /// In a forked child it does nothing, as every other call of the
    /// parent's reader refuses to act there: the reader's registration
    /// with the writer is the parent's.
    ///
    /// ```
    /// use slotcast::{Runtime, WaitStrategy};
    /// use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A latency-critical runtime, with one reader that may sleep.
    /// let rt = Runtime::builder().wait_strategy(WaitStrategy::BusySpin).build()?;
    /// let mut reader = rt.reader()?;
    /// reader.set_wait_strategy(WaitStrategy::Blocking);
    /// assert_eq!(reader.wait_strategy(), WaitStrategy::Blocking);
    /// rt.writer()?.try_publish_bytes(0, b"x")?;
    /// assert!(reader.recv_timeout(Duration::from_secs(1))?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        if self.shared.forked() {
            // The arena's counts and the registration are the parent's, and
            // reads fail with `Forked`: a changed strategy could only break
            // "registered only while `Blocking`".
            return;
        }
        let header = self.shared.arena.header();
        let blocking = strategy == WaitStrategy::Blocking;
        if let (Some(registration), false) = (self.pos.blocking, blocking) {
            wait::unregister_blocking(header, registration);
            self.pos.blocking = None;
        } else if self.pos.blocking.is_none() && blocking {
            self.pos.blocking = Some(wait::register_blocking(header));
        }
        self.pos.wait = strategy;
    }

    /// The most events [`try_read`](Reader::try_read) hands to its handler
    /// between two cursor stores, and the most a [`ReadBatch`] holds.
    ///
    /// ```
    /// use slotcast::Runtime;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::builder().ring_capacity(4096).build()?;
    /// assert_eq!(rt.reader()?.max_batch().get(), 1024, "a quarter of the ring");
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_batch(&self) -> NonZeroUsize {
        NonZeroUsize::new(self.pos.max_batch as usize).unwrap_or(NonZeroUsize::MIN)
    }

    /// Bounds the events handled per cursor store: [`try_read`](Reader::try_read)
    /// and its waiting forms store the cursor after every `max` events (so a
    /// writer waiting for room gets it after `max` events, not after
    /// everything available), and a [`ReadBatch`] holds at most `max` events.
    ///
    /// The default is a quarter of the ring (at least 1): a writer facing a
    /// full ring gets room while the reader is still busy with what it has,
    /// and the one Release store per step (a cache line the writer reads)
    /// is spread over many events. Smaller bounds hand room back sooner, for
    /// a store per `max` events; larger ones than the ring change nothing.
    ///
    /// ```
    /// use slotcast::Runtime;
    /// use std::num::NonZeroUsize;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut reader = rt.reader()?;
    /// let mut writer = rt.writer()?;
    /// for i in 0..5u8 {
    ///     writer.try_publish_bytes(0, &[i])?;
    /// }
    /// reader.set_max_batch(NonZeroUsize::new(2).unwrap());
    /// let mut ends = Vec::new();
    /// reader.try_read(|_event, end_of_batch| ends.push(end_of_batch))?;
    /// // The cursor was stored after events 1, 3 and 4.
    /// assert_eq!(ends, [false, true, false, true, true]);
    /// assert_eq!(reader.try_batch()?.len(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_max_batch(&mut self, max: NonZeroUsize) {
        self.pos.max_batch = u64::try_from(max.get()).unwrap_or(u64::MAX);
    }

    /// The next sequence this reader will read.
    pub fn cursor(&self) -> u64 {
        self.pos.cursor
    }

    /// How many published events this reader has not read yet.
    pub fn lag(&self) -> u64 {
        // ORDERING: Relaxed; a statistic.
        let published = self.shared.arena.header().published.value.load(Relaxed);
        published.saturating_sub(self.pos.cursor)
    }

    /// The next event, if one is available. The reader's cursor moves past it
    /// when the returned guard is dropped.
    ///
    /// # Errors
    ///
    /// [`ReadError::Corrupt`] if the next event is malformed (only a
    /// corrupted shared mapping can do that); [`ReadError::Forked`] in a
    /// forked child. And what became of the stream:
    /// [`ReadError::Closed`] once every event is read and the writer has
    /// closed the stream, [`ReadError::WriterDead`] (once per dead writer)
    /// once every event is read and the writer's process has died;
    /// [`ReadError::Lagged`] for a lossy reader the writer lapped (the next
    /// read goes on).
    #[inline]
    pub fn try_recv(&mut self) -> Result<Option<EventGuard<'_>>, ReadError> {
        self.next_until(Deadline::now())
    }

    /// The next event, waiting for one with the reader's own
    /// [`wait_strategy`](Reader::wait_strategy) (the runtime's unless
    /// [`set_wait_strategy`](Reader::set_wait_strategy) chose another).
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Reader::try_recv).
    pub fn recv(&mut self) -> Result<EventGuard<'_>, ReadError> {
        match self.next_until(Deadline::NEVER)? {
            Some(event) => Ok(event),
            None => unreachable!("a wait without deadline returns an event"),
        }
    }

    /// The next event, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Reader::try_recv).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<EventGuard<'_>>, ReadError> {
        self.next_until(Deadline::after(timeout))
    }

    /// The next event, waiting for one until `deadline` at the latest.
    ///
    /// ```
    /// use slotcast::Runtime;
    /// use std::time::{Duration, Instant};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut reader = rt.reader()?;
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// assert!(reader.recv_deadline(deadline)?.is_none(), "nothing published");
    /// rt.writer()?.try_publish_bytes(7, b"late")?;
    /// let event = reader.recv_deadline(deadline)?.expect("ready events need no time");
    /// assert_eq!(event.data(), b"late");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Reader::try_recv).
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<Option<EventGuard<'_>>, ReadError> {
        self.next_until(Deadline::at(deadline))
    }

    /// The events available now (at most [`max_batch`](Reader::max_batch)),
    /// as a batch to iterate; the cursor moves past the events iterated when
    /// the batch is dropped.
    ///
    /// Every descriptor is checked here, so iterating yields plain
    /// [`EventRef`]s: a malformed event (only a damaged shared mapping has
    /// one) ends the batch before it, and the next read, starting there,
    /// returns the error. Nothing is lost by iterating without checks.
    ///
    /// ```
    /// use slotcast::Runtime;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut reader = rt.reader()?;
    /// let mut writer = rt.writer()?;
    /// writer.try_publish_bytes(3, b"abc")?;
    /// for event in &reader.try_batch()? {
    ///     assert_eq!((event.event_type(), event.data()), (3, &b"abc"[..]));
    /// }
    /// assert!(reader.try_batch()?.is_empty());
    /// // Once the writer is gone, everything read: the stream says so.
    /// drop(writer);
    /// assert_eq!(reader.try_batch().map(|b| b.len()), Err(slotcast::ReadError::Closed));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ReadError::Corrupt`] if the published cursor is impossible or the
    /// first event is malformed; [`ReadError::Forked`] in a forked child.
    /// And what became of the stream, as [`try_recv`](Reader::try_recv).
    #[inline]
    pub fn try_batch(&mut self) -> Result<ReadBatch<'_>, ReadError> {
        self.batch_until(Deadline::now())
    }

    /// As [`try_batch`](Reader::try_batch), waiting for at least one event.
    ///
    /// # Errors
    ///
    /// As [`try_batch`](Reader::try_batch).
    pub fn batch(&mut self) -> Result<ReadBatch<'_>, ReadError> {
        self.batch_until(Deadline::NEVER)
    }

    /// As [`try_batch`](Reader::try_batch), waiting at most `timeout` for at
    /// least one event (the batch may be empty).
    ///
    /// # Errors
    ///
    /// As [`try_batch`](Reader::try_batch).
    pub fn batch_timeout(&mut self, timeout: Duration) -> Result<ReadBatch<'_>, ReadError> {
        self.batch_until(Deadline::after(timeout))
    }

    /// As [`try_batch`](Reader::try_batch), waiting for at least one event
    /// until `deadline` at the latest (the batch may be empty).
    ///
    /// ```
    /// use slotcast::Runtime;
    /// use std::time::{Duration, Instant};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut reader = rt.reader()?;
    /// let batch = reader.batch_deadline(Instant::now() + Duration::from_millis(5))?;
    /// assert!(batch.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_batch`](Reader::try_batch).
    pub fn batch_deadline(&mut self, deadline: Instant) -> Result<ReadBatch<'_>, ReadError> {
        self.batch_until(Deadline::at(deadline))
    }

    /// Calls `handler(event, end_of_batch)` for every event available now,
    /// storing the cursor after every [`max_batch`](Reader::max_batch)
    /// events and after the last: a writer waiting for room gets it while
    /// the rest is handled. `end_of_batch` is true at the last event before
    /// each cursor store. Returns the number of events handled.
    ///
    /// # Errors
    ///
    /// [`ReadError::Corrupt`] at a malformed event (only a damaged shared
    /// file has one); the events before it are consumed, the cursor stays
    /// on it. In a shared runtime the event before it is handled with
    /// `end_of_batch` true. And what became of the stream, as
    /// [`try_recv`](Reader::try_recv). A lossy reader handles at most
    /// [`max_batch`](Reader::max_batch) events per call, one step with its
    /// cursor pinned: a slow handler holds the writer back for that step at
    /// most (and a handler that panics ends the step).
    #[inline]
    pub fn try_read<F: FnMut(EventRef<'_>, bool)>(&mut self, handler: F) -> Result<usize, ReadError> {
        self.read_until(Deadline::now(), handler)
    }

    /// As [`try_read`](Reader::try_read), waiting for at least one event.
    ///
    /// # Errors
    ///
    /// As [`try_read`](Reader::try_read).
    pub fn read<F: FnMut(EventRef<'_>, bool)>(&mut self, handler: F) -> Result<usize, ReadError> {
        self.read_until(Deadline::NEVER, handler)
    }

    /// As [`try_read`](Reader::try_read), waiting at most `timeout` for at
    /// least one event.
    ///
    /// # Errors
    ///
    /// As [`try_read`](Reader::try_read).
    pub fn read_timeout<F: FnMut(EventRef<'_>, bool)>(
        &mut self,
        timeout: Duration,
        handler: F,
    ) -> Result<usize, ReadError> {
        self.read_until(Deadline::after(timeout), handler)
    }

    /// As [`try_read`](Reader::try_read), waiting for at least one event
    /// until `deadline` at the latest.
    ///
    /// ```
    /// use slotcast::Runtime;
    /// use std::time::{Duration, Instant};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut reader = rt.reader()?;
    /// rt.writer()?.try_publish_bytes(0, b"abc")?;
    /// let mut total = 0;
    /// let n = reader.read_deadline(Instant::now() + Duration::from_secs(1), |event, _| total += event.len())?;
    /// assert_eq!((n, total), (1, 3));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_read`](Reader::try_read).
    pub fn read_deadline<F: FnMut(EventRef<'_>, bool)>(
        &mut self,
        deadline: Instant,
        handler: F,
    ) -> Result<usize, ReadError> {
        self.read_until(Deadline::at(deadline), handler)
    }

    /// Number of events readable without waiting, waiting until `deadline`
    /// for at least one. Inlined into every read; waiting and errors are
    /// out of line.
    #[inline]
    fn available(&mut self, deadline: Deadline) -> Result<u64, ReadError> {
        match self.fast_available(deadline)? {
            Ok(n) => Ok(n),
            Err(published) => beyond_fast_room(&self.shared, &mut self.pos, published),
        }
    }

    /// [`available`](Reader::available) up to its fast path: `Ok(n)`, or
    /// `Err(published)` when `published` runs further ahead of the cursor
    /// than the fast path allows (a lossy reader with events to read, or
    /// an impossible cursor), for the caller to hand to
    /// [`beyond_fast_room`].
    #[inline]
    fn fast_available(&mut self, deadline: Deadline) -> Result<Result<u64, u64>, ReadError> {
        let pos = &mut self.pos;
        // Checked first, even with events already known to be readable: in
        // a forked child they are the parent's, whose cursor moves on while
        // the writer reuses their entries and slots.
        if is_forked(pos.fork_epoch) {
            return Err(ReadError::Forked);
        }
        // Never for a lossy reader, whose `avail` stays at or below its
        // cursor (see `lossy_pin`).
        if pos.cursor < pos.avail {
            return Ok(Ok(pos.avail - pos.cursor));
        }
        let arena = &self.shared.arena;
        // ORDERING(publish): Acquire; pairs with the writer's Release store.
        let mut published = arena.header().published.value.load(Acquire);
        if published == pos.cursor {
            published = wait_or_end(&self.shared, pos, deadline)?;
        }
        // Both impossible relations in one comparison: a `published` below
        // our cursor wraps to a distance above any capacity. A lossy reader
        // with events to read takes this branch too, to pin its cursor.
        if published.wrapping_sub(pos.cursor) > pos.fast_room {
            return Ok(Err(published));
        }
        pos.avail = published;
        Ok(Ok(published - pos.cursor))
    }

    #[inline]
    fn next_until(&mut self, deadline: Deadline) -> Result<Option<EventGuard<'_>>, ReadError> {
        if self.available(deadline)? == 0 {
            return Ok(None);
        }
        self.guard_at_cursor().map(Some)
    }

    /// The event at the cursor, which [`available`](Reader::available)
    /// found readable (and, for a lossy reader, pinned).
    #[inline]
    fn guard_at_cursor(&mut self) -> Result<EventGuard<'_>, ReadError> {
        let Reader { shared, pos } = self;
        let entry = &shared.arena.readers()[pos.index];
        let event = match decode(shared, pos.cursor) {
            Ok(event) => event,
            Err(e) => return Err(fail_at(entry, pos, pos.cursor, e)),
        };
        Ok(EventGuard { entry, pos, event: ManuallyDrop::new(event) })
    }

    #[inline]
    fn batch_until(&mut self, deadline: Deadline) -> Result<ReadBatch<'_>, ReadError> {
        let n = self.available(deadline)?.min(self.pos.max_batch);
        let Reader { shared, pos } = self;
        let start = pos.cursor;
        // Validate every descriptor now: the batch covers the good events
        // before the first malformed one, which the next read reports (it
        // is then first). An error at the first event is this call's.
        let mut end = start;
        while end < start + n {
            if let Err(e) = decode(shared, end) {
                if end == start {
                    return Err(fail_at(&shared.arena.readers()[pos.index], pos, start, e));
                }
                break;
            }
            end += 1;
        }
        Ok(ReadBatch { shared, end, consumed: Cell::new(start), pos })
    }

    #[inline]
    fn read_until<F: FnMut(EventRef<'_>, bool)>(
        &mut self,
        deadline: Deadline,
        mut handler: F,
    ) -> Result<usize, ReadError> {
        let n = match self.fast_available(deadline)? {
            Ok(n) => n,
            // A lossy reader with events to read (or an impossible cursor).
            Err(published) => return self.read_beyond(published, handler),
        };
        let Reader { shared, pos } = self;
        let entry = &shared.arena.readers()[pos.index];
        let start = pos.cursor;
        let end = start + n;
        let mut seq = start;
        // Steps of at most `max_batch` events, each ending with one cursor
        // store. Each event is decoded before the previous one is handed
        // out, so `end_of_batch` also marks the last event before a
        // malformed one. One call site of `handler`, so that it is inlined
        // once.
        if n == 1 {
            // The common case of a reader that keeps up: no loop. (Only a
            // gating reader comes here: nothing to end on an error.)
            let event = decode(shared, seq)?;
            handler(event, true);
            commit(entry, pos, end);
            return Ok(1);
        }
        if pos.private {
            // Descriptors only this crate wrote: decoding the next event
            // ahead would only cost time (see `Position::private`).
            while seq < end {
                let stop = end.min(seq.saturating_add(pos.max_batch));
                while seq < stop {
                    let event = match decode(shared, seq) {
                        Ok(event) => event,
                        Err(e) => {
                            commit(entry, pos, seq);
                            return Err(e);
                        }
                    };
                    seq += 1;
                    handler(event, seq == stop);
                }
                commit(entry, pos, seq);
            }
            return Ok(n as usize);
        }
        let mut failed;
        while seq < end {
            let stop = end.min(seq.saturating_add(pos.max_batch));
            let event = match decode(shared, seq) {
                Ok(event) => event,
                Err(e) => {
                    commit(entry, pos, seq);
                    return Err(e);
                }
            };
            (seq, failed) = hand_out_step(shared, event, seq, stop, &mut handler);
            commit(entry, pos, seq);
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(n as usize)
    }

    /// [`read_until`](Reader::read_until) past `available`'s fast path: a
    /// lossy reader pins its cursor and handles one step of at most
    /// `max_batch` events, decoding each event before handing out the
    /// previous one (so `end_of_batch` marks the last event before a
    /// malformed one). If the handler panics, the read ends (unpinned) as
    /// the panic unwinds. A gating reader only gets here with an impossible
    /// `published`, which is an error.
    #[cold]
    #[inline(never)]
    fn read_beyond<F: FnMut(EventRef<'_>, bool)>(
        &mut self,
        published: u64,
        mut handler: F,
    ) -> Result<usize, ReadError> {
        let Reader { shared, pos } = self;
        let n = beyond_fast_room(shared, pos, published)?;
        let entry = &shared.arena.readers()[pos.index];
        let guard = EndReadOnUnwind { entry, pos };
        let pos = &mut *guard.pos;
        let end = pos.cursor + n;
        let mut seq = pos.cursor;
        let event = match decode(shared, seq) {
            Ok(event) => event,
            Err(e) => return Err(fail_at(entry, pos, seq, e)),
        };
        let failed;
        (seq, failed) = hand_out_step(shared, event, seq, end, &mut handler);
        commit(entry, pos, seq);
        std::mem::forget(guard);
        match failed {
            Some(e) => Err(e),
            None => Ok((seq - (end - n)) as usize),
        }
    }
}

/// Hands the events of one step `[seq, stop)` to `handler`, `event` (the
/// one at `seq`) decoded already. Each event is decoded before the previous
/// one is handed out, so `end_of_batch` also marks the last event before a
/// malformed one. Returns the sequence after the last event handed out and
/// the error that ended the step early, if one did. One call site of
/// `handler`, so that it is inlined once.
#[inline(always)]
fn hand_out_step<'a, F: FnMut(EventRef<'a>, bool)>(
    shared: &'a Anchor,
    mut event: EventRef<'a>,
    mut seq: u64,
    stop: u64,
    handler: &mut F,
) -> (u64, Option<ReadError>) {
    let mut failed = None;
    loop {
        seq += 1;
        let next = if seq < stop { decode(shared, seq).map_err(|e| failed = Some(e)).ok() } else { None };
        let Some(next) = next else {
            handler(event, true);
            return (seq, failed);
        };
        handler(std::mem::replace(&mut event, next), false);
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.shared.forked() {
            // The entry is the parent's reader.
            return;
        }
        if let Some(registration) = self.pos.blocking.take() {
            wait::unregister_blocking(self.shared.arena.header(), registration);
        }
        let entry = &self.shared.arena.readers()[self.pos.index];
        // ORDERING(gating): Release; pairs with the writer's Acquire state
        // load: our reads happen before it reuses what we read.
        entry.state.store(reader_state::FREE, Release);
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("index", &self.pos.index).field("cursor", &self.pos.cursor).finish()
    }
}

/// Waits with the reader's strategy until `published` moves off the cursor
/// (forward, or backward if corrupted) or `deadline` passes; returns
/// `published` (the cursor on timeout).
#[cold]
#[inline(never)]
fn wait_published(shared: &Anchor, pos: &mut Position, deadline: Deadline) -> u64 {
    let arena = &shared.arena;
    let header = arena.header();
    if pos.wait == WaitStrategy::Blocking && pos.blocking.is_none() && !shared.forked() {
        // An async wait gave the registration up (see `Position::blocking`).
        pos.blocking = Some(wait::register_blocking(header));
    }
    let blocking = pos.blocking.as_mut();
    // A shared runtime's writer may die: about once a millisecond of
    // waiting on a writer in another process, reap dead processes (the
    // reaper of the writer marks the stream, which ends the wait).
    let mut reap = || shared.sweep_dead(false) && !wait::is_open(header);
    let mut watch = wait::Watch { me: shared.entry() as u64 + 1, dead_seen: pos.dead_seen, reap: &mut reap };
    let watch = if pos.private { None } else { Some(&mut watch) };
    wait::wait_for_event(pos.wait, blocking, header, arena.futex(), pos.cursor, deadline, watch).unwrap_or(pos.cursor)
}

/// Where a reader starting from the oldest event starts (see
/// [`StartAt::Oldest`]): ring entries of sequences at or above `ring`, and
/// the slots of events at or above `slots`, are the writer's to reuse only
/// after a gating computation that sees the joined reader. An event in a
/// pool slot below `slots` may be recycled at any moment, and one whose
/// slot no longer holds the descriptor's generation has been: the replay
/// starts after the last of either, so that it is in order and never
/// returns a recycled slot as an old event. Reads descriptors and metadata
/// words only (atomics), never a payload.
fn replay_start(arena: &crate::arena::Arena, ring: u64, slots: u64, now: u64) -> u64 {
    let mut start = ring;
    for seq in ring..now {
        // ORDERING: Relaxed; ordered after the Acquire load of `published`.
        let word = arena.descriptor(seq).slot.load(Relaxed);
        if slot_word::is_inline(word) {
            continue;
        }
        let (c, slot, generation) = slot_word::unpack(word);
        let holds_it = || {
            let meta = SizeClass::from_index(c).and_then(|class| arena.meta(class, slot as usize));
            // ORDERING: Relaxed; a check: the slot's protection is the floor.
            meta.is_some_and(|m| meta::generation(m.load(Relaxed)) == generation)
        };
        if seq < slots || !holds_it() {
            start = seq + 1;
        }
    }
    start
}

/// Nothing to read at the cursor: waits until `deadline` for an event or
/// the end of the stream. Returns `published` (the cursor only once the
/// deadline has passed), or the stream's end. A wait that ends on a change
/// of the stream's state that leaves nothing to report (a writer took the
/// role back meanwhile) goes on waiting: a wait without deadline returns
/// an event or an error.
#[cold]
#[inline(never)]
fn wait_or_end(shared: &Anchor, pos: &mut Position, deadline: Deadline) -> Result<u64, ReadError> {
    let deadline = deadline.start();
    loop {
        let mut published = pos.cursor;
        if !deadline.expired() {
            published = wait_published(shared, pos, deadline);
        }
        if published == pos.cursor {
            published = nothing_new(shared, pos)?;
        }
        if published != pos.cursor || deadline.expired() {
            return Ok(published);
        }
    }
}

/// Nothing to read at the cursor: whether the stream is still open. Returns
/// the `published` value to go on with: the cursor if the stream is open
/// (nothing to read, or a timeout), or more if events were published before
/// the writer closed the stream or died. In a shared runtime, a writer
/// whose process died is reaped here first (at most once a millisecond),
/// so that an empty read learns of it.
#[cold]
#[inline(never)]
fn nothing_new(shared: &Anchor, pos: &mut Position) -> Result<u64, ReadError> {
    let header = shared.arena.header();
    // ORDERING(close): Acquire; pairs with the Release store of the state
    // (close, reaper), made after the writer's last store of `published`.
    let mut state = header.writer.stream.load(Acquire);
    if state == stream::OPEN && !pos.private {
        // A writer in another process may have died: reap once every
        // `REAP_EVERY_EMPTY` empty reads (the waiting forms reap about
        // once a millisecond while they wait, see `wait::Watch`).
        // ORDERING: Relaxed; a pre-check, the reaper takes the role's word.
        let owner = header.writer.owner.load(Relaxed);
        pos.empty_reads = pos.empty_reads.wrapping_add(1);
        if owner != 0
            && owner != shared.entry() as u64 + 1
            && pos.empty_reads % REAP_EVERY_EMPTY == 0
            && shared.sweep_dead(false)
        {
            // ORDERING(close): as above.
            state = header.writer.stream.load(Acquire);
        }
    }
    if state == stream::OPEN {
        return Ok(pos.cursor);
    }
    // ORDERING: Relaxed; which writer died, read after the state.
    let epoch = header.writer.epoch.load(Relaxed);
    if state == stream::WRITER_DEAD && epoch == pos.dead_seen {
        // Reported already: wait for a writer to take over, as for one
        // that has not come yet.
        return Ok(pos.cursor);
    }
    // ORDERING(publish): Acquire; the final value, stored before the state.
    let published = header.published.value.load(Acquire);
    if published != pos.cursor {
        return Ok(published);
    }
    if state == stream::CLOSED {
        return Err(ReadError::Closed);
    }
    pos.dead_seen = epoch;
    Err(ReadError::WriterDead)
}

/// [`Reader::available`] past its fast path: a gating reader's impossible
/// `published`, or a lossy reader with events to read.
#[cold]
#[inline(never)]
fn beyond_fast_room(shared: &Anchor, pos: &mut Position, published: u64) -> Result<u64, ReadError> {
    if pos.lossy { lossy_pin(shared, pos, published) } else { Err(impossible_published(pos.cursor, published)) }
}

/// A lossy reader has events to read (`published` loaded, not the cursor):
/// pins the cursor (one CAS on its word, which the writer's lap CAS races).
/// If the pin wins, the events up to `published` are readable until the
/// commit that unpins; if the writer lapped the cursor first, the reader
/// moves to where the writer put it and reports the events it missed. It
/// never pins to wait: a waiting lossy reader holds nothing back.
fn lossy_pin(shared: &Anchor, pos: &mut Position, published: u64) -> Result<u64, ReadError> {
    let entry = &shared.arena.readers()[pos.index];
    if published < pos.cursor {
        return Err(impossible_published(pos.cursor, published));
    }
    if is_pinned(entry, pos) {
        // The last read never ended (its guard was forgotten): the pin is
        // still ours, and this read goes on under it.
        return pinned_events(entry, pos, published);
    }
    // ORDERING(lossy): the pin races the writer's lap CAS through the
    // modification order of this word alone: whichever CAS comes first
    // wins. If ours does, the writer respects the cursor until our Release
    // store of the next one, which its Acquire load (or lap CAS) orders
    // after our reads; the events below `published` were acquired by its
    // load. Failure: Acquire; pairs with the lap's Release, so the next
    // load of `published` is at least the lapped value.
    // Mutant: read without pinning (the writer may lap us mid-read).
    let pin = if cfg!(slotcast_mutant = "lossy_no_pin") {
        Ok(pos.cursor)
    } else {
        entry.cursor.compare_exchange(pos.cursor, pos.cursor | CURSOR_PIN, Acquire, Acquire)
    };
    match pin {
        Ok(_) => pinned_events(entry, pos, published),
        Err(lapped) => {
            // Only the writer's lap moves our word while it is not pinned:
            // forward, within what it has published, without the pin.
            if lapped & CURSOR_PIN != 0 || lapped <= pos.cursor {
                return Err(ReadError::Corrupt {
                    sequence: pos.cursor,
                    what: "a lossy reader's cursor was moved backwards or pinned by another",
                });
            }
            let missed = lapped - pos.cursor;
            pos.cursor = lapped;
            pos.lost = pos.lost.saturating_add(missed);
            // ORDERING: Relaxed; a statistic for `slotcast stat`.
            entry.lost.store(pos.lost, Relaxed);
            Err(ReadError::Lagged { missed })
        }
    }
}

/// The events a pinned lossy reader may read: up to `published`, one step
/// of at most `max_batch` (a read holds the writer back for one step at
/// most). `avail` stays at or below the cursor: `available`'s shortcut
/// (events known readable) must never serve an unpinned read.
fn pinned_events(entry: &ReaderEntry, pos: &mut Position, published: u64) -> Result<u64, ReadError> {
    // Pinned at the cursor, the writer cannot have published a ring past
    // it: it would have had to lap us first.
    if published - pos.cursor > pos.cap {
        commit(entry, pos, pos.cursor);
        return Err(impossible_published(pos.cursor, published));
    }
    Ok((published - pos.cursor).min(pos.max_batch))
}

/// The default of [`Reader::max_batch`]: a quarter of the ring, at least 1.
fn default_max_batch(cap: u64) -> u64 {
    (cap / 4).max(1)
}

#[cold]
#[inline(never)]
fn impossible_published(sequence: u64, published: u64) -> ReadError {
    let what = if published < sequence {
        "the published cursor went below the reader's cursor"
    } else {
        "the published cursor is more than a ring ahead of the reader"
    };
    ReadError::Corrupt { sequence, what }
}

/// Moves the cursor to `to`: one Release store. Ends a lossy reader's read:
/// unpins the cursor, even if it did not move.
#[inline]
fn commit(entry: &ReaderEntry, pos: &mut Position, to: u64) {
    if to != pos.cursor {
        pos.cursor = to;
        if is_forked(pos.fork_epoch) {
            // The entry is the parent's reader: leave its cursor alone.
            return;
        }
        // ORDERING(consume): Release; pairs with the writer's Acquire cursor
        // load in `recompute_gate` (and its lap CAS, for a lossy reader):
        // our reads of everything below `to` happen before the writer
        // reuses it.
        entry.cursor.store(to, Release);
    } else if is_pinned(entry, pos) {
        // A lossy read that consumed nothing still ends (the store above,
        // without the pin, ends the others).
        unpin(entry, pos);
    }
}

/// A read that fails at `seq` (a malformed event): the events before it
/// are consumed, and a lossy reader's read ends (unpinned). Out of line, so
/// that the read paths return their error without merging with their
/// success.
#[cold]
#[inline(never)]
fn fail_at(entry: &ReaderEntry, pos: &mut Position, seq: u64, e: ReadError) -> ReadError {
    commit(entry, pos, seq);
    e
}

/// Whether our cursor word is pinned: only a lossy reader pins it, and
/// only it writes the word while it is (the writer's lap CAS expects no
/// pin), so a pin there is ours. No flag in `Position`: the reader's hot
/// path stays as it is without policies, and a pin left by a forgotten
/// guard is found.
#[cold]
fn is_pinned(entry: &ReaderEntry, pos: &Position) -> bool {
    // ORDERING: Relaxed; our own last store, or the writer's lap.
    pos.lossy && entry.cursor.load(Relaxed) & CURSOR_PIN != 0
}

/// Ends a lossy reader's read that consumed nothing: stores the cursor
/// unpinned.
#[cold]
#[inline(never)]
fn unpin(entry: &ReaderEntry, pos: &mut Position) {
    if is_forked(pos.fork_epoch) {
        return;
    }
    // ORDERING(lossy): Release; pairs with the writer's Acquire load of
    // the cursor (and its lap CAS, which reads this value): our reads below
    // `to` happen before it laps us past them or overwrites them. Only we
    // write the word while it is pinned (the writer's CAS expects no pin).
    entry.cursor.store(pos.cursor, Release);
}

/// See `Reader::read_until`: ends a lossy reader's read if a handler
/// panics. Normal returns forget it.
struct EndReadOnUnwind<'a> {
    entry: &'a ReaderEntry,
    pos: &'a mut Position,
}

impl Drop for EndReadOnUnwind<'_> {
    #[cold]
    fn drop(&mut self) {
        if is_pinned(self.entry, self.pos) {
            unpin(self.entry, self.pos);
        }
    }
}

/// Reads and validates the descriptor of `seq`, which is in `[cursor, avail)`.
#[inline]
fn decode(shared: &Anchor, seq: u64) -> Result<EventRef<'_>, ReadError> {
    let arena = &shared.arena;
    let d = arena.descriptor(seq);
    // ORDERING: Relaxed; ordered after the Acquire load of `published`.
    let word = d.slot.load(Relaxed);
    // ORDERING: Relaxed; as above.
    let (len, event_type) = header_word::unpack(d.header.load(Relaxed));
    let corrupt = |what| ReadError::Corrupt { sequence: seq, what };
    if slot_word::is_inline(word) {
        if len as usize > INLINE_CAPACITY {
            return Err(corrupt("length exceeds the ring entry"));
        }
        // SAFETY: the writer does not write this entry while our cursor is
        // at or below `seq` (gating), and the event borrows the reader, so
        // the cursor cannot pass `seq` meanwhile.
        let payload = unsafe { arena.inline_payload(seq) };
        let class = SizeClass::XS;
        return Ok(EventRef {
            shared,
            payload,
            sequence: seq,
            class,
            slot: INLINE_SLOT,
            generation: 0,
            len,
            event_type,
        });
    }
    let (c, slot, generation) = slot_word::unpack(word);
    let class = SizeClass::from_index(c).ok_or(corrupt("no such size class"))?;
    if slot as usize >= arena.slot_count(class) {
        return Err(corrupt("slot index out of range"));
    }
    if len as usize > class.capacity() {
        return Err(corrupt("length exceeds the slot"));
    }
    // SAFETY: the slot index is in range (checked above); the writer does not
    // write this slot while our cursor is at or below `seq` (gating), and the
    // event borrows the reader, so the cursor cannot pass `seq` meanwhile.
    let payload = unsafe { arena.payload(class, slot as usize) };
    Ok(EventRef { shared, payload, sequence: seq, class, slot, generation, len, event_type })
}

/// One event, borrowed in place: from its ring entry (an XS event) or its
/// pool slot.
pub struct EventRef<'a> {
    shared: &'a Anchor,
    payload: PayloadRef,
    sequence: u64,
    class: SizeClass,
    slot: u32,
    generation: u32,
    len: u32,
    event_type: u32,
}

impl EventRef<'_> {
    /// The payload, `data[..len]`.
    #[inline]
    pub fn data(&self) -> &[u8] {
        self.payload.bytes(self.len as usize)
    }

    /// Payload length.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the payload is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The event type tag.
    #[inline]
    pub fn event_type(&self) -> u32 {
        self.event_type
    }

    /// The event's sequence number.
    #[inline]
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Its size class (XS: carried in the ring entry, no slot).
    #[inline]
    pub fn class(&self) -> SizeClass {
        self.class
    }

    /// Views the payload as a `T`.
    ///
    /// An XS event (up to 64 bytes) is read in its ring entry, where its
    /// payload is 16-aligned; larger events are in 64-aligned pool slots.
    /// [`Writer::publish_pod`](crate::Writer::publish_pod) puts a small
    /// value that needs more than 16-byte alignment in a pool slot, so it
    /// can be viewed here.
    ///
    /// # Errors
    ///
    /// [`ViewError::Size`] unless the length is `size_of::<T>()`,
    /// [`ViewError::Align`] if `T` needs more alignment than the payload
    /// has (more than 64 bytes, or more than 16 for an XS event).
    pub fn as_pod<T: Pod>(&self) -> Result<&T, ViewError> {
        check_view::<T>(self.len as usize)?;
        let ptr = self.payload.as_ptr().cast::<T>();
        if !ptr.is_aligned() {
            return Err(ViewError::Align { required: align_of::<T>() });
        }
        // SAFETY: size and alignment checked above, every bit pattern is a
        // `T`, and the payload is not written while this event is borrowed.
        Ok(unsafe { ptr.as_ref() })
    }

    /// A [`RingPtr`] to this event that outlives the reader's cursor. For an
    /// event in a pool slot (class S and up): one atomic increment of the
    /// slot's refcount, and every retain of the event shares the slot. For
    /// an XS event, read in its ring entry: a copy into a free slot of the
    /// XS pool (or of the next larger class with slots), claimed with one
    /// CAS; each retain makes its own copy, so two retains of one XS event
    /// are not [`RingPtr::ptr_eq`] and have different handles.
    ///
    /// # Errors
    ///
    /// [`ReadError::Corrupt`] if the slot does not hold the event's
    /// generation, which only a corrupted shared mapping can cause;
    /// [`ReadError::NoFreeSlot`] if an XS event finds no free slot to be
    /// copied into; [`ReadError::Forked`] in a forked child.
    pub fn retain(&self) -> Result<RingPtr, ReadError> {
        if self.shared.forked() {
            // The holds of this process entry are the parent's.
            return Err(ReadError::Forked);
        }
        if self.slot == INLINE_SLOT {
            return self.retain_copy();
        }
        let arena = &self.shared.arena;
        let (class, slot, generation) = (self.class, self.slot, self.generation);
        // The slot's own record of the event, for handle upgrades. ORDERING:
        // Relaxed; published by the Release RMW that takes the reference.
        arena.slot_headers(class)[slot as usize].store(header_word::pack(self.len, self.event_type), Relaxed);
        let how = SharedHold {
            // ORDERING: Acquire; the process holds the slot, so its
            // generation cannot change: this only checks the descriptor.
            held: |m: &AtomicU64, _: &[AtomicU64], _| meta::generation(m.load(Acquire)) == generation,
            take: |m: &AtomicU64, bits: &[AtomicU64], entry| holders::hold(m, bits, entry, generation, false),
        };
        let local = match self.shared.hold_shared(class, slot, how) {
            Some(Ok(local)) => Some(local),
            None if pool::retain(&arena.metas(class)[slot as usize], generation) => None,
            Some(Err(())) | None => {
                return Err(ReadError::Corrupt {
                    sequence: self.sequence,
                    what: "slot generation differs from the descriptor",
                });
            }
        };
        // SAFETY: the arena is alive (we borrow a handle of it), the slot is in
        // range (checked when decoded), and the reference taken above (the
        // slot's refcount, or this process's local word) is the pointer's,
        // for this generation.
        Ok(unsafe {
            RingPtr::from_reference(self.shared.ctl_ptr(), class, slot, generation, self.len, self.event_type, local)
        })
    }

    /// An XS event lives in its ring entry, which the writer reuses once
    /// every reader has passed it: to outlive that, it is copied into a free
    /// slot of the XS pool (or of the next larger class with slots), with a
    /// fresh generation. Each retain of it makes its own copy.
    #[cold]
    fn retain_copy(&self) -> Result<RingPtr, ReadError> {
        let no_slot = |class| ReadError::NoFreeSlot { class };
        let class = self.shared.config.class_for(SizeClass::XS).ok_or(no_slot(SizeClass::XS))?;
        let (slot, generation) = match slot_alloc::claim_free(self.shared, class) {
            Err(_) if self.shared.sweep_dead(false) => slot_alloc::claim_free(self.shared, class),
            claimed => claimed,
        }
        .map_err(|_| no_slot(class))?;
        let data = self.data();
        slot_alloc::fill(self.shared, class, slot, generation, self.event_type, |buf| {
            buf[..data.len()].copy_from_slice(data);
            data.len()
        })
        .map_err(|_| no_slot(class))
    }

    /// Plain-data identity of this event. It upgrades only while a
    /// [`RingPtr`] holds the event, so [`retain`](EventRef::retain) first
    /// and take the pointer's [`handle`](RingPtr::handle): an XS event is
    /// read in its ring entry and has no slot until retained, so its
    /// handle from here never upgrades ([`UpgradeError::Invalid`](crate::UpgradeError::Invalid)).
    pub fn handle(&self) -> Handle {
        Handle::of(self.class, self.slot, self.generation, self.len, self.event_type)
    }
}

impl fmt::Debug for EventRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRef")
            .field("sequence", &self.sequence)
            .field("class", &self.class)
            .field("len", &self.len)
            .field("event_type", &self.event_type)
            .finish()
    }
}

/// The event returned by [`Reader::try_recv`]; the reader's cursor moves past
/// it when the guard drops.
///
/// The event cannot outlive the guard, nor the guard the reader's borrow:
///
/// ```compile_fail
/// # use slotcast::Runtime;
/// let rt = Runtime::new().unwrap();
/// let mut reader = rt.reader().unwrap();
/// rt.writer().unwrap().try_publish_bytes(0, b"x").unwrap();
/// let data: &[u8] = {
///     let event = reader.try_recv().unwrap().unwrap();
///     event.data()
/// };
/// println!("{data:?}");
/// ```
pub struct EventGuard<'r> {
    pos: &'r mut Position,
    entry: &'r ReaderEntry,
    event: ManuallyDrop<EventRef<'r>>,
}

impl<'r> Deref for EventGuard<'r> {
    type Target = EventRef<'r>;

    fn deref(&self) -> &EventRef<'r> {
        &self.event
    }
}

impl Drop for EventGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        let next = self.event.sequence + 1;
        // End the read access before the cursor releases the slot.
        // SAFETY: `event` is not used again.
        unsafe { ManuallyDrop::drop(&mut self.event) };
        commit(self.entry, self.pos, next);
    }
}

impl fmt::Debug for EventGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.event.fmt(f)
    }
}

/// Events available when the batch was taken (at most
/// [`Reader::max_batch`], all well-formed), iterated in place as plain
/// [`EventRef`]s; the reader's cursor moves past the events iterated when the
/// batch drops: one store for the whole batch. A malformed event ends the
/// batch before it; the next read reports it (see [`Reader::try_batch`]).
///
/// Events borrow the batch, so none outlives the cursor move:
///
/// ```compile_fail
/// # use slotcast::Runtime;
/// let rt = Runtime::new().unwrap();
/// let mut reader = rt.reader().unwrap();
/// rt.writer().unwrap().try_publish_bytes(0, b"x").unwrap();
/// let kept = {
///     let batch = reader.try_batch().unwrap();
///     batch.iter().next().unwrap()
/// };
/// println!("{:?}", kept.data());
/// ```
pub struct ReadBatch<'r> {
    shared: &'r Anchor,
    pos: &'r mut Position,
    end: u64,
    /// One past the last event handed out.
    consumed: Cell<u64>,
}

impl ReadBatch<'_> {
    /// Number of events in the batch.
    pub fn len(&self) -> usize {
        (self.end - self.pos.cursor) as usize
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.end == self.pos.cursor
    }

    /// Iterates the events in order. Each is marked consumed as it is
    /// handed out. The events were checked when the batch was formed; if a
    /// descriptor was damaged since (only another process writing the
    /// shared mapping can do that), the iteration ends before it and the
    /// reader's next read reports [`ReadError::Corrupt`].
    pub fn iter(&self) -> BatchIter<'_> {
        BatchIter { shared: self.shared, consumed: &self.consumed, next: self.pos.cursor, end: self.end }
    }
}

impl Drop for ReadBatch<'_> {
    #[inline]
    fn drop(&mut self) {
        commit(&self.shared.arena.readers()[self.pos.index], self.pos, self.consumed.get());
    }
}

impl fmt::Debug for ReadBatch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadBatch").field("start", &self.pos.cursor).field("end", &self.end).finish()
    }
}

impl<'b> IntoIterator for &'b ReadBatch<'_> {
    type Item = EventRef<'b>;
    type IntoIter = BatchIter<'b>;

    fn into_iter(self) -> BatchIter<'b> {
        self.iter()
    }
}

/// Iterator over a [`ReadBatch`].
pub struct BatchIter<'b> {
    shared: &'b Anchor,
    consumed: &'b Cell<u64>,
    next: u64,
    end: u64,
}

impl<'b> Iterator for BatchIter<'b> {
    type Item = EventRef<'b>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let seq = self.next;
        // Validated when the batch was formed; only a process rewriting the
        // descriptor since (a damaged mapping) fails here. The iteration
        // ends, the event is not consumed, and the next read reports it.
        let Ok(event) = decode(self.shared, seq) else {
            self.next = self.end;
            return None;
        };
        self.next = seq + 1;
        self.consumed.set(self.consumed.get().max(seq + 1));
        Some(event)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.end.saturating_sub(self.next) as usize))
    }
}

impl fmt::Debug for BatchIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchIter").field("next", &self.next).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::Runtime;
    use crate::error::{JoinError, ReadError};
    use crate::sync::Ordering::Relaxed;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `f` on a thread and gives its result, or `None` if it has not
    /// returned within 5 s (the thread is left behind: it hangs).
    fn within_5s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(5)).ok()
    }

    #[test]
    fn a_gate_word_above_published_refuses_the_join_and_frees_the_entry() {
        let rt = Runtime::builder().max_readers(1).build().unwrap();
        let gate = &rt.shared().arena.header().gate.gate;
        // Each case: a gate word no writer can have stored while `published` is 0.
        for bad in [1, u64::MAX - 3, u64::MAX] {
            gate.store(bad, Relaxed);
            let err = rt.reader().expect_err("a gate above published is corrupt");
            assert!(matches!(err, JoinError::Corrupt { .. }), "gate {bad}: {err:?}");
        }
        gate.store(0, Relaxed);
        let reader = rt.reader().expect("the refused joins left the only entry free");
        assert_eq!(reader.cursor(), 0);
    }

    #[test]
    fn a_published_cursor_past_the_sequence_bound_refuses_the_join() {
        let rt = Runtime::builder().max_readers(1).build().unwrap();
        let published = &rt.shared().arena.header().published.value;
        for bad in [super::SEQUENCE_LIMIT, u64::MAX - 1] {
            published.store(bad, Relaxed);
            let err = rt.reader().expect_err("published past 2^63 is corrupt");
            assert!(matches!(err, JoinError::Corrupt { .. }), "published {bad}: {err:?}");
        }
        // Just below the bound, sequences still work.
        published.store(super::SEQUENCE_LIMIT - 10, Relaxed);
        let mut reader = rt.reader().unwrap();
        let mut writer = rt.writer().unwrap();
        for i in 0..3u8 {
            writer.try_publish_bytes(0, &[i]).unwrap();
        }
        let mut seen = Vec::new();
        assert_eq!(reader.try_read(|ev, _| seen.push((ev.sequence(), ev.data()[0]))), Ok(3));
        let base = super::SEQUENCE_LIMIT - 10;
        assert_eq!(seen, [(base, 0), (base + 1, 1), (base + 2, 2)]);
        assert_eq!(reader.lag(), 0);
    }

    #[test]
    fn published_going_below_the_cursor_is_corrupt_not_silence() {
        let rt = Runtime::builder().ring_capacity(8).build().unwrap();
        let mut reader = rt.reader().unwrap();
        let mut writer = rt.writer().unwrap();
        for i in 0..3u8 {
            writer.try_publish_bytes(0, &[i]).unwrap();
        }
        assert_eq!(reader.try_read(|_, _| ()), Ok(3));
        let published = &rt.shared().arena.header().published.value;
        published.store(1, Relaxed);
        let corrupt = ReadError::Corrupt { sequence: 3, what: "the published cursor went below the reader's cursor" };
        assert_eq!(reader.try_read(|_, _| ()), Err(corrupt.clone()));
        assert_eq!(reader.try_batch().map(|b| b.len()), Err(corrupt.clone()));
        assert_eq!(reader.try_recv().map(|e| e.is_some()), Err(corrupt.clone()));
        assert_eq!(reader.read_timeout(Duration::from_secs(60), |_, _| ()), Err(corrupt.clone()));
        // The waiting form without a deadline must answer too, not wait for
        // `published` to pass a cursor it is already behind.
        let answer = within_5s(move || reader.read(|_, _| ()));
        assert_eq!(answer, Some(Err(corrupt)), "read() hung");
    }

    /// Four one-byte events, the third (sequence 2) with a damaged
    /// descriptor: size class 5, which does not exist.
    fn damaged_at_2(builder: crate::Builder) -> (Runtime, super::Reader, super::Reader, ReadError) {
        let rt = builder.ring_capacity(8).build().unwrap();
        let mut batched = rt.reader().unwrap();
        let mut handled = rt.reader().unwrap();
        // Batches past the damaged event (the default for this ring is 2).
        let whole_ring = std::num::NonZeroUsize::new(8).unwrap();
        batched.set_max_batch(whole_ring);
        handled.set_max_batch(whole_ring);
        let mut writer = rt.writer().unwrap();
        for i in 0..4u8 {
            writer.try_publish_bytes(0, &[i]).unwrap();
        }
        rt.shared().arena.descriptor(2).slot.store(crate::layout::slot_word::pack(5, 0, 0), Relaxed);
        (rt, batched, handled, ReadError::Corrupt { sequence: 2, what: "no such size class" })
    }

    /// A damaged descriptor ends a batch before it, and the next read, which
    /// starts there, reports it: iterating without checks loses nothing.
    #[test]
    fn a_damaged_descriptor_ends_the_batch_and_the_next_read_reports_it() {
        let (_rt, mut batched, mut handled, corrupt) = damaged_at_2(Runtime::builder());
        let batch = batched.try_batch().unwrap();
        assert_eq!(batch.len(), 2, "the batch stops before the damaged event");
        let seen: Vec<u8> = batch.iter().map(|event| event.data()[0]).collect();
        assert_eq!(seen, [0, 1]);
        drop(batch);
        assert_eq!(batched.cursor(), 2);
        assert_eq!(batched.try_batch().map(|b| b.len()), Err(corrupt.clone()));
        assert_eq!(batched.try_batch().map(|b| b.len()), Err(corrupt.clone()), "reported until repaired");

        // In a runtime's own memory (which only a bug could damage),
        // `try_read` does not decode ahead: the event before the damaged one
        // is not marked as the end of its batch, but nothing is lost.
        let mut steps = Vec::new();
        let result = handled.try_read(|event, end| steps.push((event.sequence(), end)));
        assert_eq!(result, Err(corrupt));
        assert_eq!(steps, [(0, false), (1, false)]);
        assert_eq!(handled.cursor(), 2, "the events before it are consumed");
    }

    /// In a shared file, where another process may have damaged it,
    /// `try_read` marks the last good event as the end of its batch.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn in_a_shared_file_the_event_before_a_damaged_one_ends_its_batch() {
        let path = std::env::temp_dir().join(format!("slotcast-reader-damaged-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (_rt, _batched, mut handled, corrupt) = damaged_at_2(Runtime::builder().shared(path));
        let mut steps = Vec::new();
        let result = handled.try_read(|event, end| steps.push((event.sequence(), end)));
        assert_eq!(result, Err(corrupt));
        assert_eq!(steps, [(0, false), (1, true)]);
        assert_eq!(handled.cursor(), 2, "the events before it are consumed");
    }

    /// A lossy read meets a damaged event: it ends before it (the event
    /// before marked as the end of its batch, as for a gating reader), the
    /// error is reported, and the cursor is left unpinned.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn a_lossy_read_that_meets_a_damaged_event_ends_before_it_unpinned() {
        let path = std::env::temp_dir().join(format!("slotcast-reader-lossy-damaged-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let rt = Runtime::builder().shared(path).ring_capacity(8).build().unwrap();
        let mut tap = rt.reader_with(crate::ReaderOptions::new().policy(crate::Policy::Lossy)).unwrap();
        tap.set_max_batch(std::num::NonZeroUsize::new(8).unwrap());
        let mut writer = rt.writer().unwrap();
        for i in 0..4u8 {
            writer.try_publish_bytes(0, &[i]).unwrap();
        }
        rt.shared().arena.descriptor(2).slot.store(crate::layout::slot_word::pack(5, 0, 0), Relaxed);
        let corrupt = ReadError::Corrupt { sequence: 2, what: "no such size class" };
        let mut steps = Vec::new();
        let result = tap.try_read(|event, end| steps.push((event.sequence(), end)));
        assert_eq!(result, Err(corrupt));
        assert_eq!(steps, [(0, false), (1, true)]);
        let word = rt.shared().arena.readers()[tap.pos.index].cursor.load(Relaxed);
        assert_eq!(word, 2, "the cursor stored after the good events, unpinned");
    }

    #[test]
    fn published_more_than_a_ring_ahead_is_corrupt_even_at_the_top_of_the_range() {
        let rt = Runtime::builder().ring_capacity(8).build().unwrap();
        let mut reader = rt.reader().unwrap();
        let published = &rt.shared().arena.header().published.value;
        // Each case: a published cursor no writer can have stored.
        for bad in [9, u64::MAX - 4, u64::MAX] {
            published.store(bad, Relaxed);
            let err = reader.try_read(|_, _| ()).expect_err("more than a ring ahead");
            assert!(matches!(err, ReadError::Corrupt { sequence: 0, .. }), "published {bad}: {err:?}");
        }
    }
}
