//! The runtime's drop scans every slot for `RingPtr`s (the orphan scan in
//! `Shared::drop`): with two slots, the arena is freed after every access
//! to it, whichever thread frees it.
//!
//! `arena_lifetime` has one slot, so the scan there never goes past the slot
//! it marks. Two scenarios here, with a pool of 2:
//!
//! - `model`: the allocator fills both slots; the main thread keeps the
//!   first (slot 0, scanned first) and another thread reads and drops the
//!   second, while the main thread drops the runtime and then its own
//!   pointer. Each slot still referenced when the scan reaches it must be
//!   marked `ORPHAN` and counted, so that the last of the three parties (the
//!   runtime's drop, each marked slot's last pointer) frees the arena.
//! - `free_slot_model`: one pointer, in slot 0, held by another thread; slot
//!   1 is free. The scan marks slot 0, then still reads slot 1's word, and
//!   the pointer's thread may free the arena right after the runtime's final
//!   decrement of `orphans_left`: that decrement must release the scan.
//!
//! Catches, in `model`: the scan stopping after the first slot it marks
//! (mutant `orphan_scan_first`: the second pointer is not counted, so the
//! main thread frees the arena when its own pointer goes, while the other
//! thread still reads the second slot: loom reports the free racing the
//! read); and the last pointer's decrement in `ArenaCtl::orphan_released`
//! without Release (checked by hand: loom reports the free by the other
//! party racing the pointer's accesses). `arena_lifetime` passes with either
//! (checked). A scan skipping the first slot instead fails here and in
//! `arena_lifetime` alike (checked by hand; loom reports the free while the
//! pointer reads its slot, and the binary aborts while unwinding from that
//! report, so it is no mutant of its own).
//!
//! Catches, in `free_slot_model`: `ORDERING(orphan)` of the runtime's side,
//! its final `fetch_sub` of `orphans_left` in `Shared::drop` without Release
//! (mutant `orphan_sub_acquire`: the pointer's thread frees the arena
//! without acquiring the scan's load of slot 1's word: loom reports the
//! two racing). No other model catches it: in `arena_lifetime` and `model`
//! the scan's last access to the arena is a mark, which the freeing
//! pointer acquires through its own slot.

use crate::common::*;
use slotcast::WaitStrategy;

pub(crate) const BOUND: usize = 3;

/// Both slots held, one per thread.
pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let allocator = rt.allocator();
    let first = allocator.try_alloc_bytes(5, &payload(0)).unwrap();
    let second = allocator.try_alloc_bytes(6, &payload(1)).unwrap();
    drop(allocator);
    let t = spawn(move || {
        assert_eq!(&second[..], payload(1));
        drop(second);
    });
    drop(rt);
    assert_eq!(&first[..], payload(0));
    drop(first);
    t.join().unwrap();
}

#[test]
fn arena_outlives_every_pointer_the_scan_finds() {
    check(BOUND, model);
}

/// One pointer, in slot 0, held by another thread; slot 1 is free.
pub(crate) fn free_slot_model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let ptr = rt.allocator().try_alloc_bytes(5, &payload(0)).unwrap();
    let t = spawn(move || {
        assert_eq!(&ptr[..], payload(0));
        drop(ptr);
    });
    drop(rt);
    t.join().unwrap();
}

#[test]
fn arena_outlives_the_scan_past_the_marked_slot() {
    check(BOUND, free_slot_model);
}
