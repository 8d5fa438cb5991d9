//! Gating at wrap-around: with a ring of 2 and 3 slots, the writer's third
//! event reuses the ring position of the first (in a free slot), and its
//! fourth the ring position of the second and the slot of the first; it may
//! do each only once the reader has passed what it overwrites.
//!
//! Catches: `ORDERING(consume)` weakened, the reader's Release cursor store
//! in `reader::commit` made Relaxed (the writer's Acquire load in
//! `recompute_gate` then does not order the reader's read of a slot before
//! the writer's refill of it: loom reports a concurrent read and write of the
//! slot cell); and the ring check `self.next >= self.gate_min + self.cap` in
//! `try_claim_slot` loosened to `>` (the writer overwrites a descriptor the
//! reader has not read: the reader sees a later event's descriptor). Both
//! verified by hand.

use crate::common::*;
use loom::thread;
use slotcast::WaitStrategy;

const EVENTS: u64 = 4;

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    let rt = runtime(3, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let w = thread::spawn(move || {
        for seq in 0..EVENTS {
            publish(&mut writer, seq);
        }
    });
    for seq in 0..EVENTS {
        let event = reader.recv().unwrap();
        assert_event(&event, seq);
    }
    w.join().unwrap();
}

#[test]
fn writer_never_overwrites_what_a_reader_has_not_passed() {
    check(BOUND, model);
}
