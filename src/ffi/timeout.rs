//! The `timeout_ns` argument of the waiting calls: do not wait, wait until
//! a deadline, or wait forever.

use super::failure::Failure;
use super::status::{SLOTCAST_ERR_EMPTY, SLOTCAST_ERR_TIMEOUT, SLOTCAST_WAIT_FOREVER};
use std::time::{Duration, Instant};

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
