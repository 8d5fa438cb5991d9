//! A reader joining while the writer publishes starts at a sequence it sees
//! completely: every event from its first on arrives in order with its own
//! bytes, though the writer wraps a ring of 2 around the join.
//!
//! This is the handshake of `Reader::join` and `WriterCore::recompute_gate`:
//! both perform an AcqRel read-modify-write on the gate word. If the
//! writer's comes second it acquires the reader's entry and gates on it; if
//! first, the reader reads the `published` value the writer gated on and
//! starts no lower.
//!
//! Catches: `ORDERING(join)` weakened on the reader's side, the
//! `fetch_add(0, AcqRel)` in `Reader::join` replaced by a plain load of the
//! gate word (the reader may then read a `published` older than what the
//! writer already released, start there, and read a descriptor and a slot
//! the writer is rewriting: loom reports the race, or the reader sees a later
//! event); the gate value ignored, the reader starting at the `published`
//! it loaded (the same); and on the writer's side, the `swap` in
//! `recompute_gate` replaced by a Release store (the writer then misses the
//! new entry). All three verified by hand.

use crate::common::*;
use loom::thread;
use slotcast::WaitStrategy;

const EVENTS: u64 = 3;

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut writer = rt.writer().unwrap();
    let w = thread::spawn(move || {
        for seq in 0..EVENTS {
            publish(&mut writer, seq);
        }
    });
    let mut reader = rt.reader().unwrap();
    let start = reader.cursor();
    assert!(start <= EVENTS);
    for seq in start..EVENTS {
        let event = reader.recv().unwrap();
        assert_event(&event, seq);
    }
    w.join().unwrap();
}

#[test]
fn joining_reader_starts_at_a_sequence_it_sees_completely() {
    check(BOUND, model);
}
