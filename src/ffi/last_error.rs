//! The details of the last failure on each thread: stored by every call
//! that fails (`record`), read back by `slotcast_last_error`.

use super::ptr::put_opt;
use super::status::{SLOTCAST_ERR_BUFFER_TOO_SMALL, SLOTCAST_ERR_NULL, SLOTCAST_ERR_PANIC, SLOTCAST_OK};
use std::cell::RefCell;
use std::ffi::{c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

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

pub(super) fn record(detail: String) {
    // `try_with`: a call made while the thread's locals are being destroyed
    // keeps no message rather than panicking.
    let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = detail);
}
