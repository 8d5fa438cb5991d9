//! Shared runtimes: the arena in a file that several processes map.
//!
//! **Create.** The path's directory is resolved first (absolute, symlinks
//! followed). The creator checks the file system's free space (`statvfs`)
//! and refuses an arena larger than it with [`BuildError::NoSpace`] before
//! touching anything. It then makes the file complete under a temporary
//! name in the same directory (`.NAME.PID.N.slotcast-new`, `O_EXCL`, mode
//! `0o600` unless asked otherwise, applied exactly regardless of the
//! umask): it reserves every block (`posix_fallocate`, zero-filled; a full
//! file system is again `NoSpace`), maps it, takes process entry 0's lock
//! and writes the identity line with `magic` stored last (Release). Only
//! then is the file linked at its path (`link(2)`, which never replaces
//! anything: an existing path, a dangling symlink included, is
//! [`BuildError::Create`] with `AlreadyExists`), and the temporary name
//! removed. So the path never names a half-made file: an opener finds no
//! file or a complete one. Every failure removes the temporary name; a
//! creator killed before the link leaves only that hidden name behind.
//!
//! **Open.** The path is resolved first (absolute, symlinks followed). An
//! opener trusts nothing in the file until it has checked, in this order:
//! the file holds at least a header (a truncated file is an error, never a
//! `SIGBUS`); the magic number (waiting up to a second for a creator still
//! initialising, as a file made by an older creator may need); the format
//! version; the layout hash; every configuration field's range; that the
//! recorded length equals the length the configuration lays out and fits
//! in the file. Each failure has its own [`OpenError`] variant. Every
//! offset used afterwards comes from that validated layout, and everything
//! read from the mapping later (descriptor class, slot and length,
//! cursors) is bounds-checked where it is used. Nothing in slotcast ever
//! changes the length of an existing file: a file of the wrong length is
//! reported, never truncated or extended.
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
//! Such a lock excludes other open files, not the threads sharing one (a
//! second lock through the same open file succeeds, and an unlock from any
//! thread releases it). So within a process, every probe, census, reap and
//! close of one opened runtime runs under one mutex: a statistics probe on
//! one thread cannot release the lock another thread reaps under, and two
//! sweeps never reap one entry twice. Two opens of one file in one process
//! are two open files, and exclude each other like two processes.
//!
//! **Close.** The last process to close the file removes it, so a clean
//! shutdown leaves nothing behind. It removes the path resolved at create
//! or open, so the real file goes even if it was opened through a symlink
//! (the symlink itself stays) or the working directory changed since.
//! Opening and closing are serialised by one more lock byte (the "door"),
//! so a closer cannot miss an opener and an opener cannot open a file that
//! is being removed.
//!
//! **Fork.** A child made by `fork` shares its parent's open file, hence its
//! locks, and has a copy of its mapping and process entry. slotcast counts
//! forks (a `pthread_atfork` child handler): in a forked child, dropping
//! the parent's handles frees no entry, releases no lock and removes no
//! file, and no census or reap runs there; the parent is untouched. A child
//! that wants the runtime opens the file itself.
//!
//! **`SIGBUS`.** Touching a page of a mapping that the file no longer backs
//! kills the process with `SIGBUS`. slotcast rules out the cases it
//! controls: the space is reserved at create (a full file system, such as
//! Docker's default 64 MB `/dev/shm`, is a [`BuildError::NoSpace`], not a
//! crash later), an opener checks the length before mapping, and no
//! slotcast path shrinks a file. **Not covered:** a process with write
//! access that truncates the file (or punches holes in it) under the others
//! makes their next access to the cut-off part fault; no mapping can
//! prevent that. The file's mode bits are the defence: give write access
//! only to processes you trust with the data.

#[cfg(doc)]
use crate::error::BuildError;
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
}

/// Removes the shared runtime file at `path` if no live process uses it.
/// Returns whether it was removed. The path is resolved first: through a
/// symlink, the real file is removed and the symlink left.
///
/// # Errors
///
/// An [`OpenError`] if the file is not a valid slotcast arena (remove such a
/// file with [`std::fs::remove_file`] if you are sure).
pub fn remove_stale(path: impl AsRef<Path>) -> Result<bool, OpenError> {
    remove_if_stale(path.as_ref())
}
