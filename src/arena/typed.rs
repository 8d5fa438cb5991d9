//! The arena under loom: the same parts as typed values (loom's atomics are
//! handles into the model's state, not bytes), built from the same
//! configuration.

use super::Backing;
use crate::config::Config;
use crate::error::BuildError;
use crate::event::SizeClass;
use crate::layout::{ArenaLayout, Descriptor, Header, ProcessEntry, ReaderEntry};
use crate::sync::{AtomicU64, Futex, PayloadMut, PayloadRef, SlotCell};

/// Under loom: the same parts as typed values.
pub(crate) struct Arena {
    header: Box<Header>,
    readers: Box<[ReaderEntry]>,
    processes: Box<[ProcessEntry]>,
    ring: Box<[Descriptor]>,
    /// Each ring entry's in-ring payload.
    inline: Box<[SlotCell]>,
    metas: [Box<[AtomicU64]>; SizeClass::COUNT],
    headers: [Box<[AtomicU64]>; SizeClass::COUNT],
    slots: [Box<[SlotCell]>; SizeClass::COUNT],
    layout: ArenaLayout,
    futex: Futex,
}

fn zeroes<T>(n: usize, f: impl Fn() -> T) -> Box<[T]> {
    (0..n).map(|_| f()).collect()
}

fn word() -> AtomicU64 {
    AtomicU64::new(0)
}

fn line() -> crate::layout::WordLine {
    crate::layout::WordLine { value: word() }
}

impl Arena {
    pub(crate) fn create(config: &Config, _backing: Backing) -> Result<Arena, BuildError> {
        use crate::layout::*;
        let layout = config.layout();
        let header = Box::new(Header {
            identity: IdentityLine {
                magic: word(),
                version: word(),
                layout_hash: word(),
                arena_len: word(),
                ring_capacity: word(),
                max_readers: word(),
                slots: std::array::from_fn(|_| word()),
                wait_strategy: word(),
                max_processes: word(),
                flags: word(),
            },
            writer: WriterLine { owner: word(), epoch: word(), stream: word() },
            published: line(),
            gate: GateLine { gate: word(), ring_floor: word(), slot_floor: word() },
            wake: WakeLine {
                waiters: crate::sync::AtomicU32::new(0),
                futex: crate::sync::AtomicU32::new(0),
                blocking: word(),
                acked: crate::sync::AtomicU32::new(0),
            },
            want: WantLine { want: std::array::from_fn(|_| word()) },
            alloc_hint: std::array::from_fn(|_| line()),
        });
        let readers =
            zeroes(layout.max_readers, || ReaderEntry { cursor: word(), state: word(), pid: word(), lost: word() });
        let processes = zeroes(layout.max_processes, || ProcessEntry { state: word(), pid: word(), epoch: word() });
        let ring = zeroes(layout.ring_capacity, || Descriptor { slot: word(), header: word() });
        let inline = zeroes(layout.ring_capacity, || SlotCell::new(INLINE_CAPACITY));
        let metas = std::array::from_fn(|c| zeroes(layout.pools[c].count, word));
        let headers = std::array::from_fn(|c| zeroes(layout.pools[c].count, word));
        let slots = std::array::from_fn(|c| {
            let cap = SizeClass::ALL[c].capacity();
            zeroes(layout.pools[c].count, || SlotCell::new(cap))
        });
        let arena =
            Arena { header, readers, processes, ring, inline, metas, headers, slots, layout, futex: Futex::new(false) };
        super::initialise(&arena.header, &arena.processes, &arena.layout, config);
        Ok(arena)
    }

    pub(crate) fn layout(&self) -> &ArenaLayout {
        &self.layout
    }

    pub(crate) fn futex(&self) -> &Futex {
        &self.futex
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn readers(&self) -> &[ReaderEntry] {
        &self.readers
    }

    pub(crate) fn descriptor(&self, seq: u64) -> &Descriptor {
        &self.ring[(seq as usize) & (self.ring.len() - 1)]
    }

    /// # Safety
    ///
    /// As the byte arena's `inline_payload`; loom checks the claim.
    pub(crate) unsafe fn inline_payload(&self, seq: u64) -> PayloadRef {
        // SAFETY: forwarded contract.
        unsafe { self.inline[(seq as usize) & (self.inline.len() - 1)].read() }
    }

    /// # Safety
    ///
    /// As the byte arena's `inline_payload_mut`; loom checks the claim.
    pub(crate) unsafe fn inline_payload_mut(&self, seq: u64) -> PayloadMut {
        // SAFETY: forwarded contract.
        unsafe { self.inline[(seq as usize) & (self.inline.len() - 1)].write() }
    }

    pub(crate) fn processes(&self) -> &[ProcessEntry] {
        &self.processes
    }

    /// Loom models run in-process arenas only: no holder bits.
    pub(crate) fn holders(&self) -> Option<&[AtomicU64]> {
        None
    }

    pub(crate) fn metas(&self, class: SizeClass) -> &[AtomicU64] {
        &self.metas[class.index()]
    }

    pub(crate) fn slot_headers(&self, class: SizeClass) -> &[AtomicU64] {
        &self.headers[class.index()]
    }

    /// # Safety
    ///
    /// As the byte arena's `payload`; loom checks the exclusivity claim.
    pub(crate) unsafe fn payload(&self, class: SizeClass, slot: usize) -> PayloadRef {
        // SAFETY: forwarded contract.
        unsafe { self.slots[class.index()][slot].read() }
    }

    /// # Safety
    ///
    /// As the byte arena's `payload_mut`; loom checks the exclusivity claim.
    pub(crate) unsafe fn payload_mut(&self, class: SizeClass, slot: usize) -> PayloadMut {
        // SAFETY: forwarded contract.
        unsafe { self.slots[class.index()][slot].write() }
    }
}

/// Freeing the arena is a write of all of it, as `dealloc` is in the
/// byte arena: tell loom, so that an access by another thread that does
/// not happen before the free (a `RingPtr`'s last read or `fetch_sub`)
/// is reported as the use-after-free it would be.
impl Drop for Arena {
    fn drop(&mut self) {
        // Unwinding from a failure loom already reported: its tracking
        // state is mid-operation, and a second panic would abort.
        if std::thread::panicking() {
            return;
        }
        for class in SizeClass::ALL {
            for word in self.metas[class.index()].iter_mut() {
                word.with_mut(|_| ());
            }
            for slot in self.slots[class.index()].iter_mut() {
                slot.free();
            }
        }
        for entry in self.inline.iter_mut() {
            entry.free();
        }
    }
}
