//! The arena over one contiguous region of bytes (every build but loom's):
//! heap memory, an anonymous mapping, or a shared file's mapping; typed
//! references are made by casting offsets of the region.

use super::Backing;
use crate::config::Config;
use crate::error::BuildError;
use crate::event::SizeClass;
use crate::layout::{
    ArenaLayout, Descriptor, Header, INLINE_CAPACITY, INLINE_OFFSET, ProcessEntry, RING_ENTRY, ReaderEntry,
};
use crate::sync::{AtomicU64, Futex, PayloadMut, PayloadRef};
use std::ptr::NonNull;

/// Memory that backs an arena, released on drop.
pub(crate) enum Region {
    Heap { ptr: NonNull<u8>, layout: std::alloc::Layout },
    Mapped(#[allow(dead_code)] memmap2::MmapRaw),
}

impl Region {
    fn new(backing: Backing, len: usize) -> Result<(Region, NonNull<u8>), BuildError> {
        match backing {
            Backing::Heap => {
                let layout = std::alloc::Layout::from_size_align(len, 4096).map_err(|_| BuildError::ArenaTooLarge)?;
                // SAFETY: `len` is non-zero (a header at least).
                let raw = unsafe { std::alloc::alloc_zeroed(layout) };
                let ptr = NonNull::new(raw)
                    .ok_or_else(|| BuildError::Map(std::io::Error::from(std::io::ErrorKind::OutOfMemory)))?;
                Ok((Region::Heap { ptr, layout }, ptr))
            }
            Backing::Anonymous => {
                let map = memmap2::MmapOptions::new().len(len).map_anon().map_err(BuildError::Map)?;
                Ok(Region::mapped(memmap2::MmapRaw::from(map)))
            }
        }
    }
}

impl Region {
    /// A mapped region and its start.
    pub(crate) fn mapped(raw: memmap2::MmapRaw) -> (Region, NonNull<u8>) {
        let ptr = NonNull::new(raw.as_mut_ptr()).expect("a mapping is never at address 0");
        (Region::Mapped(raw), ptr)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Region::Heap { ptr, layout } = *self {
            // SAFETY: allocated in `Region::new` with this layout, freed once.
            unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        }
    }
}

/// Where one pool's parts start.
struct PoolPtrs {
    metas: NonNull<AtomicU64>,
    headers: NonNull<AtomicU64>,
    slots: NonNull<u8>,
    count: usize,
}

/// A runtime's memory: one region, zero-filled at creation, laid out by
/// `layout`, with a typed pointer to each part computed once.
///
/// ## Safety
///
/// Every accessor below turns one of those pointers into a reference or a
/// payload guard. They are sound because: the region is at least
/// `layout.len` bytes, 4096-aligned, and lives as long as `self`; every
/// pointer comes from an offset of `layout`, whose parts are line-aligned
/// and disjoint (tested in `layout.rs`); the shared parts contain only
/// atomics, which are valid for any bit pattern (the region starts
/// zeroed) and may be accessed concurrently from any thread or process;
/// and payload bytes are reached only through `PayloadRef`/`PayloadMut`,
/// whose callers prove exclusivity from the protocol.
pub(crate) struct Arena {
    header: NonNull<Header>,
    readers: NonNull<ReaderEntry>,
    processes: NonNull<ProcessEntry>,
    /// Start of the ring: `ring_capacity` entries of `RING_ENTRY` bytes.
    ring: NonNull<u8>,
    pools: [PoolPtrs; SizeClass::COUNT],
    holders: NonNull<AtomicU64>,
    layout: ArenaLayout,
    futex: Futex,
    _region: Region,
}

// SAFETY: the region is plain memory owned by `Arena`; all shared state in
// it is atomics, and payload access is mediated by the protocol (see the
// type's `## Safety`). Nothing is tied to the creating thread.
unsafe impl Send for Arena {}
// SAFETY: as for `Send`: `&Arena` only hands out atomics and guards
// whose creation is `unsafe` and justified by the protocol.
unsafe impl Sync for Arena {}

impl Arena {
    /// A fresh in-process arena for `config`, in `backing` memory.
    pub(crate) fn create(config: &Config, backing: Backing) -> Result<Arena, BuildError> {
        let layout = config.layout();
        let (region, base) = Region::new(backing, layout.len)?;
        // SAFETY: the region is `layout.len` zeroed bytes, 4096-aligned.
        let arena = unsafe { Arena::over(region, base, layout, false) };
        super::initialise(arena.header(), arena.processes(), &arena.layout, config);
        Ok(arena)
    }

    /// An arena over `region`, laid out by `layout`.
    ///
    /// # Safety
    ///
    /// `base` is the start of `region`, which is at least `layout.len`
    /// bytes, 4096-aligned, and either zeroed or a valid arena of this
    /// layout (every part of it only ever accessed through atomics or the
    /// payload protocol).
    pub(crate) unsafe fn over(region: Region, base: NonNull<u8>, layout: ArenaLayout, shared: bool) -> Arena {
        // SAFETY: every offset of `layout` is below `layout.len`, the
        // region's length (contract).
        let at = |offset: usize| unsafe { base.add(offset) };
        let pools = std::array::from_fn(|c| {
            let pool = &layout.pools[c];
            PoolPtrs {
                metas: at(pool.metas).cast(),
                headers: at(pool.headers).cast(),
                slots: at(pool.slots),
                count: pool.count,
            }
        });
        Arena {
            header: base.cast(),
            readers: at(layout.readers).cast(),
            processes: at(layout.processes).cast(),
            ring: at(layout.ring),
            pools,
            holders: at(layout.holders).cast(),
            layout,
            futex: Futex::new(shared),
            _region: region,
        }
    }

    #[inline]
    pub(crate) fn layout(&self) -> &ArenaLayout {
        &self.layout
    }

    #[inline]
    pub(crate) fn futex(&self) -> &Futex {
        &self.futex
    }

    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: offset 0 holds the header (see the type's `## Safety`).
        unsafe { self.header.as_ref() }
    }

    #[inline]
    pub(crate) fn readers(&self) -> &[ReaderEntry] {
        // SAFETY: `readers` points at `max_readers` entries.
        unsafe { std::slice::from_raw_parts(self.readers.as_ptr(), self.layout.max_readers) }
    }

    #[inline]
    pub(crate) fn processes(&self) -> &[ProcessEntry] {
        // SAFETY: `processes` points at `max_processes` entries.
        unsafe { std::slice::from_raw_parts(self.processes.as_ptr(), self.layout.max_processes) }
    }

    /// Every slot's holder words (`holder_words` per slot, slots
    /// numbered as by `slot_index`); `None` without holders.
    #[inline]
    pub(crate) fn holders(&self) -> Option<&[AtomicU64]> {
        if self.layout.holder_words == 0 {
            return None;
        }
        let len = self.layout.total_slots() * self.layout.holder_words;
        // SAFETY: `holders` points at `total_slots * holder_words`
        // line-aligned words within the region (see `ArenaLayout`).
        Some(unsafe { std::slice::from_raw_parts(self.holders.as_ptr(), len) })
    }

    /// The ring entry of sequence `seq`, at ring position
    /// `seq mod ring_capacity`, without a bounds check: this is on the
    /// path of every publish and every read.
    #[inline]
    fn entry(&self, seq: u64) -> NonNull<u8> {
        let cap = self.layout.ring_capacity;
        debug_assert!(cap.is_power_of_two());
        let i = (seq as usize) & (cap - 1);
        // SAFETY: `ring` points at `ring_capacity` entries of `RING_ENTRY`
        // bytes, and `i <= cap - 1 < cap` (`cap >= 2`: `Config::check`
        // checks it for created and opened arenas alike).
        unsafe { self.ring.add(i * RING_ENTRY) }
    }

    /// The descriptor of sequence `seq` (see [`entry`](Self::entry)).
    #[inline]
    pub(crate) fn descriptor(&self, seq: u64) -> &Descriptor {
        // SAFETY: the entry starts with a descriptor, line-aligned;
        // descriptors are atomics, valid for any bit pattern and shared
        // freely (see the type's `## Safety`).
        unsafe { self.entry(seq).cast::<Descriptor>().as_ref() }
    }

    /// Read access to the in-ring payload of sequence `seq`'s entry.
    ///
    /// # Safety
    ///
    /// Nobody writes the entry's payload while the guard lives (the
    /// writer does not while a reader's cursor is at or below `seq`); the
    /// arena outlives the guard.
    #[inline]
    pub(crate) unsafe fn inline_payload(&self, seq: u64) -> PayloadRef {
        // SAFETY: `INLINE_OFFSET + INLINE_CAPACITY <= RING_ENTRY` (checked
        // at compile time in `layout.rs`): within the entry.
        let ptr = unsafe { self.entry(seq).add(INLINE_OFFSET) };
        // SAFETY: forwarded contract.
        unsafe { PayloadRef::new(ptr, INLINE_CAPACITY) }
    }

    /// Write access to the in-ring payload of sequence `seq`'s entry.
    ///
    /// # Safety
    ///
    /// The caller has exclusive access to the entry's payload while the
    /// guard lives (the writer, for a sequence every reader's cursor is a
    /// ring's length past the entry's previous use); the arena outlives it.
    #[inline]
    pub(crate) unsafe fn inline_payload_mut(&self, seq: u64) -> PayloadMut {
        // SAFETY: as in `inline_payload`.
        let ptr = unsafe { self.entry(seq).add(INLINE_OFFSET) };
        // SAFETY: forwarded contract.
        unsafe { PayloadMut::new(ptr, INLINE_CAPACITY) }
    }

    #[inline]
    pub(crate) fn metas(&self, class: SizeClass) -> &[AtomicU64] {
        let pool = &self.pools[class.index()];
        // SAFETY: `metas` points at `count` metadata words.
        unsafe { std::slice::from_raw_parts(pool.metas.as_ptr(), pool.count) }
    }

    #[inline]
    pub(crate) fn slot_headers(&self, class: SizeClass) -> &[AtomicU64] {
        let pool = &self.pools[class.index()];
        // SAFETY: `headers` points at `count` header words.
        unsafe { std::slice::from_raw_parts(pool.headers.as_ptr(), pool.count) }
    }

    /// Read access to the payload of slot `slot` of `class`.
    ///
    /// # Safety
    ///
    /// `slot < self.slot_count(class)`, and nobody writes the slot while
    /// the guard lives; the arena outlives the guard.
    #[inline]
    pub(crate) unsafe fn payload(&self, class: SizeClass, slot: usize) -> PayloadRef {
        // SAFETY: forwarded contract.
        let ptr = unsafe { self.slot_ptr(class, slot) };
        // SAFETY: forwarded contract: the bytes stay mapped and unwritten.
        unsafe { PayloadRef::new(ptr, class.capacity()) }
    }

    /// Write access to the payload of slot `slot` of `class`.
    ///
    /// # Safety
    ///
    /// `slot < self.slot_count(class)`, and the caller has exclusive
    /// access to the slot while the guard lives; the arena outlives it.
    #[inline]
    pub(crate) unsafe fn payload_mut(&self, class: SizeClass, slot: usize) -> PayloadMut {
        // SAFETY: forwarded contract.
        let ptr = unsafe { self.slot_ptr(class, slot) };
        // SAFETY: forwarded contract: exclusive access to the bytes.
        unsafe { PayloadMut::new(ptr, class.capacity()) }
    }

    /// # Safety
    ///
    /// `slot < self.slot_count(class)`.
    #[inline]
    unsafe fn slot_ptr(&self, class: SizeClass, slot: usize) -> NonNull<u8> {
        let pool = &self.pools[class.index()];
        debug_assert!(slot < pool.count);
        // SAFETY: in bounds of the region: the pool's slots end within
        // `layout.len`, and `slot < pool.count`.
        unsafe { pool.slots.add(slot * class.capacity()) }
    }
}
