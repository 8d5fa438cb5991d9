//! What every waiting call shares: its `timeout` argument, waiting with the
//! GIL released in slices (so Ctrl-C interrupts a wait that could last
//! forever), and the lock that serialises calls on one writer or reader.

// std's Mutex: the crate::sync shim of the core library exists for its loom
// models, and this package is never built under loom.
#![allow(clippy::disallowed_types)]

use crate::errors;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// The longest stretch a call waits with the GIL released before it looks
/// for signals (`KeyboardInterrupt`), as `time.sleep` and `queue.get` do.
const SLICE: Duration = Duration::from_millis(100);

/// A call's `timeout`: `None` waits as long as it takes, `0` not at all,
/// a number of seconds at most that long.
#[derive(Clone, Copy)]
pub(crate) enum Wait {
    Now,
    Until(Instant),
    Forever,
}

impl Wait {
    /// From the `timeout` argument. `ValueError` for a negative or NaN one.
    pub(crate) fn from_timeout(timeout: Option<f64>) -> PyResult<Wait> {
        let Some(seconds) = timeout else { return Ok(Wait::Forever) };
        if seconds.is_nan() || seconds < 0.0 {
            return Err(PyValueError::new_err(format!(
                "timeout must be None or a number of seconds >= 0, not {seconds}"
            )));
        }
        if seconds == 0.0 {
            return Ok(Wait::Now);
        }
        // Beyond what an `Instant` holds (`inf` among others): forever.
        Ok(Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|d| Instant::now().checked_add(d))
            .map_or(Wait::Forever, Wait::Until))
    }

    /// Whether the call waits at all.
    pub(crate) fn waits(self) -> bool {
        !matches!(self, Wait::Now)
    }

    /// The end of the next slice of waiting, or `None` once the wait is
    /// over.
    fn slice(self) -> Option<Instant> {
        let now = Instant::now();
        match self {
            Wait::Now => None,
            Wait::Until(deadline) if deadline <= now => None,
            Wait::Until(deadline) => Some(deadline.min(now + SLICE)),
            Wait::Forever => Some(now + SLICE),
        }
    }

    /// Runs `attempt` with the GIL released, a slice at a time, until it
    /// returns `Some` or the wait is over (`Ok(None)`). Between slices it
    /// lets Python handle signals (a `KeyboardInterrupt` ends the wait) and
    /// looks at `owner`'s close: a `close()` from another thread ends the
    /// wait with `Closed` within a slice.
    pub(crate) fn run<T, U, F>(self, py: Python<'_>, owner: &Locked<U>, mut attempt: F) -> PyResult<Option<T>>
    where
        F: FnMut(Instant) -> Option<T> + Send,
        T: Send,
    {
        while let Some(until) = self.slice() {
            if let Some(done) = py.detach(|| attempt(until)) {
                return Ok(Some(done));
            }
            py.check_signals()?;
            // ORDERING: Relaxed; a flag polled between slices, which orders
            // nothing else (the object itself is taken under the lock).
            if owner.closing.load(Ordering::Relaxed) {
                return Err(errors::closed(owner.what));
            }
        }
        Ok(None)
    }
}

/// A writer or reader shared by every Python thread that holds it: calls
/// are serialised by a lock, and `None` once closed.
pub(crate) struct Locked<T> {
    inner: Mutex<Option<T>>,
    /// Set by `close`, before it waits for the lock: a call waiting with
    /// the lock held (for an event, or for room) gives up within a slice.
    closing: AtomicBool,
    /// "writer" or "reader", for messages.
    what: &'static str,
}

impl<T: Send> Locked<T> {
    pub(crate) fn new(value: T, what: &'static str) -> Self {
        Self { inner: Mutex::new(Some(value)), closing: AtomicBool::new(false), what }
    }

    /// The object under the lock, or `Closed` once it was closed.
    pub(crate) fn get<'a>(&self, guard: &'a mut MutexGuard<'_, Option<T>>) -> PyResult<&'a mut T> {
        guard.as_mut().ok_or_else(|| errors::closed(self.what))
    }

    /// `f` of the object under the lock, or `Closed`.
    pub(crate) fn map<R>(&self, py: Python<'_>, f: impl FnOnce(&T) -> R) -> PyResult<R> {
        self.lock(py).as_ref().map(f).ok_or_else(|| errors::closed(self.what))
    }

    /// Takes the object out (the caller drops it): a call waiting on it in
    /// another thread ends within a slice (see `Wait::run`), then this
    /// takes the lock. Idempotent.
    pub(crate) fn close(&self, py: Python<'_>) -> Option<T> {
        // ORDERING: Relaxed; see `Wait::run`.
        self.closing.store(true, Ordering::Relaxed);
        self.lock(py).take()
    }

    /// The lock, taken with the GIL held when it is free (the common case,
    /// and the cheap one). When another thread holds it (it may be waiting
    /// with the GIL released) this waits for it with the GIL released, so
    /// the holder can take the GIL back, and then tries again: a thread
    /// never holds the GIL while it waits for the lock.
    pub(crate) fn lock(&self, py: Python<'_>) -> MutexGuard<'_, Option<T>> {
        loop {
            match self.inner.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    py.detach(|| drop(self.inner.lock().unwrap_or_else(PoisonError::into_inner)));
                }
            }
        }
    }
}
