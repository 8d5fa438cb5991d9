//! Proof that the models bite.
//!
//! Each test here exists only in a build with one mutant,
//! `SLOTCAST_MUTANT=<name>` under `--cfg loom` (`build.rs` turns it into
//! `cfg(slotcast_mutant = "<name>")`), which weakens one ordering or check in
//! `src/` (search `src/` for the name). The test runs the model that names
//! that ordering or check and asserts that loom reports a failure of the
//! expected kind. `.ci/loom` builds each mutant in turn and runs its test
//! alone (the other models are not meant to pass with a mutant in).

use crate::common::check;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `model` under loom, expecting a failure whose message contains one
/// of `expected`.
#[allow(dead_code)] // no mutant test in a normal build
fn assert_caught(bound: usize, model: fn(), expected: &[&str]) {
    let outcome = catch_unwind(AssertUnwindSafe(|| check(bound, model)));
    let Err(panic) = outcome else {
        panic!("the model passed: it no longer catches this mutant");
    };
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("<non-string panic>");
    assert!(
        expected.iter().any(|e| message.contains(e)),
        "the model failed, but not as expected ({expected:?}): {message}"
    );
    eprintln!("caught, as expected: {message}");
}

/// Loom's report of a data race on a slot (`UnsafeCell`) or on a freed word.
#[allow(dead_code)]
const RACE: &str = "Causality violation";

/// Loom's report of a thread that never makes progress: a reader left
/// asleep (the loom futex stand-in yields until woken) or a writer gated
/// forever.
#[allow(dead_code)]
const NEVER_ENDS: &str = "exceeded maximum number of branches";

/// Loom's report of a task that `block_on` parked and nothing ever woke.
#[allow(dead_code)]
const DEADLOCK: &str = "deadlock";

macro_rules! mutant_test {
    ($name:literal, $test:ident, $module:ident :: $model:ident, $($expected:expr),+) => {
        #[cfg(slotcast_mutant = $name)]
        #[test]
        fn $test() {
            assert_caught(crate::$module::BOUND, crate::$module::$model, &[$($expected),+]);
        }
    };
}

// The writer publishes without Release: the reader races the fill, or reads
// a descriptor not written yet.
mutant_test!("publish_relaxed", publish_relaxed, publish_consume::model, RACE, "event 0's", "event 1's");
// A `RingPtr` drop without Release: the writer refills the slot while (in
// the model's happens-before) the other thread still reads it.
mutant_test!("drop_relaxed", drop_relaxed, retain_release::model, RACE);
// The bugs these models found, kept as regressions.
mutant_test!("handoff_relaxed", handoff_relaxed, handoff::model, RACE);
mutant_test!("retain_relaxed", retain_relaxed, upgrade_guess::ring_model, RACE);
mutant_test!("alloc_unfilled", alloc_unfilled, upgrade_guess::allocator_model, RACE);
mutant_test!("orphan_scan_relaxed", orphan_scan_relaxed, arena_lifetime::model, RACE);
// The allocator may take a writer-owned slot.
mutant_test!("free_ignores_ring", free_ignores_ring, writer_alloc::model, RACE, "never writes");
// Upgrade as check-then-increment: resurrects a reused slot.
mutant_test!("upgrade_split", upgrade_split, upgrade_reuse::model, RACE, "original event", "currently");
// The writer looks for sleepers with a load: a lost wake-up.
mutant_test!("wake_load", wake_load, wake::model, NEVER_ENDS);
// The sleeper reads the futex word after registering: its registration can
// be reset and the bump read as its sleeping value (a bug this suite found).
mutant_test!("wake_register_first", wake_register_first, wake::model, NEVER_ENDS);
// A reader turning blocking sleeps unbounded before the writer has seen its
// registration: the writer's Relaxed look at the count misses it.
mutant_test!("wake_unacked", wake_unacked, wake_turn::model, NEVER_ENDS);
// The writer's fast reuse path: without Acquire it refills a slot whose
// pointer's read it has not acquired; without the generation bump a stale
// handle upgrades to the new event.
mutant_test!("fast_reuse_relaxed", fast_reuse_relaxed, fast_reuse::model, RACE);
mutant_test!("fast_reuse_no_bump", fast_reuse_no_bump, fast_reuse::model, "upgraded to the event now in its slot");
// The orphan scan stops after the first slot it marks: the arena is freed
// under a pointer of the second.
mutant_test!("orphan_scan_first", orphan_scan_first, orphan_scan::model, RACE);
// The runtime's final decrement of the orphan count without Release: the
// pointer that frees the arena races the scan's last reads.
mutant_test!("orphan_sub_acquire", orphan_sub_acquire, orphan_scan::free_slot_model, RACE);
// The writer role freed without Release: the next writer restarts the
// sequence from a stale `published`.
mutant_test!("writer_role_relaxed", writer_role_relaxed, writer_handover::model, "sequence numbers are consecutive");
// The fast path without its ring check: a class's free slot overwrites a
// descriptor of the other class that the reader has not read.
mutant_test!("fast_no_ring_check", fast_no_ring_check, two_classes::model, RACE, "the descriptor is event");
// The fast path for an XS event without its ring check: the writer refills
// a ring entry (descriptor and in-ring payload) the reader has not passed.
mutant_test!("inline_no_ring_check", inline_no_ring_check, inline_wrap::model, RACE, "the descriptor is event");
// A joiner's first cursor store without Release: the writer pairs it with the
// leaving reader's state and refills the slot that reader read (a bug this
// suite found).
mutant_test!("join_relaxed", join_relaxed, rejoin::model, RACE);
// A lossy reader that reads without pinning its cursor: the writer laps it
// mid-read and refills the slot it is reading.
mutant_test!("lossy_no_pin", lossy_no_pin, lossy_lap::model, RACE);
// The writer laps a lossy reader with a plain store: it overwrites a pin
// made after its load, and refills the pinned event's slot.
mutant_test!("lap_store", lap_store, lossy_lap::model, RACE);
// A joiner from the oldest event takes the floors while the gate word says
// the writer is computing them: it replays events that computation let the
// writer reuse.
mutant_test!("oldest_ignores_busy", oldest_ignores_busy, join_oldest::model, RACE, "never refused");
// The close stored without Release: a reader sees the stream closed before
// the last event it must read first.
mutant_test!("close_relaxed", close_relaxed, close_wake::model, "before event 1");
// A task puts its waker in the list after counting itself in `waiters`: the
// writer wakes a list without it (a task that waits forever, which loom's
// `block_on` reports as a deadlock).
mutant_test!("task_register_after", task_register_after, task_wake::model, DEADLOCK);
// The writer's wake-up leaves the process's waiting tasks asleep.
mutant_test!("tasks_unwoken", tasks_unwoken, task_wake::model, DEADLOCK);
