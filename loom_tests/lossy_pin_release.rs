//! A pinned lossy read holds the writer back for exactly its own span: the
//! writer waits for the room the read holds instead of overwriting it, and
//! goes on once the read ends (no deadlock, nothing lapped).
//!
//! The writer publishes events 0 and 1 through a ring of 2 with two slots
//! before the threads start, and the lossy reader opens its read of event
//! 0 (`try_recv`: its cursor pinned at 0). The writer's thread then
//! publishes event 2, which needs the ring entry and the slot of event 0:
//! it finds the cursor pinned, so it gates on it (`recompute_gate` and
//! `lap_lossy` leave a pinned cursor alone) and waits, while the reader
//! reads event 0's payload and drops the guard, whose commit stores the
//! unpinned cursor 1 with Release. The writer's next gating computation
//! acquires that store, sees the cursor at 1 (past what it needs, so not
//! lapped) and refills event 0's slot. The reader then reads events 1 and
//! 2 with nothing lost.
//!
//! Catches: the reader reading without pinning (the permanent mutant
//! `lossy_no_pin`, also caught by `lossy_lap`, which names it: the writer
//! laps the reader and claims the slot under the read, reported by loom as
//! "currently reading from cell"); the unpin's Release store made Relaxed
//! (a race on the slot's cell), verified by hand.

use crate::common::*;
use slotcast::{Policy, ReaderOptions, WaitStrategy};

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader_with(ReaderOptions::new().policy(Policy::Lossy)).unwrap();
    let mut writer = rt.writer().unwrap();
    publish(&mut writer, 0);
    publish(&mut writer, 1);
    // The read of event 0 is open: the cursor is pinned at 0, and event 2
    // needs its ring entry and its slot.
    let event = reader.try_recv().unwrap().expect("event 0 is published");
    let w = spawn(move || publish(&mut writer, 2));
    assert_event(&event, 0);
    drop(event);
    w.join().unwrap();
    // Unpinned at 1, the reader held nothing the writer needed for event 2.
    for seq in 1..3 {
        assert_event(&reader.try_recv().unwrap().expect("published"), seq);
    }
    assert_eq!(reader.lost(), 0, "the writer waited for the read instead of lapping it");
}

#[test]
fn writer_waits_for_a_pinned_lossy_read() {
    check(BOUND, model);
}
