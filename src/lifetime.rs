//! How an arena outlives its handles while `RingPtr`s live: the lifetime
//! layer under every handle (crossbeam-channel's `counter.rs` plays this
//! part for its channels).
//!
//!
//! Every handle ([`Runtime`](crate::Runtime), [`Writer`](crate::Writer),
//! [`Reader`](crate::Reader), [`Allocator`](crate::Allocator)) holds an
//! `Arc<Shared>`. A [`RingPtr`](crate::RingPtr) does not: cloning it must cost exactly one
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
//!
//! This layer also decides, for a [`RingPtr`](crate::RingPtr), which count
//! one slot hold lives in ([`SlotHold`]): the slot's refcount in process,
//! this process's local word (and its bit in the file) in a shared runtime.
//! The pointer itself never chooses.

use crate::arena::Arena;
use crate::config::Config;
use crate::event::SizeClass;
use crate::holders::{ProcessHolds, unhold};
use crate::pool::{self, Released};
use crate::shm::{self, SharedState};
use crate::sync::{self, Arc, AtomicU32, AtomicU64, Ordering::*};
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
    /// The writer epoch (`WriterLine::epoch`) whose kept slots an allocator
    /// of this process has given back to the pools already (0: none, and no
    /// writer before epoch 1 kept any): see `Allocator::return_ring_slots`.
    pub(crate) ring_slots_returned: AtomicU64,
    /// This process's allocator tasks waiting for a free slot (see
    /// `task_wait::SlotWait`), woken by the last drop of a pointer.
    #[cfg(not(loom))]
    pub(crate) slot_tasks: Arc<crate::sync::Tasks>,
}

impl ArenaCtl {
    pub(crate) fn new(arena: Arena, config: Config, me: Option<usize>, shared: Option<SharedState>) -> Self {
        let holds = shared.as_ref().map(|_| ProcessHolds::new(arena.layout().total_slots()));
        let fork_epoch = shared.as_ref().map_or(u64::MAX, SharedState::epoch);
        Self {
            arena,
            config,
            me,
            shared,
            holds,
            fork_epoch,
            orphans_left: AtomicU64::new(0),
            ring_slots_returned: AtomicU64::new(0),
            #[cfg(not(loom))]
            slot_tasks: Arc::new(crate::sync::Tasks::new()),
        }
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
    unsafe fn orphan_released(ctl: NonNull<ArenaCtl>) {
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
    unsafe fn holds_released(ctl: NonNull<ArenaCtl>) {
        // SAFETY: nobody else holds a reference into the arena; the box came
        // from `Box::into_raw`.
        drop(unsafe { Box::from_raw(ctl.as_ptr()) });
    }
}

impl Drop for ArenaCtl {
    fn drop(&mut self) {
        // The futex thread of `task_wait.rs` (if one runs) reads the arena
        // only under a lease: wait for one in progress, refuse the next. A
        // forked child has no such thread (threads do not survive a fork),
        // and a lease its parent held at the fork would never be released.
        #[cfg(not(loom))]
        if !self.forked() {
            self.arena.futex().tasks().end_leases();
        }
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

/// How a new pointer takes its hold in a shared runtime (see
/// `ProcessHolds::acquire`), given the slot's metadata word, its holder
/// words and this process's entry.
pub(crate) struct SharedHold<H, T> {
    /// This process already holds the slot: check the event only.
    pub(crate) held: H,
    /// It does not: take the hold in the file.
    pub(crate) take: T,
}

impl ArenaCtl {
    /// In a shared runtime, takes one more pointer of this process to slot
    /// `slot` of `class` (in range) the way `how` says: `Some(Ok(local))`
    /// with the local word the pointer counts in, `Some(Err(()))` if refused.
    /// `None` in process, where the caller counts in the slot's refcount.
    pub(crate) fn hold_shared<H, T>(
        &self,
        class: SizeClass,
        slot: u32,
        how: SharedHold<H, T>,
    ) -> Option<Result<NonNull<AtomicU32>, ()>>
    where
        H: FnOnce(&AtomicU64, &[AtomicU64], usize) -> bool,
        T: FnOnce(&AtomicU64, &[AtomicU64], usize) -> bool,
    {
        let holds = self.process_holds()?;
        let arena = &self.arena;
        let (Some(meta), Some(bits), Some(local)) = (
            arena.meta(class, slot as usize),
            arena.holder_words(class, slot as usize),
            holds.word(arena.slot_index(class, slot as usize)),
        ) else {
            return Some(Err(()));
        };
        let entry = self.entry();
        let give = || unhold(meta, bits, entry);
        let ok = holds.acquire(local, || (how.held)(meta, bits, entry), || (how.take)(meta, bits, entry), give);
        Some(if ok { Ok(NonNull::from(local)) } else { Err(()) })
    }
}

/// One hold of one slot, as a [`RingPtr`](crate::RingPtr) owns it, and what
/// keeps the arena alive for it: in process, one count in the slot's
/// refcount (the orphan protocol frees the arena); in a shared runtime, one
/// count in this process's local word for the slot (`holders.rs`; the hold
/// count frees this process's view). Retaining and releasing choose between
/// the two here, so the pointer never does.
pub(crate) struct SlotHold {
    ctl: NonNull<ArenaCtl>,
    meta: NonNull<AtomicU64>,
    /// Shared runtimes: this process's local word for the slot; `None` in
    /// process.
    local: Option<NonNull<AtomicU32>>,
}

impl SlotHold {
    /// Takes ownership of a hold the caller has.
    ///
    /// # Safety
    ///
    /// `ctl` is alive; `meta` is the metadata word of a slot in its arena;
    /// and either `local` is `None` and the slot's refcount includes one
    /// reference that this hold now owns (in process), or `local` is this
    /// process's local word for the slot, whose count includes this hold
    /// (shared, see `holders.rs`).
    pub(crate) unsafe fn adopt(ctl: NonNull<ArenaCtl>, meta: &AtomicU64, local: Option<NonNull<AtomicU32>>) -> Self {
        SlotHold { ctl, meta: NonNull::from(meta), local }
    }

    /// The arena's owner, alive while this hold lives.
    #[inline]
    pub(crate) fn ctl(&self) -> &ArenaCtl {
        // SAFETY: our hold keeps the arena alive (see the module docs).
        unsafe { self.ctl.as_ref() }
    }

    /// Whether two holds are of the same slot.
    #[inline]
    pub(crate) fn same_slot(&self, other: &SlotHold) -> bool {
        self.meta == other.meta
    }

    /// One more hold of the same slot (`RingPtr::clone`).
    #[inline]
    pub(crate) fn retain(&self) -> SlotHold {
        match self.local {
            // SAFETY: the local word lives as long as the `ArenaCtl`, which
            // our hold keeps alive.
            Some(word) => ProcessHolds::clone_one(unsafe { word.as_ref() }),
            // SAFETY: the meta word lives as long as the arena, which our
            // reference keeps alive.
            None => pool::clone(unsafe { self.meta.as_ref() }),
        }
        SlotHold { ctl: self.ctl, meta: self.meta, local: self.local }
    }

    /// Gives the hold back (`RingPtr::drop`); the last hold of the arena
    /// (in process, of an orphaned runtime) or of this process's view
    /// (shared) frees it.
    ///
    /// # Safety
    ///
    /// The hold is of slot `slot` of `class`, is not used again, and the
    /// caller has ended every access to the slot's bytes: once the count
    /// drops, the slot may be rewritten and the arena freed.
    #[inline]
    pub(crate) unsafe fn release(&self, class: SizeClass, slot: u32) {
        // An allocator task waiting for a free slot is woken if this frees
        // one (`task_wait::SlotWait`): out of line, so that the drop of a
        // pointer while none waits stays as small as it was.
        #[cfg(not(loom))]
        if self.ctl().slot_tasks.is_waiting() {
            // SAFETY: the caller's promise, passed on.
            unsafe { self.release_waking(class, slot) };
            return;
        }
        // SAFETY: the caller's promise, passed on.
        let _may_have_freed = unsafe { self.give_back(class, slot) };
    }

    /// [`release`](SlotHold::release) with an allocator waiting: takes the
    /// list before the hold is given back (after it, the arena may be gone)
    /// and wakes it if that may have freed the slot.
    ///
    /// # Safety
    ///
    /// As [`release`](SlotHold::release).
    #[cfg(not(loom))]
    #[cold]
    #[inline(never)]
    unsafe fn release_waking(&self, class: SizeClass, slot: u32) {
        let waiters = Arc::clone(&self.ctl().slot_tasks);
        // SAFETY: the caller's promise, passed on.
        if unsafe { self.give_back(class, slot) } {
            // Allocator waits hold no count in `blocking`.
            let _uncounted = waiters.wake_all();
        }
    }

    /// Gives the hold back; returns whether that may have freed the slot
    /// (in process: the count reached zero; shared: whether the slot is
    /// free in the file depends on the other processes' holds).
    ///
    /// # Safety
    ///
    /// As [`release`](SlotHold::release).
    #[inline]
    unsafe fn give_back(&self, class: SizeClass, slot: u32) -> bool {
        if let Some(word) = self.local {
            let ctl = self.ctl();
            // SAFETY: our hold keeps the `ArenaCtl` (the local word and the
            // hold count) and the mapping alive until the call below.
            let word = unsafe { word.as_ref() };
            // SAFETY: as above.
            let meta = unsafe { self.meta.as_ref() };
            let give = || {
                // In a forked child the hold in the file is the parent's.
                if ctl.forked() {
                    return;
                }
                if let Some(bits) = ctl.arena.holder_words(class, slot as usize) {
                    unhold(meta, bits, ctl.entry());
                }
            };
            // A hold with a local word belongs to a shared runtime.
            let Some(holds) = ctl.process_holds() else { return false };
            if holds.release(word, give) {
                // SAFETY: ours was the last hold of this process; we touch
                // nothing of the arena afterwards.
                unsafe { ArenaCtl::holds_released(self.ctl) };
            }
            return true;
        }
        // SAFETY: our reference keeps the meta word alive until this call.
        let released = pool::release(unsafe { self.meta.as_ref() });
        if released == Released::LastOrphan {
            // SAFETY: this was the last reference of a slot the runtime's drop
            // marked; we touch nothing of the arena afterwards.
            unsafe { ArenaCtl::orphan_released(self.ctl) };
        }
        released == Released::Freed
    }
}
