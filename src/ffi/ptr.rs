//! Pointers from the host: out-parameters, payloads and input arrays, each
//! checked (null, alignment, length) before it is read or written.

use super::failure::{Failure, Res};
use super::status::{SLOTCAST_ERR_INVALID_ARGUMENT, SLOTCAST_ERR_NULL, SLOTCAST_ERR_TOO_LARGE, SLOTCAST_MAX_PAYLOAD};

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
