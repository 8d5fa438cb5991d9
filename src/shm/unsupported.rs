//! Where shared runtimes are not available (not Linux, or under loom or
//! Miri, which cannot map files or take file locks): every entry point says
//! so, and the state type has no values, so the code paths that use it
//! compile away.

use super::OpenOptions;
use crate::arena::Arena;
use crate::config::Config;
use crate::error::{BuildError, OpenError};
use std::path::Path;

/// Never constructed on this platform.
pub(crate) enum SharedState {}

impl SharedState {
    pub(crate) fn path(&self) -> &Path {
        match *self {}
    }

    #[allow(dead_code, reason = "for the handles, which refuse use in a forked child on every platform")]
    pub(crate) fn forked(&self) -> bool {
        match *self {}
    }

    pub(crate) fn epoch(&self) -> u64 {
        match *self {}
    }

    pub(crate) fn is_alive(&self, _arena: &Arena, _me: Option<usize>, _entry: usize) -> bool {
        match *self {}
    }

    pub(crate) fn sweep(&self, _arena: &Arena, _me: usize, _force: bool) -> bool {
        match *self {}
    }

    pub(crate) fn close(&self, _arena: &Arena, _me: Option<usize>) {
        match *self {}
    }
}

/// Never constructed on this platform.
pub(crate) struct Opened {
    pub(crate) arena: Arena,
    pub(crate) config: Config,
    pub(crate) me: Option<usize>,
    pub(crate) state: SharedState,
}

pub(crate) fn create(_config: &Config, _path: &Path, _mode: u32) -> Result<(Arena, SharedState), BuildError> {
    Err(BuildError::Unsupported)
}

pub(crate) fn open(_path: &Path, _options: &OpenOptions, _observer: bool) -> Result<Opened, OpenError> {
    Err(OpenError::Unsupported)
}

pub(crate) fn remove_if_stale(_path: &Path) -> Result<bool, OpenError> {
    Err(OpenError::Unsupported)
}

/// No shared runtime here, so no handle made before a `fork`.
#[inline]
pub(crate) fn current_fork_epoch() -> u64 {
    0
}
