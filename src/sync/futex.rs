//! Sleeping on a 32-bit word in the arena, and waking its sleepers.
//!
//! On Linux this is the futex system call on the word itself, so a reader in
//! another process that maps the same arena is woken too (shared futexes are
//! keyed by the physical page). Elsewhere it degrades to short sleeps that
//! re-check the word. Under loom and under Miri (which interprets no
//! `rustix` system call under strict provenance) it is a stand-in with the
//! guarantee the kernel gives for a real futex: a wake after the sleeper's
//! check of the word is not lost, and a sleeper wakes only when woken (or
//! spuriously). Both stand-ins serve one process only, as loom and Miri do.
//!
//! * Under Miri: a mutex and a condition variable. `wait` checks the word and
//!   sleeps under the mutex, `wake_all` takes the mutex before notifying.
//! * Under loom: a wake counter. `wait` reads the counter, checks the word,
//!   then yields until the counter moves; `wake_all` bumps it (Release). If
//!   the sleeper's read of the counter sees a wake, it acquires the writer's
//!   bump of the word too, so its check fails and it does not sleep. Loom's
//!   own mutex and condvar would do as well, but when a lost wake-up leaves a
//!   thread parked in `Condvar::wait`, loom's deadlock report unwinds through
//!   its `MutexGuard`, whose drop panics again and aborts the test process:
//!   the mutant tests (`loom_tests/mutants.rs`) could not see the failure
//!   they expect. A sleeper that is never woken here yields forever, which
//!   loom reports as a model that never ends.

use super::AtomicU32;
use super::tasks::Tasks;
use std::time::Duration;

#[cfg(all(miri, not(loom)))]
use std::sync::{Condvar, Mutex};

/// What a process needs to sleep on and wake a futex word.
pub(crate) struct Futex {
    /// Whether other processes may wait on words of this arena.
    #[cfg_attr(any(loom, miri, not(target_os = "linux")), allow(dead_code))]
    shared: bool,
    #[cfg(all(miri, not(loom)))]
    lock: Mutex<()>,
    #[cfg(all(miri, not(loom)))]
    cond: Condvar,
    #[cfg(loom)]
    wakes: AtomicU32,
    /// This process's async tasks waiting on the word (see `tasks.rs`):
    /// [`wake_all`](Futex::wake_all) wakes them too. In an `Arc` so that a
    /// timer's nap can name a wait without keeping the arena (a std `Arc`
    /// in every build: loom has no `Weak`, and nothing races on its count).
    #[allow(clippy::disallowed_types, reason = "the timer's `Weak`, see above")]
    tasks: std::sync::Arc<Tasks>,
}

impl Futex {
    pub(crate) fn new(shared: bool) -> Self {
        Self {
            shared,
            #[cfg(all(miri, not(loom)))]
            lock: Mutex::new(()),
            #[cfg(all(miri, not(loom)))]
            cond: Condvar::new(),
            #[cfg(loom)]
            wakes: AtomicU32::new(0),
            tasks: std::sync::Arc::new(Tasks::new()),
        }
    }

    /// This process's async tasks waiting on the word.
    #[allow(clippy::disallowed_types, reason = "the timer's `Weak`, see the field")]
    pub(crate) fn tasks(&self) -> &std::sync::Arc<Tasks> {
        &self.tasks
    }

    /// Wakes every thread sleeping on `word` and every task of this process
    /// waiting on it.
    pub(crate) fn wake_all(&self, word: &AtomicU32) {
        self.wake_sleepers(word);
        // Mutant: wake the sleeping threads only (a task waits forever).
        if !cfg!(slotcast_mutant = "tasks_unwoken") {
            self.tasks.wake_all();
        }
    }

    /// Sleeps while `word` holds `expected`, for at most `timeout`.
    ///
    /// Returns early, spuriously or because the word changed; callers
    /// re-check their condition in a loop.
    #[cfg(all(not(loom), not(miri), target_os = "linux"))]
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        use rustix::thread::futex;
        let flags = if self.shared { futex::Flags::empty() } else { futex::Flags::PRIVATE };
        let ts = timeout.map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        // EAGAIN (the word changed), EINTR and ETIMEDOUT all mean "re-check".
        let _ = futex::wait(word, flags, expected, ts.as_ref());
    }

    /// Wakes every thread sleeping on `word`.
    #[cfg(all(not(loom), not(miri), target_os = "linux"))]
    fn wake_sleepers(&self, word: &AtomicU32) {
        use rustix::thread::futex;
        let flags = if self.shared { futex::Flags::empty() } else { futex::Flags::PRIVATE };
        // The kernel reads the count as an `int`: `u32::MAX` would be -1 and
        // wake a single thread. `i32::MAX` means all of them (as std does).
        let _ = futex::wake(word, flags, i32::MAX as u32);
    }

    /// Sleeps while the word at `word` holds `expected`, for at most
    /// `timeout`, with no reference to it: the mapping may go while the
    /// caller sleeps (the futex thread of `task_wait.rs`, which holds no
    /// handle). The kernel reads the word; if it is no longer mapped the
    /// call fails at once, and a word mapped anew in its place at worst
    /// wakes the caller early. Shared futex keys (the arena is a file).
    #[cfg(all(not(loom), not(miri), target_os = "linux"))]
    pub(crate) fn wait_detached(word: *const AtomicU32, expected: u32, timeout: Duration) {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: FUTEX_WAIT reads the u32 at `word` in the kernel, which
        // checks the address (EFAULT if unmapped) and never writes it; no
        // Rust reference to it is made. `ts` lives across the call.
        // EAGAIN, EINTR, ETIMEDOUT and EFAULT all mean "look again".
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word,
                libc::FUTEX_WAIT,
                expected,
                &ts as *const libc::timespec,
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }

    /// Without a futex to sleep on outside the arena's life: a nap.
    #[cfg(any(miri, not(target_os = "linux")))]
    #[cfg(not(loom))]
    pub(crate) fn wait_detached(_word: *const AtomicU32, _expected: u32, timeout: Duration) {
        super::sleep(timeout.min(Duration::from_micros(200)));
    }

    /// Without a futex, sleep briefly and let the caller re-check.
    #[cfg(all(not(loom), not(miri), not(target_os = "linux")))]
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        const NAP: Duration = Duration::from_micros(200);
        // ORDERING(futex): Acquire; pairs with the writer's Release bump.
        if word.load(super::Ordering::Acquire) == expected {
            super::sleep(timeout.map_or(NAP, |t| t.min(NAP)));
        }
    }

    /// Sleepers re-check on their own; nothing to do.
    #[cfg(all(not(loom), not(miri), not(target_os = "linux")))]
    fn wake_sleepers(&self, _word: &AtomicU32) {}

    /// Miri stand-in: check and sleep under the mutex.
    #[cfg(all(miri, not(loom)))]
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let guard = self.lock.lock().unwrap();
        // ORDERING(futex): Acquire; pairs with the writer's Release bump.
        if word.load(super::Ordering::Acquire) != expected {
            return;
        }
        match timeout {
            Some(timeout) => drop(self.cond.wait_timeout(guard, timeout).unwrap()),
            None => drop(self.cond.wait(guard).unwrap()),
        }
    }

    /// Miri stand-in: notify under the mutex.
    #[cfg(all(miri, not(loom)))]
    fn wake_sleepers(&self, _word: &AtomicU32) {
        let _guard = self.lock.lock().unwrap();
        self.cond.notify_all();
    }

    /// Loom stand-in: check the word, then wait for a wake. Loom has no
    /// clock: no timeout (a model that needs one never ends, and fails).
    #[cfg(loom)]
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, _timeout: Option<Duration>) {
        // ORDERING(futex-wake): Acquire; pairs with the Release increment in
        // `wake_all`, which the waker makes after its bump of `word`: a wake
        // seen here makes the check below see the bump.
        let seen = self.wakes.load(super::Ordering::Acquire);
        // ORDERING(futex): Acquire; pairs with the writer's Release bump.
        if word.load(super::Ordering::Acquire) != expected {
            return;
        }
        // ORDERING(futex-wake): Acquire; as above.
        while self.wakes.load(super::Ordering::Acquire) == seen {
            loom::thread::yield_now();
        }
    }

    /// Loom stand-in: count a wake.
    #[cfg(loom)]
    fn wake_sleepers(&self, _word: &AtomicU32) {
        // ORDERING(futex-wake): Release; pairs with the sleeper's Acquire
        // loads, publishing the bump of the word made before this call.
        self.wakes.fetch_add(1, super::Ordering::Release);
    }
}
