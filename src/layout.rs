//! The arena's memory format, defined in one place.
//!
//! Everything of one runtime lives in one contiguous region. Every offset is
//! a multiple of [`LINE`] (128 bytes: two cache lines, because x86_64 and
//! aarch64 prefetch the adjacent line, as `crossbeam_utils::CachePadded`
//! assumes) and every cross-reference is an offset or an index, never a
//! pointer, so the same bytes are valid in every process that maps them.
//!
//! ```text
//! offset 0            Header                     11 lines (1408 B)
//!   line 0              IdentityLine: magic, version, layout hash, arena length, config image
//!   line 1              WriterLine:   writer owner (process entry + 1), takeover epoch, stream state
//!   line 2              published cursor
//!   line 3              GateLine:     gate word (writer's gating recompute / reader join
//!                                     handshake), the writer's ring and slot floors
//!   line 4              WakeLine:     sleeping-reader registrations, futex word, blocking readers + ack
//!   line 5              WantLine:     per class, "an allocator found the pool empty"
//!   lines 6..11         allocator scan hint, one line per class
//! readers             ReaderEntry x max_readers, one line each: cursor (+ pin), state + owner,
//!                     pid, events lost (lossy readers)
//! processes           ProcessEntry x max_processes, one line each: state, pid, epoch
//! ring                RING_ENTRY (128 B, one line pair) x ring_capacity: a Descriptor
//!                     (slot word, header word, 16 B), then INLINE_CAPACITY (64 B) of
//!                     payload for an XS event carried in the ring (see below), then padding
//! pool XS             metadata words (u64 x slots), padded to a line; slot headers
//!                     (u64 x slots: `event_type << 32 | len` of the slot's event),
//!                     padded to a line; then PooledEvent<64> x slots
//! pool S .. pool XL   the same (a class with 0 slots takes no room)
//! holders             shared runtimes only: per slot of every class (XS first),
//!                     ceil(max_processes / 64) u64 words, one bit per process entry:
//!                     the processes that hold the slot (see `holders.rs`)
//! ```
//!
//! Two 64-bit words carry all per-event state:
//!
//! * the descriptor's **slot word**: `generation << 32 | class << 28 | slot index`,
//!   or [`slot_word::INLINE`] for an XS event whose payload is in the ring
//!   entry itself, and **header word**: `event_type << 32 | len`;
//! * each slot's **metadata word**: `generation << 32 | RING << 31 | ORPHAN << 30 | FILLING << 29 | refcount`
//!   (see [`meta`]), and its **slot header**, the `header_word` of the event it
//!   holds, written when the event is first retained or allocated, so that
//!   upgrading a handle takes the length and type from the slot, not from
//!   the handle.
//!
//! [`LAYOUT_HASH`] hashes the format version, the size, alignment and field
//! offsets of every `repr(C)` type here, the line size, each class's payload
//! size and the bit positions of both words, so two builds that disagree on
//! any of them refuse each other's files.

use crate::event::{PooledEvent, SizeClass};
use crate::sync::{AtomicU32, AtomicU64};

/// Bytes per ring entry: a [`Descriptor`] and an XS event's payload, on a
/// line of its own, so that the writer never writes a line a reader reads
/// for a neighbouring sequence.
///
/// Why XS events are carried in the ring (measured with
/// `benches/callgrind.rs`, see BENCHMARKS.md "Where the nanoseconds go"):
/// with the payload in a pool slot, every event cost the writer a FIFO
/// rotation, a metadata word's test and generation bump, and a slot address;
/// and the reader fetched three lines written by the writer (the slot, the
/// 16-byte descriptor whose line four neighbouring events share, and the
/// published cursor), the slot's address depending on the descriptor's load.
/// In the ring, an event of up to 48 bytes is on one line with its
/// descriptor and up to 64 bytes on one 128-byte line pair; the reader's only
/// other line is the published cursor, as with the Disruptor. An XS event a
/// reader retains is copied into a pool slot then (`EventRef::retain`), so
/// `RingPtr` and handles keep their meaning.
pub(crate) const RING_ENTRY: usize = LINE;

/// Offset of an in-ring event's payload within its entry: right after the
/// descriptor, so that up to 48 bytes share the descriptor's cache line.
/// The payload is therefore 16-aligned, not 64-aligned as a pool slot is.
pub(crate) const INLINE_OFFSET: usize = size_of::<Descriptor>();

/// Payload bytes of an in-ring event: the XS class's capacity.
pub(crate) const INLINE_CAPACITY: usize = SizeClass::XS.capacity();

/// The slot index an in-ring event reports internally (claims, decoded
/// events): no pool slot has it, since indices are below 2^28.
pub(crate) const INLINE_SLOT: u32 = u32::MAX;

/// Alignment of an in-ring event's payload.
pub(crate) const INLINE_ALIGN: usize = 16;

/// Alignment and padding unit of every shared line.
pub(crate) const LINE: usize = 128;

/// First word of every arena: `b"SLOTCAST"` read as a little-endian u64.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"SLOTCAST");

/// Bumped whenever the format below changes meaning. 2: a `FILLING`
/// metadata word carries its filler's process entry (see [`meta`]), which a
/// version-1 process would take for references. 3: shared runtimes record
/// their holds as one bit per process and slot (`holders`) instead of
/// per-process counts, and every slot has a header word. 4: ring entries
/// are 128 bytes and carry XS events' payloads ([`RING_ENTRY`]). 5: reader
/// policies and the stream's state: lossy reader entries with a pinned
/// cursor and a lost count, the writer's floors on the gate line, the
/// stream word ([`stream`]).
pub(crate) const FORMAT_VERSION: u64 = 5;

/// Slot indices occupy 28 bits of the descriptor's slot word.
pub(crate) const MAX_SLOTS_PER_CLASS: u32 = (1 << 28) - 1;

/// Identity and configuration of the arena. Written once by the creator,
/// `magic` last.
#[repr(C, align(128))]
pub(crate) struct IdentityLine {
    pub(crate) magic: AtomicU64,
    pub(crate) version: AtomicU64,
    pub(crate) layout_hash: AtomicU64,
    pub(crate) arena_len: AtomicU64,
    pub(crate) ring_capacity: AtomicU64,
    pub(crate) max_readers: AtomicU64,
    pub(crate) slots: [AtomicU64; SizeClass::COUNT],
    pub(crate) wait_strategy: AtomicU64,
    pub(crate) max_processes: AtomicU64,
    /// [`FLAG_SHARED`] if the arena lives in a file shared by processes.
    pub(crate) flags: AtomicU64,
}

/// [`IdentityLine::flags`]: the arena is a shared mapping with holder bits.
pub(crate) const FLAG_SHARED: u64 = 1;

/// Who holds the writer role.
#[repr(C, align(128))]
pub(crate) struct WriterLine {
    /// 0 when free, otherwise the owner's process entry + 1.
    pub(crate) owner: AtomicU64,
    /// Number of times a writer took the role (an allocator borrowing it
    /// does not count): tells one writer's death from the next one's.
    pub(crate) epoch: AtomicU64,
    /// The stream's state: [`stream::OPEN`], [`stream::CLOSED`] or
    /// [`stream::WRITER_DEAD`].
    pub(crate) stream: AtomicU64,
}

/// Values of [`WriterLine::stream`]. Only the empty read path looks at it.
pub(crate) mod stream {
    /// Events may come: a writer holds the role, or none has yet, or the
    /// last one left without closing (an allocator borrowing the role).
    pub(crate) const OPEN: u64 = 0;
    /// The last writer closed the stream (`Writer::close` or its drop); a
    /// new writer reopens it.
    pub(crate) const CLOSED: u64 = 1;
    /// The writer's process died holding the role (its reaper says so); a
    /// new writer reopens the stream.
    pub(crate) const WRITER_DEAD: u64 = 2;
}

/// The gate line: the join handshake and the writer's floors.
///
/// Every gating computation of the writer (`WriterCore::recompute_gate`)
/// first swaps `gate` to `published | GATE_BUSY`, then reads the reader
/// table, stores both floors and finally stores `gate = published` (Release).
/// A joiner performs an AcqRel RMW on `gate` after making its entry active:
/// whatever computation comes after that RMW sees the entry. A joiner
/// starting "from now" starts no lower than the published value it reads
/// there, busy or not. A joiner starting "from the oldest event" needs the
/// floors of the last computation before its RMW, which are only final once
/// that computation has cleared `GATE_BUSY` (see `Reader::join`).
#[repr(C, align(128))]
pub(crate) struct GateLine {
    /// `published` at the writer's last gating computation, with
    /// [`GATE_BUSY`] while that computation runs.
    pub(crate) gate: AtomicU64,
    /// The writer overwrites no ring entry of a sequence at or above this
    /// until its next computation.
    pub(crate) ring_floor: AtomicU64,
    /// The writer reuses no pool slot last published at or above this until
    /// its next computation.
    pub(crate) slot_floor: AtomicU64,
}

/// Set in [`GateLine::gate`] while the writer computes its floors.
pub(crate) const GATE_BUSY: u64 = 1 << 63;

/// Set in a lossy reader's cursor word while it reads: the writer then
/// treats the cursor as gating (it may not lap the reader) until the reader
/// stores its next cursor without it.
pub(crate) const CURSOR_PIN: u64 = 1 << 63;

/// One 64-bit word alone on its line.
#[repr(C, align(128))]
pub(crate) struct WordLine {
    pub(crate) value: AtomicU64,
}

/// Sleeping readers and the word they sleep on.
#[repr(C, align(128))]
pub(crate) struct WakeLine {
    /// Readers that registered to sleep; the writer wakes only if non-zero.
    pub(crate) waiters: AtomicU32,
    /// Bumped by the writer before every wake; readers sleep while it holds
    /// the value they read.
    pub(crate) futex: AtomicU32,
    /// Readers that may sleep (strategy `Blocking`): `epoch << 32 | count`,
    /// see [`wait`](crate::wait). The writer looks for sleepers only while
    /// the count is non-zero.
    pub(crate) blocking: AtomicU64,
    /// The latest `blocking` epoch the writer has seen: readers registered
    /// up to it are looked for after every later `published` store.
    pub(crate) acked: AtomicU32,
}

/// Per class: set by an allocator that found no free slot, so the writer
/// hands back the slots it keeps for reuse.
#[repr(C, align(128))]
pub(crate) struct WantLine {
    pub(crate) want: [AtomicU64; SizeClass::COUNT],
}

/// The arena header.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) identity: IdentityLine,
    pub(crate) writer: WriterLine,
    pub(crate) published: WordLine,
    pub(crate) gate: GateLine,
    pub(crate) wake: WakeLine,
    pub(crate) want: WantLine,
    pub(crate) alloc_hint: [WordLine; SizeClass::COUNT],
}

/// One reader's entry in the reader table.
#[repr(C, align(128))]
pub(crate) struct ReaderEntry {
    /// Next sequence this reader will read; everything below is released.
    /// A lossy reader sets [`CURSOR_PIN`] in it while it reads, and the
    /// writer moves an unpinned lossy cursor forward (a compare-and-swap)
    /// when it laps the reader.
    pub(crate) cursor: AtomicU64,
    /// `kind | (owner process entry + 1) << 8`, see [`reader_state`]. The
    /// owner rides in the same word so that claiming an entry names its
    /// owner atomically: a process that dies right after the claim leaves an
    /// entry its reaper can find.
    pub(crate) state: AtomicU64,
    /// Process id of the reader's process, for display.
    pub(crate) pid: AtomicU64,
    /// Events this reader lost by being lapped (lossy readers), for display.
    pub(crate) lost: AtomicU64,
}

/// Values of [`ReaderEntry::state`].
pub(crate) mod reader_state {
    /// Nobody uses the entry.
    pub(crate) const FREE: u64 = 0;
    /// Taken by a joining reader, not yet gating the writer.
    pub(crate) const CLAIMED: u64 = 1;
    /// Gates the writer with its cursor.
    pub(crate) const ACTIVE: u64 = 2;
    /// Lossy: gates the writer only while its cursor is pinned; otherwise
    /// the writer laps it when it needs the room.
    pub(crate) const LOSSY: u64 = 3;

    /// The state word of an entry of `kind` owned by process entry `owner`.
    #[inline]
    pub(crate) const fn pack(kind: u64, owner: usize) -> u64 {
        kind | ((owner as u64 + 1) << 8)
    }

    #[inline]
    pub(crate) const fn kind(word: u64) -> u64 {
        word & 0xFF
    }

    /// The owning process entry, if any.
    #[inline]
    pub(crate) const fn owner(word: u64) -> Option<usize> {
        match word >> 8 {
            0 => None,
            n => Some(n as usize - 1),
        }
    }
}

/// One process using the arena: its liveness is a file lock the kernel
/// releases when the process dies (see `process.rs`).
#[repr(C, align(128))]
pub(crate) struct ProcessEntry {
    /// [`process_state::FREE`] or [`process_state::ACTIVE`].
    pub(crate) state: AtomicU64,
    /// Process id, for display.
    pub(crate) pid: AtomicU64,
    /// Number of times the entry has been claimed.
    pub(crate) epoch: AtomicU64,
}

/// Values of [`ProcessEntry::state`].
pub(crate) mod process_state {
    /// Nobody uses the entry.
    pub(crate) const FREE: u64 = 0;
    /// A process uses the entry (and holds its lock, in a shared arena).
    pub(crate) const ACTIVE: u64 = 1;
}

/// What the ring carries per sequence.
#[repr(C, align(16))]
pub(crate) struct Descriptor {
    /// `generation << 32 | class << 28 | slot index`.
    pub(crate) slot: AtomicU64,
    /// `event_type << 32 | len`.
    pub(crate) header: AtomicU64,
}

/// The descriptor's slot word.
pub(crate) mod slot_word {
    const INDEX_MASK: u64 = (1 << 28) - 1;

    /// The slot word of an XS event carried in its ring entry: class field
    /// 0xF (no class has it), slot and generation 0.
    pub(crate) const INLINE: u64 = 0xF << 28;

    /// Whether the slot word says the payload is in the ring entry.
    #[inline]
    pub(crate) const fn is_inline(word: u64) -> bool {
        (word >> 28) & 0xF == 0xF
    }

    #[inline]
    pub(crate) const fn pack(class: usize, slot: u32, generation: u32) -> u64 {
        ((generation as u64) << 32) | ((class as u64 & 0xF) << 28) | (slot as u64 & INDEX_MASK)
    }

    /// `(class index, slot index, generation)`, unvalidated.
    #[inline]
    pub(crate) const fn unpack(word: u64) -> (usize, u32, u32) {
        (((word >> 28) & 0xF) as usize, (word & INDEX_MASK) as u32, (word >> 32) as u32)
    }
}

/// The descriptor's header word.
pub(crate) mod header_word {
    #[inline]
    pub(crate) const fn pack(len: u32, event_type: u32) -> u64 {
        ((event_type as u64) << 32) | len as u64
    }

    /// `(len, event_type)`, unvalidated.
    #[inline]
    pub(crate) const fn unpack(word: u64) -> (u32, u32) {
        (word as u32, (word >> 32) as u32)
    }
}

/// A slot's metadata word: `generation << 32 | RING | ORPHAN | FILLING | refcount`.
///
/// * `refcount` counts `RingPtr`s only; the ring's own hold on a slot is
///   implied by sequences and costs no atomic. In a shared arena it counts
///   nothing: it is non-zero exactly while some process holds the slot, and
///   every new hold changes it (see `holders.rs`, [`meta::next_touch`]); the
///   processes that hold the slot are its holder bits.
/// * `RING`: the writer owns the slot and reuses it, with plain stores, once
///   the readers have passed it and the refcount is 0. Slots without it and
///   with refcount 0 are free for anyone, claimed with one CAS.
/// * `ORPHAN`: the runtime is gone; the last `RingPtr` of the slot helps free
///   the arena.
/// * `FILLING`: an allocator claimed the slot and is writing it; until the
///   fill is published with Release no upgrade reaches the slot, and the
///   refcount field names the filler instead of counting: its process
///   entry + 1 (1 in process), so that the reaper of a process that died
///   mid-fill can give the slot back.
/// * `generation`: bumped at every allocation; handles and `RingPtr`s carry
///   it, and upgrading checks it in the same CAS that checks the refcount.
///   32 bits survive 2^32 reuses of one slot before a stale handle could
///   match again: at 20 million reuses a second of a single slot, 3.5 minutes
///   of continuous recycling of that one slot; with the default 1000 S slots
///   at 20 million S events a second, about two and a half days (XS events
///   are carried in the ring and bump no generation; their retains and the
///   allocator's XS allocations cycle the XS pool).
pub(crate) mod meta {
    pub(crate) const RC_MASK: u64 = (1 << 29) - 1;
    pub(crate) const FILLING: u64 = 1 << 29;
    pub(crate) const ORPHAN: u64 = 1 << 30;
    pub(crate) const RING: u64 = 1 << 31;
    pub(crate) const GEN_SHIFT: u32 = 32;
    /// Abort when an increment finds the count at this value: leaves 2^28
    /// racing increments of headroom before a carry could reach `FILLING`.
    pub(crate) const RC_LIMIT: u64 = 1 << 28;

    /// Shared arenas: the refcount field after one more hold, whatever it
    /// held before (a value read from a file): `1..=RC_LIMIT`, never 0.
    #[inline]
    pub(crate) const fn next_touch(word: u64) -> u64 {
        (word & !RC_MASK) | ((word & RC_MASK) % RC_LIMIT + 1)
    }

    #[inline]
    pub(crate) const fn refcount(word: u64) -> u64 {
        word & RC_MASK
    }

    #[inline]
    pub(crate) const fn generation(word: u64) -> u32 {
        (word >> GEN_SHIFT) as u32
    }

    #[inline]
    pub(crate) const fn is_ring(word: u64) -> bool {
        word & RING != 0
    }

    /// Being filled by an allocator.
    #[inline]
    pub(crate) const fn is_filling(word: u64) -> bool {
        word & FILLING != 0
    }

    /// The filler tag of a `FILLING` word: the filler's process entry + 1.
    #[inline]
    pub(crate) const fn filler(word: u64) -> u64 {
        word & RC_MASK
    }

    /// Free for anyone: not owned by the writer, not being filled, no
    /// `RingPtr`, runtime alive.
    #[inline]
    pub(crate) const fn is_free(word: u64) -> bool {
        // Mutant: forget the writer's flag (the allocator may then take a
        // slot the writer reuses with plain stores).
        let taken =
            crate::sync::mutant!("free_ignores_ring", ORPHAN | FILLING | RC_MASK, RING | ORPHAN | FILLING | RC_MASK);
        word & taken == 0
    }

    /// `generation + 1` with the same flags and a refcount of `refcount`.
    #[inline]
    pub(crate) const fn next_generation(word: u64, flags: u64, refcount: u64) -> u64 {
        ((generation(word).wrapping_add(1) as u64) << GEN_SHIFT) | flags | refcount
    }
}

/// Process entries per holder word: one bit each.
pub(crate) const HOLDERS_PER_WORD: usize = 64;

/// Where one class's pool lies in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct PoolLayout {
    /// Offset of the metadata words.
    pub(crate) metas: usize,
    /// Offset of the slot headers.
    pub(crate) headers: usize,
    /// Offset of the first slot.
    pub(crate) slots: usize,
    /// Number of slots.
    pub(crate) count: usize,
}

/// Offsets of every part of an arena, computed from a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArenaLayout {
    pub(crate) readers: usize,
    pub(crate) max_readers: usize,
    pub(crate) processes: usize,
    pub(crate) max_processes: usize,
    pub(crate) ring: usize,
    pub(crate) ring_capacity: usize,
    pub(crate) pools: [PoolLayout; SizeClass::COUNT],
    /// Offset of the holder words (shared arenas), or 0.
    pub(crate) holders: usize,
    /// Holder words per slot (0 without holders).
    pub(crate) holder_words: usize,
    /// Index of each class's first slot when the slots of all classes are
    /// numbered together (XS first): holder words and a process's local
    /// counts are indexed so.
    pub(crate) slot_base: [usize; SizeClass::COUNT],
    /// Total length, a multiple of 4096.
    pub(crate) len: usize,
}

/// The layout arithmetic overflowed `usize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayoutOverflow;

const fn round_up(x: usize, to: usize) -> Option<usize> {
    match x.checked_add(to - 1) {
        Some(v) => Some(v / to * to),
        None => None,
    }
}

impl ArenaLayout {
    /// Lays out an arena for `ring_capacity` descriptors, `max_readers`
    /// reader entries, `max_processes` process entries and `slots[c]` slots
    /// of each class, with holder bits per slot if `shared`.
    pub(crate) fn new(
        ring_capacity: usize,
        max_readers: usize,
        max_processes: usize,
        slots: [usize; SizeClass::COUNT],
        shared: bool,
    ) -> Result<Self, LayoutOverflow> {
        fn add(a: usize, b: usize) -> Result<usize, LayoutOverflow> {
            a.checked_add(b).ok_or(LayoutOverflow)
        }
        fn mul(a: usize, b: usize) -> Result<usize, LayoutOverflow> {
            a.checked_mul(b).ok_or(LayoutOverflow)
        }
        fn line(x: usize) -> Result<usize, LayoutOverflow> {
            round_up(x, LINE).ok_or(LayoutOverflow)
        }

        let mut at = line(size_of::<Header>())?;
        let readers = at;
        at = line(add(at, mul(max_readers, size_of::<ReaderEntry>())?)?)?;
        let processes = at;
        at = line(add(at, mul(max_processes, size_of::<ProcessEntry>())?)?)?;
        let ring = at;
        at = line(add(at, mul(ring_capacity, RING_ENTRY)?)?)?;
        let mut pools = [PoolLayout::default(); SizeClass::COUNT];
        let mut slot_base = [0; SizeClass::COUNT];
        let mut total_slots = 0usize;
        for class in SizeClass::ALL {
            let count = slots[class.index()];
            let metas = at;
            at = line(add(at, mul(count, size_of::<u64>())?)?)?;
            let headers = at;
            at = line(add(at, mul(count, size_of::<u64>())?)?)?;
            let first = at;
            at = line(add(at, mul(count, class.capacity())?)?)?;
            pools[class.index()] = PoolLayout { metas, headers, slots: first, count };
            slot_base[class.index()] = total_slots;
            total_slots = add(total_slots, count)?;
        }
        let (holders, holder_words) = if shared {
            let words = max_processes.div_ceil(HOLDERS_PER_WORD);
            let start = at;
            at = line(add(at, mul(mul(total_slots, words)?, size_of::<u64>())?)?)?;
            (start, words)
        } else {
            (0, 0)
        };
        let len = round_up(at, 4096).ok_or(LayoutOverflow)?;
        if len > isize::MAX as usize {
            return Err(LayoutOverflow);
        }
        Ok(Self {
            readers,
            max_readers,
            processes,
            max_processes,
            ring,
            ring_capacity,
            pools,
            holders,
            holder_words,
            slot_base,
            len,
        })
    }

    /// Number of slots of all classes together.
    pub(crate) fn total_slots(&self) -> usize {
        self.pools.iter().map(|p| p.count).sum()
    }
}

/// FNV-1a over 64-bit words, usable in a `const`.
struct Fnv(u64);

impl Fnv {
    const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    const fn word(self, w: u64) -> Self {
        let bytes = w.to_le_bytes();
        let mut h = self.0;
        let mut i = 0;
        while i < 8 {
            h ^= bytes[i] as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            i += 1;
        }
        Self(h)
    }

    const fn ty<T>(self) -> Self {
        self.word(size_of::<T>() as u64).word(align_of::<T>() as u64)
    }
}

/// Hash of everything two processes must agree on to share an arena.
pub(crate) const LAYOUT_HASH: u64 = {
    use std::mem::offset_of;
    let h = Fnv::new()
        .word(FORMAT_VERSION)
        .word(LINE as u64)
        .ty::<Header>()
        .ty::<IdentityLine>()
        .word(offset_of!(IdentityLine, magic) as u64)
        .word(offset_of!(IdentityLine, version) as u64)
        .word(offset_of!(IdentityLine, layout_hash) as u64)
        .word(offset_of!(IdentityLine, arena_len) as u64)
        .word(offset_of!(IdentityLine, ring_capacity) as u64)
        .word(offset_of!(IdentityLine, max_readers) as u64)
        .word(offset_of!(IdentityLine, slots) as u64)
        .word(offset_of!(IdentityLine, wait_strategy) as u64)
        .word(offset_of!(IdentityLine, max_processes) as u64)
        .word(offset_of!(IdentityLine, flags) as u64)
        .ty::<WriterLine>()
        .word(offset_of!(WriterLine, owner) as u64)
        .word(offset_of!(WriterLine, epoch) as u64)
        .word(offset_of!(WriterLine, stream) as u64)
        .word(stream::OPEN)
        .word(stream::CLOSED)
        .word(stream::WRITER_DEAD)
        .ty::<GateLine>()
        .word(offset_of!(GateLine, gate) as u64)
        .word(offset_of!(GateLine, ring_floor) as u64)
        .word(offset_of!(GateLine, slot_floor) as u64)
        .word(GATE_BUSY)
        .word(CURSOR_PIN)
        .ty::<WordLine>()
        .ty::<WakeLine>()
        .word(offset_of!(WakeLine, waiters) as u64)
        .word(offset_of!(WakeLine, futex) as u64)
        .word(offset_of!(WakeLine, blocking) as u64)
        .word(offset_of!(WakeLine, acked) as u64)
        .ty::<WantLine>()
        .word(offset_of!(Header, identity) as u64)
        .word(offset_of!(Header, writer) as u64)
        .word(offset_of!(Header, published) as u64)
        .word(offset_of!(Header, gate) as u64)
        .word(offset_of!(Header, wake) as u64)
        .word(offset_of!(Header, want) as u64)
        .word(offset_of!(Header, alloc_hint) as u64)
        .ty::<ReaderEntry>()
        .word(offset_of!(ReaderEntry, cursor) as u64)
        .word(offset_of!(ReaderEntry, state) as u64)
        .word(offset_of!(ReaderEntry, pid) as u64)
        .word(offset_of!(ReaderEntry, lost) as u64)
        .word(reader_state::LOSSY)
        .ty::<ProcessEntry>()
        .word(offset_of!(ProcessEntry, state) as u64)
        .word(offset_of!(ProcessEntry, pid) as u64)
        .word(offset_of!(ProcessEntry, epoch) as u64)
        .ty::<Descriptor>()
        .word(offset_of!(Descriptor, slot) as u64)
        .word(offset_of!(Descriptor, header) as u64)
        .ty::<PooledEvent<64>>()
        .ty::<PooledEvent<256>>()
        .ty::<PooledEvent<1024>>()
        .ty::<PooledEvent<4096>>()
        .ty::<PooledEvent<16384>>()
        .word(slot_word::pack(0xF, MAX_SLOTS_PER_CLASS, u32::MAX))
        .word(slot_word::INLINE)
        .word(RING_ENTRY as u64)
        .word(INLINE_OFFSET as u64)
        .word(INLINE_CAPACITY as u64)
        .word(header_word::pack(u32::MAX, 0))
        .word(meta::RC_MASK)
        .word(meta::FILLING)
        .word(meta::ORPHAN)
        .word(meta::RING)
        .word(meta::GEN_SHIFT as u64)
        .word(reader_state::FREE)
        .word(reader_state::CLAIMED)
        .word(reader_state::ACTIVE)
        .word(reader_state::pack(reader_state::ACTIVE, 0))
        .word(process_state::FREE)
        .word(process_state::ACTIVE)
        .word(HOLDERS_PER_WORD as u64)
        .word(meta::RC_LIMIT)
        .word(FLAG_SHARED)
        .ty::<crate::sync::AtomicU32>();
    h.0
};

// The fixed parts of the format, checked at compile time. Under loom the
// atomics are loom's handles, not bytes, and the arena is built from typed
// values instead, so these hold for the real build only.
#[cfg(not(loom))]
const _: () = {
    assert!(size_of::<IdentityLine>() == LINE);
    assert!(size_of::<WriterLine>() == LINE);
    assert!(size_of::<WordLine>() == LINE);
    assert!(size_of::<GateLine>() == LINE);
    assert!(size_of::<WakeLine>() == LINE);
    assert!(size_of::<WantLine>() == LINE);
    assert!(size_of::<Header>() == 11 * LINE);
    assert!(align_of::<Header>() == LINE);
    assert!(size_of::<ReaderEntry>() == LINE);
    assert!(size_of::<ProcessEntry>() == LINE);
    assert!(size_of::<crate::sync::AtomicU32>() == 4);
    assert!(size_of::<Descriptor>() == 16);
    assert!(INLINE_OFFSET + INLINE_CAPACITY <= RING_ENTRY);
    assert!(INLINE_OFFSET % INLINE_ALIGN == 0 && RING_ENTRY % INLINE_ALIGN == 0);
    assert!(INLINE_OFFSET + 48 <= 64, "up to 48 bytes share the descriptor's cache line");
    assert!(size_of::<crate::sync::AtomicU64>() == 8);
    assert!(align_of::<crate::sync::AtomicU64>() == 8);
    assert!(align_of::<PooledEvent<64>>() <= LINE);
};

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn descriptor_words_round_trip() {
        // (class, slot, generation): the extremes of each field.
        for (class, slot, generation) in [(0, 0, 0), (4, MAX_SLOTS_PER_CLASS, u32::MAX), (2, 12345, 7)] {
            assert_eq!(slot_word::unpack(slot_word::pack(class, slot, generation)), (class, slot, generation));
        }
        for (len, ty) in [(0, 0), (16384, u32::MAX), (u32::MAX, 1)] {
            assert_eq!(header_word::unpack(header_word::pack(len, ty)), (len, ty));
        }
    }

    #[test]
    fn offsets_are_line_aligned_and_disjoint() {
        let l = ArenaLayout::new(1024, 16, 4, [2000, 1000, 300, 60, 15], true).unwrap();
        let mut parts = vec![
            (0, size_of::<Header>()),
            (l.readers, 16 * LINE),
            (l.processes, 4 * LINE),
            (l.ring, 1024 * RING_ENTRY),
        ];
        for (c, p) in l.pools.iter().enumerate() {
            parts.push((p.metas, p.count * 8));
            parts.push((p.headers, p.count * 8));
            parts.push((p.slots, p.count * SizeClass::ALL[c].capacity()));
        }
        assert_eq!(l.holder_words, 1, "4 processes fit one word per slot");
        parts.push((l.holders, 3375 * 8));
        assert_eq!(l.slot_base, [0, 2000, 3000, 3300, 3360]);
        let wide = ArenaLayout::new(1024, 16, 65, [2000, 1000, 300, 60, 15], true).unwrap();
        assert_eq!(wide.holder_words, 2, "65 processes need two words per slot");
        assert!(wide.holders + 3375 * 16 <= wide.len);
        for (i, &(off, len)) in parts.iter().enumerate() {
            assert_eq!(off % LINE, 0, "part {i} at {off}");
            assert!(off + len <= l.len);
            if let Some(&(next, _)) = parts.get(i + 1) {
                assert!(off + len <= next, "part {i} overlaps the next");
            }
        }
        assert_eq!(l.len % 4096, 0);
    }

    #[test]
    fn empty_classes_take_no_room() {
        let a = ArenaLayout::new(64, 1, 1, [10, 0, 0, 0, 0], false).unwrap();
        let b = ArenaLayout::new(64, 1, 1, [10, 0, 0, 0, 1], false).unwrap();
        assert_eq!((a.holders, a.holder_words), (0, 0), "no holder bits in process");
        assert_eq!(a.pools[1].metas, a.pools[4].slots);
        assert!(b.len > a.len);
    }

    #[test]
    fn overflow_is_an_error() {
        assert_eq!(ArenaLayout::new(usize::MAX / 2, 1, 1, [1; 5], false), Err(LayoutOverflow));
        assert_eq!(ArenaLayout::new(64, 1, 1, [usize::MAX / 64, 0, 0, 0, 0], false), Err(LayoutOverflow));
        assert_eq!(ArenaLayout::new(64, 1, usize::MAX / 8, [1 << 20, 0, 0, 0, 0], true), Err(LayoutOverflow));
    }
}
