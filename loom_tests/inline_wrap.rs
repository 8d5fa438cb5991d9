//! XS events carried in the ring entry, at wrap-around: with a ring of 2,
//! the writer's third and fourth events reuse the entries (descriptor and
//! payload) of the first and second, and may do so only once the reader has
//! passed them. Nothing but the ring check guards an in-ring payload: no
//! slot, no refcount, no generation.
//!
//! Catches: the fast path's ring check for in-ring events removed (the
//! permanent mutant `inline_no_ring_check`: the writer fills entry 0 again
//! while the reader reads event 0 there, and loom reports a concurrent read
//! and write of the entry's payload cell, or the reader sees a later
//! event's descriptor); and `ORDERING(consume)` weakened (the reader's
//! Release cursor store: the same race), verified by hand.

use crate::common::*;
use loom::thread;
use slotcast::{SizeClass, WaitStrategy};

const EVENTS: u64 = 4;

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    // One S slot only because a runtime needs some slot; no event uses it.
    let rt = runtime_with(&[(SizeClass::S, 1)], 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let w = thread::spawn(move || {
        for seq in 0..EVENTS {
            // Four bytes: an XS event, in the ring entry.
            assert_eq!(writer.publish_bytes(seq as u32, &payload(seq)).unwrap(), seq);
        }
    });
    for seq in 0..EVENTS {
        let event = reader.recv().unwrap();
        assert_eq!(event.class(), SizeClass::XS);
        assert_event(&event, seq);
    }
    w.join().unwrap();
}

#[test]
fn writer_never_overwrites_an_entry_a_reader_has_not_passed() {
    check(BOUND, model);
}
