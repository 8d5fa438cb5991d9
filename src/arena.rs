//! The backing region of a runtime and typed access to its parts.
//!
//! The protocol code (pools, writer, readers) only ever sees the accessors of
//! [`Arena`]: the header, the reader table, the descriptor ring, each pool's
//! metadata words and payload guards. It never knows which memory backs them:
//!
//! * in a normal build, one contiguous region laid out by
//!   [`ArenaLayout`](crate::layout::ArenaLayout): an anonymous mapping, heap
//!   memory (under Miri), or (for shared runtimes) a file mapping; typed
//!   references are made by casting offsets of that region;
//! * under loom, typed values (loom's atomics are handles into the model's
//!   state, not bytes), built from the same configuration.

use crate::config::Config;
use crate::event::SizeClass;
use crate::layout::{ArenaLayout, Header, ProcessEntry};
use crate::sync::{AtomicU64, Ordering::*};

#[cfg(not(loom))]
mod region;
#[cfg(loom)]
mod typed;

#[cfg(not(loom))]
pub(crate) use region::Arena;
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
pub(crate) use region::Region; // for the shared mapping (shm/linux.rs)
#[cfg(loom)]
pub(crate) use typed::Arena;

/// Where an in-process runtime keeps its arena (see
/// [`Builder::backing`](crate::Builder::backing)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backing {
    /// An anonymous memory mapping (the default, except under Miri).
    #[cfg_attr(not(miri), default)]
    Anonymous,
    /// Heap memory from the global allocator (the default under Miri, which
    /// cannot map memory).
    #[cfg_attr(miri, default)]
    Heap,
}

/// Writes the identity line of a fresh arena, `magic` last, and claims
/// process entry 0 for the creator.
pub(crate) fn initialise(header: &Header, processes: &[ProcessEntry], layout: &ArenaLayout, config: &Config) {
    use crate::layout::{FORMAT_VERSION, LAYOUT_HASH, MAGIC, process_state};
    let creator = &processes[0];
    creator.pid.store(u64::from(std::process::id()), Relaxed);
    creator.epoch.store(1, Relaxed);
    creator.state.store(process_state::ACTIVE, Relaxed);
    let id = &header.identity;
    // ORDERING: Relaxed; published by the Release store of `magic` below,
    // ORDERING(init).
    id.layout_hash.store(LAYOUT_HASH, Relaxed);
    id.arena_len.store(layout.len as u64, Relaxed);
    config.write_header(id);
    // ORDERING: Relaxed; as above.
    id.version.store(FORMAT_VERSION, Relaxed);
    // ORDERING(init): Release; pairs with the Acquire load of `magic` by an
    // opener, which then sees every word written above.
    id.magic.store(MAGIC, Release);
}

impl Arena {
    /// Pointer to the metadata word of slot `slot` of `class`, or `None` if
    /// the index is out of range.
    #[inline]
    pub(crate) fn meta(&self, class: SizeClass, slot: usize) -> Option<&AtomicU64> {
        self.metas(class).get(slot)
    }

    /// Number of slots of `class`.
    #[inline]
    pub(crate) fn slot_count(&self, class: SizeClass) -> usize {
        self.layout().pools[class.index()].count
    }

    /// The index of slot `slot` of `class` among the slots of all classes
    /// (XS first), for tables that cover every slot. The caller checked
    /// `slot < self.slot_count(class)`.
    #[inline]
    pub(crate) fn slot_index(&self, class: SizeClass, slot: usize) -> usize {
        self.layout().slot_base[class.index()] + slot
    }

    /// The holder words of slot `slot` of `class`: one bit per process
    /// entry that holds the slot (shared arenas only; `None` in process or
    /// for an index out of range).
    #[inline]
    pub(crate) fn holder_words(&self, class: SizeClass, slot: usize) -> Option<&[AtomicU64]> {
        if slot >= self.slot_count(class) {
            return None;
        }
        let words = self.layout().holder_words;
        let start = self.slot_index(class, slot) * words;
        self.holders()?.get(start..start + words)
    }
}
