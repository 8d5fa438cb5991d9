//! Wait strategies: how a reader waits for the next event and how the writer
//! waits for room.
//!
//! | strategy | reader with nothing to read | writer facing a full ring or pool |
//! |---|---|---|
//! | [`BusySpin`](WaitStrategy::BusySpin) | spins | spins |
//! | [`Yield`](WaitStrategy::Yield) | spins briefly, then yields the CPU | the same |
//! | [`Blocking`](WaitStrategy::Blocking) | spins, yields, then sleeps on the arena's futex word | spins, yields, then sleeps in growing naps (20 µs up to 1 ms) |
//!
//! Only `Blocking` lets an idle reader use no CPU, and only `Blocking` makes
//! the writer check for sleepers after each publish (a full fence and a load
//! of the wake line per cursor store, plus one `futex` wake-up syscall for
//! each time a reader went to sleep). The writer is never woken by readers:
//! that would put an atomic read-modify-write on every reader's hot path, so
//! it polls with naps.
//!
//! The wake-up protocol, without lost wake-ups:
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

use crate::layout::Header;
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
    /// processes). An idle reader uses no CPU; the writer pays one atomic
    /// read-modify-write per cursor store to look for sleepers.
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

/// How long a wait may last.
///
/// `pub` (but unreachable) because it appears in the sealed trait behind
/// [`Publish`](crate::Publish).
#[derive(Clone, Copy, Debug)]
#[allow(unreachable_pub)]
pub enum Deadline {
    /// Do not wait: the `try_` variants. Reads no clock.
    Now,
    /// Wait as long as it takes.
    Never,
    /// Give up at this instant.
    At(Instant),
}

impl Deadline {
    pub(crate) const NEVER: Deadline = Deadline::Never;

    /// A deadline `timeout` from now; a timeout too large to represent never
    /// expires.
    pub(crate) fn after(timeout: Duration) -> Self {
        Instant::now().checked_add(timeout).map_or(Deadline::Never, Deadline::At)
    }

    /// Zero-length: the `try_` variants.
    pub(crate) const fn now() -> Self {
        Deadline::Now
    }

    /// Time left, `Some(ZERO)` once expired, `None` for never.
    fn remaining(self) -> Option<Duration> {
        match self {
            Deadline::Now => Some(Duration::ZERO),
            Deadline::Never => None,
            Deadline::At(d) => Some(d.saturating_duration_since(Instant::now())),
        }
    }

    #[inline]
    pub(crate) fn expired(self) -> bool {
        match self {
            Deadline::Now => true,
            Deadline::Never => false,
            Deadline::At(d) => Instant::now() >= d,
        }
    }
}

/// Waits until `published != cursor` or the deadline passes. Returns the
/// published value seen, or `None` on timeout. Among correct processes that
/// means `published > cursor`; a value below the cursor (a corrupted shared
/// mapping) ends the wait too, for the caller to report instead of waiting
/// for a writer that may never pass it.
// `SPINS` and `YIELDS` are 0 under loom: `round < SPINS` is then always false.
#[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))]
pub(crate) fn wait_for_event(
    strategy: WaitStrategy,
    header: &Header,
    futex: &Futex,
    cursor: u64,
    deadline: Deadline,
) -> Option<u64> {
    let published = &header.published.value;
    let mut round = 0u32;
    let mut yielding_since: Option<Instant> = None;
    loop {
        // ORDERING(publish): Acquire; pairs with the writer's Release store of
        // `published`, so the descriptors and payloads below it are visible.
        let p = published.load(Acquire);
        if p != cursor {
            return Some(p);
        }
        if deadline.expired() {
            return None;
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
                } else {
                    return sleep_for_event(header, futex, cursor, deadline);
                }
            }
        }
        round = round.saturating_add(1);
    }
}

/// The sleeping half of the wake-up protocol (see the module docs).
fn sleep_for_event(header: &Header, futex: &Futex, cursor: u64, deadline: Deadline) -> Option<u64> {
    let wake = &header.wake;
    loop {
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
        if p != cursor {
            return Some(p);
        }
        match deadline.remaining() {
            Some(Duration::ZERO) => return None,
            left => futex.wait(&wake.futex, f, left),
        }
    }
}

/// Wakes sleeping readers after a `published` store, if there are any.
#[inline]
pub(crate) fn wake_readers(header: &Header, futex: &Futex) {
    let wake = &header.wake;
    // ORDERING(wake): AcqRel RMW; pairs with the reader's AcqRel increment
    // in `sleep_for_event` (see the module docs). A load would not do: it
    // may miss a registration while the reader misses our `published`.
    let waiters = mutant!("wake_load", wake.waiters.load(Acquire), wake.waiters.fetch_add(0, AcqRel));
    if waiters != 0 {
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
}

impl RoomWait {
    pub(crate) fn new(strategy: WaitStrategy) -> Self {
        Self { strategy, round: 0 }
    }

    // As in `wait_for_event`: the constants are 0 under loom.
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))]
    pub(crate) fn pause(&mut self, deadline: Deadline) -> bool {
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
        assert!(!Deadline::after(Duration::from_secs(3600)).expired());
        assert!(!Deadline::after(Duration::MAX).expired());
    }
}
