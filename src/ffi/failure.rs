//! Why a call failed, as the C side sees it: a status code and the details
//! for `slotcast_last_error`, made from each error of the Rust API.

use super::status::*;
use super::timeout::Wait;
use crate::error::{BuildError, JoinError, OpenError, PublishError, ReadError, WriterError};
use std::ffi::c_int;
use std::fmt::Display;

/// Why a call failed: a status code and, where there is more to say than the
/// code's message, the details.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(super) code: c_int,
    pub(super) detail: Option<String>,
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
            ReadError::NoFreeSlot { .. } => SLOTCAST_ERR_POOL_FULL,
            ReadError::Lagged { .. } => SLOTCAST_ERR_LAGGED,
            ReadError::Closed => SLOTCAST_ERR_STREAM_CLOSED,
            ReadError::WriterDead => SLOTCAST_ERR_WRITER_DEAD,
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
