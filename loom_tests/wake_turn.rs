//! Waiting per handle: a reader turning `Blocking` while the writer of a
//! `BusySpin` runtime publishes is woken, or sees the event (see
//! `src/wait.rs`, "Who may sleep").
//!
//! The writer looks for sleepers with one Relaxed load of the count of
//! blocking readers, so it can miss a registration still in flight while
//! the registering reader misses its `published` store (store buffering).
//! The reader covers that race by sleeping only briefly (under loom: a
//! yield, then it looks again) until the writer acknowledges its
//! registration; after that the sleeper protocol of `loom_tests/wake.rs`
//! applies. Two events, so that the second is waited for once the first
//! publish may have acknowledged the registration (an unbounded sleep).
//! The reader is the main thread, as in `wake.rs`.
//!
//! Catches: the reader trusting its registration at once and sleeping
//! unbounded (the writer's stale load skips the wake-up, and nothing wakes
//! the reader again); the permanent mutant `wake_unacked`.

use crate::common::*;
use loom::thread;
use slotcast::WaitStrategy;

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    // The writer is handed back and dropped after the reads: its drop
    // closes the stream, and the close's wake-up would wake a reader that a
    // lost wake-up left asleep.
    let w = thread::spawn(move || {
        for seq in 0..2 {
            publish(&mut writer, seq);
        }
        writer
    });
    reader.set_wait_strategy(WaitStrategy::Blocking);
    for seq in 0..2 {
        let event = reader.recv().unwrap();
        assert_event(&event, seq);
    }
    drop(w.join().unwrap());
}

#[test]
fn a_reader_turning_blocking_is_always_woken() {
    check(BOUND, model);
}
