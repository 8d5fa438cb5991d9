//! A reader leaving and another joining the same entry while the writer
//! gates: the writer never overwrites what the leaving reader read, though it
//! may read the new reader's start position next to the old reader's state.
//!
//! The first reader reads event 0 and leaves; a second reader then joins (the
//! same entry: `max_readers` is 1) while the writer publishes event 2 into a
//! ring of 2 and a pool of 2 slots, which reuses event 0's slot. The writer's
//! gating scan loads the entry's state, then its cursor: it can read the old
//! reader's `ACTIVE` (a stale value, which carries no edge from the leave)
//! and the joiner's start position, high enough to let it reuse event 0's
//! slot. If the writer's `swap` of the gate word also comes before the
//! joiner's RMW on it (which would otherwise carry the edge), the only edge
//! from the first reader's read to the writer's refill is the joiner's store
//! of that position: the joiner acquired the leave (its claim of the entry),
//! so a Release store carries the read on to the writer's Acquire cursor
//! load in `recompute_gate`.
//!
//! Catches: `ORDERING(gating)` of the join store, the first store of the
//! joiner's cursor in `Reader::join` made Relaxed (loom reports the writer's
//! fill of event 0's slot racing the first reader's read of it). Shipped
//! that way until this model found it (issue 10, defect 8); kept as the
//! permanent mutant `join_relaxed` (`mutants.rs`). Also the joiner's second
//! cursor store (its start, `ORDERING(consume)`) made Relaxed, for the same
//! reason; no other model catches that one (both checked by hand).

use crate::common::*;
use slotcast::WaitStrategy;

const EVENTS: u64 = 3;

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut first = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let w = spawn(move || {
        for seq in 0..EVENTS {
            publish(&mut writer, seq);
        }
    });
    {
        let event = first.recv().unwrap();
        assert_event(&event, 0);
    }
    drop(first);
    let mut second = rt.reader().unwrap();
    read_rest_after_rejoin(&mut second, EVENTS);
    w.join().unwrap();
}

#[test]
fn rejoined_entry_never_lets_the_writer_overwrite_a_read() {
    check(BOUND, model);
}
