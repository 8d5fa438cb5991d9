//! Processes using an arena, and releasing what a dead one held.
//!
//! Every handle of a runtime acts for one process entry: entry 0 for an
//! in-process runtime, the entry claimed at `open` (or `create`) for a shared
//! one. Reader entries and the writer role name their owner entry, and a
//! shared runtime records, per slot, which process entries hold it (one bit
//! each, see `holders.rs`) and which one is filling it (the `FILLING` tag).
//! When a process dies without cleaning up, a live one that notices (see
//! `shm.rs` for how death is detected) calls [`reap`], which undoes all of
//! it: the dead process's readers stop gating the writer, its writer role
//! can be taken over, and its holds and unfinished fills are released, so
//! no slot leaks, whatever instruction it died at.

use crate::arena::Arena;
use crate::event::SizeClass;
use crate::holders;
use crate::layout::{process_state, reader_state, stream};
use crate::pool;
use crate::sync::Ordering::*;
use crate::wait;

/// What [`reap`] released.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Reaped {
    /// Reader entries freed.
    pub(crate) readers: usize,
    /// Whether the dead process held the writer role.
    pub(crate) writer: bool,
    /// Slots on which a hold was released, or whose fill was abandoned.
    pub(crate) slots: usize,
}

/// Releases everything process entry `dead` held, and frees the entry.
///
/// The caller guarantees the process is gone and that nobody else reaps or
/// claims the entry meanwhile (in a shared arena: it holds the entry's
/// lock, which the kernel released when the owner died).
pub(crate) fn reap(arena: &Arena, dead: usize) -> Reaped {
    let mut reaped = Reaped::default();
    let Some(process) = arena.processes().get(dead) else { return reaped };
    for entry in arena.readers() {
        let state = entry.state.load(Acquire);
        if reader_state::kind(state) != reader_state::FREE && reader_state::owner(state) == Some(dead) {
            // ORDERING(gating): Release; pairs with the writer's Acquire state
            // load, like a reader leaving (the dead reader's reads are long
            // done; its process is gone).
            if entry.state.compare_exchange(state, reader_state::FREE, Release, Relaxed).is_ok() {
                reaped.readers += 1;
            }
        }
    }
    let line = &arena.header().writer;
    // ORDERING: Relaxed; only the dead process could have released its
    // role, and no other reaper runs for it (the caller holds its lock).
    if line.owner.load(Relaxed) == dead as u64 + 1 {
        // Not a close: readers that have read everything learn that the
        // writer died, until another takes the role. Marked while the dead
        // process still holds the role, so that it can only be this
        // writer's death: a writer taking the role after us opens the
        // stream after this. A CAS: a writer that died closing leaves the
        // stream closed. ORDERING(close): Release; pairs with the readers'
        // Acquire load of the state, as a close.
        let _ = line.stream.compare_exchange(stream::OPEN, stream::WRITER_DEAD, Release, Relaxed);
        wait::wake_all_for_state(arena.header(), arena.futex());
        // ORDERING(writer-role): Release; pairs with the Acquire CAS of the
        // next writer, as the dead writer's own drop would have.
        reaped.writer = line.owner.compare_exchange(dead as u64 + 1, 0, Release, Relaxed).is_ok();
    }
    for class in SizeClass::ALL {
        for (slot, meta) in arena.metas(class).iter().enumerate() {
            // Slots it claimed to fill and never published (it died in the
            // fill, perhaps after setting its holder bit).
            let fill = pool::reclaim_fill(meta, dead as u64 + 1);
            // Its holds: the bit it set, whatever step it died at.
            let held = arena.holder_words(class, slot).is_some_and(|bits| holders::clear_bit(bits, dead));
            if fill || held {
                reaped.slots += 1;
            }
        }
    }
    // Free every slot that is held with no holder bit: the dead process's
    // last holds, and any it gave back but died before freeing (a slot
    // whose last holder is alive is freed by that holder or by us, once).
    for class in SizeClass::ALL {
        for (slot, meta) in arena.metas(class).iter().enumerate() {
            if let Some(bits) = arena.holder_words(class, slot) {
                holders::try_free(meta, bits);
            }
        }
    }
    // ORDERING: Release; the next claimer of the entry (Acquire) sees it clean.
    process.state.store(process_state::FREE, Release);
    reaped
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Runtime;

    #[test]
    fn reaping_frees_readers_and_the_writer_role_of_the_entry_only() {
        let rt = Runtime::builder().build().unwrap();
        let _reader = rt.reader().unwrap();
        let w = rt.writer().unwrap();
        let arena = &rt.shared().arena;
        assert_eq!(reap(arena, 3), Reaped::default(), "no entry 3 in process");
        let reaped = reap(arena, 0);
        assert_eq!((reaped.readers, reaped.writer), (1, true));
        assert!(rt.stats().readers.is_empty());
        let mut again = rt.writer().expect("the reaped role is free, though the old handle lives");
        again.try_publish_bytes(0, b"x").unwrap();
        drop(again);
        drop(w);
    }
}
