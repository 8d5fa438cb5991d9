//! The C ABI: create or open a runtime, publish events from C, Python or any
//! host that can call C, read them back, and look at statistics.
//!
//! `include/slotcast.h` declares everything here; it is generated from these
//! files by cbindgen (`cbindgen.toml`) and checked by `capi/tests/header.rs`.
//! The C library itself (`libslotcast.so`, `libslotcast.a`) is built by the
//! `capi/` package of this workspace: `cargo build --release -p slotcast-capi`.
//!
//! Only with the `capi` feature, off by default and turned on by `capi/`
//! alone: a Rust user's build and documentation of slotcast carry none of
//! these functions. Not `#[doc(hidden)]` when on: these docs are the C
//! ABI's reference beside the header (`cargo doc -p slotcast --features
//! capi`).
//!
//! # Conventions
//!
//! * **Status codes.** Every function but [`slotcast_strerror`] returns an
//!   `int`: [`SLOTCAST_OK`] (0) or one of the negative `SLOTCAST_ERR_*`
//!   codes. [`slotcast_strerror`] turns a code into a static message;
//!   [`slotcast_last_error`] gives the details of the last failure on the
//!   calling thread (which file was refused and why, say).
//! * **No undefined behaviour from bad input.** A null pointer, a payload
//!   over 16 KB, a handle that was closed, a pointer to the wrong kind of
//!   handle, a buffer too small: each is reported with its own code. No
//!   panic crosses the boundary: every call runs under `catch_unwind`, and a
//!   panic (a bug in slotcast) is reported as [`SLOTCAST_ERR_PANIC`].
//! * **Handles.** Runtimes, writers and readers are opaque pointers to heap
//!   objects whose first word is a tag naming their kind and state, checked
//!   on every call: a reader passed where a writer is expected is
//!   [`SLOTCAST_ERR_BAD_HANDLE`], a closed handle [`SLOTCAST_ERR_CLOSED`].
//!   `*_close` releases what a handle holds (the writer role, a reader entry,
//!   the mapping) and leaves a tombstone that answers every later call with
//!   [`SLOTCAST_ERR_CLOSED`]; `*_free` closes if needed and frees the memory,
//!   exactly once: after it the pointer must not be used again (nothing can
//!   tell freed memory from a handle without reading it).
//! * **Timeouts** are in nanoseconds: 0 does not wait (a full ring is
//!   [`SLOTCAST_ERR_RING_FULL`], no event is [`SLOTCAST_ERR_EMPTY`]),
//!   [`SLOTCAST_WAIT_FOREVER`] waits as long as it takes, anything else waits
//!   at most that long and then reports [`SLOTCAST_ERR_TIMEOUT`]. Waiting
//!   uses the runtime's wait strategy.
//! * **Reader policies and the stream's end.** `slotcast_runtime_reader_with`
//!   chooses a reader's policy and start: [`SLOTCAST_READER_LOSSY`] (the
//!   writer laps it rather than wait; its next read is
//!   [`SLOTCAST_ERR_LAGGED`], the count in `slotcast_last_error` and
//!   [`slotcast_reader_lost`]) and [`SLOTCAST_READER_FROM_OLDEST`]. A lossy
//!   reader holds the writer back only inside a read call, never between
//!   calls: it lends copies, not slots. Once every event is read, every read
//!   call returns [`SLOTCAST_ERR_STREAM_CLOSED`] after the writer closed
//!   (`slotcast_writer_close` or `_free`), or [`SLOTCAST_ERR_WRITER_DEAD`]
//!   after its process died; neither is final (a new writer reopens).
//!
//! # Thread safety
//!
//! | functions | rule |
//! |---|---|
//! | `slotcast_strerror`, `slotcast_config_default`, `slotcast_last_error` | any thread, at any time |
//! | `slotcast_runtime_*` | any thread, concurrently: a lock inside each handle serialises calls on it |
//! | `slotcast_writer_*` | any thread, concurrently: calls on one writer are serialised by its lock, in the order the threads take it; the events of one batch call stay contiguous |
//! | `slotcast_reader_*` | any thread, concurrently, serialised by the reader's lock; a borrowed view is valid until the next call on that reader, from whichever thread |
//! | `*_close` | any thread, concurrently with other calls on the handle: it waits for the call in progress, and later calls get `SLOTCAST_ERR_CLOSED` |
//! | `*_free` | must be the last call on the handle, not concurrent with any other call on it |
//!
//! Handles of one runtime are independent: closing the runtime handle does
//! not close its writer or readers (they keep the arena alive).
//!
//! The writer's lock costs an uncontended lock and unlock per call (two
//! atomic read-modify-writes). The batch calls pay it once per batch, and
//! publish the whole batch with one store of the published cursor;
//! `examples/ffi_ingest.rs` measures both against the Rust API.

#![allow(non_camel_case_types)] // C names: `slotcast_writer`, not `SlotcastWriter`.

// The layers, from the host's side inwards: the codes every call returns,
// the details of the last failure, the boundary that catches panics, the
// timeouts, the tagged handles, the checked host pointers; then the
// functions of each handle kind.
mod catch;
mod failure;
mod handle;
mod last_error;
mod ptr;
mod status;
mod timeout;

mod reader;
mod runtime;
mod writer;

#[cfg(test)]
mod tests;

pub use last_error::slotcast_last_error;
pub use reader::*;
pub use runtime::*;
pub use status::*;
pub use writer::*;

// What the handle kinds' functions (reader.rs, runtime.rs, writer.rs) use.
use catch::call;
use failure::{Failure, Res, publish_failure};
use handle::{Handle, READER, RUNTIME, WRITER};
use ptr::{check_len, host_array, payload, put, put_opt};
use timeout::Wait;
