//! One timer thread per process for the async forms: the executor-agnostic
//! way for a task to be polled again after a while.
//!
//! Two kinds of wait need it, both bounded naps that the blocking forms take
//! with a sleep:
//!
//! * an async reader whose registration the writer has not acknowledged yet
//!   (see `wait.rs`): it is polled again after a nap (1 ms, growing);
//! * an async writer or allocator facing a full ring or pool: readers never
//!   wake the writer (that would cost them a read-modify-write per read),
//!   so it looks again after naps of 20 µs growing to 1 ms.
//!
//! The thread starts with the first nap and sleeps on a condition variable
//! until the earliest due time. A reader's nap names its wait in the
//! arena's [`Tasks`] (a `Weak` and a key) and is cancelled when the wait
//! ends; its due time is on a 1 ms grid ([`on_grid`]), so that the thread
//! wakes at most once a millisecond for all of them, not once per wait. A
//! writer's or allocator's nap holds its waker, and at worst polls a future
//! that moved on once more, which every future allows.

#![allow(clippy::disallowed_types, reason = "the shim itself: a mutex and a condition variable run the timer")]

use super::tasks::Tasks;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::{Condvar, Mutex, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

/// Whom a nap wakes.
pub(crate) enum Wake {
    /// Wait `key` of an arena's task list, if it still waits.
    Task(Weak<Tasks>, u64),
    /// This task.
    Waker(Waker),
}

/// A nap set with [`after`], to [`cancel`] it: its due time and its order
/// among the naps set for that time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NapKey(Instant, u64);

#[derive(Default)]
struct Naps {
    /// By due time, then by order of setting.
    due: BTreeMap<NapKey, Wake>,
    order: u64,
    /// The thread could not be started: naps are served by whoever sets
    /// the next one (see `after`), never lost.
    no_thread: bool,
}

struct Timer {
    naps: Mutex<Naps>,
    changed: Condvar,
    /// Where the coarse grid of [`on_grid`] starts.
    base: Instant,
    /// The process whose thread serves it: a forked child inherits this
    /// timer but not its thread (nor, perhaps, an unlocked mutex), and
    /// makes its own (see [`timer`]).
    pid: u32,
}

/// This process's timer, made (and its thread started) at first use. A
/// forked child makes a new one: the parent's stays behind, leaked, never
/// touched again.
static TIMER: AtomicPtr<Timer> = AtomicPtr::new(std::ptr::null_mut());

fn timer() -> &'static Timer {
    let pid = std::process::id();
    // ORDERING: Acquire; pairs with the Release of the CAS in `start`, so
    // the timer is seen whole.
    let current = TIMER.load(Acquire);
    // SAFETY: a non-null pointer is a leaked `Box<Timer>` (`start`), never
    // freed.
    match unsafe { current.as_ref() } {
        Some(timer) if timer.pid == pid => timer,
        _ => start(current, pid),
    }
}

/// Makes this process's timer and starts its thread, unless another thread
/// just did.
#[cold]
fn start(current: *mut Timer, pid: u32) -> &'static Timer {
    let made =
        Box::into_raw(Box::new(Timer { naps: Mutex::default(), changed: Condvar::new(), base: Instant::now(), pid }));
    // ORDERING: AcqRel; Release publishes the timer made above, Acquire
    // sees the one another thread made first.
    match TIMER.compare_exchange(current, made, AcqRel, Acquire) {
        Ok(_) => {
            // SAFETY: `made` was leaked above and is never freed.
            let timer: &'static Timer = unsafe { &*made };
            if std::thread::Builder::new().name("slotcast-timer".into()).spawn(move || run(timer)).is_err() {
                timer.lock().no_thread = true;
            }
            timer
        }
        Err(_) => {
            // SAFETY: `made` was never shared: ours to free.
            drop(unsafe { Box::from_raw(made) });
            timer()
        }
    }
}

impl Timer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Naps> {
        // Every operation under the lock is an insert or a remove: a panic
        // leaves the map consistent.
        self.naps.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `at`, rounded up to the next multiple of `grid` since the timer's start:
/// naps that need no precision share their due times, so the timer thread
/// wakes at most once per `grid` for all of them however many tasks set
/// them.
pub(crate) fn on_grid(at: Instant, grid: Duration) -> Instant {
    let base = timer().base;
    let grid = grid.as_nanos().max(1);
    let offset = at.saturating_duration_since(base).as_nanos();
    let steps = offset.div_ceil(grid);
    base + Duration::from_nanos(u64::try_from(steps * grid).unwrap_or(u64::MAX))
}

/// Wakes `wake` at `due` (or soon after), unless [`cancel`]led first.
pub(crate) fn after(due: Instant, wake: Wake) -> NapKey {
    let timer = timer();
    let mut naps = timer.lock();
    naps.order += 1;
    let key = NapKey(due, naps.order);
    if naps.no_thread {
        // No thread to wait: wake at once, the task polls again (it spins
        // through its executor rather than never waking).
        drop(naps);
        fire(wake);
        return key;
    }
    let earliest = naps.due.first_key_value().is_none_or(|(first, _)| key < *first);
    naps.due.insert(key, wake);
    drop(naps);
    if earliest {
        timer.changed.notify_one();
    }
    key
}

/// Forgets a nap that is no longer needed (its wait ended), so that it
/// wakes nothing. The thread is not told: if it planned to wake for this
/// nap, it wakes, finds nothing due, and sleeps on.
pub(crate) fn cancel(key: NapKey) {
    timer().lock().due.remove(&key);
}

fn fire(wake: Wake) {
    match wake {
        Wake::Task(tasks, key) => {
            if let Some(tasks) = tasks.upgrade() {
                tasks.wake(key);
            }
        }
        Wake::Waker(waker) => waker.wake(),
    }
}

/// The timer thread: sleeps until the earliest nap is due, fires every due
/// nap outside the lock.
fn run(timer: &'static Timer) {
    let mut due = Vec::new();
    loop {
        let mut naps = timer.lock();
        loop {
            let now = Instant::now();
            while let Some(entry) = naps.due.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            if !due.is_empty() {
                break;
            }
            naps = match naps.due.first_key_value() {
                Some((first, _)) => {
                    let left = first.0.saturating_duration_since(now);
                    timer.changed.wait_timeout(naps, left).unwrap_or_else(std::sync::PoisonError::into_inner).0
                }
                None => timer.changed.wait(naps).unwrap_or_else(std::sync::PoisonError::into_inner),
            };
        }
        drop(naps);
        for wake in due.drain(..) {
            fire(wake);
        }
    }
}
