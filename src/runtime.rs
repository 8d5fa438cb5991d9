//! The runtime handle, and how its arena outlives it while `RingPtr`s live.
//!
//! Every handle ([`Runtime`], [`Writer`], [`Reader`], [`Allocator`]) holds an
//! `Arc<Shared>`. A [`RingPtr`] does not: cloning it must cost exactly one
//! atomic read-modify-write (its slot's refcount), so it holds a raw pointer
//! to the process-local [`ArenaCtl`] instead, and the arena is kept alive by
//! the refcounts themselves.
//!
//! In-process runtimes use the slot refcounts directly:
//!
//! 1. When the last handle goes, [`Shared`]'s drop sets `orphans_left` to a
//!    large guard value, then marks every slot with a non-zero refcount
//!    `ORPHAN` (one CAS each), counting them.
//! 2. The last `RingPtr` of a marked slot sees `ORPHAN` in the value its
//!    `fetch_sub` returns, and decrements `orphans_left`.
//! 3. `Shared`'s drop finally subtracts the guard minus the marked count.
//!    Whoever brings `orphans_left` to zero frees the arena: `Shared` itself if
//!    no `RingPtr` was alive, otherwise the last one to go.
//!
//! No `RingPtr` touches the arena after its own decrement unless it holds the
//! last reference to a marked slot, in which case the count cannot reach zero
//! before its own decrement. Clones and drops of live pointers never look at
//! `orphans_left`: the flag rides in the word they already modify.
//!
//! Shared runtimes count per process instead, in process memory (see
//! `holders.rs`): the process's view of the file is unmapped when its hold
//! count, 1 for the handles plus one per slot its `RingPtr`s hold, reaches
//! zero.

use crate::alloc::Allocator;
use crate::arena::Arena;
use crate::config::{Builder, Config, SharedFile};
use crate::error::{BuildError, JoinError, OpenError, UpgradeError, WriterError};
use crate::event::SizeClass;
use crate::holders::ProcessHolds;
use crate::pool;
use crate::reader::Reader;
use crate::ring_ptr::{Handle, RingPtr};
use crate::shm::{self, OpenOptions, SharedState};
use crate::stats::Stats;
use crate::sync::{self, Arc, AtomicU64, Ordering::*};
use crate::writer::Writer;
use std::fmt;
use std::path::Path;
use std::ptr::NonNull;

/// Process-local owner of an arena: freed by the orphan protocol or the
/// shared hold count (see the module docs), not by a reference count of its
/// own.
pub(crate) struct ArenaCtl {
    pub(crate) arena: Arena,
    pub(crate) config: Config,
    /// The process entry this process's handles act for (`None`: an
    /// observer, which only reads statistics).
    pub(crate) me: Option<usize>,
    /// A shared runtime's file and locks.
    pub(crate) shared: Option<SharedState>,
    /// A shared runtime's pointers of this process, and its hold count.
    holds: Option<ProcessHolds>,
    /// The fork epoch a shared runtime was created or opened in
    /// (`shm::current_fork_epoch`); `u64::MAX` in process, which a `fork`
    /// copies whole.
    pub(crate) fork_epoch: u64,
    orphans_left: AtomicU64,
}

impl ArenaCtl {
    pub(crate) fn new(arena: Arena, config: Config, me: Option<usize>, shared: Option<SharedState>) -> Self {
        let holds = shared.as_ref().map(|_| ProcessHolds::new(arena.layout().total_slots()));
        let fork_epoch = shared.as_ref().map_or(u64::MAX, SharedState::epoch);
        Self { arena, config, me, shared, holds, fork_epoch, orphans_left: AtomicU64::new(0) }
    }

    /// Whether this process is a `fork` of the one that opened this shared
    /// runtime: its handles are the parent's, and must touch nothing shared.
    #[inline]
    pub(crate) fn forked(&self) -> bool {
        is_forked(self.fork_epoch)
    }

    /// A shared runtime's count of this process's pointers (`None` in
    /// process, where slot refcounts count them).
    #[inline]
    pub(crate) fn process_holds(&self) -> Option<&ProcessHolds> {
        self.holds.as_ref()
    }

    /// The process entry handles act for (entry 0 in process).
    #[inline]
    pub(crate) fn entry(&self) -> usize {
        self.me.unwrap_or(0)
    }

    /// Releases what dead processes held (shared runtimes; at most once a
    /// millisecond unless `force`). Returns whether anything was released.
    pub(crate) fn sweep_dead(&self, force: bool) -> bool {
        match (&self.shared, self.me) {
            (Some(shared), Some(me)) => shared.sweep(&self.arena, me, force),
            _ => false,
        }
    }

    /// Whether process entry `entry` belongs to a live process.
    pub(crate) fn is_alive(&self, entry: usize) -> bool {
        match &self.shared {
            Some(shared) => shared.is_alive(&self.arena, self.me, entry),
            None => Some(entry) == self.me,
        }
    }

    /// The last `RingPtr` of an `ORPHAN` slot is gone.
    ///
    /// # Safety
    ///
    /// `ctl` was leaked by [`Shared`]'s drop, and the caller has just
    /// dropped the last reference of a slot it marked (it received
    /// [`pool::Released::LastOrphan`]), and will not touch `ctl` again.
    pub(crate) unsafe fn orphan_released(ctl: NonNull<ArenaCtl>) {
        // ORDERING(orphan): AcqRel; every other party released its accesses
        // with its own decrement, and the one that reaches 0 acquires them.
        // SAFETY: the arena is alive until `orphans_left` reaches 0, which
        // cannot happen before this decrement (it counts our slot).
        let left = unsafe { ctl.as_ref() }.orphans_left.fetch_sub(1, AcqRel);
        if left == 1 {
            // SAFETY: we brought the count to zero: nobody else holds or will
            // take a reference into the arena; it came from `Box::into_raw`.
            drop(unsafe { Box::from_raw(ctl.as_ptr()) });
        }
    }

    /// Frees a shared runtime's `ArenaCtl` after its hold count reached 0.
    ///
    /// # Safety
    ///
    /// The caller brought the hold count to 0 (`ProcessHolds::release`
    /// returned true, or the handles' hold was the last) and touches `ctl`
    /// no more.
    pub(crate) unsafe fn holds_released(ctl: NonNull<ArenaCtl>) {
        // SAFETY: nobody else holds a reference into the arena; the box came
        // from `Box::into_raw`.
        drop(unsafe { Box::from_raw(ctl.as_ptr()) });
    }
}

impl Drop for ArenaCtl {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.close(&self.arena, self.me);
        }
    }
}

/// Whether a handle made in fork epoch `epoch` (`u64::MAX`: in process)
/// now runs in a forked child. A relaxed load and a compare.
#[inline]
pub(crate) fn is_forked(epoch: u64) -> bool {
    shm::current_fork_epoch() > epoch
}

/// What every handle of one runtime shares.
pub(crate) struct Shared {
    ctl: NonNull<ArenaCtl>,
}

// SAFETY: `Shared` is an owning pointer to an `ArenaCtl`, which is
// `Send + Sync` (an `Arena`, a `Config`, an atomic).
unsafe impl Send for Shared {}
// SAFETY: as for `Send`.
unsafe impl Sync for Shared {}

impl Shared {
    pub(crate) fn new(ctl: ArenaCtl) -> Self {
        Self { ctl: NonNull::from(Box::leak(Box::new(ctl))) }
    }

    /// The pointer a `RingPtr` keeps.
    pub(crate) fn ctl_ptr(&self) -> NonNull<ArenaCtl> {
        self.ctl
    }
}

/// How a handle reaches its arena: the `Arc` that keeps it alive, plus a
/// direct pointer, so the hot paths load one pointer instead of two.
pub(crate) struct Anchor {
    shared: Arc<Shared>,
    ctl: NonNull<ArenaCtl>,
}

// SAFETY: an `Arc<Shared>` (`Send + Sync`) and a pointer into what it owns.
unsafe impl Send for Anchor {}
// SAFETY: as for `Send`.
unsafe impl Sync for Anchor {}

impl Anchor {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let ctl = shared.ctl;
        Self { shared, ctl }
    }

    /// The pointer a `RingPtr` keeps.
    pub(crate) fn ctl_ptr(&self) -> NonNull<ArenaCtl> {
        self.ctl
    }

    /// The `Arc` itself, for making more handles.
    pub(crate) fn shared_arc(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The shared handle.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl std::ops::Deref for Anchor {
    type Target = ArenaCtl;

    #[inline]
    fn deref(&self) -> &ArenaCtl {
        // SAFETY: `self.shared` keeps the `ArenaCtl` alive (see `Shared`).
        unsafe { self.ctl.as_ref() }
    }
}

impl std::ops::Deref for Shared {
    type Target = ArenaCtl;

    fn deref(&self) -> &ArenaCtl {
        // SAFETY: the arena lives at least as long as any `Shared` (it is
        // freed only after the last `Shared` has been dropped).
        unsafe { self.ctl.as_ref() }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        const GUARD: u64 = 1 << 62;
        let ctl: &ArenaCtl = self;
        if let Some(holds) = ctl.process_holds() {
            // ORDERING: AcqRel; see `ProcessHolds::release`.
            if holds.holds().fetch_sub(1, AcqRel) == 1 {
                // SAFETY: the handles' hold was the last one.
                unsafe { ArenaCtl::holds_released(self.ctl) };
            }
            return;
        }
        // ORDERING(orphan): Relaxed; nobody decrements before a slot is
        // marked, and the marks below publish this store (Release CAS,
        // Acquire fence in `pool::release`).
        ctl.orphans_left.store(GUARD, Relaxed);
        let mut marked = 0u64;
        for class in SizeClass::ALL {
            for word in ctl.arena.metas(class) {
                if sync::mutant!("orphan_scan_first", marked == 0, true) && pool::mark_orphan(word) {
                    marked += 1;
                }
            }
        }
        // ORDERING(orphan): Acquire; pairs with the Release `fetch_sub` of
        // every `RingPtr` whose last decrement the scan above read (a
        // refcount of 0, so not marked): their reads of the slot and their
        // decrement happen before we, or whoever brings `orphans_left` to 0
        // after us (through the AcqRel below), free the arena.
        if !cfg!(slotcast_mutant = "orphan_scan_relaxed") {
            sync::fence(Acquire);
        }
        // ORDERING(orphan): AcqRel; see `ArenaCtl::orphan_released`.
        let before = ctl.orphans_left.fetch_sub(GUARD - marked, sync::mutant!("orphan_sub_acquire", Acquire, AcqRel));
        if before == GUARD - marked {
            // SAFETY: every marked slot's last pointer has already decremented
            // (the count is now 0): no reference into the arena remains.
            drop(unsafe { Box::from_raw(self.ctl.as_ptr()) });
        }
    }
}

/// A slotcast runtime: one arena of sized pools, a descriptor ring, a writer
/// role and a table of readers.
///
/// `Runtime` is a cheap handle (`Clone`, `Send`, `Sync`); the arena lives
/// until the last handle, [`Writer`], [`Reader`], [`Allocator`] and
/// [`RingPtr`] of it is gone.
///
/// ```
/// use slotcast::{Publish, Runtime};
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
    /// A builder with the default configuration.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A runtime with the default configuration (see [`Config`]).
    ///
    /// # Errors
    ///
    /// [`BuildError::Map`] if the arena cannot be mapped.
    pub fn new() -> Result<Runtime, BuildError> {
        Self::builder().build()
    }

    pub(crate) fn with_config(config: Config) -> Result<Runtime, BuildError> {
        let arena = Arena::create(&config)?;
        Ok(Runtime { shared: Arc::new(Shared::new(ArenaCtl::new(arena, config, Some(0), None))) })
    }

    /// Creates a shared runtime's file (see [`Builder::shared`]).
    pub(crate) fn create_shared(config: Config, file: &SharedFile) -> Result<Runtime, BuildError> {
        let (arena, state) = shm::create(&config, file)?;
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

    pub(crate) fn open_with(path: &Path, options: &OpenOptions) -> Result<Runtime, OpenError> {
        let opened = shm::open(path, options, false)?;
        let ctl = ArenaCtl::new(opened.arena, opened.config, opened.me, Some(opened.state));
        Ok(Runtime { shared: Arc::new(Shared::new(ctl)) })
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
        Reader::join(Arc::clone(&self.shared))
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
