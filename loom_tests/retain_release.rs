//! Retain, clone and drop from different threads: the slot of a retained
//! event is reused only after its last `RingPtr` is gone, and a `RingPtr`
//! never sees a later event's bytes.
//!
//! The reader retains event 0, hands a clone to another thread, reads event
//! 1, checks its own copy and drops it, while the writer publishes events 1
//! and 2 through a ring of 2 and a pool of 2 slots: event 2 wants event 0's
//! slot back. If both pointers are gone it reuses the slot (`pool::reuse`,
//! whose Acquire load orders their reads before the refill); otherwise it
//! hands the slot to its pointers and takes the other one.
//!
//! Catches: `ORDERING(slot-free)` weakened, the Release `fetch_sub` of
//! `pool::release` made Relaxed (the writer's Acquire in `pool::reuse` then
//! does not order the other thread's read of the slot before the refill:
//! loom reports a concurrent read and write of the slot cell); the other
//! end of that pair, the Acquire load in `pool::reuse`, made Relaxed (the
//! same race); and the refcount check of `pool::reuse` dropped (the writer
//! refills a slot a `RingPtr` still reads: loom reports a write while a
//! read is in progress). All three verified by hand; the first is the
//! permanent mutant `drop_relaxed` (`mutants.rs`).

use crate::common::*;
use loom::thread;
use slotcast::WaitStrategy;

const EVENTS: u64 = 3;

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let w = thread::spawn(move || {
        for seq in 0..EVENTS {
            publish(&mut writer, seq);
        }
    });
    let kept = {
        let event = reader.recv().unwrap();
        assert_event(&event, 0);
        event.retain().unwrap()
    };
    let clone = kept.clone();
    let t = thread::spawn(move || {
        assert_eq!(&clone[..], payload(0), "a clone keeps event 0's bytes");
        drop(clone);
    });
    {
        let event = reader.recv().unwrap();
        assert_event(&event, 1);
    }
    assert_eq!(&kept[..], payload(0), "a retained event keeps its bytes past the cursor");
    drop(kept);
    for seq in 2..EVENTS {
        let event = reader.recv().unwrap();
        assert_event(&event, seq);
    }
    t.join().unwrap();
    w.join().unwrap();
}

#[test]
fn retained_slot_is_reused_only_after_its_last_pointer() {
    check(BOUND, model);
}
