//! Shared runtimes: the arena in a file that several processes map.
//!
//! **Create.** The creator makes the file (`O_EXCL`, mode `0o600` unless
//! asked otherwise, applied exactly regardless of the umask), sizes it
//! (zero-filled), maps it, and writes the identity line with `magic` stored
//! last (Release).
//!
//! **Open.** An opener trusts nothing in the file until it has checked, in
//! this order: the file holds at least a header (a truncated file is an
//! error, never a `SIGBUS`); the magic number (waiting up to a second for a
//! creator still initialising); the format version; the layout hash; every
//! configuration field's range; that the recorded length equals the length
//! the configuration lays out and fits in the file. Each failure has its own
//! [`OpenError`] variant. Every offset used afterwards comes from that
//! validated layout, and everything read from the mapping later (descriptor
//! class, slot and length, cursors) is bounds-checked where it is used.
//!
//! **Liveness.** Each process using the file claims a process entry and holds
//! an exclusive open-file-description lock (`F_OFD_SETLK`) on one byte of the
//! file for that entry, for as long as it has the file open. The kernel
//! releases the lock when the process dies, however it dies, so a live one
//! can tell a dead process from a live one without trusting pids (which are
//! reused) or timing out heartbeats (which mistake a stopped process for a
//! dead one): if it can take the lock, the owner is gone, and while it holds
//! the lock nobody else reaps or reuses the entry. Lock bytes lie far beyond
//! the end of the file, which `fcntl` allows. A live process is never
//! mistaken for a dead one: its lock cannot be taken while it lives.
//!
//! **Close.** The last process to close the file removes it, so a clean
//! shutdown leaves nothing behind. Opening and closing are serialised by one
//! more lock byte (the "door"), so a closer cannot miss an opener and an
//! opener cannot open a file that is being removed.
//!
//! **Not covered:** a process with write access that truncates the file
//! under the others makes their next access to the cut-off part fault
//! (`SIGBUS`); no mapping can prevent that. The file's mode bits are the
//! defence: give write access only to processes you trust with the data.

use crate::error::OpenError;
use std::path::Path;

#[cfg(all(target_os = "linux", not(loom), not(miri)))]
mod linux;
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
pub(crate) use linux::*;

#[cfg(not(all(target_os = "linux", not(loom), not(miri))))]
mod unsupported;
#[cfg(not(all(target_os = "linux", not(loom), not(miri))))]
pub(crate) use unsupported::*;

/// How to open a shared runtime's file.
///
/// ```no_run
/// use slotcast::OpenOptions;
/// # fn main() -> Result<(), slotcast::OpenError> {
/// // Take over a file whose processes all died (after a crash, say).
/// let _rt = OpenOptions::new().recover_stale(true).open("/dev/shm/quotes")?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub(crate) recover_stale: bool,
    pub(crate) wait_for_creator: std::time::Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self { recover_stale: false, wait_for_creator: std::time::Duration::from_secs(1) }
    }
}

impl OpenOptions {
    /// Default options: refuse stale files, wait up to a second for a
    /// creator still initialising the file.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long to wait for the magic number of a file whose creator is
    /// still initialising it before reporting [`OpenError::Uninitialized`].
    pub fn wait_for_creator(mut self, timeout: std::time::Duration) -> Self {
        self.wait_for_creator = timeout;
        self
    }

    /// Open a file even if every process that used it is dead, releasing
    /// what they held (their readers, writer role and retained slots).
    /// Without it, such a file is reported as [`OpenError::Stale`].
    pub fn recover_stale(mut self, recover: bool) -> Self {
        self.recover_stale = recover;
        self
    }

    /// Opens the shared runtime at `path`.
    ///
    /// # Errors
    ///
    /// An [`OpenError`] naming what is wrong with the file, if it is not a
    /// valid slotcast arena for this build, or if it is stale (without
    /// [`recover_stale`](OpenOptions::recover_stale)), or all its process
    /// entries are taken.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<crate::Runtime, OpenError> {
        crate::Runtime::open_with(path.as_ref(), self)
    }
}

/// Removes the shared runtime file at `path` if no live process uses it.
/// Returns whether it was removed.
///
/// # Errors
///
/// An [`OpenError`] if the file is not a valid slotcast arena (remove such a
/// file with [`std::fs::remove_file`] if you are sure).
pub fn remove_stale(path: impl AsRef<Path>) -> Result<bool, OpenError> {
    remove_if_stale(path.as_ref())
}
