//! Blocking wait: no lost wake-up between the writer's publish and a reader
//! going to sleep on the futex word (under loom a stand-in with the futex's
//! guarantee, see `src/sync/futex.rs`: a wake after the sleeper's check of
//! the word is not lost; a sleeper never woken yields forever, which loom
//! reports as a model that never ends).
//!
//! After a first event read before the threads start (it acknowledges the
//! reader's registration, see `loom_tests/wake_turn.rs`), the reader waits
//! for two events with the `Blocking` strategy (under loom:
//! straight to the sleeping half of the protocol in `wait::sleep_for_event`)
//! while the writer publishes them, each followed by `wait::wake_readers`.
//! Two events, so that the writer's reset of `waiters` after the first wake
//! can meet the reader's registration for the second. The reader is the main
//! thread: loom keeps running the spawning thread, so this way round its
//! first preemption already puts the reader to sleep between the writer's
//! steps.
//!
//! Catches: the sleeper reading the futex word after registering instead of
//! before, as shipped until this model found it (the writer's reset erases
//! the registration, the reader sleeps on the value of the wake meant for
//! it, and nothing wakes it again); the permanent mutant
//! `wake_register_first`. `ORDERING(wake)` weakened, the writer's
//! `fetch_add(0, AcqRel)` on `waiters` replaced by an Acquire load (the
//! writer misses a registration while the reader misses the new
//! `published`, both sides of a store-buffering race); the permanent mutant
//! `wake_load`. And the reader's registration made a Relaxed `fetch_add`
//! (the same lost wake-up), verified by hand.

use crate::common::*;
use loom::thread;
use slotcast::WaitStrategy;

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::Blocking);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    // Event 0, before the threads: the writer acknowledges the reader's
    // registration as a blocking reader (see `loom_tests/wake_turn.rs` for
    // the time before), so the reader's sleeps below are unbounded.
    publish(&mut writer, 0);
    assert_event(&reader.try_recv().unwrap().unwrap(), 0);
    // The writer is handed back and dropped after the reads: its drop
    // closes the stream, and the close's wake-up would wake a reader that a
    // lost wake-up left asleep.
    let w = thread::spawn(move || {
        for seq in 1..3 {
            publish(&mut writer, seq);
        }
        writer
    });
    for seq in 1..3 {
        let event = reader.recv().unwrap();
        assert_event(&event, seq);
    }
    drop(w.join().unwrap());
}

#[test]
fn blocking_reader_is_always_woken() {
    check(BOUND, model);
}
