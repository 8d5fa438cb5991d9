//! A slot the writer hands to its `RingPtr`s goes to its next owner only
//! after every reader's read of the event in it.
//!
//! Two readers read event 0; the first retains it, then drops the pointer
//! and allocates; meanwhile the writer, publishing event 2 into a ring of 2
//! and a pool of 2 slots, finds event 0's slot retained and hands it off
//! (clears `RING` with a CAS). The last
//! `RingPtr` then frees the slot, and the allocator refills it. The second
//! reader's read of event 0 must happen before that refill, though the
//! second reader never touches the slot word: the chain is reader → cursor
//! (Release) → writer (Acquire) → hand-off CAS (Release) → last pointer's
//! `fetch_sub` (continues the release sequence) → allocator's claim
//! (Acquire).
//!
//! Catches: `ORDERING(slot-free)` weakened, the hand-off CAS in
//! `pool::reuse` made Relaxed (loom reports the allocator's fill racing the
//! second reader's read). Shipped that way until this model found it; kept
//! as the permanent mutant `handoff_relaxed` (`mutants.rs`).

use crate::common::*;
use loom::thread;
use slotcast::{AllocError, WaitStrategy};

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 2, WaitStrategy::BusySpin);
    let mut first = rt.reader().unwrap();
    let mut second = rt.reader().unwrap();
    let allocator = rt.allocator();
    let mut writer = rt.writer().unwrap();
    assert!(try_publish(&mut writer, 0) && try_publish(&mut writer, 1));
    let kept = {
        let event = first.recv().unwrap();
        assert_event(&event, 0);
        event.retain().unwrap()
    };
    // Event 2 needs both readers past event 0; it then finds event 0's slot
    // retained (hands it off) or already free (reuses it).
    let w = thread::spawn(move || publish(&mut writer, 2));
    let r = thread::spawn(move || {
        let event = second.recv().unwrap();
        assert_event(&event, 0);
    });
    drop(kept);
    match allocator.try_alloc_bytes(9, b"next") {
        Ok(ptr) => assert_eq!(&ptr[..], b"next"),
        Err(AllocError::Full(_)) => {}
        Err(e) => panic!("unexpected allocation error: {e}"),
    }
    r.join().unwrap();
    w.join().unwrap();
}

#[test]
fn handed_off_slot_is_refilled_after_every_read() {
    check(BOUND, model);
}
