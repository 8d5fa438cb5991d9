//! What every waiting call shares: its `timeout` argument, waiting with the
//! GIL released in slices (so Ctrl-C interrupts a wait that could last
//! forever), and the lock that serialises calls on one writer or reader.

// std's Mutex: the crate::sync shim of the core library exists for its loom
// models, and this package is never built under loom.
#![allow(clippy::disallowed_types)]

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
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
    /// lets Python handle signals: a `KeyboardInterrupt` ends the wait.
    pub(crate) fn run<T, F>(self, py: Python<'_>, mut attempt: F) -> PyResult<Option<T>>
    where
        F: FnMut(Instant) -> Option<T> + Send,
        T: Send,
    {
        while let Some(until) = self.slice() {
            if let Some(done) = py.detach(|| attempt(until)) {
                return Ok(Some(done));
            }
            py.check_signals()?;
        }
        Ok(None)
    }
}

/// A writer or reader shared by every Python thread that holds it: calls
/// are serialised by a lock, and `None` once closed.
pub(crate) struct Locked<T> {
    inner: Mutex<Option<T>>,
}

impl<T: Send> Locked<T> {
    pub(crate) fn new(value: T) -> Self {
        Self { inner: Mutex::new(Some(value)) }
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
