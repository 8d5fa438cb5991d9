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
//! [`Tasks::wake_all`] takes the wakers out: a woken task that still finds
//! nothing registers again, as a sleeping thread does before every sleep.

use super::{AtomicU64, Mutex, MutexGuard, Ordering::Relaxed};
use std::collections::HashMap;
use std::task::Waker;

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
    wakers: HashMap<u64, Waker>,
    /// A thread of this process sleeps on the futex word for these tasks.
    thread: bool,
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

    /// Registers (or refreshes) the waker of wait `key`. Returns `true` if
    /// no thread sleeps on the futex word for this process's tasks: the
    /// caller then starts one if the arena is shared, and the list counts
    /// it as started from now on.
    pub(crate) fn register(&self, key: u64, waker: &Waker) -> bool {
        let mut list = self.lock();
        match list.wakers.get_mut(&key) {
            Some(old) => old.clone_from(waker),
            None => {
                list.wakers.insert(key, waker.clone());
                // ORDERING: Relaxed, under the lock; read after the writer's
                // AcqRel RMW on `waiters` that acquired our count there,
                // which this store happens before (see `wake_all`).
                self.waiting.store(list.wakers.len() as u64, Relaxed);
            }
        }
        let start = !list.thread;
        list.thread = true;
        start
    }

    /// Forgets wait `key` (it ended, or its future was dropped).
    pub(crate) fn remove(&self, key: u64) {
        let mut list = self.lock();
        if list.wakers.remove(&key).is_some() {
            // ORDERING: Relaxed, under the lock; see `register`.
            self.waiting.store(list.wakers.len() as u64, Relaxed);
        }
    }

    /// Wakes wait `key` if it is still registered (a timer's wake-up).
    #[cfg_attr(loom, allow(dead_code, reason = "the timer's, which loom builds leave out"))]
    pub(crate) fn wake(&self, key: u64) {
        let waker = {
            let mut list = self.lock();
            let waker = list.wakers.remove(&key);
            // ORDERING: Relaxed, under the lock; see `register`.
            self.waiting.store(list.wakers.len() as u64, Relaxed);
            waker
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every registered task, outside the lock.
    ///
    /// The caller (the writer after its AcqRel RMWs on `waiters`, or a
    /// futex thread after its Acquire load of the futex word) has acquired
    /// the registration of every task it must wake: a task stores its waker
    /// here before its own RMW on `waiters`. So the Relaxed load of
    /// `waiting` sees those tasks, and a zero means none to wake.
    pub(crate) fn wake_all(&self) {
        // ORDERING: Relaxed; see above.
        if self.waiting.load(Relaxed) == 0 {
            return;
        }
        let wakers = {
            let mut list = self.lock();
            // ORDERING: Relaxed, under the lock; see `register`.
            self.waiting.store(0, Relaxed);
            std::mem::take(&mut list.wakers)
        };
        for waker in wakers.into_values() {
            waker.wake();
        }
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
