//! Unit tests of the C ABI's layers: status codes and messages, the panic
//! boundary and the last-error storage, the handles' tags and locks.

use super::catch::call;
use super::failure::Res;
use super::handle::{Handle, READER, RUNTIME, Tag, WRITER};
use super::last_error::slotcast_last_error;
use super::status::*;
use std::ffi::{CStr, c_char, c_int};

#[test]
fn every_code_has_its_own_message() {
    let mut seen = std::collections::HashSet::new();
    for (code, msg) in MESSAGES {
        assert!(code <= 0);
        assert_eq!(slotcast_strerror(code), msg.as_ptr());
        assert!(seen.insert(msg), "duplicate message for {code}");
    }
    let codes: Vec<c_int> = MESSAGES.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, (-24..=0).rev().collect::<Vec<_>>(), "codes are 0, -1, -2, ... without gaps");
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
