//! Per-process reference counts, for `RingPtr`s of a shared runtime.
//!
//! In a shared arena a slot's metadata refcount counts *processes* that hold
//! the slot, and each process counts its own `RingPtr`s in its ledger word
//! for the slot. Cloning or dropping a pointer is still one atomic
//! read-modify-write (on the ledger word); only the first pointer of a
//! process to a slot and the last one also touch the metadata word. Two
//! reasons:
//!
//! * **A dead process's pointers can be released.** Its ledger says exactly
//!   which slots it held; a survivor gives each of those holds back
//!   (`process::reap`). A single shared count could not tell whose
//!   references it holds.
//! * **The mapping outlives the process's last pointer.** Each process
//!   counts, in `holds`, its handles (1) plus the slots it holds; it unmaps
//!   the file when that reaches 0. The last pointer to a slot gives back the
//!   metadata reference *before* it drops its hold, so the mapping is still
//!   there when it does.
//!
//! Crash windows only ever leak, never double-release: a hold is taken in
//! the metadata word before the ledger records it, and the ledger forgets it
//! before the metadata word is decremented.

use crate::failpoint::failpoint;
use crate::layout::ledger_word::LIMIT;
use crate::pool;
use crate::sync::{self, AtomicU32, AtomicU64, Ordering::*};

#[cold]
#[inline(never)]
fn overflow() -> ! {
    std::process::abort()
}

/// Turns one metadata reference the caller has just taken on a slot (by
/// retain, upgrade or allocation) into a new pointer of this process.
pub(crate) fn adopt(ledger: &AtomicU32, meta: &AtomicU64, holds: &AtomicU64) {
    failpoint!("hold.meta_counted");
    // ORDERING: Relaxed; the metadata reference already keeps the slot.
    let old = ledger.fetch_add(1, Relaxed);
    failpoint!("hold.ledger_counted");
    if old >= LIMIT {
        overflow();
    }
    if old == 0 {
        // ORDERING: Relaxed; the handle that made the pointer keeps the
        // count above 0 meanwhile, like `Arc::clone`.
        holds.fetch_add(1, Relaxed);
    } else {
        // The process already held the slot: one metadata reference is
        // enough. It cannot be the last: ours is counted in the ledger.
        let _ = pool::release(meta);
    }
}

/// `RingPtr::clone` in a shared runtime.
#[inline]
pub(crate) fn clone(ledger: &AtomicU32) {
    // ORDERING: Relaxed, as `Arc::clone`.
    if ledger.fetch_add(1, Relaxed) >= LIMIT {
        overflow();
    }
}

/// `RingPtr::drop` in a shared runtime. Returns whether this was the
/// process's last hold of anything and its handles are gone too: the caller
/// must then free the process's view of the arena.
#[inline]
pub(crate) fn release(ledger: &AtomicU32, meta: &AtomicU64, holds: &AtomicU64) -> bool {
    // ORDERING: Release; orders this pointer's reads before the last
    // pointer's release of the slot (which acquires below).
    if ledger.fetch_sub(1, Release) != 1 {
        return false;
    }
    // ORDERING: Acquire; pairs with the Release decrements of the other
    // pointers of this process, so all their reads happen before the slot is
    // given back.
    sync::fence(Acquire);
    failpoint!("unhold.ledger_cleared");
    // A shared arena never sets ORPHAN on metadata words.
    let _ = pool::release(meta);
    failpoint!("unhold.meta_released");
    // ORDERING: AcqRel; whoever brings the count to 0 unmaps, after every
    // other use of the mapping.
    holds.fetch_sub(1, AcqRel) == 1
}
