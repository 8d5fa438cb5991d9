//! Standalone allocation from two threads never hands out the same slot
//! twice, and a slot freed by one thread is refilled by another only after
//! the first is done with it.
//!
//! One slot, two threads: one allocates, checks and drops twice, the other
//! once. Whoever allocates while the other holds the slot must be told the
//! pool is exhausted.
//!
//! Catches: the claim CAS of `pool::claim_for_alloc` split into a load and
//! a store (both threads take the slot: loom reports the two fills racing);
//! and `ORDERING(slot-free)` weakened, that CAS's Acquire made Relaxed (the
//! refill does not happen after the previous owner's read). Both verified by
//! hand.

use crate::common::*;
use loom::thread;
use slotcast::{AllocError, Allocator, Full, RingPtr, WaitStrategy};

/// Allocates `bytes` if a slot is free.
fn alloc(allocator: &Allocator, bytes: [u8; 4]) -> Option<RingPtr> {
    match allocator.try_alloc_bytes(7, &bytes) {
        Ok(ptr) => {
            assert_eq!(&ptr[..], bytes, "a fresh allocation holds what was written");
            Some(ptr)
        }
        Err(AllocError::Full(Full::Pool(POOLED))) => None,
        Err(e) => panic!("unexpected allocation error: {e}"),
    }
}

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(1, 1, WaitStrategy::BusySpin);
    let allocator = rt.allocator();
    let other = allocator.clone();
    let t = thread::spawn(move || {
        for bytes in [payload(1), payload(2)] {
            if let Some(ptr) = alloc(&other, bytes) {
                pause();
                assert_eq!(&ptr[..], bytes, "nobody else wrote my slot");
            }
        }
    });
    if let Some(mine) = alloc(&allocator, payload(3)) {
        pause();
        assert_eq!(&mine[..], payload(3), "nobody else wrote my slot");
    }
    t.join().unwrap();
    // Everything the other thread dropped is visible now: the slot is free.
    let again = alloc(&allocator, payload(4)).expect("the slot is free once both threads are done");
    drop(again);
}

#[test]
fn two_threads_never_get_the_same_slot() {
    check(BOUND, model);
}
