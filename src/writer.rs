//! The writer: slot allocation for the ring, gating, publish, backpressure.
//!
//! **Publish.** Claim a slot of the class and the next sequence, fill the
//! payload in place, write the descriptor (class, slot, generation, `len`,
//! `event_type`) with plain (relaxed) stores, then store `published = seq + 1`
//! with Release: after every event, or, if the writer defers its cursor
//! store ([`Writer::set_flush_every`]), once per `n` events, at
//! [`Writer::flush`], before it waits for room, and when it is dropped.
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
//! **Backpressure.** `try_*` return [`Full`](crate::Full) at once; the
//! waiting forms retry with the writer's [`WaitStrategy`] until their
//! deadline. Before either gives up or pauses, the writer stores its cursor,
//! so readers can make room by reading what it deferred.
//!
//! The files: `core.rs` is the protocol ([`WriterCore`]: claims, gate,
//! commit, flush), `owned.rs` the FIFO of slots, `claim.rs` the claimed
//! slot ([`Claim`]), `publish.rs` the publishing forms; this file the handle
//! and its settings.

use self::core::WriterCore;
use crate::error::WriterError;
use crate::event::SizeClass;
use crate::layout::stream;
use crate::lifetime::{Shared, is_forked};
use crate::sync::{Arc, Ordering::*, mutant};
use crate::wait::{self, WaitStrategy};
use std::fmt;

// The async publishing forms (Waker-based; outside the loom models).
#[cfg(not(loom))]
mod async_publish;
mod claim;
mod core;
mod owned;
mod publish;

pub(crate) use self::core::SEQUENCE_LIMIT;
pub use claim::Claim;

/// How many times `Writer::take` yields while this process holds the role
/// before it reports it taken: an allocator holds it for the few
/// microseconds it takes to return the ring's idle slots.
const OWN_ROLE_WAITS: u32 = 1000;

/// The writer role of a runtime: the only thing that publishes.
///
/// At most one `Writer` exists per runtime at a time; dropping it closes the
/// stream and frees the role (see [`close`](Writer::close)), and gives idle
/// slots back to the pools. Publishing comes in four
/// forms per operation (`try_x`, `x`, `x_timeout`, `x_deadline`: see
/// [`try_publish_bytes`](Writer::try_publish_bytes)).
///
/// Each event is visible to readers as soon as it is published, unless the
/// writer defers its cursor store: with
/// [`set_flush_every(n)`](Writer::set_flush_every) events become visible
/// together, one store of the published cursor for up to `n` of them. At
/// 64 bytes that store (a cache-line round trip to every reader) is what
/// bounds a ring, so deferring is the fastest way to publish. The deferred
/// events are flushed at the `n`-th, by [`flush`](Writer::flush), before the
/// writer waits for room or reports the ring full, and when it is dropped.
///
/// ```
/// use slotcast::{Runtime, SizeClass};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new()?;
/// let reader = rt.reader()?;
/// let mut writer = rt.writer()?;
/// // Copy in: the class is chosen from the length.
/// writer.try_publish_bytes(1, b"copied")?;
/// // Zero copy: fill the slot in place, return the length.
/// writer.try_publish_with(SizeClass::XS, 2, |buf| {
///     buf[..5].copy_from_slice(b"built");
///     5
/// })?;
/// // Deferred: one cursor store for all three.
/// writer.set_flush_every(32);
/// for i in 0..3u64 {
///     writer.try_publish_pod(3, &i)?;
/// }
/// assert_eq!((reader.lag(), writer.pending()), (2, 3));
/// writer.flush();
/// assert_eq!(reader.lag(), 5);
/// # Ok(())
/// # }
/// ```
pub struct Writer {
    core: WriterCore,
    /// A writer the user took ([`Runtime::writer`](crate::Runtime::writer)):
    /// it opens the stream when it takes the role and closes it when it
    /// leaves. The allocator borrowing the role for a moment does neither.
    opens_stream: bool,
    /// How it leaves the stream: closed, or (by [`abandon`](Writer::abandon))
    /// as a dead writer's, for a new writer to reopen.
    leaves_as: u64,
}

impl Writer {
    /// Takes the role for the user: opens the stream (see [`close`](Writer::close)).
    pub(crate) fn take(shared: Arc<Shared>) -> Result<Writer, WriterError> {
        let mut writer = Self::take_role(shared)?;
        let arena = &writer.core.shared.arena;
        // ORDERING: Relaxed; which writer this is: a reader reports a dead
        // writer once per epoch (see `ReadError::WriterDead`). Only a
        // writer the user takes counts: an allocator borrowing the role
        // is not a new writer.
        arena.header().writer.epoch.fetch_add(1, Relaxed);
        // ORDERING(close): Release; pairs with a reader's Acquire load of
        // the state (it only matters that readers stop reporting a close).
        arena.header().writer.stream.store(stream::OPEN, Release);
        // Sleeping readers look again: a blocking reader of a shared runtime
        // sleeps in bounded naps while another process holds the role, to
        // notice if it dies (see `wait::Watch`).
        wait::wake_all_for_state(arena.header(), arena.futex());
        writer.opens_stream = true;
        Ok(writer)
    }

    /// Takes the role for a moment (the allocator returning the ring's idle
    /// slots): neither opens nor closes the stream.
    pub(crate) fn borrow_role(shared: Arc<Shared>) -> Result<Writer, WriterError> {
        Self::take_role(shared)
    }

    fn take_role(shared: Arc<Shared>) -> Result<Writer, WriterError> {
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
        match WriterCore::new(Arc::clone(&shared)) {
            Ok(core) => Ok(Writer { core, opens_stream: false, leaves_as: stream::CLOSED }),
            Err(what) => {
                // ORDERING(writer-role): Release; as in `drop`: we changed
                // nothing, the next taker finds the file as we did.
                shared.arena.header().writer.owner.store(0, Release);
                Err(WriterError::Corrupt { what })
            }
        }
    }

    /// Closes the stream and leaves the role: the deferred events are
    /// published, then every reader reads what was published and from then
    /// on gets [`ReadError::Closed`](crate::ReadError::Closed), and readers
    /// waiting in `recv`, `batch` or `read` (any strategy, sleeping ones
    /// included, in any process) wake up to say so. Dropping the writer
    /// does the same. A writer that takes the role later reopens the
    /// stream; readers then read its events.
    ///
    /// A writer whose process dies does not close the stream: its role can
    /// be taken over, and until then readers that have read everything get
    /// [`ReadError::WriterDead`](crate::ReadError::WriterDead).
    ///
    /// ```
    /// use slotcast::{ReadError, Runtime};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut reader = rt.reader()?;
    /// let mut writer = rt.writer()?;
    /// writer.try_publish_bytes(0, b"last words")?;
    /// writer.close();
    /// assert_eq!(reader.recv()?.data(), b"last words");
    /// assert_eq!(reader.recv().map(|_| ()), Err(ReadError::Closed));
    /// # Ok(())
    /// # }
    /// ```
    pub fn close(self) {
        drop(self);
    }

    /// Leaves the role without closing the stream, as a writer whose
    /// process dies does: the deferred events are published, readers read
    /// every event, then get [`ReadError::WriterDead`](crate::ReadError::WriterDead)
    /// once and wait for a new writer, which reopens the stream. For a
    /// writer that stops because something failed rather than because the
    /// stream ended (the NATS bridge's receiving half, when it loses its
    /// link), so that its readers do not take the stream for finished.
    ///
    /// ```
    /// use slotcast::{ReadError, Runtime};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut reader = rt.reader()?;
    /// let mut writer = rt.writer()?;
    /// writer.try_publish_bytes(0, b"before")?;
    /// writer.abandon();
    /// assert_eq!(reader.recv()?.data(), b"before");
    /// assert_eq!(reader.try_recv().map(|e| e.is_some()), Err(ReadError::WriterDead));
    /// // Reported once: the reader then waits for the next writer.
    /// assert_eq!(reader.try_recv().map(|e| e.is_some()), Ok(false));
    /// rt.writer()?.try_publish_bytes(0, b"after")?;
    /// assert_eq!(reader.recv()?.data(), b"after");
    /// # Ok(())
    /// # }
    /// ```
    pub fn abandon(mut self) {
        self.leaves_as = stream::WRITER_DEAD;
        drop(self);
    }

    /// Makes every deferred event visible to readers: one store of the
    /// published cursor (nothing if no event is pending). See
    /// [`set_flush_every`](Writer::set_flush_every).
    ///
    /// In a `fork` of the process that opened a shared runtime it does
    /// nothing: the deferred events are the parent's (see
    /// [`WriterError::Forked`]).
    #[inline]
    pub fn flush(&mut self) {
        if !self.forked() {
            self.core.flush();
        }
    }

    /// Whether this process is a `fork` of the one that made this writer:
    /// then nothing shared may be touched.
    fn forked(&self) -> bool {
        is_forked(self.core.fork_epoch)
    }

    /// Defers the store of the published cursor: it is stored once `n`
    /// events are pending (so readers never wait on more than `n`), and
    /// also by [`flush`](Writer::flush), before the writer waits for room
    /// (readers could not make room by reading events they cannot see), when
    /// a `try_` form finds the ring or a pool full, and when the writer is
    /// dropped. `n` of 0 or 1 (the default) makes every event visible at
    /// once.
    ///
    /// Unlike a scoped batch, the deferral lasts across calls: a writer fed
    /// one event at a time (from a callback, say) still stores its cursor
    /// once per `n` events. Lowering `n` below the events pending flushes
    /// them.
    ///
    /// ```
    /// use slotcast::Runtime;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut reader = rt.reader()?;
    /// let mut writer = rt.writer()?;
    /// writer.set_flush_every(2);
    /// writer.try_publish_bytes(0, b"a")?;
    /// assert!(reader.try_recv()?.is_none(), "deferred");
    /// writer.try_publish_bytes(0, b"b")?; // the second: flushed
    /// assert_eq!(reader.try_read(|_, _| ())?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_flush_every(&mut self, n: u32) {
        self.core.flush_every = u64::from(n.max(1));
        if self.core.next - self.core.published >= self.core.flush_every {
            self.flush();
        }
    }

    /// After how many pending events the published cursor is stored (1:
    /// every event at once). See [`set_flush_every`](Writer::set_flush_every).
    pub fn flush_every(&self) -> u32 {
        // Set from a `u32`.
        self.core.flush_every as u32
    }

    /// Events published but not yet visible to readers (deferred, see
    /// [`set_flush_every`](Writer::set_flush_every)).
    pub fn pending(&self) -> u64 {
        self.core.next - self.core.published
    }

    /// Sets how this writer waits for room in its waiting forms (`x`,
    /// `x_timeout`, `x_deadline`). The runtime's strategy
    /// ([`Builder::wait_strategy`](crate::Builder::wait_strategy)) is the
    /// default. Readers choose their own: a sleeping reader is woken
    /// whatever the writer's strategy.
    ///
    /// ```
    /// use slotcast::{Runtime, WaitStrategy};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut writer = rt.writer()?;
    /// writer.set_wait_strategy(WaitStrategy::BusySpin);
    /// assert_eq!(writer.wait_strategy(), WaitStrategy::BusySpin);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.core.wait = strategy;
    }

    /// How this writer waits for room (see
    /// [`set_wait_strategy`](Writer::set_wait_strategy)).
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.core.wait
    }

    /// Number of events visible to readers so far (the sequence number
    /// after the last flushed event).
    pub fn published(&self) -> u64 {
        self.core.published
    }

    /// The runtime's configuration (which classes have slots).
    #[cfg(all(feature = "capi", not(loom)))]
    pub(crate) fn config(&self) -> &crate::Config {
        &self.core.shared.config
    }

    /// Returns to the pools every slot the writer keeps for reuse that no
    /// reader needs any more, so the standalone [`Allocator`](crate::Allocator)
    /// can use them. The writer also does this by itself after an allocator
    /// found a pool empty, on the next publish of that class that looks past
    /// its oldest slot (at the latest when its cached view of the readers
    /// runs out: within a ring's worth of events), and when it is dropped.
    ///
    /// In a `fork` of the process that opened a shared runtime it does
    /// nothing: the slots are the parent's.
    pub fn give_back_idle_slots(&mut self) {
        if self.forked() {
            return;
        }
        for class in SizeClass::ALL {
            self.core.give_back_idle(class);
        }
    }
}

impl Writer {
    /// Whether the writer still keeps pool slots for reuse (after
    /// [`give_back_idle_slots`](Writer::give_back_idle_slots), the slots a
    /// reader still covers): what an allocator's borrow of the role could
    /// not return yet.
    pub(crate) fn keeps_slots(&self) -> bool {
        self.core.keeps_slots()
    }
}

impl Drop for Writer {
    /// Leaves as [`close`](Writer::close) does.
    fn drop(&mut self) {
        if self.core.shared.forked() {
            // The role and the slots are the parent's.
            return;
        }
        // Deferred events are published, not lost.
        self.core.flush();
        self.give_back_idle_slots();
        if self.opens_stream {
            let arena = &self.core.shared.arena;
            let header = arena.header();
            // Before the role is released: a writer taking it next opens
            // the stream after this. ORDERING(close): Release; pairs with
            // the readers' Acquire load of the state: after our last store
            // of `published`, so a reader that sees the stream closed (or,
            // abandoned, its writer dead) reads every event first.
            header.writer.stream.store(self.leaves_as, mutant!("close_relaxed", Relaxed, Release));
            wait::wake_all_for_state(header, arena.futex());
        }
        // ORDERING(writer-role): Release; pairs with the Acquire CAS of the
        // next writer, which then sees our last state.
        self.core.shared.arena.header().writer.owner.store(0, mutant!("writer_role_relaxed", Relaxed, Release));
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("published", &self.core.published)
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::SEQUENCE_LIMIT;
    use crate::Runtime;
    use crate::error::WriterError;
    use crate::sync::Ordering::Relaxed;

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
