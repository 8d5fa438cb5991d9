//! Wait strategies: how a reader waits for the next event and how the writer
//! waits for room.
//!
//! | strategy | reader with nothing to read | writer facing a full ring or pool |
//! |---|---|---|
//! | [`BusySpin`](WaitStrategy::BusySpin) | spins | spins |
//! | [`Yield`](WaitStrategy::Yield) | spins briefly, then yields the CPU | the same |
//! | [`Blocking`](WaitStrategy::Blocking) | spins, yields, then sleeps on the arena's futex word (in naps until the writer next publishes) | spins, yields, then sleeps in growing naps (20 µs up to 1 ms) |
//!
//! The runtime's strategy (set when it is built, recorded in a shared file)
//! is each handle's default; every reader and the writer may choose their
//! own ([`Reader::set_wait_strategy`](crate::Reader::set_wait_strategy)), in
//! any process. Only `Blocking` lets an idle reader sleep: once the writer
//! has acknowledged its registration (its first publish after the reader
//! turned `Blocking` does), an idle reader uses no CPU; before that it naps,
//! waking at most a few dozen times a second (see below). The writer is
//! never woken by readers: that would put an atomic read-modify-write on
//! every reader's hot path, so it polls with naps.
//!
//! **Who may sleep.** After every store of `published`, whatever its own
//! strategy, the writer calls [`wake_readers`]. Its fast path is one Relaxed
//! load of `blocking`, the count of readers whose strategy is `Blocking`
//! (with an epoch, bumped by every registration): while no reader can sleep
//! it does nothing more. Otherwise it runs the sleeper protocol below (an
//! AcqRel read-modify-write of `waiters`, plus one `futex` wake-up syscall
//! for each time a reader went to sleep).
//!
//! A reader registers when it becomes blocking (joining with the runtime's
//! `Blocking`, or [`set_wait_strategy`](crate::Reader::set_wait_strategy)) and
//! unregisters when it stops or leaves. The Relaxed load races with a
//! registration: the writer may store `published`, load a count without the
//! new reader, and skip the wake-up, while that reader checks `published`
//! before the store lands and sleeps (a store-buffering race; a fence on
//! every publish would close it, at the cost the count exists to avoid).
//! So the writer acknowledges what it sees, and a reader sleeps only briefly
//! until its registration is acknowledged:
//!
//! ```text
//! writer, after published.store(seq, Release)   reader becoming blocking
//! b = blocking.load(Relaxed)                     e = epoch(blocking += 1 | 1 << 32, Relaxed CAS) + 1
//! if count(b) == 0 { return }                    ...
//! (the sleeper protocol below)                   before each sleep:
//! if acked != epoch(b) {                           a = acked.load(Acquire)   -- ORDERING(wake_ack)
//!     acked.store(epoch(b), Release)               (the sleeper protocol: checks published)
//! }                                                sleep; a bounded nap unless a >= e
//! ```
//!
//! The epoch grows with every registration (unregistering leaves it), so a
//! load that returns epoch `>= e` comes after our registration in the
//! modification order of `blocking`. The reader acquires `acked >= e`, so
//! every `published` store of the writer before that load is visible to it
//! (the check of `published` follows the load of `acked`), and every load of
//! `blocking` after it (by this writer, or a later one: the role passes with
//! Release/Acquire) returns our registration or a later value, and runs the
//! sleeper protocol. Until then the reader naps and looks again: a publish
//! that missed the registration is seen at the next look. The first publish
//! after a registration acknowledges it, so an idle reader naps only until
//! the writer next publishes.
//!
//! **The unacknowledged naps grow**: [`POLL`] (1 ms) first, doubling with
//! each nap to at most [`MAX_NAP`] (100 ms), per registration. An idle
//! reader of a writer that publishes nothing thus wakes about 7 times in its
//! first 127 ms and 10 times a second after that, instead of 1000. The only
//! event a nap can leave unseen is one whose publish raced the registration
//! (the store-buffering race above): a publish whose load of `blocking` sees
//! the registration runs the sleeper protocol, which wakes the napping
//! reader (it registered in `waiters` before napping) and acknowledges it.
//! So the backoff can delay an event by at most [`MAX_NAP`], and only an
//! event published in that race; a reader whose registration has been
//! acknowledged sleeps on the futex word without a bound and never naps.
//!
//! **The count never carries into the epoch.** A registration is a CAS loop
//! that refuses a count already at [`MAX_BLOCKING`] (`i32::MAX`, far above
//! any number of readers: only a damaged file or leaked registrations get
//! there). A refused reader is still `Blocking`, but uncounted: it is never
//! acknowledged, so it keeps napping as above, and leaving does not uncount
//! it. (With the count that high the writer runs the sleeper protocol after
//! every publish, so the refused reader's naps end at the next publish
//! anyway.) Unregistering refuses a count of zero. Neither can wrap, so the
//! writer never reads a count of zero while a counted reader sleeps.
//!
//! A process that dies leaves its readers' registrations counted (the reaper
//! frees reader entries, not counts it cannot attribute): the writer then
//! runs the sleeper protocol after each publish, the cost it has with a
//! blocking reader anyway, and nothing is lost.
//!
//! **The sleeper protocol**, without lost wake-ups:
//!
//! ```text
//! writer                                   sleeping reader
//! published.store(seq, Release)            loop {
//! if waiters.fetch_add(0, AcqRel) > 0 {        f = futex.load(Acquire)
//!     waiters.swap(0, AcqRel)                  waiters.fetch_add(1, AcqRel)   -- ORDERING(wake)
//!     futex.fetch_add(1, Release)              if published.load(Acquire) != cursor { break }
//!     futex_wake_all(futex)                    futex_wait(futex, f)
//! }                                        }
//! ```
//!
//! `waiters` counts registrations since the writer last woke everyone. The
//! read-modify-writes on it are ordered one way or the other: if the writer's
//! comes after a registration it wakes the sleeper; if before, the reader
//! acquires the writer's release, so it sees the new `published` and does
//! not sleep. `futex_wait` only sleeps while the word still holds `f`, so a
//! bump between the check and the sleep is not lost.
//!
//! The reader reads `f` *before* registering. A registration can land between
//! the writer's check and its reset (`swap(0)`), which erases it; the bump
//! that follows the reset then has to wake that reader. It does, because the
//! reader's `f` happens before its registration, which the reset acquires,
//! which happens before the bump: `f` is older than the bump, so the reader's
//! `futex_wait` returns and it registers again. Read after registering, `f`
//! could be the bump itself: the reader would sleep on the current value,
//! unregistered, and miss every later event (found by the loom model
//! `loom_tests/wake.rs`; the mutant `wake_register_first` restores it). A
//! reader registers again before every sleep, so each sleep costs the writer
//! at most one wake-up syscall.
//!
//! Both halves are modelled with loom: `loom_tests/wake.rs` (a blocking
//! reader is always woken; mutants `wake_load`, `wake_register_first`) and
//! `loom_tests/wake_turn.rs` (a reader turning blocking while the writer
//! publishes; mutant `wake_unacked`, the reader trusting its registration
//! at once).

use crate::layout::{Header, stream};
use crate::sync::{self, Futex, Ordering::*, mutant};
use std::time::{Duration, Instant};

/// How readers wait for events and the writer waits for room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitStrategy {
    /// Spin on the cursor: lowest latency, one busy core per waiting thread.
    /// Use it only with at least one core per spinning thread.
    BusySpin,
    /// Spin a little, then yield the CPU between checks: low latency and
    /// fair when threads outnumber cores, but an idle reader still polls.
    Yield,
    /// Spin, yield, then sleep on a futex word in the arena (works across
    /// processes). An idle reader uses no CPU once the writer has published
    /// after it turned `Blocking`; until then it naps, 1 ms growing to
    /// 100 ms (a few dozen wake-ups a second at most). The writer pays one
    /// atomic read-modify-write per cursor store to look for sleepers.
    #[default]
    Blocking,
}

impl WaitStrategy {
    pub(crate) const fn to_word(self) -> u64 {
        match self {
            Self::BusySpin => 0,
            Self::Yield => 1,
            Self::Blocking => 2,
        }
    }

    #[cfg_attr(
        any(loom, miri, not(target_os = "linux")),
        allow(
            dead_code,
            reason = "read by the Linux shared mapping (shm/linux.rs) only, which loom and Miri builds leave out"
        )
    )]
    pub(crate) const fn from_word(word: u64) -> Option<Self> {
        match word {
            0 => Some(Self::BusySpin),
            1 => Some(Self::Yield),
            2 => Some(Self::Blocking),
            _ => None,
        }
    }
}

/// While its registration as a blocking reader is not acknowledged, a
/// reader's first nap lasts this long; each next one twice as long, up to
/// [`MAX_NAP`] (see the module docs).
#[cfg_attr(loom, allow(dead_code, reason = "loom has no clock: an unacknowledged reader yields instead"))]
pub(crate) const POLL: Duration = Duration::from_millis(1);

/// The longest nap of a reader whose registration is not acknowledged: the
/// most a publish racing the registration can be seen late (see the module
/// docs).
#[cfg_attr(loom, allow(dead_code, reason = "loom has no clock: an unacknowledged reader yields instead"))]
pub(crate) const MAX_NAP: Duration = Duration::from_millis(100);

/// The `n`th unacknowledged nap (from 0): [`POLL`] doubled `n` times, at
/// most [`MAX_NAP`].
#[cfg_attr(loom, allow(dead_code, reason = "loom has no clock: an unacknowledged reader yields instead"))]
fn unacked_nap(n: u32) -> Duration {
    // 2^7 ms is past MAX_NAP already: no larger shift is needed.
    POLL.saturating_mul(1 << n.min(7)).min(MAX_NAP)
}

/// How long a wait may last. Internal: the public forms take a `Duration`
/// (`_timeout`) or an `Instant` (`_deadline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// Do not wait: the `try_` variants. Reads no clock.
    Now,
    /// Wait as long as it takes.
    Never,
    /// This long from when the wait starts: the clock is read only once
    /// there is something to wait for ([`start`](Deadline::start)).
    After(Duration),
    /// Give up at this instant.
    At(Instant),
}

impl Deadline {
    pub(crate) const NEVER: Deadline = Deadline::Never;

    /// A deadline `timeout` after the wait starts. Reads no clock: a read
    /// that finds an event at once never does.
    pub(crate) const fn after(timeout: Duration) -> Self {
        Deadline::After(timeout)
    }

    /// Give up at `instant`.
    pub(crate) const fn at(instant: Instant) -> Self {
        Deadline::At(instant)
    }

    /// Zero-length: the `try_` variants.
    pub(crate) const fn now() -> Self {
        Deadline::Now
    }

    /// Fixes a relative deadline to the clock, once a wait begins; a
    /// timeout too large to represent never expires. Other forms unchanged.
    pub(crate) fn start(self) -> Self {
        match self {
            Deadline::After(t) if t.is_zero() => Deadline::Now,
            Deadline::After(t) => Instant::now().checked_add(t).map_or(Deadline::Never, Deadline::At),
            d => d,
        }
    }

    /// Time left, `Some(ZERO)` once expired, `None` for never.
    fn remaining(self) -> Option<Duration> {
        match self {
            Deadline::Now => Some(Duration::ZERO),
            Deadline::Never => None,
            Deadline::After(t) => Some(t),
            Deadline::At(d) => Some(d.saturating_duration_since(Instant::now())),
        }
    }

    /// Whether no wait is left. A relative deadline not yet started has
    /// expired only if it is zero (no clock read).
    #[inline]
    pub(crate) fn expired(self) -> bool {
        match self {
            Deadline::Now => true,
            Deadline::Never => false,
            Deadline::After(t) => t.is_zero(),
            Deadline::At(d) => Instant::now() >= d,
        }
    }
}

/// A reader's registration in `WakeLine::blocking` (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Blocking {
    /// The epoch of our registration.
    epoch: u32,
    /// The writer has acknowledged it: sleeps need no bound.
    acked: bool,
    /// The count took us in; `false` if it was at [`MAX_BLOCKING`]: then
    /// never acknowledged, and never uncounted.
    counted: bool,
    /// Unacknowledged naps taken so far: the next lasts `unacked_nap(naps)`.
    naps: u32,
}

const ONE_READER: u64 = 1;
const ONE_EPOCH: u64 = 1 << 32;

/// The count of blocking readers a registration refuses to go past: half
/// the 32 bits it has. A CAS cannot carry into the epoch at any bound below
/// 2^32; this one leaves the top bit clear, as `Arc` leaves headroom, so a
/// damaged file is noticed long before the count could wrap.
pub(crate) const MAX_BLOCKING: u32 = i32::MAX as u32;

/// Counts a reader that may sleep from now on: a CAS loop (one RMW unless
/// raced) refusing a count at [`MAX_BLOCKING`], which leaves the reader
/// uncounted (see the module docs).
pub(crate) fn register_blocking(header: &Header) -> Blocking {
    // ORDERING(wake_ack): Relaxed; pairs with nothing. The reader trusts its
    // registration only once it acquires an `acked` epoch at least its own
    // (Acquire, pairing with the writer's Release store), and the writer
    // stores only epochs it loaded from `blocking`. Epochs grow along the
    // modification order of `blocking`, so that load returned our
    // registration or a later value: coherence alone places it, no
    // ordering of the registration is needed (see the module docs).
    let registered = header.wake.blocking.fetch_update(Relaxed, Relaxed, |b| {
        if b as u32 >= MAX_BLOCKING { None } else { Some(b + (ONE_READER | ONE_EPOCH)) }
    });
    match registered {
        Ok(old) => Blocking { epoch: ((old >> 32) as u32).wrapping_add(1), acked: false, counted: true, naps: 0 },
        Err(_) => Blocking { epoch: 0, acked: false, counted: false, naps: 0 },
    }
}

/// Uncounts a reader registered with [`register_blocking`] (nothing if the
/// registration was refused). The count never goes below zero, whatever the
/// shared file holds.
pub(crate) fn unregister_blocking(header: &Header, registration: Blocking) {
    if !registration.counted {
        return;
    }
    let blocking = &header.wake.blocking;
    // ORDERING: Relaxed; the count only tells the writer whether to look
    // for sleepers, and a reader that stopped sleeping needs no wake-up.
    let _ = blocking.fetch_update(Relaxed, Relaxed, |b| if b as u32 == 0 { None } else { Some(b - ONE_READER) });
}

// Under loom, spinning and yielding only inflate the state space: go
// straight to the interesting transition. (A yield would also hide weak
// behaviours: loom never lets a load after a yield return a value it saw
// before, so the sleeper could not miss the writer's `published`.) Under
// Miri they only burn interpreter time: a few rounds, then sleep.
#[cfg(not(any(loom, miri)))]
const SPINS: u32 = 64;
#[cfg(loom)]
const SPINS: u32 = 0;
#[cfg(all(miri, not(loom)))]
const SPINS: u32 = 4;
#[cfg(not(any(loom, miri)))]
const YIELDS: u32 = 64;
#[cfg(loom)]
const YIELDS: u32 = 0;
#[cfg(all(miri, not(loom)))]
const YIELDS: u32 = 4;
/// How long a blocking reader keeps yielding before it sleeps (at least
/// `YIELDS` rounds). Not under loom or Miri, whose clocks are not worth it.
const YIELD_FOR: Duration = if cfg!(any(loom, miri)) { Duration::ZERO } else { Duration::from_micros(100) };

/// How often a wait calls its watch (see [`wait_for_event`]).
#[cfg_attr(loom, allow(dead_code, reason = "loom has no clock and no watch"))]
pub(crate) const WATCH_EVERY: Duration = Duration::from_millis(1);

/// What a waiting reader of a shared runtime watches: a writer in another
/// process, which may die without closing the stream.
pub(crate) struct Watch<'a> {
    /// This process's value in the writer role word (its process entry + 1).
    pub(crate) me: u64,
    /// The writer epoch whose death the reader has reported already (or
    /// `u64::MAX`): a stream still marked dead by that writer does not end
    /// the wait, which goes on until a writer takes over.
    pub(crate) dead_seen: u64,
    /// Reaps dead processes (at most once a millisecond); returns whether
    /// the stream is no longer open after.
    pub(crate) reap: &'a mut dyn FnMut() -> bool,
}

impl Watch<'_> {
    /// Whether there is anything to watch: the role is held by another
    /// process. Only then does a blocking sleep wake up to look (a writer
    /// taking the role wakes sleepers, see `Writer::take`).
    fn needed(&self, header: &Header) -> bool {
        // ORDERING: Relaxed; a hint, the reaper takes the role's word.
        let owner = header.writer.owner.load(Relaxed);
        owner != 0 && owner != self.me
    }
}

/// Waits until `published != cursor`, the stream stops being open (the
/// writer closed it or its process died, see [`stream`]), `watch` says so,
/// or the deadline passes. Returns the published value seen, or `None` on
/// timeout. Among correct processes a value other than the cursor means
/// `published > cursor`; a value below the cursor (a corrupted shared
/// mapping) ends the wait too, for the caller to report instead of waiting
/// for a writer that may never pass it. A stream that is no longer open
/// returns `Some(published)` too (perhaps the cursor): the caller looks at
/// the stream's state. `blocking` is the reader's registration, `Some`
/// when its strategy is `Blocking` (`None`: never sleeps unbounded). `watch`, if any, reaps about
/// every [`WATCH_EVERY`] while the wait lasts and the writer role is held by
/// another process (a blocking sleep then lasts at most that long): a
/// shared runtime's reader uses it to notice a writer whose process died.
// `SPINS` and `YIELDS` are 0 under loom: `round < SPINS` is then always false.
#[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))]
pub(crate) fn wait_for_event(
    strategy: WaitStrategy,
    blocking: Option<&mut Blocking>,
    header: &Header,
    futex: &Futex,
    cursor: u64,
    deadline: Deadline,
    mut watch: Option<&mut Watch<'_>>,
) -> Option<u64> {
    // The clock is read from here on only: there is something to wait for.
    let deadline = deadline.start();
    let published = &header.published.value;
    let mut round = 0u32;
    let mut yielding_since: Option<Instant> = None;
    let mut watched: Option<Instant> = None;
    loop {
        // ORDERING(publish): Acquire; pairs with the writer's Release store of
        // `published`, so the descriptors and payloads below it are visible.
        let p = published.load(Acquire);
        if p != cursor || ends_wait(header, watch.as_deref()) {
            return Some(p);
        }
        if deadline.expired() {
            return None;
        }
        // The watch, about every WATCH_EVERY: the clock is read once per
        // 256 rounds of spinning, and at every round of yielding.
        if let Some(watch) = watch.as_deref_mut() {
            if round % 256 == 0 || round >= SPINS {
                let last = *watched.get_or_insert_with(Instant::now);
                if last.elapsed() >= WATCH_EVERY {
                    watched = Some(Instant::now());
                    if watch.needed(header) && (watch.reap)() {
                        // ORDERING(publish): Acquire; as above.
                        return Some(published.load(Acquire));
                    }
                }
            }
        }
        match strategy {
            WaitStrategy::BusySpin => sync::spin_loop(),
            WaitStrategy::Yield if round < SPINS => sync::spin_loop(),
            WaitStrategy::Yield => sync::yield_now(),
            WaitStrategy::Blocking if round < SPINS => sync::spin_loop(),
            WaitStrategy::Blocking => {
                // Yield for a while before sleeping: a steady stream then
                // costs neither a wake-up syscall per pause nor the latency
                // of being rescheduled.
                let since = *yielding_since.get_or_insert_with(Instant::now);
                if round < SPINS + YIELDS || (!YIELD_FOR.is_zero() && since.elapsed() < YIELD_FOR) {
                    sync::yield_now();
                } else if let Some(registration) = blocking {
                    return sleep_for_event(registration, header, futex, cursor, deadline, watch);
                } else {
                    // Not registered (a forked child's reader): never sleep
                    // unbounded, nobody would look for us.
                    sync::yield_now();
                }
            }
        }
        round = round.saturating_add(1);
    }
}

/// Whether the stream is open (see [`stream`]).
#[inline]
pub(crate) fn is_open(header: &Header) -> bool {
    // ORDERING(close): Acquire; pairs with the Release store of the writer
    // that closed the stream (or of the reaper of a dead writer), made
    // after its last store of `published`: a reader that sees the stream
    // closed then loads the final `published`.
    header.writer.stream.load(Acquire) == stream::OPEN
}

/// Whether the stream's state ends a wait: it is no longer open, unless it
/// is marked dead by the writer whose death the reader reported already.
#[inline]
fn ends_wait(header: &Header, watch: Option<&Watch<'_>>) -> bool {
    stream_ends_wait(header, watch.map(|w| w.dead_seen))
}

/// [`ends_wait`] for a reader that reported the death of writer epoch
/// `dead_seen` (if any).
#[inline]
fn stream_ends_wait(header: &Header, dead_seen: Option<u64>) -> bool {
    if is_open(header) {
        return false;
    }
    // ORDERING: Relaxed; which writer died, read after the state.
    let reported = dead_seen.is_some_and(|seen| {
        seen == header.writer.epoch.load(Relaxed)
            // ORDERING(close): as in `is_open`.
            && header.writer.stream.load(Acquire) == stream::WRITER_DEAD
    });
    !reported
}

/// What an async task that found nothing at `cursor` does where a sleeping
/// reader would sleep (`task_wait.rs`): its waker is in the arena's task
/// list already; it counts itself in `waiters`, then checks `published` and
/// the stream's state, as [`sleep_for_event`] does before each sleep, with
/// the same orderings (the writer's side is unchanged: it wakes the task
/// list with the futex word's sleepers).
///
/// Returns `Ok(published)` if there is no need to wait (an event, or the
/// stream's end), else `Err(nap)`: `None` if the writer acknowledged the
/// registration (the task may wait unbounded), or the nap after which the
/// task must look again (see the module docs: the writer's next publish may
/// have missed the registration).
pub(crate) fn task_registers(
    registration: &mut Blocking,
    header: &Header,
    cursor: u64,
    dead_seen: Option<u64>,
) -> Result<u64, Option<Duration>> {
    let wake = &header.wake;
    if !registration.acked && registration.counted {
        // ORDERING(wake_ack): Acquire; as in `sleep_for_event`.
        let acked = wake.acked.load(Acquire);
        registration.acked = acked.wrapping_sub(registration.epoch) as i32 >= 0;
    }
    // ORDERING(wake): AcqRel RMW; as in `sleep_for_event`: whichever of
    // this and the writer's RMW on `waiters` comes second sees the other
    // (the writer then wakes the task list, which holds our waker already).
    wake.waiters.fetch_add(1, AcqRel);
    // ORDERING(publish): Acquire; pairs with the writer's Release store.
    let p = header.published.value.load(Acquire);
    if p != cursor || stream_ends_wait(header, dead_seen) {
        return Ok(p);
    }
    if registration.acked {
        return Err(None);
    }
    let nap = unacked_nap(registration.naps);
    registration.naps = registration.naps.saturating_add(1);
    Err(Some(nap))
}

/// The sleeping half of the wake-up protocol (see the module docs). With a
/// watch that is needed, each sleep lasts at most [`WATCH_EVERY`], and the
/// watch runs after it.
fn sleep_for_event(
    registration: &mut Blocking,
    header: &Header,
    futex: &Futex,
    cursor: u64,
    deadline: Deadline,
    mut watch: Option<&mut Watch<'_>>,
) -> Option<u64> {
    let wake = &header.wake;
    loop {
        if let Some(watch) = watch.as_deref_mut() {
            if watch.needed(header) && (watch.reap)() {
                // ORDERING(publish): Acquire; as below.
                return Some(header.published.value.load(Acquire));
            }
        }
        if !registration.acked && registration.counted {
            // ORDERING(wake_ack): Acquire; pairs with the writer's Release
            // store of `acked`: the `published` stores before its load of
            // `blocking` are visible to the check below.
            let acked = wake.acked.load(Acquire);
            // Wrapping: epochs count registrations modulo 2^32. Mutant:
            // trust the registration at once (a lost wake-up).
            registration.acked = mutant!("wake_unacked", true, acked.wrapping_sub(registration.epoch) as i32 >= 0);
        }
        // ORDERING(futex): Acquire; pairs with the writer's Release bump.
        // Before registering: see the module docs.
        let f = wake.futex.load(Acquire);
        // ORDERING(wake): AcqRel RMW; pairs with the writer's AcqRel RMWs on
        // `waiters` (the check after its `published` store, and the reset).
        // Whichever comes second in the modification order of `waiters`
        // sees the other.
        wake.waiters.fetch_add(1, AcqRel);
        // Mutant: read the futex word after registering (a lost wake-up).
        // ORDERING(futex): as above.
        let f = if cfg!(slotcast_mutant = "wake_register_first") { wake.futex.load(Acquire) } else { f };
        // ORDERING(publish): Acquire; pairs with the writer's Release store.
        let p = header.published.value.load(Acquire);
        // A close (or a dead writer's reaper) stores the stream's state,
        // then runs the same RMW on `waiters` as a publish: see `wake_all_for`.
        if p != cursor || ends_wait(header, watch.as_deref()) {
            return Some(p);
        }
        let left = deadline.remaining();
        if left == Some(Duration::ZERO) {
            return None;
        }
        #[cfg(not(loom))]
        let left = match watch.as_deref().map(|w| w.needed(header)) {
            Some(true) => Some(left.map_or(WATCH_EVERY, |left| left.min(WATCH_EVERY))),
            _ => left,
        };
        if registration.acked {
            futex.wait(&wake.futex, f, left);
        } else {
            nap_unacked(futex, &wake.futex, f, left, registration.naps);
            registration.naps = registration.naps.saturating_add(1);
        }
    }
}

/// The `n`th nap (from 0) of a reader whose registration the writer may
/// not have seen: at most [`unacked_nap`]`(n)`. Under loom (no clock): a
/// yield, after which the reader looks again.
#[cfg(not(loom))]
fn nap_unacked(futex: &Futex, word: &crate::sync::AtomicU32, f: u32, left: Option<Duration>, n: u32) {
    let nap = unacked_nap(n);
    futex.wait(word, f, Some(left.map_or(nap, |left| left.min(nap))));
}

#[cfg(loom)]
fn nap_unacked(_futex: &Futex, _word: &crate::sync::AtomicU32, _f: u32, _left: Option<Duration>, _n: u32) {
    sync::yield_now();
}

/// Wakes sleeping readers after a `published` store, if any reader can
/// sleep. Called after every store of `published`, whatever the writer's
/// own strategy: one Relaxed load when no reader is `Blocking`.
#[inline]
pub(crate) fn wake_readers(header: &Header, futex: &Futex) {
    // ORDERING(wake_ack): Relaxed; may miss a registration still in flight,
    // which the registering reader covers by bounded sleeps until `acked`
    // (see the module docs).
    let b = header.wake.blocking.load(Relaxed);
    if b as u32 != 0 {
        look_for_sleepers(header, futex, b);
    }
}

#[cold]
#[inline(never)]
fn look_for_sleepers(header: &Header, futex: &Futex, blocking: u64) {
    let wake = &header.wake;
    // ORDERING(wake): AcqRel RMW; pairs with the reader's AcqRel increment
    // in `sleep_for_event` (see the module docs). A load would not do: it
    // may miss a registration while the reader misses our `published`.
    let waiters = mutant!("wake_load", wake.waiters.load(Acquire), wake.waiters.fetch_add(0, AcqRel));
    if waiters != 0 {
        wake_all(header, futex);
    }
    let epoch = (blocking >> 32) as u32;
    // ORDERING: Relaxed; only this writer (or the next, after the role's
    // Release/Acquire hand-over) stores it.
    if wake.acked.load(Relaxed) != epoch {
        // ORDERING(wake_ack): Release; pairs with the reader's Acquire load:
        // our `published` stores before the load of `blocking` above are
        // visible to a reader that sees its epoch acknowledged.
        wake.acked.store(epoch, Release);
    }
}

/// Wakes every sleeping reader after a change of the stream's state (a
/// close, a dead writer reaped), whether or not any reader is counted as
/// blocking: the sleeper protocol of a publish, without its fast path
/// (which may miss a registration still in flight, see the module docs).
/// The caller has stored the state with Release before.
#[cold]
pub(crate) fn wake_all_for_state(header: &Header, futex: &Futex) {
    // ORDERING(wake): AcqRel RMW; as in `look_for_sleepers`: a sleeper
    // registered before it is woken, one registered after it sees the
    // state (which the reader checks after registering).
    if header.wake.waiters.fetch_add(0, AcqRel) != 0 {
        wake_all(header, futex);
    }
}

#[cold]
#[inline(never)]
fn wake_all(header: &Header, futex: &Futex) {
    let wake = &header.wake;
    // ORDERING(wake): AcqRel; every registration up to here is served by
    // the bump below; later ones see it or a later one.
    wake.waiters.swap(0, AcqRel);
    // ORDERING(futex): Release; pairs with the sleeper's Acquire load.
    wake.futex.fetch_add(1, Release);
    futex.wake_all(&wake.futex);
}

/// Backs off between attempts of a writer that found the ring or a pool
/// full. Returns `false` once the deadline has passed.
pub(crate) struct RoomWait {
    strategy: WaitStrategy,
    round: u32,
    /// The deadline of the first pause, fixed to the clock then.
    started: Option<Deadline>,
}

impl RoomWait {
    pub(crate) fn new(strategy: WaitStrategy) -> Self {
        Self { strategy, round: 0, started: None }
    }

    // As in `wait_for_event`: the constants are 0 under loom.
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))]
    pub(crate) fn pause(&mut self, deadline: Deadline) -> bool {
        let deadline = *self.started.get_or_insert_with(|| deadline.start());
        if deadline.expired() {
            return false;
        }
        let round = self.round;
        self.round = self.round.saturating_add(1);
        match self.strategy {
            WaitStrategy::BusySpin => sync::spin_loop(),
            WaitStrategy::Yield if round < SPINS => sync::spin_loop(),
            WaitStrategy::Yield => sync::yield_now(),
            WaitStrategy::Blocking if round < SPINS => sync::spin_loop(),
            WaitStrategy::Blocking if round < SPINS + YIELDS => sync::yield_now(),
            WaitStrategy::Blocking => {
                let k = (round - SPINS - YIELDS).min(6);
                let nap = Duration::from_micros(20 << k).min(Duration::from_millis(1));
                sync::sleep(deadline.remaining().map_or(nap, |left| left.min(nap)));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_words_round_trip() {
        for s in [WaitStrategy::BusySpin, WaitStrategy::Yield, WaitStrategy::Blocking] {
            assert_eq!(WaitStrategy::from_word(s.to_word()), Some(s));
        }
        assert_eq!(WaitStrategy::from_word(3), None);
    }

    #[test]
    fn deadlines_expire() {
        assert!(Deadline::now().expired());
        assert!(!Deadline::NEVER.expired());
        assert!(!Deadline::after(Duration::from_secs(3600)).start().expired());
        assert!(!Deadline::after(Duration::MAX).start().expired());
        assert_eq!(Deadline::after(Duration::MAX).start(), Deadline::NEVER);
        assert!(Deadline::after(Duration::ZERO).expired(), "a zero timeout is a try");
        assert!(Deadline::at(Instant::now()).expired());
    }

    #[test]
    fn a_timeout_reads_the_clock_only_when_the_wait_starts() {
        let timeout = Duration::from_millis(50);
        // Not started: no instant inside, whatever time passes.
        let lazy = Deadline::after(timeout);
        assert_eq!(lazy, Deadline::After(timeout));
        assert!(!lazy.expired());
        assert_eq!(lazy.remaining(), Some(timeout));
        sync::sleep(timeout * 2);
        assert!(!lazy.expired(), "a deadline not started does not run down");
        // Started: fixed to the clock then.
        let before = Instant::now();
        let Deadline::At(at) = lazy.start() else { panic!("a started timeout is an instant") };
        assert!(at >= before + timeout && at <= Instant::now() + timeout);
        assert_eq!(Deadline::NEVER.start(), Deadline::NEVER);
        assert_eq!(Deadline::now().start(), Deadline::now());
    }

    #[test]
    #[cfg(not(loom))]
    fn registrations_count_readers_and_number_epochs() {
        let rt = crate::Runtime::new().unwrap();
        let header = rt.shared().arena.header();
        let before = header.wake.blocking.load(Relaxed);
        let a = register_blocking(header);
        let b = register_blocking(header);
        assert_eq!(b.epoch, a.epoch.wrapping_add(1));
        assert_eq!(header.wake.blocking.load(Relaxed), before + 2 * (ONE_READER | ONE_EPOCH));
        unregister_blocking(header, a);
        unregister_blocking(header, b);
        assert_eq!(header.wake.blocking.load(Relaxed), before + 2 * ONE_EPOCH, "the epoch stays");
        // A count already at zero (a damaged file) does not wrap.
        header.wake.blocking.store(5 << 32, Relaxed);
        unregister_blocking(header, a);
        assert_eq!(header.wake.blocking.load(Relaxed), 5 << 32);
    }

    #[test]
    #[cfg(not(loom))]
    fn a_count_at_the_bound_refuses_registrations_and_keeps_them_uncounted() {
        let rt = crate::Runtime::new().unwrap();
        let blocking = &rt.shared().arena.header().wake.blocking;
        // Each case: a count registration must refuse, whatever the epoch.
        for full in [u64::from(MAX_BLOCKING), u64::from(u32::MAX), (7 << 32) | u64::from(u32::MAX - 1)] {
            blocking.store(full, Relaxed);
            let refused = register_blocking(rt.shared().arena.header());
            assert!(!refused.counted && !refused.acked, "{full:#x}: {refused:?}");
            assert_eq!(blocking.load(Relaxed), full, "a refused registration changes nothing");
            unregister_blocking(rt.shared().arena.header(), refused);
            assert_eq!(blocking.load(Relaxed), full, "nor does leaving with it");
        }
        // One below the bound: the last registration taken.
        blocking.store((3 << 32) | u64::from(MAX_BLOCKING - 1), Relaxed);
        let last = register_blocking(rt.shared().arena.header());
        assert!(last.counted);
        assert_eq!(last.epoch, 4);
        assert_eq!(blocking.load(Relaxed), (4 << 32) | u64::from(MAX_BLOCKING));
    }

    #[test]
    fn unacknowledged_naps_double_up_to_the_bound() {
        // (nap number, its length)
        let table = [(0, 1), (1, 2), (2, 4), (6, 64), (7, 100), (8, 100), (u32::MAX, 100)];
        for (n, ms) in table {
            assert_eq!(unacked_nap(n), Duration::from_millis(ms), "nap {n}");
        }
        // The first second of an idle unacknowledged reader: few wake-ups.
        let (mut naps, mut slept) = (0, Duration::ZERO);
        while slept < Duration::from_secs(1) {
            slept += unacked_nap(naps);
            naps += 1;
        }
        assert_eq!(naps, 16);
    }

    /// A count damaged to just below the 32 bits it has (the review's
    /// reproduction): the next registrations must not carry into the epoch
    /// and leave a count of zero, after which the writer would skip every
    /// wake-up while an acknowledged reader sleeps. A `Blocking` reader
    /// then still receives a later event promptly, well within its timeout.
    #[test]
    #[cfg(not(loom))]
    fn a_full_count_never_carries_into_the_epoch() {
        let rt = crate::Runtime::builder().wait_strategy(WaitStrategy::Blocking).build().unwrap();
        let blocking = &rt.shared().arena.header().wake.blocking;
        let damaged = (blocking.load(Relaxed) & !u64::from(u32::MAX)) | u64::from(u32::MAX - 1);
        blocking.store(damaged, Relaxed);
        let mut a = rt.reader().unwrap();
        let mut writer = rt.writer().unwrap();
        writer.try_publish_bytes(0, b"ack").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            assert_eq!(a.recv().unwrap().data(), b"ack");
            tx.send(()).unwrap();
            let start = Instant::now();
            let second = a.recv_timeout(Duration::from_secs(3)).unwrap().map(|e| e.data().to_vec());
            (second, start.elapsed())
        });
        rx.recv().unwrap();
        sync::sleep(Duration::from_millis(300)); // `a` sleeps
        let _b = rt.reader().unwrap();
        writer.try_publish_bytes(0, b"later").unwrap();
        let (second, waited) = sleeper.join().unwrap();
        assert_eq!(second.as_deref(), Some(&b"later"[..]), "after {waited:?}");
        assert!(waited < Duration::from_secs(1), "woken after {waited:?}: a lost wake-up");
        assert_ne!(blocking.load(Relaxed) as u32, 0, "the count of blocking readers wrapped to zero");
    }
}
