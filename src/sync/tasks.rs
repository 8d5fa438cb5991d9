//! Async tasks waiting on an arena's futex word: the task half of a sleep.
//!
//! A task that found nothing to read registers its [`Waker`] here (one list
//! per arena per process, in the arena's [`Futex`](super::Futex)) before it
//! counts itself in the arena's `waiters` word, exactly where a sleeping
//! thread would go to sleep (see `wait.rs` and `task_wait.rs`). Whoever
//! wakes the futex word's sleepers wakes this list too:
//!
//! * in the writer's own process, [`Futex::wake_all`](super::Futex::wake_all)
//!   calls [`Tasks::wake_all`] right after the kernel wake-up, so a task is
//!   woken by the publishing thread itself, with no thread in between;
//! * in another process, nobody but the kernel sees that wake-up: a thread
//!   of that process sleeps on the futex word for its tasks (`task_wait.rs`
//!   starts it; the list records whether one runs).
//!
//! [`Tasks::wake_all`] takes the wakers out, and with them the tasks'
//! counts among the readers that may sleep: a woken task that still finds
//! nothing registers (and counts itself) again, as a sleeping thread does
//! before every sleep.

use super::{AtomicU64, Mutex, MutexGuard, Ordering::Relaxed};
use std::cell::RefCell;
use std::collections::HashMap;
use std::task::Waker;

/// Tasks taken out of a list, to be woken.
pub(crate) struct Woken {
    wakers: Vec<Waker>,
    /// How many of them were counted in `blocking`: the taker's to take
    /// back (`wait::uncount`).
    pub(crate) counted: u32,
}

thread_local! {
    /// While [`deferring`] runs on this thread: the wakers [`Woken::wake`]
    /// would have woken.
    static DEFERRED: RefCell<Option<Vec<Waker>>> = const { RefCell::new(None) };
}

impl Woken {
    /// Wakes them, or defers that if [`deferring`] runs on this thread.
    pub(crate) fn wake(self) {
        if self.wakers.is_empty() {
            return;
        }
        let mut wakers = Some(self.wakers);
        DEFERRED.with(|deferred| {
            if let Some(deferred) = deferred.borrow_mut().as_mut() {
                deferred.extend(wakers.take().into_iter().flatten());
            }
        });
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }
}

/// Runs `f`, collecting the wakers it would wake instead of waking them:
/// the futex thread runs the reaper under its lease on the arena, where
/// no waker may run (one whose drop dropped the runtime's last handle
/// would wait for the lease it runs under), and wakes them after.
#[cfg(not(loom))]
pub(crate) fn deferring<R>(f: impl FnOnce() -> R) -> (R, Vec<Waker>) {
    /// Ends the deferral even if `f` panics: the thread's later wakes are
    /// not deferred forever.
    struct End;
    impl Drop for End {
        fn drop(&mut self) {
            DEFERRED.with(|deferred| deferred.borrow_mut().take());
        }
    }
    DEFERRED.with(|deferred| *deferred.borrow_mut() = Some(Vec::new()));
    let end = End;
    let result = f();
    let wakers = DEFERRED.with(|deferred| deferred.borrow_mut().take()).unwrap_or_default();
    drop(end);
    (result, wakers)
}

/// The waiting tasks of one arena in this process.
pub(crate) struct Tasks {
    list: Mutex<List>,
    /// Whether the arena is still there, for the futex thread, which holds
    /// no handle (a handle would keep the process attached to a shared
    /// file after its last user handle is gone, and at exit leave it
    /// looking dead): it reads the arena only under this lock, and the
    /// arena's drop clears it first (see [`lease`](Tasks::lease)).
    #[cfg(not(loom))]
    arena: Mutex<bool>,
    /// How many wakers the list holds: lets [`wake_all`](Tasks::wake_all)
    /// skip the lock while no task waits (every wake-up of a blocking
    /// reader comes through there).
    waiting: AtomicU64,
}

#[derive(Default)]
struct List {
    /// The next key handed out: keys are never reused, so a timer set for
    /// one wait never wakes a later one (see [`Tasks::wake`]).
    next_key: u64,
    wakers: HashMap<u64, Entry>,
    /// A thread of this process sleeps on the futex word for these tasks.
    thread: bool,
}

/// A waiting task: its waker, and whether it holds a count in the arena's
/// `blocking` word, which goes with the entry: whoever takes the entry out
/// uncounts it (see [`Tasks::wake_all`] and [`Tasks::remove`]).
struct Entry {
    waker: Waker,
    counted: bool,
}

/// What [`Tasks::register`] did.
pub(crate) struct Registered {
    /// No thread sleeps on the futex word for this process's tasks: the
    /// caller starts one if the arena is shared; the list counts it as
    /// started from now on.
    pub(crate) start_thread: bool,
}

impl Tasks {
    pub(crate) fn new() -> Self {
        Self {
            list: Mutex::new(List::default()),
            #[cfg(not(loom))]
            arena: Mutex::new(true),
            waiting: AtomicU64::new(0),
        }
    }

    /// The futex thread's hold on the arena: `None` once the arena is gone;
    /// else the arena stays while the guard lives (its drop waits in
    /// [`end_leases`](Tasks::end_leases)). Hold it briefly and call no user
    /// code under it but `Waker::wake` (a waker that dropped the runtime's
    /// last handle inline would wait for itself).
    #[cfg(not(loom))]
    pub(crate) fn lease(&self) -> Option<MutexGuard<'_, bool>> {
        let alive = self.arena.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (*alive).then_some(alive)
    }

    /// The arena is about to go: waits for a lease in progress, refuses the
    /// next ones.
    #[cfg(not(loom))]
    pub(crate) fn end_leases(&self) {
        *self.arena.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = false;
    }

    /// A key for one wait, fixed for as long as it lasts.
    pub(crate) fn key(&self) -> u64 {
        let mut list = self.lock();
        list.next_key += 1;
        list.next_key
    }

    /// Registers (or refreshes) the waker of wait `key`. A new entry first
    /// runs `count`, under the lock, which counts the task in the arena's
    /// `blocking` word (or not: it returns whether it did); the entry then
    /// holds that count until it is taken out.
    pub(crate) fn register(&self, key: u64, waker: &Waker, count: impl FnOnce() -> bool) -> Registered {
        let mut list = self.lock();
        match list.wakers.get_mut(&key) {
            Some(entry) => entry.waker.clone_from(waker),
            None => {
                let counted = count();
                list.wakers.insert(key, Entry { waker: waker.clone(), counted });
                // ORDERING: Relaxed, under the lock; read after the writer's
                // AcqRel RMW on `waiters` that acquired our count there,
                // which this store happens before (see `wake_all`).
                self.waiting.store(list.wakers.len() as u64, Relaxed);
            }
        }
        let start_thread = !list.thread;
        list.thread = true;
        Registered { start_thread }
    }

    /// Forgets wait `key` (it ended, or its future was dropped). Returns
    /// `Some(counted)` if the entry was there (the caller uncounts it if
    /// counted), `None` if a wake-up took it out (and its count with it).
    pub(crate) fn remove(&self, key: u64) -> Option<bool> {
        let mut list = self.lock();
        let entry = list.wakers.remove(&key)?;
        // ORDERING: Relaxed, under the lock; see `register`.
        self.waiting.store(list.wakers.len() as u64, Relaxed);
        Some(entry.counted)
    }

    /// Wakes wait `key` if it is still registered (a timer's wake-up). The
    /// entry stays, with its count: the task is polled again, no more.
    #[cfg_attr(loom, allow(dead_code, reason = "the timer's, which loom builds leave out"))]
    pub(crate) fn wake(&self, key: u64) {
        let waker = self.lock().wakers.get(&key).map(|entry| entry.waker.clone());
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every registered task, outside the lock, and returns how many
    /// of them were counted in `blocking`: the caller uncounts them (a woken
    /// task that still finds nothing counts itself again), so that the
    /// writer stops looking for sleepers as soon as no task waits, not when
    /// the woken tasks next run. [`take_all`](Tasks::take_all), then
    /// [`Woken::wake`].
    #[must_use = "the woken tasks' counts in `blocking` are the caller's to take back"]
    pub(crate) fn wake_all(&self) -> u32 {
        let woken = self.take_all();
        let counted = woken.counted;
        woken.wake();
        counted
    }

    /// Takes every registered task out of the list, with its count, to be
    /// woken by [`Woken::wake`] (the futex thread uncounts them while it
    /// still holds its lease on the arena, and wakes them after).
    ///
    /// The caller (the writer after its AcqRel RMWs on `waiters`, or a
    /// futex thread after its Acquire load of the futex word) has acquired
    /// the registration of every task it must wake: a task stores its waker
    /// here before its own RMW on `waiters`. So the Relaxed load of
    /// `waiting` sees those tasks, and a zero means none to wake.
    pub(crate) fn take_all(&self) -> Woken {
        // ORDERING: Relaxed; see above.
        if self.waiting.load(Relaxed) == 0 {
            return Woken { wakers: Vec::new(), counted: 0 };
        }
        let entries = {
            let mut list = self.lock();
            // ORDERING: Relaxed, under the lock; see `register`.
            self.waiting.store(0, Relaxed);
            std::mem::take(&mut list.wakers)
        };
        let counted = entries.values().map(|entry| u32::from(entry.counted)).sum();
        Woken { wakers: entries.into_values().map(|entry| entry.waker).collect(), counted }
    }

    /// Whether a task waits: one Relaxed load (a pointer's drop asks it
    /// for the allocators' list, see `SlotHold::release`).
    #[inline]
    #[cfg_attr(loom, allow(dead_code, reason = "the allocators' list, which loom builds leave out"))]
    pub(crate) fn is_waiting(&self) -> bool {
        // ORDERING: Relaxed; a hint: a registration it misses is bounded
        // by the waiter's naps.
        self.waiting.load(Relaxed) != 0
    }

    /// Whether no task waits.
    #[cfg_attr(loom, allow(dead_code, reason = "the futex thread's, which loom builds leave out"))]
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().wakers.is_empty()
    }

    /// The futex thread's exit: it stops (and the next registration starts
    /// another) only if no task waits.
    #[cfg_attr(loom, allow(dead_code, reason = "the futex thread's, which loom builds leave out"))]
    pub(crate) fn thread_may_stop(&self) -> bool {
        let mut list = self.lock();
        if list.wakers.is_empty() {
            list.thread = false;
        }
        !list.thread
    }

    /// The futex thread could not be started, or stopped with the arena:
    /// the next registration starts another.
    #[cfg_attr(loom, allow(dead_code, reason = "loom builds start no thread (no shared runtime)"))]
    pub(crate) fn thread_failed(&self) {
        self.lock().thread = false;
    }

    fn lock(&self) -> MutexGuard<'_, List> {
        // A panic under this lock (an allocation failure, a waker's clone)
        // leaves the list consistent: every operation is a single insert,
        // remove or take.
        self.list.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
