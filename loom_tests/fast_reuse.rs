//! The writer's fast reuse path (`pool::try_reuse`, inlined into every
//! publish through `WriterCore::try_claim_fast`) on a slot a `RingPtr` held:
//! the writer refills it only after the pointer's last read, and with a new
//! generation, so the pointer's handle no longer upgrades.
//!
//! Events 0 and 1 fill a pool of 2 slots (a ring of 4: the gating
//! computation of event 2 must leave ring room for event 3 too, and a ring
//! of 2 gives one event of room per computation); the reader reads both and
//! retains event 1. Event 2 takes the slow path (the cached gate says event
//! 0's slot is still read), which refreshes the gate to 2 and reuses event
//! 0's slot. Event 3 then
//! passes the fast path's checks by the cached gate (ring room, event 1's
//! slot past the reader), while another thread reads and drops the pointer:
//! if the drop came first, `try_reuse` finds a refcount of 0 and reuses the
//! slot with a plain store; if not, it leaves the slot to the slow path,
//! which hands it to the pointer, and the writer waits until the pointer's
//! drop frees it. Finally the reader retains event 3, and the old handle
//! must not upgrade to it.
//!
//! Catches: `ORDERING(slot-free)` of the fast path, the Acquire load in
//! `pool::try_reuse` made Relaxed (the refill does not happen after the
//! pointer's read, which its Release `fetch_sub` published: loom reports the
//! two racing), mutant `fast_reuse_relaxed`; and the fast path's generation
//! bump dropped (the slot keeps event 1's generation, so event 1's handle
//! upgrades to event 3), mutant `fast_reuse_no_bump`. Every other model
//! passes with either mutant in (checked): where they reuse a slot a
//! pointer held (`retain_release`, `upgrade_reuse`, `handoff`), they reach
//! it through the slow path, right after the gate refresh that made it
//! reusable, so only `pool::reuse` is judged there.

use crate::common::*;
use slotcast::{UpgradeError, WaitStrategy};

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    let rt = runtime_with_ring(4, &[(POOLED, 2)], 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    assert!(try_publish(&mut writer, 0) && try_publish(&mut writer, 1));
    assert_event(&reader.recv().unwrap(), 0);
    let kept = {
        let event = reader.recv().unwrap();
        assert_event(&event, 1);
        event.retain().unwrap()
    };
    let handle = kept.handle();
    // The slow path: the gate is refreshed to the reader's cursor, 2.
    assert!(try_publish(&mut writer, 2));

    let d = spawn(move || {
        assert_eq!(&kept[..], payload(1), "the pointer reads event 1 until its drop");
        drop(kept);
    });
    // The fast path, by the cached gate; else the slow one, waiting for the
    // pointer's drop to free event 1's slot.
    publish(&mut writer, 3);
    d.join().unwrap();

    assert_event(&reader.recv().unwrap(), 2);
    let event = reader.recv().unwrap();
    assert_event(&event, 3);
    let _live = event.retain().unwrap();
    match rt.upgrade(handle) {
        Err(UpgradeError::Stale) => {}
        Ok(ptr) => panic!("event 1's handle upgraded to the event now in its slot: {:?}", &ptr[..]),
        Err(e) => panic!("unexpected upgrade error: {e}"),
    }
}

#[test]
fn fast_reuse_refills_a_released_slot_after_its_last_read() {
    check(BOUND, model);
}
