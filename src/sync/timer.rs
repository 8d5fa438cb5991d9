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
//! arena's [`Tasks`] (a `Weak` and a key), so a nap that outlives its wait
//! wakes nothing; a writer's nap holds its waker, and at worst polls a
//! future that moved on once more, which every future allows.

#![allow(clippy::disallowed_types, reason = "the shim itself: a mutex and a condition variable run the timer")]

use super::tasks::Tasks;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock, Weak};
use std::task::Waker;
use std::time::Instant;

/// Whom a nap wakes.
pub(crate) enum Wake {
    /// Wait `key` of an arena's task list, if it still waits.
    Task(Weak<Tasks>, u64),
    /// This task.
    Waker(Waker),
}

struct Nap {
    due: Instant,
    /// Tie-break: naps due at once fire in the order they were set.
    order: u64,
    wake: Wake,
}

impl PartialEq for Nap {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for Nap {}
impl PartialOrd for Nap {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Nap {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

#[derive(Default)]
struct Naps {
    heap: BinaryHeap<Reverse<Nap>>,
    order: u64,
    /// The thread could not be started: naps are served by whoever sets
    /// the next one (see `after`), never lost.
    no_thread: bool,
}

struct Timer {
    naps: Mutex<Naps>,
    changed: Condvar,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let started = std::thread::Builder::new().name("slotcast-timer".into()).spawn(run);
        let timer = Timer { naps: Mutex::default(), changed: Condvar::new() };
        if started.is_err() {
            timer.lock().no_thread = true;
        }
        timer
    })
}

impl Timer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Naps> {
        // Every operation under the lock is a push or a pop: a panic leaves
        // the heap consistent.
        self.naps.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Wakes `wake` at `due` (or soon after).
pub(crate) fn after(due: Instant, wake: Wake) {
    let timer = timer();
    let mut naps = timer.lock();
    if naps.no_thread {
        // No thread to wait: wake at once, the task polls again (it spins
        // through its executor rather than never waking).
        drop(naps);
        fire(wake);
        return;
    }
    naps.order += 1;
    let order = naps.order;
    let earliest = naps.heap.peek().is_none_or(|Reverse(first)| due < first.due);
    naps.heap.push(Reverse(Nap { due, order, wake }));
    drop(naps);
    if earliest {
        timer.changed.notify_one();
    }
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
fn run() {
    let timer = timer();
    let mut due = Vec::new();
    loop {
        let mut naps = timer.lock();
        loop {
            let now = Instant::now();
            while naps.heap.peek().is_some_and(|Reverse(first)| first.due <= now) {
                if let Some(Reverse(nap)) = naps.heap.pop() {
                    due.push(nap.wake);
                }
            }
            if !due.is_empty() {
                break;
            }
            naps = match naps.heap.peek() {
                Some(Reverse(first)) => {
                    let left = first.due.saturating_duration_since(now);
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
