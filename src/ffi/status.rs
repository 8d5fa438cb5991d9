//! The status codes every C function returns, the limits the header
//! publishes, and the static message of each code (`slotcast_strerror`).

use crate::event::SizeClass;
use std::ffi::{CStr, c_char, c_int};

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
/// A lossy reader was lapped: the writer reused events it had not read.
/// Its cursor moved past them to the oldest event still available, where
/// the next read goes on; the number missed is in `slotcast_last_error`'s
/// message and is added to the reader's lost count.
pub const SLOTCAST_ERR_LAGGED: c_int = -22;
/// The writer closed the stream (or was closed or freed) and the reader has
/// read every event published before. A new writer reopens the stream.
pub const SLOTCAST_ERR_STREAM_CLOSED: c_int = -23;
/// The writer's process died holding the role and the reader has read every
/// event it published. Not a close: a new writer may take over, and reads
/// then go on.
pub const SLOTCAST_ERR_WRITER_DEAD: c_int = -24;

/// The largest payload, in bytes (the XL size class).
pub const SLOTCAST_MAX_PAYLOAD: usize = 16384;
/// Number of size classes: XS 64 B, S 256 B, M 1 KB, L 4 KB, XL 16 KB.
pub const SLOTCAST_SIZE_CLASSES: usize = 5;
/// A timeout that never expires.
pub const SLOTCAST_WAIT_FOREVER: u64 = u64::MAX;

const _: () = assert!(SLOTCAST_MAX_PAYLOAD == SizeClass::MAX_PAYLOAD);
const _: () = assert!(SLOTCAST_SIZE_CLASSES == SizeClass::COUNT);

/// Every status code and its message, for `slotcast_strerror`.
pub(super) const MESSAGES: [(c_int, &CStr); 25] = [
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
    (SLOTCAST_ERR_LAGGED, c"the writer lapped this lossy reader: events were lost"),
    (SLOTCAST_ERR_STREAM_CLOSED, c"the stream is closed and every event was read"),
    (SLOTCAST_ERR_WRITER_DEAD, c"the writer's process died and every event it published was read"),
];

/// A static, NUL-terminated English message for a status code; "unknown
/// status code" for a code slotcast never returns. Never null.
///
/// Thread safety: any thread, at any time.
#[unsafe(no_mangle)]
pub extern "C" fn slotcast_strerror(code: c_int) -> *const c_char {
    MESSAGES.iter().find(|(c, _)| *c == code).map_or(c"unknown status code", |(_, m)| m).as_ptr()
}

pub(super) fn message(code: c_int) -> &'static str {
    // SAFETY: `slotcast_strerror` returns a pointer into one of the static,
    // NUL-terminated literals of `MESSAGES` or the fallback literal.
    let msg = unsafe { CStr::from_ptr(slotcast_strerror(code)) };
    msg.to_str().unwrap_or("unknown status code")
}
