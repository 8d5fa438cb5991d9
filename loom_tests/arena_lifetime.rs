//! A `RingPtr` keeps its arena alive (DESIGN.md invariant 7): dropping the
//! runtime while a pointer lives in another thread is safe, and whoever frees
//! the arena does so after every other access to it.
//!
//! Under loom the arena's drop is modelled as a write of every slot and
//! metadata word (`arena::typed::Arena`'s `Drop`), so an access that does not
//! happen before the free is reported, as a use-after-free would be.
//!
//! Catches: the Acquire fence after the orphan scan in `Shared::drop`
//! removed (the runtime's drop reads a refcount of 0 and frees the arena
//! without acquiring the last pointer's accesses: loom reports the free
//! racing the pointer's read and `fetch_sub`). Shipped without that fence
//! until this model found it; kept as the permanent mutant
//! `orphan_scan_relaxed` (`mutants.rs`).
//!
//! Not caught: removing the Acquire fence of `pool::release` for the last
//! reference of an orphaned slot. It makes the pointer's decrement of
//! `orphans_left` see the runtime's `GUARD` store; loom always places a
//! read-modify-write last in modification order, so that decrement sees it
//! anyway. The fence is there for the C++ memory model, not for loom.

use crate::common::*;
use loom::thread;
use slotcast::WaitStrategy;

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(1, 1, WaitStrategy::BusySpin);
    let ptr = rt.allocator().try_alloc_bytes(5, &payload(0)).unwrap();
    let t = thread::spawn(move || {
        assert_eq!(&ptr[..], payload(0));
        drop(ptr);
    });
    drop(rt);
    t.join().unwrap();
}

#[test]
fn arena_outlives_its_last_pointer_and_no_longer() {
    check(BOUND, model);
}
