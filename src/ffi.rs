//! The C ABI: create or open a runtime, publish events from C, Python or any
//! host that can call C, read them back, and look at statistics.
//!
//! `include/slotcast.h` declares everything here; it is generated from these
//! files by cbindgen (`cbindgen.toml`) and checked by `tests/header.rs`. The
//! C library itself (`libslotcast.so`, `libslotcast.a`) is built by the
//! `capi/` package of this workspace: `cargo build --release -p slotcast-capi`.
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

use crate::error::{BuildError, JoinError, OpenError, PublishError, ReadError, WriterError};
use crate::event::SizeClass;
use crate::sync::{AtomicU64, Ordering::*};
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int};
use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

mod reader;
mod runtime;
mod writer;

pub use reader::*;
pub use runtime::*;
pub use writer::*;

/// Success.
pub const SLOTCAST_OK: c_int = 0;
/// A pointer argument that must not be null was null.
pub const SLOTCAST_ERR_NULL: c_int = -1;
/// The handle is not a live handle of the expected kind (a reader passed
/// as a writer, a misaligned pointer, memory that is no slotcast handle).
pub const SLOTCAST_ERR_BAD_HANDLE: c_int = -2;
/// The handle was closed.
pub const SLOTCAST_ERR_CLOSED: c_int = -3;
/// A payload exceeds `SLOTCAST_MAX_PAYLOAD` (16384) bytes, or every size
/// class that could hold it has 0 slots in this runtime's configuration.
pub const SLOTCAST_ERR_TOO_LARGE: c_int = -4;
/// The caller's buffer is too small; the required size was reported and
/// nothing was consumed.
pub const SLOTCAST_ERR_BUFFER_TOO_SMALL: c_int = -5;
/// No event is available (a read that was asked not to wait).
pub const SLOTCAST_ERR_EMPTY: c_int = -6;
/// The ring is full: the slowest reader is a whole ring behind (a publish
/// that was asked not to wait).
pub const SLOTCAST_ERR_RING_FULL: c_int = -7;
/// Every slot of the payload's size class is unread or retained (a publish
/// that was asked not to wait).
pub const SLOTCAST_ERR_POOL_FULL: c_int = -8;
/// The timeout passed before an event arrived or room was made.
pub const SLOTCAST_ERR_TIMEOUT: c_int = -9;
/// Another writer holds the runtime's writer role.
pub const SLOTCAST_ERR_WRITER_TAKEN: c_int = -10;
/// Every reader entry of the runtime is in use.
pub const SLOTCAST_ERR_TOO_MANY_READERS: c_int = -11;
/// A configuration value is out of range (see `slotcast_last_error`).
pub const SLOTCAST_ERR_INVALID_CONFIG: c_int = -12;
/// An argument is out of range: unknown flag bits, a zero-length output
/// array, a misaligned array.
pub const SLOTCAST_ERR_INVALID_ARGUMENT: c_int = -13;
/// The operating system refused: the file exists or is missing, permission
/// denied, out of memory for the mapping (see `slotcast_last_error`).
pub const SLOTCAST_ERR_IO: c_int = -14;
/// The file is not a usable slotcast arena: truncated, foreign, another
/// version or layout, inconsistent header, never initialised.
pub const SLOTCAST_ERR_BAD_FILE: c_int = -15;
/// Every process that used the file is dead; open it with
/// `SLOTCAST_OPEN_RECOVER_STALE` to take it over.
pub const SLOTCAST_ERR_STALE: c_int = -16;
/// Every process entry of the shared runtime is in use.
pub const SLOTCAST_ERR_TOO_MANY_PROCESSES: c_int = -17;
/// A reader met a malformed event or an impossible cursor, or a writer or
/// reader could not start from the file's cursors: only a corrupted shared
/// mapping does that. A reader stays on the event.
pub const SLOTCAST_ERR_CORRUPT: c_int = -18;
/// Not supported on this platform (shared runtimes need Linux).
pub const SLOTCAST_ERR_UNSUPPORTED: c_int = -19;
/// A bug in slotcast: a panic was caught at the boundary. The handle it
/// happened on answers every later call with this code; close and free it.
pub const SLOTCAST_ERR_PANIC: c_int = -20;
/// This process is a `fork` of the one that opened the shared runtime: the
/// handles it inherited stay the parent's (closing them here touches nothing
/// shared). Open the file again in the child.
pub const SLOTCAST_ERR_FORKED: c_int = -21;

/// The largest payload, in bytes (the XL size class).
pub const SLOTCAST_MAX_PAYLOAD: usize = 16384;
/// Number of size classes: XS 64 B, S 256 B, M 1 KB, L 4 KB, XL 16 KB.
pub const SLOTCAST_SIZE_CLASSES: usize = 5;
/// A timeout that never expires.
pub const SLOTCAST_WAIT_FOREVER: u64 = u64::MAX;

const _: () = assert!(SLOTCAST_MAX_PAYLOAD == SizeClass::MAX_PAYLOAD);
const _: () = assert!(SLOTCAST_SIZE_CLASSES == SizeClass::COUNT);

/// Every status code and its message, for `slotcast_strerror`.
const MESSAGES: [(c_int, &CStr); 22] = [
    (SLOTCAST_OK, c"success"),
    (SLOTCAST_ERR_NULL, c"a required pointer argument is null"),
    (SLOTCAST_ERR_BAD_HANDLE, c"not a live slotcast handle of the expected kind"),
    (SLOTCAST_ERR_CLOSED, c"the handle was closed"),
    (SLOTCAST_ERR_TOO_LARGE, c"the payload exceeds 16384 bytes or every size class that holds it has 0 slots"),
    (SLOTCAST_ERR_BUFFER_TOO_SMALL, c"the buffer is too small for the event"),
    (SLOTCAST_ERR_EMPTY, c"no event is available"),
    (SLOTCAST_ERR_RING_FULL, c"the ring is full (a reader is a whole ring behind)"),
    (SLOTCAST_ERR_POOL_FULL, c"the pool of the payload's size class is full"),
    (SLOTCAST_ERR_TIMEOUT, c"the timeout expired"),
    (SLOTCAST_ERR_WRITER_TAKEN, c"another writer holds the writer role"),
    (SLOTCAST_ERR_TOO_MANY_READERS, c"every reader entry is in use"),
    (SLOTCAST_ERR_INVALID_CONFIG, c"a configuration value is out of range"),
    (SLOTCAST_ERR_INVALID_ARGUMENT, c"an argument is out of range"),
    (SLOTCAST_ERR_IO, c"the operating system refused the file or the mapping"),
    (SLOTCAST_ERR_BAD_FILE, c"the file is not a usable slotcast arena"),
    (SLOTCAST_ERR_STALE, c"every process that used the file is dead (a stale runtime)"),
    (SLOTCAST_ERR_TOO_MANY_PROCESSES, c"every process entry of the shared runtime is in use"),
    (SLOTCAST_ERR_CORRUPT, c"a malformed event or cursor (the shared mapping is corrupted)"),
    (SLOTCAST_ERR_UNSUPPORTED, c"not supported on this platform"),
    (SLOTCAST_ERR_PANIC, c"internal error: a panic was caught in slotcast"),
    (SLOTCAST_ERR_FORKED, c"this process is a fork of the one that opened the shared runtime"),
];

/// A static, NUL-terminated English message for a status code; "unknown
/// status code" for a code slotcast never returns. Never null.
///
/// Thread safety: any thread, at any time.
#[unsafe(no_mangle)]
pub extern "C" fn slotcast_strerror(code: c_int) -> *const c_char {
    MESSAGES.iter().find(|(c, _)| *c == code).map_or(c"unknown status code", |(_, m)| m).as_ptr()
}

/// Copies the message describing the last failed call on the calling
/// thread, NUL-terminated, into `buf` (`capacity` bytes), and its length
/// without the NUL into `*len` (if `len` is not null). The message names
/// details the code cannot: which configuration field, what is wrong with a
/// file, the operating system's error. Empty if no call failed on this
/// thread yet; not cleared by successful calls.
///
/// Returns `SLOTCAST_ERR_BUFFER_TOO_SMALL` (with `*len` set) if `capacity`
/// is not at least `*len + 1`.
///
/// Thread safety: any thread, at any time; each thread has its own message.
///
/// # Safety
///
/// * `buf` is null or valid for writes of `capacity` bytes.
/// * `len` is null or valid for a write of a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_last_error(buf: *mut c_char, capacity: usize, len: *mut usize) -> c_int {
    let msg = LAST_ERROR.try_with(|m| m.borrow().clone()).unwrap_or_default();
    // Not through `call`: it would overwrite the message it reports.
    match catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `len` is null or writable (contract).
        unsafe { put_opt(len, msg.len()) };
        if buf.is_null() {
            return SLOTCAST_ERR_NULL;
        }
        if capacity <= msg.len() {
            return SLOTCAST_ERR_BUFFER_TOO_SMALL;
        }
        // SAFETY: `buf` is writable for `capacity > msg.len()` bytes
        // (contract, checked), and cannot overlap our own `msg`.
        unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), msg.len()) };
        // SAFETY: as above; index `msg.len() < capacity` is in bounds.
        let end = unsafe { buf.add(msg.len()) };
        // SAFETY: in bounds and writable, as above.
        unsafe { end.write(0) };
        SLOTCAST_OK
    })) {
        Ok(code) => code,
        Err(_) => SLOTCAST_ERR_PANIC,
    }
}

thread_local! {
    /// Details of the last failure on this thread, for `slotcast_last_error`.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Why a call failed: a status code and, where there is more to say than the
/// code's message, the details.
#[derive(Debug)]
pub(crate) struct Failure {
    code: c_int,
    detail: Option<String>,
}

impl Failure {
    pub(crate) fn new(code: c_int) -> Self {
        Self { code, detail: None }
    }

    pub(crate) fn with(code: c_int, detail: impl Display) -> Self {
        Self { code, detail: Some(detail.to_string()) }
    }
}

impl From<BuildError> for Failure {
    fn from(e: BuildError) -> Self {
        let code = match e {
            BuildError::Map(_) | BuildError::Create(_) | BuildError::NoSpace { .. } => SLOTCAST_ERR_IO,
            BuildError::Unsupported => SLOTCAST_ERR_UNSUPPORTED,
            BuildError::RingCapacity { .. }
            | BuildError::MaxReaders { .. }
            | BuildError::MaxProcesses { .. }
            | BuildError::TooManySlots { .. }
            | BuildError::NoSlots
            | BuildError::ArenaTooLarge => SLOTCAST_ERR_INVALID_CONFIG,
        };
        Failure::with(code, e)
    }
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Self {
        let code = match e {
            OpenError::Io(_) => SLOTCAST_ERR_IO,
            OpenError::Unsupported => SLOTCAST_ERR_UNSUPPORTED,
            OpenError::Truncated { .. }
            | OpenError::Foreign { .. }
            | OpenError::Uninitialized
            | OpenError::Version { .. }
            | OpenError::Layout { .. }
            | OpenError::Config { .. }
            | OpenError::Length { .. } => SLOTCAST_ERR_BAD_FILE,
            OpenError::Stale => SLOTCAST_ERR_STALE,
            OpenError::TooManyProcesses { .. } => SLOTCAST_ERR_TOO_MANY_PROCESSES,
        };
        Failure::with(code, e)
    }
}

impl From<WriterError> for Failure {
    fn from(e: WriterError) -> Self {
        let code = match e {
            WriterError::Taken { .. } => SLOTCAST_ERR_WRITER_TAKEN,
            WriterError::Corrupt { .. } => SLOTCAST_ERR_CORRUPT,
            WriterError::Forked => SLOTCAST_ERR_FORKED,
        };
        Failure::with(code, e)
    }
}

impl From<JoinError> for Failure {
    fn from(e: JoinError) -> Self {
        let code = match e {
            JoinError::TooManyReaders { .. } => SLOTCAST_ERR_TOO_MANY_READERS,
            JoinError::Corrupt { .. } => SLOTCAST_ERR_CORRUPT,
            JoinError::Forked => SLOTCAST_ERR_FORKED,
        };
        Failure::with(code, e)
    }
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Self {
        let code = match e {
            ReadError::Corrupt { .. } => SLOTCAST_ERR_CORRUPT,
            ReadError::Forked => SLOTCAST_ERR_FORKED,
        };
        Failure::with(code, e)
    }
}

/// A publish failed: `TooLarge`, or full, which is a timeout if the call was
/// allowed to wait.
pub(crate) fn publish_failure(e: PublishError, wait: Wait) -> Failure {
    match (e, wait) {
        (PublishError::TooLarge { .. }, _) => Failure::with(SLOTCAST_ERR_TOO_LARGE, e),
        // The C ABI has no fill closures: no length beyond a slot.
        (PublishError::OverCapacity { .. }, _) => Failure::with(SLOTCAST_ERR_TOO_LARGE, e),
        // No class that holds the payload has slots: too large for this
        // runtime, at once, whatever the call was allowed to wait.
        (PublishError::NoSlots(_), _) => Failure::with(SLOTCAST_ERR_TOO_LARGE, e),
        (PublishError::Forked, _) => Failure::with(SLOTCAST_ERR_FORKED, e),
        (PublishError::Full(full), Wait::Try) => {
            let code = match full {
                crate::Full::Ring => SLOTCAST_ERR_RING_FULL,
                crate::Full::Pool(_) => SLOTCAST_ERR_POOL_FULL,
            };
            Failure::with(code, full)
        }
        (PublishError::Full(full), _) => Failure::with(SLOTCAST_ERR_TIMEOUT, format!("timed out: {full}")),
    }
}

pub(crate) type Res<T = ()> = Result<T, Failure>;

/// Runs the body of an exported function: catches panics, records the
/// details of a failure for `slotcast_last_error`, returns the status code.
pub(crate) fn call(body: impl FnOnce() -> Res) -> c_int {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => SLOTCAST_OK,
        Ok(Err(failure)) => {
            let detail = match failure.detail {
                Some(d) => d,
                None => message(failure.code).to_owned(),
            };
            record(detail);
            failure.code
        }
        Err(payload) => {
            record(format!("internal error: slotcast panicked: {}", panic_message(&*payload)));
            SLOTCAST_ERR_PANIC
        }
    }
}

fn record(detail: String) {
    // `try_with`: a call made while the thread's locals are being destroyed
    // keeps no message rather than panicking.
    let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = detail);
}

fn message(code: c_int) -> &'static str {
    // SAFETY: `slotcast_strerror` returns a pointer into one of the static,
    // NUL-terminated literals of `MESSAGES` or the fallback literal.
    let msg = unsafe { CStr::from_ptr(slotcast_strerror(code)) };
    msg.to_str().unwrap_or("unknown status code")
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// How long a call may wait, from its `timeout_ns` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// 0: do not wait.
    Try,
    /// Wait at most until then.
    Until(Instant),
    /// `SLOTCAST_WAIT_FOREVER`.
    Forever,
}

impl Wait {
    pub(crate) fn from_ns(timeout_ns: u64) -> Wait {
        match timeout_ns {
            0 => Wait::Try,
            SLOTCAST_WAIT_FOREVER => Wait::Forever,
            ns => Instant::now().checked_add(Duration::from_nanos(ns)).map_or(Wait::Forever, Wait::Until),
        }
    }

    pub(crate) fn deadline(self) -> crate::wait::Deadline {
        use crate::wait::Deadline;
        match self {
            Wait::Try => Deadline::now(),
            Wait::Forever => Deadline::NEVER,
            Wait::Until(at) => Deadline::At(at),
        }
    }

    /// The code for "nothing came": empty without waiting, else a timeout.
    pub(crate) fn nothing(self) -> Failure {
        match self {
            Wait::Try => Failure::new(SLOTCAST_ERR_EMPTY),
            _ => Failure::new(SLOTCAST_ERR_TIMEOUT),
        }
    }
}

/// The first word of every handle: its kind while open, its kind's closed
/// tag once closed, 0 once freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tag {
    open: u64,
    name: &'static str,
}

impl Tag {
    /// The tag a closed handle of this kind keeps.
    const fn closed(self) -> u64 {
        self.open ^ 0xFF
    }
}

/// The handles' lock. std's `Mutex`, not the `crate::sync` shim's: the C ABI
/// is not built under loom (it serialises host threads in front of the
/// protocol and is no part of it), and a panic under the lock must poison
/// that handle only (see `a_panic_under_a_handle_lock_poisons_only_that_handle`).
#[allow(clippy::disallowed_types, reason = "see the comment above: the C ABI is outside the loom models")]
type HandleLock<T> = std::sync::Mutex<T>;

pub(crate) const RUNTIME: Tag = Tag { open: u64::from_le_bytes(*b"slcRtm\x01\x00"), name: "runtime" };
pub(crate) const WRITER: Tag = Tag { open: u64::from_le_bytes(*b"slcWrt\x01\x00"), name: "writer" };
pub(crate) const READER: Tag = Tag { open: u64::from_le_bytes(*b"slcRdr\x01\x00"), name: "reader" };

/// A handle as allocated: the tag first (every kind has it at offset 0, so
/// reading it through a pointer to another kind of handle is sound), then
/// the state behind the handle's lock.
#[repr(C)]
pub(crate) struct Handle<T> {
    tag: AtomicU64,
    state: HandleLock<Option<T>>,
}

impl<T: Send> Handle<T> {
    /// A new handle of kind `tag`, owned by the caller until `free`.
    pub(crate) fn create(tag: Tag, value: T) -> *mut Handle<T> {
        Box::into_raw(Box::new(Handle { tag: AtomicU64::new(tag.open), state: HandleLock::new(Some(value)) }))
    }

    /// Checks that `ptr` is an open handle of kind `tag`.
    ///
    /// # Safety
    ///
    /// `ptr` is null, or points to at least 8 bytes, aligned to 8, that stay
    /// allocated during the call: a handle of any kind that was not freed.
    pub(crate) unsafe fn get<'a>(ptr: *const Handle<T>, tag: Tag) -> Res<&'a Handle<T>> {
        let word = Self::tag_word(ptr, tag)?;
        // ORDERING: Acquire; pairs with the Release CAS in `close`, so a
        // call that sees the open tag sees the state as it was before it.
        let found = word.load(Acquire);
        if found == tag.open {
            // SAFETY: the open tag of this kind is only ever stored at the
            // start of a `Handle<T>` made by `create`, which lives until
            // `free` (contract).
            Ok(unsafe { &*ptr })
        } else if found == tag.closed() {
            Err(Failure::with(SLOTCAST_ERR_CLOSED, format!("the {} handle was closed", tag.name)))
        } else {
            Err(Failure::with(SLOTCAST_ERR_BAD_HANDLE, format!("not a slotcast {} handle", tag.name)))
        }
    }

    fn tag_word<'a>(ptr: *const Handle<T>, tag: Tag) -> Res<&'a AtomicU64> {
        if ptr.is_null() {
            return Err(Failure::with(SLOTCAST_ERR_NULL, format!("the {} handle is null", tag.name)));
        }
        let word = ptr.cast::<AtomicU64>();
        if !word.is_aligned() {
            return Err(Failure::with(SLOTCAST_ERR_BAD_HANDLE, format!("misaligned {} handle", tag.name)));
        }
        // SAFETY: non-null and aligned (checked), and 8 bytes of a live
        // handle (the caller's contract): every handle starts with its tag
        // (`repr(C)`), an atomic that handles only ever access atomically.
        Ok(unsafe { &*word })
    }

    /// Runs `f` on the state, under the handle's lock; `CLOSED` if it was
    /// closed meanwhile, `PANIC` if a call on this handle panicked before.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> Res<R>) -> Res<R> {
        let mut guard = self.state.lock().map_err(|_| {
            Failure::with(SLOTCAST_ERR_PANIC, "an earlier call on this handle panicked; close and free it")
        })?;
        match guard.as_mut() {
            Some(state) => f(state),
            None => Err(Failure::new(SLOTCAST_ERR_CLOSED)),
        }
    }

    /// Closes an open handle: later calls get `CLOSED`, then drops its state
    /// once the call in progress (if any) is done.
    ///
    /// # Safety
    ///
    /// As for [`get`](Handle::get).
    pub(crate) unsafe fn close(ptr: *const Handle<T>, tag: Tag) -> Res {
        // SAFETY: the caller's contract is `get`'s.
        let handle = unsafe { Self::get(ptr, tag) }?;
        // ORDERING: AcqRel; one closer wins, and calls that load the closed
        // tag (Acquire) see the handle as closed.
        if handle.tag.compare_exchange(tag.open, tag.closed(), AcqRel, Acquire).is_err() {
            return Err(Failure::with(SLOTCAST_ERR_CLOSED, format!("the {} handle was closed", tag.name)));
        }
        let value = match handle.state.lock() {
            Ok(mut guard) => guard.take(),
            // A poisoned state is dropped all the same: close must release
            // the writer role or the reader entry.
            Err(poisoned) => poisoned.into_inner().take(),
        };
        drop(value);
        Ok(())
    }

    /// Closes the handle if it is open and frees it.
    ///
    /// # Safety
    ///
    /// As for [`get`](Handle::get), and no other call on the handle is in
    /// progress or follows: `ptr` is dangling afterwards.
    pub(crate) unsafe fn free(ptr: *mut Handle<T>, tag: Tag) -> Res {
        let word = Self::tag_word(ptr, tag)?;
        // ORDERING: Acquire; as in `get`.
        let found = word.load(Acquire);
        if found == tag.open {
            // SAFETY: the caller's contract is `get`'s.
            match unsafe { Self::close(ptr, tag) } {
                Ok(()) => {}
                // Closed by another thread in between: free it all the same.
                Err(f) if f.code == SLOTCAST_ERR_CLOSED => {}
                Err(f) => return Err(f),
            }
        } else if found != tag.closed() {
            return Err(Failure::with(SLOTCAST_ERR_BAD_HANDLE, format!("not a slotcast {} handle", tag.name)));
        }
        // ORDERING: Relaxed; the memory is freed just below. A stale copy of
        // the pointer that is used before the allocator reuses the memory
        // then reads 0, not a live tag (a help for debugging, not a promise).
        word.store(0, Relaxed);
        // SAFETY: `ptr` carries this kind's tag, so `create` made it with
        // `Box::into_raw`; the caller guarantees nobody uses it any more.
        drop(unsafe { Box::from_raw(ptr) });
        Ok(())
    }
}

/// Writes `value` to `*out`.
///
/// # Safety
///
/// `out` is null or valid for a write of a `T` (no alignment needed).
pub(crate) unsafe fn put<T>(out: *mut T, value: T) -> Res {
    if out.is_null() {
        return Err(Failure::new(SLOTCAST_ERR_NULL));
    }
    // SAFETY: non-null (checked) and writable (contract).
    unsafe { out.write_unaligned(value) };
    Ok(())
}

/// Writes `value` to `*out` unless `out` is null.
///
/// # Safety
///
/// As for [`put`].
pub(crate) unsafe fn put_opt<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-null (checked) and writable (contract).
        unsafe { out.write_unaligned(value) };
    }
}

/// The `len` bytes at `data`: null is accepted for an empty payload.
///
/// # Safety
///
/// Unless null, `data` is valid for reads of `len` bytes that nobody writes
/// during the call, and `len <= SLOTCAST_MAX_PAYLOAD` (checked by callers
/// before, so the slice never exceeds `isize::MAX`).
pub(crate) unsafe fn payload<'a>(data: *const u8, len: usize) -> Res<&'a [u8]> {
    debug_assert!(len <= SLOTCAST_MAX_PAYLOAD);
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Failure::with(SLOTCAST_ERR_NULL, "payload pointer is null"));
    }
    // SAFETY: non-null (checked), `u8` needs no alignment, readable for
    // `len` bytes and unchanged during the call (contract).
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The `count` elements at `ptr`, an input array from the host (`what`
/// names it in errors): null is accepted only for `count == 0`; a
/// misaligned pointer or a `count` whose bytes overflow `isize` is refused.
///
/// # Safety
///
/// Unless null or `count` is 0, `ptr` is valid for reads of `count`
/// elements that nobody writes during the call.
pub(crate) unsafe fn host_array<'a, T>(ptr: *const T, count: usize, what: &str) -> Res<&'a [T]> {
    if count == 0 {
        Ok(&[])
    } else if ptr.is_null() {
        Err(Failure::with(SLOTCAST_ERR_NULL, format!("the {what} array is null")))
    } else if !ptr.is_aligned() {
        Err(Failure::with(SLOTCAST_ERR_INVALID_ARGUMENT, format!("the {what} array is misaligned")))
    } else if count > isize::MAX as usize / size_of::<T>().max(1) {
        Err(Failure::with(SLOTCAST_ERR_INVALID_ARGUMENT, "the event count is too large"))
    } else {
        // SAFETY: non-null and aligned (checked), `count` elements fit in
        // `isize` (checked) and are readable and unchanged (contract).
        Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
    }
}

/// Checks a payload length.
pub(crate) fn check_len(len: usize) -> Res {
    if len > SLOTCAST_MAX_PAYLOAD {
        return Err(Failure::with(
            SLOTCAST_ERR_TOO_LARGE,
            format!("a {len}-byte payload exceeds the {SLOTCAST_MAX_PAYLOAD}-byte maximum"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_message() {
        let mut seen = std::collections::HashSet::new();
        for (code, msg) in MESSAGES {
            assert!(code <= 0);
            assert_eq!(slotcast_strerror(code), msg.as_ptr());
            assert!(seen.insert(msg), "duplicate message for {code}");
        }
        let codes: Vec<c_int> = MESSAGES.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, (-21..=0).rev().collect::<Vec<_>>(), "codes are 0, -1, -2, ... without gaps");
        assert_eq!(message(1), "unknown status code");
        assert_eq!(message(-1000), "unknown status code");
    }

    #[test]
    fn a_panic_becomes_a_status_code_and_a_message() {
        let code = call(|| panic!("boom"));
        assert_eq!(code, SLOTCAST_ERR_PANIC);
        let mut buf = [0 as c_char; 128];
        let mut len = 0;
        // SAFETY: valid buffer and length pointers.
        assert_eq!(unsafe { slotcast_last_error(buf.as_mut_ptr(), buf.len(), &mut len) }, SLOTCAST_OK);
        // SAFETY: `slotcast_last_error` wrote a NUL-terminated string.
        let msg = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert_eq!(msg, "internal error: slotcast panicked: boom");
        assert_eq!(len, msg.len());
        let mut small = [0 as c_char; 4];
        // SAFETY: as above.
        let code = unsafe { slotcast_last_error(small.as_mut_ptr(), small.len(), &mut len) };
        assert_eq!((code, len), (SLOTCAST_ERR_BUFFER_TOO_SMALL, msg.len()));
    }

    #[test]
    fn a_panic_under_a_handle_lock_poisons_only_that_handle() {
        let h = Handle::create(WRITER, 5u32);
        let other = Handle::create(WRITER, 6u32);
        let code = call(|| {
            // SAFETY: `h` is a live handle.
            let handle = unsafe { Handle::get(h, WRITER) }?;
            handle.with(|_| -> Res { panic!("inside the lock") })
        });
        assert_eq!(code, SLOTCAST_ERR_PANIC);
        let again = call(|| {
            // SAFETY: `h` is a live handle.
            unsafe { Handle::get(h, WRITER) }?.with(|_| Ok(()))
        });
        assert_eq!(again, SLOTCAST_ERR_PANIC, "the poisoned handle keeps reporting it");
        // SAFETY: `other` is a live handle.
        let fine = call(|| unsafe { Handle::get(other, WRITER) }?.with(|_| Ok(())));
        assert_eq!(fine, SLOTCAST_OK);
        // SAFETY: both are live and used no more.
        unsafe {
            assert!(Handle::free(h, WRITER).is_ok(), "a poisoned handle can still be freed");
        }
        // SAFETY: as above.
        unsafe {
            assert!(Handle::free(other, WRITER).is_ok());
        }
    }

    /// The status `Handle::get` gives for `ptr`.
    fn status(ptr: *const Handle<()>, tag: Tag) -> c_int {
        // SAFETY: the tests pass null, live handles, or pointers into them.
        unsafe { Handle::get(ptr, tag) }.err().map_or(SLOTCAST_OK, |f| f.code)
    }

    #[test]
    fn tags_tell_kinds_and_states_apart() {
        let w = Handle::create(WRITER, ());
        // Each case: a pointer, the kind asked for, the status expected.
        assert_eq!(status(w, WRITER), SLOTCAST_OK);
        assert_eq!(status(w, READER), SLOTCAST_ERR_BAD_HANDLE, "another kind");
        assert_eq!(status(w, RUNTIME), SLOTCAST_ERR_BAD_HANDLE, "another kind");
        assert_eq!(status(std::ptr::null(), WRITER), SLOTCAST_ERR_NULL);
        assert_eq!(status(w.cast::<u8>().wrapping_add(1).cast(), WRITER), SLOTCAST_ERR_BAD_HANDLE, "misaligned");
        // SAFETY: `w` is live.
        assert!(unsafe { Handle::close(w, WRITER) }.is_ok());
        assert_eq!(status(w, WRITER), SLOTCAST_ERR_CLOSED);
        assert_eq!(status(w, READER), SLOTCAST_ERR_BAD_HANDLE, "closed, and of another kind");
        // SAFETY: `w` is closed but not freed.
        assert_eq!(unsafe { Handle::close(w, WRITER) }.unwrap_err().code, SLOTCAST_ERR_CLOSED);
        // SAFETY: as above.
        assert_eq!(unsafe { Handle::free(w, READER) }.unwrap_err().code, SLOTCAST_ERR_BAD_HANDLE);
        // SAFETY: as above, and not used again.
        assert!(unsafe { Handle::free(w, WRITER) }.is_ok());
    }
}
