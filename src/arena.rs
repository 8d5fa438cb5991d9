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
use crate::error::BuildError;
use crate::event::SizeClass;
use crate::layout::{ArenaLayout, Descriptor, Header, ProcessEntry, ReaderEntry};
use crate::sync::{AtomicU64, Futex, Ordering::*, PayloadMut, PayloadRef};
use crate::wait::WaitStrategy;

#[cfg(not(loom))]
pub(crate) use bytes::Arena;
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
pub(crate) use bytes::Region; // for the shared mapping (shm/linux.rs)
#[cfg(loom)]
pub(crate) use typed::Arena;

/// Writes the identity line of a fresh arena, `magic` last, and claims
/// process entry 0 for the creator.
pub(crate) fn initialise(header: &Header, processes: &[ProcessEntry], layout: &ArenaLayout, config: &Config) {
    use crate::layout::{FLAG_SHARED, FORMAT_VERSION, LAYOUT_HASH, MAGIC, process_state};
    let creator = &processes[0];
    creator.pid.store(u64::from(std::process::id()), Relaxed);
    creator.epoch.store(1, Relaxed);
    creator.state.store(process_state::ACTIVE, Relaxed);
    let id = &header.identity;
    // ORDERING: Relaxed; published by the Release store of `magic` below,
    // ORDERING(init).
    id.layout_hash.store(LAYOUT_HASH, Relaxed);
    id.arena_len.store(layout.len as u64, Relaxed);
    id.ring_capacity.store(config.ring_capacity as u64, Relaxed);
    id.max_readers.store(config.max_readers as u64, Relaxed);
    for class in SizeClass::ALL {
        id.slots[class.index()].store(config.slots[class.index()] as u64, Relaxed);
    }
    id.wait_strategy.store(WaitStrategy::to_word(config.wait), Relaxed);
    id.max_processes.store(config.max_processes() as u64, Relaxed);
    id.flags.store(if config.shared { FLAG_SHARED } else { 0 }, Relaxed);
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

#[cfg(not(loom))]
mod bytes {
    use super::*;
    use crate::config::Backing;
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
                    let layout =
                        std::alloc::Layout::from_size_align(len, 4096).map_err(|_| BuildError::ArenaTooLarge)?;
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
        ring: NonNull<Descriptor>,
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
        /// A fresh in-process arena for `config`.
        pub(crate) fn create(config: &Config) -> Result<Arena, BuildError> {
            let layout = config.layout();
            let (region, base) = Region::new(config.backing, layout.len)?;
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
                ring: at(layout.ring).cast(),
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

        #[inline]
        pub(crate) fn ring(&self) -> &[Descriptor] {
            // SAFETY: `ring` points at `ring_capacity` descriptors.
            unsafe { std::slice::from_raw_parts(self.ring.as_ptr(), self.layout.ring_capacity) }
        }

        /// The descriptor of sequence `seq`, at ring position
        /// `seq mod ring_capacity`, without a bounds check: this is on the
        /// path of every publish and every read.
        #[inline]
        pub(crate) fn descriptor(&self, seq: u64) -> &Descriptor {
            let cap = self.layout.ring_capacity;
            debug_assert!(cap.is_power_of_two());
            let i = (seq as usize) & (cap - 1);
            // SAFETY: `ring` points at `ring_capacity` descriptors, and
            // `i <= cap - 1 < cap` (`cap >= 2`: `Config::validate` checks it
            // for created and opened arenas alike).
            let ptr = unsafe { self.ring.add(i) };
            // SAFETY: in bounds (above); descriptors are atomics, valid for
            // any bit pattern and shared freely (see the type's `## Safety`).
            unsafe { ptr.as_ref() }
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
}

#[cfg(loom)]
mod typed {
    use super::*;
    use crate::sync::SlotCell;

    /// Under loom: the same parts as typed values.
    pub(crate) struct Arena {
        header: Box<Header>,
        readers: Box<[ReaderEntry]>,
        processes: Box<[ProcessEntry]>,
        ring: Box<[Descriptor]>,
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
        pub(crate) fn create(config: &Config) -> Result<Arena, BuildError> {
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
                writer: WriterLine { owner: word(), epoch: word() },
                published: line(),
                gate: line(),
                wake: WakeLine { waiters: crate::sync::AtomicU32::new(0), futex: crate::sync::AtomicU32::new(0) },
                want: WantLine { want: std::array::from_fn(|_| word()) },
                alloc_hint: std::array::from_fn(|_| line()),
            });
            let readers = zeroes(layout.max_readers, || ReaderEntry { cursor: word(), state: word(), pid: word() });
            let processes = zeroes(layout.max_processes, || ProcessEntry { state: word(), pid: word(), epoch: word() });
            let ring = zeroes(layout.ring_capacity, || Descriptor { slot: word(), header: word() });
            let metas = std::array::from_fn(|c| zeroes(layout.pools[c].count, word));
            let headers = std::array::from_fn(|c| zeroes(layout.pools[c].count, word));
            let slots = std::array::from_fn(|c| {
                let cap = SizeClass::ALL[c].capacity();
                zeroes(layout.pools[c].count, || SlotCell::new(cap))
            });
            let _ = config.backing;
            let arena =
                Arena { header, readers, processes, ring, metas, headers, slots, layout, futex: Futex::new(false) };
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

        pub(crate) fn ring(&self) -> &[Descriptor] {
            &self.ring
        }

        pub(crate) fn descriptor(&self, seq: u64) -> &Descriptor {
            &self.ring[(seq as usize) & (self.ring.len() - 1)]
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
        }
    }
}
