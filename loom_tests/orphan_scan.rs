//! The runtime's drop scans every slot for `RingPtr`s (the orphan scan in
//! `Shared::drop`): with two slots held, by two threads, the arena is freed
//! after both pointers' last accesses, whichever thread frees it.
//!
//! `arena_lifetime` holds one slot, so the scan there never goes past the
//! slot it marks. Here the allocator fills both slots of the pool; the main
//! thread keeps the first (slot 0, scanned first) and another thread reads
//! and drops the second, while the main thread drops the runtime and then
//! its own pointer. Each slot still referenced when the scan reaches it must
//! be marked `ORPHAN` and counted, so that the last of the three parties
//! (the runtime's drop, each marked slot's last pointer) frees the arena.
//!
//! Catches: the scan stopping after the first slot it marks (mutant
//! `orphan_scan_first`: the second pointer is not counted, so the main
//! thread frees the arena when its own pointer goes, while the other thread
//! still reads the second slot: loom reports the free racing the read), which
//! `arena_lifetime` cannot see (its scan has one slot: that model passes
//! with the mutant in). A scan skipping the first slot instead fails here
//! and in `arena_lifetime` alike (checked by hand; loom reports the free while
//! the pointer reads its slot, and the binary aborts while unwinding from
//! that report, so it is no mutant of its own).

use crate::common::*;
use slotcast::WaitStrategy;

pub(crate) const BOUND: usize = 3;

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
