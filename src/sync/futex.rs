//! Sleeping on a 32-bit word in the arena, and waking its sleepers.
//!
//! On Linux this is the futex system call on the word itself, so a reader in
//! another process that maps the same arena is woken too (shared futexes are
//! keyed by the physical page). Elsewhere it degrades to short sleeps that
//! re-check the word. Under loom, and under Miri (which interprets no
//! `rustix` system call under strict provenance), it is a mutex and a
//! condition variable, the stand-in the loom docs recommend for OS
//! primitives: `wait` checks the word and sleeps under the mutex, `wake_all`
//! takes the mutex before notifying, so a wake between the check and the
//! sleep cannot be lost, exactly the guarantee the kernel gives for a real
//! futex. Both stand-ins serve one process only, as loom and Miri do.

use super::AtomicU32;
use std::time::Duration;

#[cfg(loom)]
use loom::sync::{Condvar, Mutex};
#[cfg(all(miri, not(loom)))]
use std::sync::{Condvar, Mutex};

/// What a process needs to sleep on and wake a futex word.
pub(crate) struct Futex {
    /// Whether other processes may wait on words of this arena.
    #[cfg_attr(any(loom, miri, not(target_os = "linux")), allow(dead_code))]
    shared: bool,
    #[cfg(any(loom, miri))]
    lock: Mutex<()>,
    #[cfg(any(loom, miri))]
    cond: Condvar,
}

impl Futex {
    pub(crate) fn new(shared: bool) -> Self {
        Self {
            shared,
            #[cfg(any(loom, miri))]
            lock: Mutex::new(()),
            #[cfg(any(loom, miri))]
            cond: Condvar::new(),
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
    pub(crate) fn wake_all(&self, word: &AtomicU32) {
        use rustix::thread::futex;
        let flags = if self.shared { futex::Flags::empty() } else { futex::Flags::PRIVATE };
        // The kernel reads the count as an `int`: `u32::MAX` would be -1 and
        // wake a single thread. `i32::MAX` means all of them (as std does).
        let _ = futex::wake(word, flags, i32::MAX as u32);
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
    pub(crate) fn wake_all(&self, _word: &AtomicU32) {}

    /// Stand-in: check and sleep under the mutex. Loom has no clock, so its
    /// sleep has no timeout (a model that needs one never ends, and fails).
    #[cfg(any(loom, miri))]
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let guard = self.lock.lock().unwrap();
        // ORDERING(futex): Acquire; pairs with the writer's Release bump.
        if word.load(super::Ordering::Acquire) != expected {
            return;
        }
        #[cfg(loom)]
        let _ = timeout;
        #[cfg(not(loom))]
        if let Some(timeout) = timeout {
            drop(self.cond.wait_timeout(guard, timeout).unwrap());
            return;
        }
        drop(self.cond.wait(guard).unwrap());
    }

    /// Stand-in: notify under the mutex.
    #[cfg(any(loom, miri))]
    pub(crate) fn wake_all(&self, _word: &AtomicU32) {
        let _guard = self.lock.lock().unwrap();
        self.cond.notify_all();
    }
}
