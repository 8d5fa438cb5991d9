//! The boundary every exported function runs behind: no panic crosses into
//! the host; a panic or a failure becomes a status code, and its details
//! are recorded for `slotcast_last_error`.

use super::failure::Res;
use super::last_error::record;
use super::status::{SLOTCAST_ERR_PANIC, SLOTCAST_OK, message};
use std::any::Any;
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};

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

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}
