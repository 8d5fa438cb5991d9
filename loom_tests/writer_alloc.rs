//! The writer's plain-store slot reuse racing an allocator's CAS (DESIGN.md
//! invariant 6): the writer reuses its own (`RING`) slot with a load and a
//! store, no read-modify-write, while an allocator CASes free slots. The
//! allocator never takes a writer slot, the writer never clobbers an
//! allocator's claim, and a slot the writer gives back reaches the allocator
//! only after the writer's last write to it.
//!
//! One slot only: the writer publishes 3 events into it (one CAS to take it,
//! then plain-store reuses); the allocator, finding the pool empty, raises
//! the class's "want" flag and retries; the writer gives the slot back on its
//! next publish (or when dropped), and the two then race for it.
//!
//! Catches: the `RING` test of `layout::meta::is_free` dropped (the
//! allocator takes the writer's slot between its load and its plain store:
//! loom reports two concurrent writes of the slot); and
//! `ORDERING(slot-free)` weakened, the Release CAS of `pool::give_back`
//! made Relaxed (the allocator's fill races the writer's last fill). Both
//! verified by hand; the first is the permanent mutant `free_ignores_ring`
//! (`mutants.rs`).

use crate::common::*;
use loom::thread;
use slotcast::{AllocError, WaitStrategy};

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(1, 1, WaitStrategy::BusySpin);
    let allocator = rt.allocator();
    let mut writer = rt.writer().unwrap();
    let a = thread::spawn(move || {
        loop {
            match allocator.try_alloc_bytes(9, b"mine") {
                Ok(ptr) => {
                    assert_eq!(&ptr[..], b"mine");
                    pause();
                    assert_eq!(&ptr[..], b"mine", "the writer never writes an allocated slot");
                    return;
                }
                Err(AllocError::Full(_)) => pause(),
                Err(e) => panic!("unexpected allocation error: {e}"),
            }
        }
    });
    for seq in 0..3 {
        publish(&mut writer, seq);
    }
    drop(writer); // gives the slot back if the allocator still wants it
    a.join().unwrap();
}

#[test]
fn writer_reuse_and_allocator_claims_never_collide() {
    check(BOUND, model);
}
