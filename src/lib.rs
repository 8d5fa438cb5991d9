//! slotcast: one writer, many readers, zero copies, zero allocations per event.
//!
//! A [`Runtime`] owns one arena of fixed-size, cache-aligned slots in five
//! size classes ([`SizeClass`]: 64 B to 16 KB) and a ring of 128-byte
//! entries, each with one event's descriptor and, for an XS event (up to
//! 64 bytes), its payload. One [`Writer`] publishes events in place, into
//! the ring entry or a slot; every [`Reader`] sees every event published
//! while it is joined, in order, exactly once, by borrowing the bytes where
//! they are: nothing is copied per reader and nothing is allocated per event. Any reader may [`retain`] an event as
//! a [`RingPtr`], an `Arc`-like pointer that keeps the slot alive past the
//! reader's cursor; a [`Handle`] names a retained event as plain data that
//! can cross threads, processes or a C boundary and be upgraded back. The
//! standalone [`Allocator`] hands out `RingPtr`s without the ring, for actor
//! systems that pass messages by pointer.
//!
//! # The model
//!
//! * **Publish.** The writer claims the next sequence number and, for an
//!   event over 64 bytes, a slot; fills the payload in place (in the ring
//!   entry or the slot), writes the entry's descriptor (class, slot,
//!   generation, length, type; or "in the entry" for an XS event) and stores
//!   the published cursor with Release, once per event or, deferred
//!   ([`Writer::set_flush_every`]), once per several.
//! * **Consume.** A reader loads the published cursor with Acquire, reads the
//!   descriptors and payloads below it in place, and stores its own cursor
//!   with Release, once per event or once per batch (at least every
//!   [`Reader::set_max_batch`] events, so a writer facing a full ring gets
//!   room back in steps). Readers never perform an atomic read-modify-write
//!   on this path.
//! * **Gating.** The writer never overwrites a position an active reader has
//!   not passed: when the slowest reader is a whole ring behind, `try_*`
//!   publishing returns [`Full`], and the waiting forms wait.
//! * **Slot lifetime.** A slot is free when no reader can still see its event
//!   and no `RingPtr` holds it. The ring's hold is implied by sequence
//!   numbers; only `RingPtr`s are counted, so an event nobody retains costs
//!   no atomic read-modify-write from publish to reuse. An XS event lives in
//!   its ring entry, which the writer reuses a ring later; retaining one
//!   copies it into a free slot of the XS pool (one CAS to claim it, so
//!   retain and drop stay two read-modify-writes), so a `RingPtr` and its
//!   handle mean the same for every class.
//! * **Generations.** Each reuse of a slot bumps its generation; a handle of
//!   an older generation no longer upgrades, and a `RingPtr` never sees a
//!   later event's bytes.
//! * **Waiting.** Each reader and the writer waits with its own
//!   [`WaitStrategy`], the runtime's by default ([`Reader::set_wait_strategy`],
//!   [`Writer::set_wait_strategy`]): busy-spin, spin-then-yield, or blocking
//!   on a futex word in the arena. While no reader is blocking, the writer
//!   looks for sleepers with one load per cursor store; it pays for a wake-up
//!   only when a reader sleeps. Every waiting operation comes in four forms,
//!   crossbeam's: `try_x`, `x`, `x_timeout`, `x_deadline`.
//!
//! # Across processes
//!
//! [`Builder::shared`] puts the arena in a file that other processes
//! [`Runtime::open`]; the same API then works across them, with the same
//! guarantees. `open` validates the file before using it and everything
//! read from it afterwards is bounds-checked, so a corrupted file gives an
//! [`OpenError`] or a [`ReadError`], never undefined behaviour. Each process
//! holds a file lock the kernel releases when it dies: a dead reader stops
//! gating the writer and its retained events are released, a dead writer's
//! role can be taken over, and a file whose processes all died is reported
//! stale. A process may die at any instruction: each records its holds on
//! slots as one bit per slot, set and cleared idempotently, so whoever reaps
//! it releases exactly what it held, and its own count of pointers (which
//! decides when it unmaps the file) lives in its own memory, out of other
//! processes' reach. [`Observer`] watches a file without taking part; the `slotcast`
//! command (crate `slotcast-cli`) prints its state.
//!
//! # Memory layout
//!
//! Everything of one runtime is one contiguous, line-aligned region; every
//! cross-reference in it is an offset or an index, so the same bytes are
//! valid in every process that maps them.
//!
//! ```text
//! +------------------------------------------------------------+ offset 0
//! | Header: magic, format version, layout hash, config,        |
//! |         writer owner, published cursor (own line),         |
//! |         gate word, wake line: sleeping-reader count,       |
//! |         blocking-reader count and its ack, futex word      |
//! +------------------------------------------------------------+
//! | Reader table: max_readers entries, one 128-byte line each: |
//! |   cursor, state (free/active) and owner process, pid       |
//! +------------------------------------------------------------+
//! | Process table: one line per process using the arena        |
//! +------------------------------------------------------------+
//! | Ring: capacity (a power of two) x 128 B entries: the       |
//! |   descriptor (16 B), then an XS event's payload (64 B)     |
//! +------------------------------------------------------------+
//! | Pool XS: one u64 metadata word per slot, one u64 header    |
//! |   word per slot (length and type, for upgrades), the slots |
//! | Pool S ... Pool XL (a class with 0 slots takes no room)    |
//! +------------------------------------------------------------+
//! | Shared arenas only: per slot, one bit per process entry    |
//! | that holds it (so a dead process's holds are released)    |
//! +------------------------------------------------------------+
//! ```
//!
//! Liveness is not a heartbeat in the reader table, as the design first
//! sketched: a heartbeat puts a store on the reader's path and a timeout on
//! the detector's, and still calls a stopped (not dead) process dead. A file
//! lock released by the kernel is exact.
//!
//! A slot is pure payload (a class's capacity in bytes, nothing else): the
//! event's length and type travel in the descriptor. XS events are carried
//! in the ring entry itself, right after the descriptor: an event of up to
//! 48 bytes shares the descriptor's cache line, one of up to 64 bytes its
//! 128-byte line pair, and no line holds two sequences, so a reader fetches
//! the entry and the published cursor, as with the Disruptor (measured in
//! BENCHMARKS.md, "Where the nanoseconds go": this cut the instructions of
//! a 64-byte publish and read from 264 to 176). The price: the ring takes
//! 128 bytes per entry, and an XS payload is 16-aligned where slots are
//! 64-aligned ([`EventRef::as_pod`] checks). The XS pool serves retains
//! and the [`Allocator`]. The default configuration (2000 XS, 1000 S, 300
//! M, 60 L and 15 XL slots, a 4096-entry ring, 16 readers) occupies
//! 1,765,376 bytes (1.7 MiB, see [`Config::arena_len`]), fixed at creation.
//!
//! # Example
//!
//! ```
//! use slotcast::{Runtime, SizeClass};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rt = Runtime::builder().ring_capacity(1024).build()?;
//! let mut reader = rt.reader()?;
//! let mut writer = rt.writer()?;
//!
//! writer.try_publish_bytes(1, b"tick")?;
//! writer.try_publish_with(SizeClass::S, 2, |buf| {
//!     buf[..3].copy_from_slice(&[1, 2, 3]);
//!     3 // the length written
//! })?;
//!
//! let first = reader.try_recv()?.expect("published");
//! assert_eq!(first.data(), b"tick");
//! let kept = first.retain()?; // outlives the reader's cursor
//! drop(first);
//!
//! let n = reader.try_read(|ev, end_of_batch| {
//!     assert_eq!(ev.data(), [1, 2, 3]);
//!     assert!(end_of_batch);
//! })?;
//! assert_eq!((n, &kept[..]), (1, &b"tick"[..]));
//! # Ok(())
//! # }
//! ```
//!
//! [`retain`]: EventRef::retain
#![doc(test(attr(deny(warnings))))]

// The modules form layers, each importing only from its own or lower ones
// (`tests/layers.rs` holds the order and fails on a cycle or an upward
// import): `sync`; `event`, `layout`, `error`; `config` (what the header
// records) and `wait`; the slot protocols `pool` and `holders`; the memory,
// `arena` (with its two backends), `process`, `shm`; `lifetime` (how the
// arena outlives its handles, and which count a slot hold lives in); the
// handles `ring_ptr`, `stats`, `observer`, `writer`, `reader`, `alloc`;
// then `runtime`, `builder` (placement and configuration) and `ffi`.
mod alloc;
mod arena;
mod builder;
mod config;
mod error;
mod event;
mod failpoint;
// The C ABI (see `include/slotcast.h`): only with the `capi` feature, which
// only the C library's package (`capi/`) turns on, so it is in no Rust
// user's API, build or documentation; not under loom, whose atomics only
// exist inside a model.
#[cfg(all(feature = "capi", not(loom)))]
pub mod ffi;
mod holders;
mod layout;
mod lifetime;
mod observer;
mod policy;
mod pool;
#[cfg_attr(
    any(loom, miri, not(target_os = "linux")),
    allow(
        dead_code,
        reason = "used by the Linux shared mapping (shm/linux.rs) only, which loom and Miri builds leave out"
    )
)]
mod process;
mod reader;
mod ring_ptr;
mod runtime;
mod shm;
mod slot_alloc;
mod stats;
mod sync;
mod wait;
mod writer;

pub use alloc::Allocator;
pub use arena::Backing;
pub use builder::Builder;
pub use config::Config;
pub use error::{
    AllocError, BuildError, Full, JoinError, OpenError, PublishError, ReadError, TryPublishError, UpgradeError,
    ViewError, WriterError,
};
pub use event::SizeClass;
pub use observer::Observer;
pub use policy::{Policy, ReaderOptions, StartAt};
pub use reader::{BatchIter, EventGuard, EventRef, ReadBatch, Reader};
pub use ring_ptr::{Handle, RingPtr};
pub use runtime::Runtime;
pub use shm::{OpenOptions, remove_stale};
pub use stats::{PoolStats, ProcessStats, ReaderStats, Stats};
pub use wait::WaitStrategy;
pub use writer::{Claim, Writer};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
