//! What every waiting call shares: its `timeout` argument, waiting with the
//! GIL released in slices (so Ctrl-C interrupts a wait that could last
//! forever), and the turns that serialise calls on one writer or reader.

use crate::errors;
use pyo3::exceptions::PyRuntimeError;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
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
    pub(crate) fn slice(self) -> Option<Instant> {
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
            // nothing else (the object itself passes with the turn, under
            // the turns' mutex).
            if owner.closing.load(Ordering::Relaxed) {
                return Err(errors::closed(owner.what));
            }
        }
        Ok(None)
    }
}

/// A token of the calling thread: the address of a thread-local, distinct
/// for every live thread and never 0.
fn thread_token() -> usize {
    thread_local! {
        static TOKEN: u8 = const { 0 };
    }
    TOKEN.with(|t| std::ptr::from_ref(t) as usize)
}

/// Who holds a `Locked` object and who waits for it.
struct Turns {
    /// A call holds the object.
    busy: bool,
    /// The thread of that call (0 when none), to refuse a call from a
    /// signal handler running inside it instead of waiting for itself.
    owner: usize,
    /// Calls waiting for the object.
    waiters: usize,
    /// The holder finished while calls waited: the object is theirs (`busy`
    /// stays set), for the first of them to see it. A call that just
    /// finished cannot take it straight back while others wait.
    handoff: bool,
}

/// A writer or reader shared by every Python thread that holds it: one call
/// at a time uses it (its turn), and it is `None` once closed.
///
/// The turn outlives the GIL's releases inside a call (a call that waits for
/// an event or for room keeps it), so it is not a mutex guard: a small
/// mutex guards only the bookkeeping in `Turns`, held for a few
/// instructions and never while waiting for the GIL, so taking it with the
/// GIL held cannot deadlock. A call waiting for its turn waits with the GIL
/// released, in slices, honouring its own timeout, Ctrl-C and `close()`.
pub(crate) struct Locked<T> {
    value: UnsafeCell<Option<T>>,
    turns: Mutex<Turns>,
    /// Signalled when a turn is handed over.
    handed: Condvar,
    /// Set by `close`: a call waiting with the turn (for an event, or for
    /// room) gives up within a slice, and whichever call ends its turn
    /// next drops the object.
    closing: AtomicBool,
    /// "writer" or "reader", for messages.
    what: &'static str,
}

// SAFETY: the value is only reached through a `Turn`, and `Turns::busy`
// lets one `Turn` exist at a time (set and cleared under the mutex), so
// shared references to a `Locked` never give two threads the value at once;
// the value itself moves between threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Locked<T> {}

/// A call's turn with a `Locked` object; the turn passes on when it drops.
pub(crate) struct Turn<'a, T> {
    locked: &'a Locked<T>,
}

impl<T> Turn<'_, T> {
    /// The object, or `Closed` once it was closed.
    pub(crate) fn get(&mut self) -> PyResult<&mut T> {
        // SAFETY: this turn is the only one (see `Locked`'s `Sync`), and the
        // reference borrows it mutably, so no other reference to the value
        // exists while it lives.
        let value = unsafe { &mut *self.locked.value.get() };
        value.as_mut().ok_or_else(|| errors::closed(self.locked.what))
    }
}

impl<T> Drop for Turn<'_, T> {
    fn drop(&mut self) {
        let locked = self.locked;
        // ORDERING: Relaxed; see `Wait::run` (the value itself is ordered by
        // the mutex that hands the turn over).
        let closed = if locked.closing.load(Ordering::Relaxed) {
            // SAFETY: as in `get`: this is the only turn.
            unsafe { (*locked.value.get()).take() }
        } else {
            None
        };
        {
            let mut turns = locked.lock_turns();
            turns.owner = 0;
            if turns.waiters > 0 {
                turns.handoff = true;
                locked.handed.notify_one();
            } else {
                turns.busy = false;
            }
        }
        // Dropped after the turn passed on: whatever its drop does (a
        // writer's closes the stream), the turn is not left taken.
        drop(closed);
    }
}

impl<T> Locked<T> {
    fn lock_turns(&self) -> MutexGuard<'_, Turns> {
        // Poisoned only by a panic inside the few lines that hold it,
        // which do not panic; the bookkeeping stays consistent either way.
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Send> Locked<T> {
    pub(crate) fn new(value: T, what: &'static str) -> Self {
        let turns = Turns { busy: false, owner: 0, waiters: 0, handoff: false };
        Self {
            value: UnsafeCell::new(Some(value)),
            turns: Mutex::new(turns),
            handed: Condvar::new(),
            closing: AtomicBool::new(false),
            what,
        }
    }

    /// This call's turn with the object: at once when no call has it (with
    /// the GIL held: the common case, and a cheap one), else waiting for it
    /// with the GIL released, as `wait` says: `Ok(None)` when the wait ran
    /// out first (at once for `Wait::Now`), an error for Ctrl-C and for
    /// `close()`. A call from a signal handler that interrupted this
    /// thread's own call on the object raises `RuntimeError` rather than
    /// wait for itself.
    pub(crate) fn turn(&self, py: Python<'_>, wait: Wait) -> PyResult<Option<Turn<'_, T>>> {
        self.take_turn(py, wait, true)
    }

    /// `turn`; `close()` waits with `closing_stops` false, since its own
    /// flag is what makes the holder give the turn up.
    fn take_turn(&self, py: Python<'_>, wait: Wait, closing_stops: bool) -> PyResult<Option<Turn<'_, T>>> {
        let me = thread_token();
        {
            let mut turns = self.lock_turns();
            if !turns.busy && turns.waiters == 0 {
                turns.busy = true;
                turns.owner = me;
                return Ok(Some(Turn { locked: self }));
            }
            if turns.owner == me {
                return Err(PyRuntimeError::new_err(format!(
                    "this {} is in a call of this thread (a signal handler interrupted it): \
                     only close() may be called on it here",
                    self.what
                )));
            }
            if !wait.waits() {
                return Ok(None);
            }
            turns.waiters += 1;
        }
        loop {
            let until = wait.slice();
            if let Some(until) = until {
                if py.detach(|| self.wait_turn(until, me)) {
                    return Ok(Some(Turn { locked: self }));
                }
            }
            let stop = match py.check_signals() {
                Err(interrupted) => Some(Err(interrupted)),
                // ORDERING: Relaxed; see `Wait::run`.
                Ok(()) if closing_stops && self.closing.load(Ordering::Relaxed) => Some(Err(errors::closed(self.what))),
                Ok(()) if until.is_none() => Some(Ok(None)),
                Ok(()) => None,
            };
            if let Some(stop) = stop {
                self.stop_waiting();
                return stop;
            }
        }
    }

    /// Waits (GIL released) until `until` for a turn; whether it got one.
    fn wait_turn(&self, until: Instant, me: usize) -> bool {
        let mut turns = self.lock_turns();
        loop {
            if turns.handoff || !turns.busy {
                turns.handoff = false;
                turns.busy = true;
                turns.owner = me;
                turns.waiters -= 1;
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            turns = self.handed.wait_timeout(turns, until - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// A waiting call gives up. A turn handed over for the waiters is
    /// passed to another, or freed if this was the last.
    fn stop_waiting(&self) {
        let mut turns = self.lock_turns();
        turns.waiters -= 1;
        if turns.handoff {
            if turns.waiters == 0 {
                turns.handoff = false;
                turns.busy = false;
            } else {
                self.handed.notify_one();
            }
        }
    }

    /// Closes the object: a call using it in another thread gives up within
    /// a slice, then this takes the turn and drops the object. From a
    /// signal handler that interrupted this thread's own call on it, it only
    /// marks it: that call ends with `Closed` and drops it. Idempotent.
    pub(crate) fn close(&self, py: Python<'_>) -> PyResult<()> {
        // ORDERING: Relaxed; see `Wait::run`.
        self.closing.store(true, Ordering::Relaxed);
        let me = thread_token();
        if self.lock_turns().owner == me {
            // This thread's own call, interrupted by the signal handler we
            // run in, holds it: that call ends with `Closed` and drops it.
            // (Only this thread can make itself the owner, so this cannot
            // change before we return.)
            return Ok(());
        }
        // The turn's drop takes the object out (`closing` is set).
        drop(self.take_turn(py, Wait::Forever, false)?);
        Ok(())
    }
}
