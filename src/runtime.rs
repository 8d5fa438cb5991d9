//! The runtime handle: what a user holds to make writers, readers and
//! allocators over one arena. How that arena outlives it is the lifetime
//! layer's business (`lifetime.rs`); how it is configured and placed is the
//! builder's (`builder.rs`).

use crate::alloc::Allocator;
use crate::arena::{Arena, Backing};
use crate::config::Config;
use crate::error::{BuildError, JoinError, OpenError, UpgradeError, WriterError};
use crate::lifetime::{ArenaCtl, Shared};
use crate::policy::ReaderOptions;
use crate::reader::Reader;
use crate::ring_ptr::{Handle, RingPtr};
use crate::shm::{self, OpenOptions, SharedState};
use crate::stats::Stats;
use crate::sync::{Arc, Ordering::*};
use crate::writer::Writer;
use std::fmt;
use std::path::Path;

/// A slotcast runtime: one arena of sized pools, a descriptor ring, a writer
/// role and a table of readers.
///
/// `Runtime` is a cheap handle (`Clone`, `Send`, `Sync`); the arena lives
/// until the last handle, [`Writer`], [`Reader`], [`Allocator`] and
/// [`RingPtr`] of it is gone.
///
/// ```
/// use slotcast::Runtime;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::builder().build()?;
/// let mut reader = rt.reader()?;
/// let mut writer = rt.writer()?;
/// writer.try_publish_bytes(7, b"hello")?;
/// let event = reader.try_recv()?.expect("one event");
/// assert_eq!((event.event_type(), event.data()), (7, &b"hello"[..]));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Runtime {
    /// Creates an in-process runtime in `backing` memory (see
    /// [`Builder::build`](crate::Builder::build)).
    pub(crate) fn in_memory(config: Config, backing: Backing) -> Result<Runtime, BuildError> {
        let arena = Arena::create(&config, backing)?;
        Ok(Runtime { shared: Arc::new(Shared::new(ArenaCtl::new(arena, config, Some(0), None))) })
    }

    /// Creates a shared runtime's file at `path` with permission bits `mode`
    /// (see [`Builder::shared`](crate::Builder::shared)).
    pub(crate) fn create_file(config: Config, path: &Path, mode: u32) -> Result<Runtime, BuildError> {
        let (arena, state) = shm::create(&config, path, mode)?;
        Ok(Runtime { shared: Arc::new(Shared::new(ArenaCtl::new(arena, config, Some(0), Some(state)))) })
    }

    /// Opens the shared runtime another process created at `path`, with
    /// default [`OpenOptions`]. The same [`Writer`], [`Reader`],
    /// [`Allocator`] and [`RingPtr`] API then works across processes.
    ///
    /// ```no_run
    /// use slotcast::Runtime;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::open("/dev/shm/quotes")?;
    /// let mut reader = rt.reader()?;
    /// while let Ok(event) = reader.recv() {
    ///     println!("{} bytes of type {}", event.len(), event.event_type());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// An [`OpenError`] naming what is wrong with the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Runtime, OpenError> {
        OpenOptions::new().open(path)
    }

    /// The file of a shared runtime, as resolved when it was created or
    /// opened (absolute, symlinks followed); `None` in process.
    pub fn path(&self) -> Option<&Path> {
        self.shared.shared.as_ref().map(SharedState::path)
    }

    #[cfg(all(test, not(loom)))]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// This runtime's configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Takes the writer role.
    ///
    /// # Errors
    ///
    /// [`WriterError::Taken`] while another [`Writer`] of this runtime lives
    /// (in a shared runtime, a dead process's role is taken over);
    /// [`WriterError::Corrupt`] if the published cursor is at or past 2^63,
    /// which only a corrupted shared file holds.
    pub fn writer(&self) -> Result<Writer, WriterError> {
        Writer::take(Arc::clone(&self.shared))
    }

    /// Joins as a reader, starting at the current published sequence.
    ///
    /// # Errors
    ///
    /// [`JoinError::TooManyReaders`] if `max_readers` live readers are
    /// joined (in a shared runtime, entries of dead processes are reaped
    /// first); [`JoinError::Corrupt`] if the cursors to start from are
    /// impossible (only a corrupted shared file holds such values).
    pub fn reader(&self) -> Result<Reader, JoinError> {
        Reader::join(Arc::clone(&self.shared), ReaderOptions::new())
    }

    /// Joins as a reader with the given policy and start (see
    /// [`ReaderOptions`], [`Policy`](crate::Policy) and
    /// [`StartAt`](crate::StartAt)).
    ///
    /// ```
    /// use slotcast::{Policy, ReadError, ReaderOptions, Runtime};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::builder().ring_capacity(8).build()?;
    /// let mut tap = rt.reader_with(ReaderOptions::new().policy(Policy::Lossy))?;
    /// let mut writer = rt.writer()?;
    /// // The tap reads nothing: the writer laps it instead of waiting.
    /// for i in 0..20u8 {
    ///     writer.try_publish_bytes(0, &[i])?;
    /// }
    /// let Err(ReadError::Lagged { missed }) = tap.try_recv().map(|e| e.is_some()) else { panic!() };
    /// // It goes on from the oldest event still available, losing nothing
    /// // else (one pinned step of at most `max_batch` events per call).
    /// let mut seen = 0;
    /// while tap.try_read(|_, _| seen += 1)? > 0 {}
    /// assert_eq!(missed + seen, 20);
    /// assert_eq!(tap.lost(), missed);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`reader`](Runtime::reader).
    pub fn reader_with(&self, options: ReaderOptions) -> Result<Reader, JoinError> {
        Reader::join(Arc::clone(&self.shared), options)
    }

    /// A standalone allocator over this runtime's pools.
    pub fn allocator(&self) -> Allocator {
        Allocator::new(Arc::clone(&self.shared))
    }

    /// The event `handle` refers to, if that generation of its slot is still
    /// alive (some `RingPtr` holds it).
    ///
    /// # Errors
    ///
    /// [`UpgradeError::Invalid`] if the handle names no slot of this runtime,
    /// [`UpgradeError::Stale`] if the slot was freed or recycled since.
    pub fn upgrade(&self, handle: Handle) -> Result<RingPtr, UpgradeError> {
        RingPtr::upgrade(&self.shared, handle)
    }

    /// Sequence number the next event will get; also the number of events
    /// published so far.
    pub fn published(&self) -> u64 {
        // ORDERING: Relaxed; a statistic, nothing is read through it.
        self.shared.arena.header().published.value.load(Relaxed)
    }

    /// A snapshot of cursors, lags and pool occupancy (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        Stats::collect(&self.shared)
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("config", self.config()).field("published", &self.published()).finish()
    }
}

impl OpenOptions {
    /// Opens the shared runtime at `path` with these options.
    ///
    /// # Errors
    ///
    /// An [`OpenError`] naming what is wrong with the file, if it is not a
    /// valid slotcast arena for this build, or if it is stale (without
    /// [`recover_stale`](OpenOptions::recover_stale)), or all its process
    /// entries are taken.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Runtime, OpenError> {
        let opened = shm::open(path.as_ref(), self, false)?;
        let ctl = ArenaCtl::new(opened.arena, opened.config, opened.me, Some(opened.state));
        Ok(Runtime { shared: Arc::new(Shared::new(ctl)) })
    }
}
