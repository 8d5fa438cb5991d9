//! Blocking wait: no lost wake-up between the writer's publish and a reader
//! going to sleep on the futex word (here loom's mutex and condition
//! variable stand in for the futex, with the same guarantee: a wake after
//! the sleeper's check of the word is not lost).
//!
//! The reader waits for two events with the `Blocking` strategy (under loom:
//! straight to the sleeping half of the protocol in `wait::sleep_for_event`) while the writer publishes them, each followed
//! by `wait::wake_readers`. The reader is the main thread: loom keeps running
//! the spawning thread, so this way round its first preemption already puts
//! the reader to sleep between the writer's steps.
//!
//! Catches: `ORDERING(wake)` weakened, the writer's `fetch_add(0, AcqRel)`
//! on `waiters` replaced by an Acquire load (the writer then misses a
//! registration while the reader misses the new `published`: both sides of
//! a store-buffering race; the reader sleeps forever and loom reports a
//! deadlock); and the reader's registration made a Relaxed `fetch_add` (the
//! same lost wake-up). Both verified by hand; the first is the permanent
//! mutant `wake_load` (`mutants.rs`).

use crate::common::*;
use loom::thread;
use slotcast::WaitStrategy;

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::Blocking);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let w = thread::spawn(move || {
        for seq in 0..2 {
            publish(&mut writer, seq);
        }
    });
    for seq in 0..2 {
        let event = reader.wait_next().unwrap();
        assert_event(&event, seq);
    }
    w.join().unwrap();
}

#[test]
fn blocking_reader_is_always_woken() {
    check(BOUND, model);
}
