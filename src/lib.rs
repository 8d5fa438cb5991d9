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
//! # Reader policies and the stream's life
//!
//! A reader chooses at join ([`Runtime::reader_with`], [`ReaderOptions`]) a
//! [`Policy`] and where it starts ([`StartAt`]); the writer ends the stream
//! with [`Writer::close`]. The protocols, each ordering with its partner:
//!
//! * **Lossy readers.** A [`Policy::Lossy`] reader's entry is marked lossy.
//!   Before each read (one [`EventGuard`], one [`ReadBatch`], one call of
//!   [`Reader::try_read`], which reads one step of at most
//!   [`Reader::max_batch`] events) it *pins* its cursor: a CAS from `c` to
//!   `c | PIN` (Acquire). The read ends with a Release store of the next
//!   cursor, unpinned; that store pairs with the writer's Acquire loads of
//!   the cursor and with its lap CAS, so the reader's reads happen before
//!   the writer reuses what they read. The writer, computing its gate,
//!   treats a pinned cursor as a gating one. An unpinned lossy cursor that
//!   holds the room the writer needs (a ring, or the oldest slot of an
//!   exhausted pool) is *lapped*: the writer moves it forward with a CAS
//!   (AcqRel: Acquire pairs with the reader's last unpinning store;
//!   Release makes the writer's `published` visible to the reader that
//!   reads the lapped value). Pin and lap are CASes on the same word, so
//!   exactly one wins: a pinned reader is never lapped mid-read, and a
//!   lapped reader's pin fails, it reports [`ReadError::Lagged`] with the
//!   exact count and goes on from where the writer moved it. Its read is
//!   therefore never torn, and no reference is ever formed to memory being
//!   written. A lossy reader holds the writer back only while a read is
//!   open (a handler that panics ends it as it unwinds; a guard that is
//!   forgotten leaves the pin to the reader's next read), and a dead one is
//!   reaped like any reader (loom models
//!   `lossy_lap` and `lossy_pin_release`; mutants `lossy_no_pin`,
//!   `lap_store`).
//! * **The writer's floors.** Every gating computation brackets itself on
//!   the gate word: an AcqRel swap to `published | BUSY` (the join
//!   handshake), then the reader table, then the two floors (below the
//!   *ring floor* it may overwrite ring entries, below the *slot floor* it
//!   may reuse slots) and a Release store of `published` without `BUSY`.
//!   Floors never decrease, and the ring floor stays at least three
//!   quarters of a ring behind the writer: it reserves ring room a quarter
//!   ring at a time, so a late joiner can replay the rest.
//! * **Joining.** The joiner stores its cursor and marks its entry active
//!   (Release; pairs with the writer's Acquire loads), then performs an
//!   AcqRel RMW on the gate word. RMWs on one word are totally ordered: a
//!   computation after the joiner's sees the entry; the one before it
//!   released only what is below its `published` (a joiner "from now"
//!   starts no lower) and below its floors, which a joiner "from the
//!   oldest event" reads once that computation has cleared `BUSY` (its
//!   Acquire RMW reading the Release store). It starts at the ring floor,
//!   after any pool-slot event below the slot floor or whose slot no longer
//!   holds the descriptor's generation (loom model `join_oldest`; mutant
//!   `oldest_ignores_busy`). A lossy joiner turns lossy only once its
//!   cursor is final.
//! * **The stream's end.** The writer line holds the stream's state: open,
//!   closed, or writer dead. [`Writer::close`] (or dropping the writer)
//!   stores "closed" with Release after its last store of `published`; a
//!   reader that finds nothing to read loads the state with Acquire, then
//!   `published` again, so it reads every event before it reports
//!   [`ReadError::Closed`]. The close then runs the sleepers' wake-up RMW
//!   (AcqRel on the sleeper count; a sleeper registers with an AcqRel RMW
//!   and checks the state after it), so blocked readers wake (loom model
//!   `close_wake`; mutant `close_relaxed`). A writer process that dies is
//!   not a close: whoever reaps it marks the writer dead and wakes the
//!   sleepers, and a reader waiting on a writer in another process reaps
//!   dead processes about once a millisecond, so it returns
//!   [`ReadError::WriterDead`] within about a millisecond of the kernel
//!   releasing the dead writer's lock. A writer that stops on a failure
//!   may leave the same way on purpose ([`Writer::abandon`]: the state
//!   "writer dead" instead of "closed", with the close's ordering and
//!   wake-up). A new writer reopens the stream.
//!
//! # Async
//!
//! Every waiting operation has an async form, a future that any executor
//! can drive (they use nothing but [`Waker`](std::task::Waker)): the
//! reader's [`Reader::recv_async`], [`Reader::batch_async`],
//! [`Reader::read_async`] and [`Reader::into_stream`] (a
//! [`futures_core::Stream`] of [`OwnedEvent`]s, ending at the close); the
//! writer's [`Writer::claim_async`], [`Writer::publish_bytes_async`],
//! [`Writer::publish_pod_async`] and [`Writer::publish_with_async`]; the
//! allocator's [`Allocator::alloc_with_async`],
//! [`Allocator::alloc_bytes_async`] and [`Allocator::alloc_pod_async`].
//! Each is cancellation safe: dropping it before it completes reads,
//! publishes and claims nothing.
//!
//! * **Wake-ups.** A task with nothing to read takes a sleeping reader's
//!   place in the wake-up protocol above, with its waker where the thread's
//!   sleep would be: it counts itself among the readers that may sleep only
//!   while it waits, so with no task waiting the writer's cost is the one
//!   load it makes already. The writer's wake-up wakes the tasks of its own
//!   process from the publishing thread; in another process, a thread of
//!   that process sleeps on the futex word for its tasks. A registration
//!   the writer has not acknowledged is polled again after a bounded nap
//!   (a timer thread), the bound a sleeping reader has too.
//! * **Free slots and room.** The pointer drop that frees a slot wakes an
//!   allocator task waiting for one in its process (two dependent loads per
//!   drop while none waits). Readers never wake the writer (that would put a
//!   read-modify-write on every read): a task facing a full ring or pool
//!   yields, then looks again after naps of 20 µs growing to 1 ms, as an
//!   allocator does for a slot freed in another process.
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
//! |         writer owner and the stream's state,               |
//! |         published cursor (own line),                       |
//! |         gate word and the writer's floors, wake line:      |
//! |         sleeping-reader count, blocking-reader count and   |
//! |         its ack, futex word                                |
//! +------------------------------------------------------------+
//! | Reader table: max_readers entries, one 128-byte line each: |
//! |   cursor (pinned while a lossy reader reads), state        |
//! |   (free/gating/lossy) and owner process, pid, events lost  |
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
// records) and `wait`; `policy` (what a reader chooses at join); the slot
// protocols `pool` and `holders`; the memory,
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
mod task_wait;
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
#[cfg(not(loom))]
pub use reader::{OwnedEvent, ReaderStream};
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
