//! How async tasks wait: for the next event, for room in the ring or a
//! pool, for a free slot. Built on [`Waker`](std::task::Waker) alone, so
//! every executor can drive the futures (tokio, async-std, smol, a
//! hand-written `block_on`).
//!
//! **Events.** A task with nothing to read takes the place of a sleeping
//! `Blocking` reader in the wake-up protocol of `wait.rs`, with its waker
//! where the thread's sleep would be:
//!
//! ```text
//! writer (unchanged)                          task, on a poll that finds nothing
//! published.store(seq, Release)               count in `blocking` (epoch e), list its waker
//! b = blocking.load(Relaxed)                  (acked >= e ?)            Acquire
//! if count(b) == 0 { return }                 waiters.fetch_add(1, AcqRel)
//! if waiters.fetch_add(0, AcqRel) > 0 {       if published.load(Acquire) != cursor { read }
//!     waiters.swap(0, AcqRel)                 unacknowledged: a timer polls again after a nap
//!     futex.fetch_add(1, Release)             Pending
//!     futex_wake_all; take the listed tasks
//!     out, uncount them, wake them
//! }
//! ```
//!
//! * **Nothing when nobody waits.** A task is counted in `blocking` only
//!   while a wait of it is listed: the wake-up that takes it out of the
//!   list uncounts it, and so does the end of the wait or the drop of its
//!   future if it is still listed (a woken task that still finds nothing
//!   lists and counts itself again). With no task waiting (and no
//!   `Blocking` reader) the writer's whole cost is the Relaxed load of
//!   `blocking` it makes already after every publish: no extra load, no
//!   read-modify-write, no syscall.
//! * **One process.** The writer's wake-up (`Futex::wake_all`) wakes the
//!   process's task list after the kernel's sleepers: the publishing thread
//!   itself calls `Waker::wake`, no thread in between.
//! * **Across processes.** The kernel wakes only threads: the first task of
//!   a process to wait on a shared runtime starts a thread of that process
//!   (`slotcast-wake`) that sleeps on the futex word and takes the
//!   process's tasks out of the list after every bump of it. A task lists
//!   its waker before its RMW on `waiters`, which the writer's RMWs acquire
//!   before its bump, which the thread acquires before it takes the list:
//!   every task the bump is for is in the list it takes. The thread holds
//!   no handle: it reads the arena (and uncounts the tasks it took) under a
//!   lease that the arena's drop waits out, and sleeps and wakes the tasks
//!   outside it, so a waker may run anything. While another process holds
//!   the writer role the thread also reaps dead processes about once a
//!   millisecond, so a writer that dies ends the tasks' waits
//!   (`WriterDead`) as it ends the blocking forms'; a reap that ends the
//!   stream wakes the tasks itself (a writer killed between resetting
//!   `waiters` and bumping the word left nobody counted there). The thread
//!   stops after 100 ms without a waiting task.
//! * **The unacknowledged race.** The writer's Relaxed load of `blocking`
//!   may miss a registration still in flight while the task misses the
//!   writer's `published` (the store-buffering race of `wait.rs`). A
//!   blocking reader covers it with bounded naps until the writer
//!   acknowledges its registration; a task does the same with the timer
//!   thread (`sync/timer.rs`): an unacknowledged wait is polled again after
//!   1 ms, then 2, 4, ... up to 100 ms (on a 1 ms grid, cancelled when the
//!   wait ends). In that race an event can be seen late by one nap, or by
//!   the time to the writer's next publish, which sees the registration and
//!   wakes the task. A wait whose process could not start its futex thread
//!   naps too, acknowledged or not.
//!
//! **Room.** Readers never wake the writer (it would cost every read a
//! read-modify-write): a task facing a full ring or pool yields to its
//! executor a few times, then looks again after naps of 20 µs growing to
//! 1 ms (the timer thread), as the blocking forms sleep.
//!
//! **Free slots.** An allocator task waiting for a free slot is woken by
//! the pointer drop that frees one in its process ([`SlotWait`]): every
//! drop checks the count of waiting allocators (two dependent loads while
//! none waits: the list's pointer, then its count); with one waiting, it
//! takes the list before it frees, since the arena may go after, and wakes
//! it out of line. A free it misses (a registration racing the drop,
//! another process's drop, the writer handing back slots) is seen at the
//! wait's next nap (one at a time: each replaces the last).
//!
//! **Checked.** `loom_tests/task_wake.rs` models a task waiting for two
//! events while the writer publishes them (under a parking `block_on`, a
//! task nobody woke is a deadlock, which loom reports); its mutants list a
//! waker that wakes nothing until after the RMW on `waiters`
//! (`task_register_after`) and leave the list unwoken (`tasks_unwoken`).
//! The timer and the futex thread are plain std, outside the model: the
//! thread's argument is above, and the tests of real processes
//! (`tests/ipc.rs`) run it.
//!
//! **Cancellation.** A wait keeps nothing but its registration: dropping its
//! future unregisters it (the owner's `Drop` calls [`TaskWait::finish`]),
//! and the cursor, the ring and the pools are as they were.

use crate::lifetime::{Anchor, ArenaCtl};
use crate::wait::{self, Blocking};
use std::task::Context;
#[cfg(not(loom))]
use {
    crate::sync::{Arc, Futex, Ordering::*, Tasks, Woken, timer},
    crate::wait::WATCH_EVERY,
    std::future::Future,
    std::ptr::NonNull,
    std::task::Poll,
    std::time::{Duration, Instant},
};

/// How long the futex thread of a process stays after its last task
/// stopped waiting.
#[cfg(not(loom))]
const LINGER: Duration = Duration::from_millis(100);

/// One async wait for events: its key in the arena's task list and its
/// count in `blocking`, both taken at the first poll that finds nothing and
/// given back by [`finish`](TaskWait::finish).
#[derive(Debug, Default)]
pub(crate) struct TaskWait {
    /// The wait's key in the task list (0: none yet).
    key: u64,
    registration: Option<Blocking>,
    /// The timer's nap of an unacknowledged wait, cancelled when it ends.
    #[cfg(not(loom))]
    nap: Option<timer::NapKey>,
    /// This poll could not start the futex thread its task needs: nap.
    no_thread: bool,
}

impl TaskWait {
    pub(crate) const fn new() -> Self {
        Self {
            key: 0,
            registration: None,
            #[cfg(not(loom))]
            nap: None,
            no_thread: false,
        }
    }

    /// Nothing to read at `cursor`: arranges for `cx`'s task to be woken
    /// when the writer publishes past it or the stream's state changes.
    /// Returns `Some(published)` if there is no need to wait (read again),
    /// `None` once the task may return `Pending`.
    pub(crate) fn pend(
        &mut self,
        shared: &Anchor,
        cursor: u64,
        dead_seen: Option<u64>,
        cx: &Context<'_>,
    ) -> Option<u64> {
        let arena = &shared.arena;
        let header = arena.header();
        let tasks = arena.futex().tasks();
        if self.key == 0 {
            self.key = tasks.key();
        }
        // The waker is in the list, and the task counted in `blocking`,
        // before the task counts itself in `waiters`: a writer whose RMW
        // there sees it wakes the list after. Mutant: list a waker that
        // wakes nothing until after the RMW (a lost wake-up).
        let register_after = cfg!(slotcast_mutant = "task_register_after");
        let listed = if register_after { std::task::Waker::noop() } else { cx.waker() };
        self.register(shared, listed);
        let Some(registration) = self.registration.as_mut() else {
            unreachable!("a listed wait holds its registration")
        };
        let registered = wait::task_registers(registration, header, cursor, dead_seen);
        if register_after {
            self.register(shared, cx.waker());
        }
        match registered {
            Ok(published) => Some(published),
            Err(None) if !self.no_thread => None,
            Err(nap) => {
                let nap = nap.unwrap_or(wait::MAX_NAP);
                self.no_thread = false;
                self.nap(tasks, nap);
                None
            }
        }
    }

    /// Puts the task's waker in the list. A new entry (the wait's first, or
    /// one after a wake-up took the last out, and its count with it) counts
    /// the task in `blocking` first; the first of a process's tasks waiting
    /// on a shared runtime starts its futex thread.
    fn register(&mut self, shared: &Anchor, waker: &std::task::Waker) {
        let header = shared.arena.header();
        let mut fresh = None;
        let registered = shared.arena.futex().tasks().register(self.key, waker, || {
            let registration = wait::register_blocking(header);
            let counted = registration.is_counted();
            fresh = Some(registration);
            counted
        });
        if fresh.is_some() {
            self.registration = fresh;
        }
        #[cfg(not(loom))]
        if registered.start_thread && shared.shared.is_some() && !start_futex_thread(shared) {
            // No thread to wake this process's tasks for a writer in
            // another process: the naps alone bound the wait, acknowledged
            // or not (see `pend`).
            self.no_thread = true;
        }
        #[cfg(loom)]
        let _ = registered.start_thread;
    }

    /// On the timer's 1 ms grid: the nap only bounds a rare race, so its
    /// precision does not matter, and the timer thread then wakes at most
    /// once a millisecond for all the waits of the process.
    #[cfg(not(loom))]
    fn nap(&mut self, tasks: &Arc<Tasks>, nap: Duration) {
        if let Some(old) = self.nap.take() {
            timer::cancel(old);
        }
        let due = timer::on_grid(Instant::now() + nap, Duration::from_millis(1));
        self.nap = Some(timer::after(due, timer::Wake::Task(Arc::downgrade(tasks), self.key)));
    }

    /// Loom has no clock: the models keep the writer's count of waiting
    /// readers non-zero (an acknowledged blocking reader), so that a task
    /// relies on the writer's wake-up alone (see `loom_tests/task_wake.rs`).
    #[cfg(loom)]
    #[allow(clippy::disallowed_types, reason = "the list's `Arc` is std's in every build (see `Futex::tasks`)")]
    fn nap(&mut self, _tasks: &std::sync::Arc<crate::sync::Tasks>, _nap: std::time::Duration) {}

    /// Ends the wait: uncounts it and takes its waker out of the list. Every
    /// owner calls it when the wait ends and in its `Drop`.
    pub(crate) fn finish(&mut self, ctl: &ArenaCtl) {
        #[cfg(not(loom))]
        if let Some(nap) = self.nap.take() {
            timer::cancel(nap);
        }
        let registration = self.registration.take();
        if self.key != 0 {
            // Still listed: the count is ours to take back. Taken out by a
            // wake-up: its waker took the count back already.
            if let (Some(true), Some(registration)) = (ctl.arena.futex().tasks().remove(self.key), registration) {
                wait::unregister_blocking(ctl.arena.header(), registration);
            }
            self.key = 0;
        }
    }
}

/// What the futex thread holds: the process's task list (an `Arc` of its
/// own) and a pointer to the arena, read only under a lease of the list
/// ([`Tasks::lease`]). No handle: a handle would keep this process attached
/// to the shared file after its last user handle is dropped (and a process
/// that then exits would leave the file looking as if it had died).
#[cfg(not(loom))]
struct Detached {
    tasks: Arc<Tasks>,
    ctl: NonNull<ArenaCtl>,
}

// SAFETY: the list is `Send + Sync`; the pointer is dereferenced only under
// a lease (`Detached::arena`), which the arena's drop waits out before it
// frees anything, and an `ArenaCtl` is `Sync`.
#[cfg(not(loom))]
unsafe impl Send for Detached {}

#[cfg(not(loom))]
impl Detached {
    /// `f` on the arena, if it is still there.
    fn arena<R>(&self, f: impl FnOnce(&ArenaCtl) -> R) -> Option<R> {
        let _lease = self.tasks.lease()?;
        // SAFETY: under the lease the arena is alive: `ArenaCtl::drop` ends
        // the leases (waiting for this one) before it tears anything down.
        Some(f(unsafe { self.ctl.as_ref() }))
    }
}

#[cfg(not(loom))]
/// Starts this process's futex thread for a shared runtime's tasks (see the
/// module docs). Returns whether it started; if not, the next registration
/// tries again, and meanwhile the waits that could not start it nap.
fn start_futex_thread(shared: &Anchor) -> bool {
    let tasks = Arc::clone(shared.arena.futex().tasks());
    let detached = Detached { tasks, ctl: shared.ctl_ptr() };
    let started = std::thread::Builder::new().name("slotcast-wake".into()).spawn(move || futex_thread(&detached));
    if started.is_err() {
        shared.arena.futex().tasks().thread_failed();
    }
    started.is_ok()
}

#[cfg(not(loom))]
/// Sleeps on the futex word and wakes this process's tasks after every
/// bump; reaps dead processes while another process holds the writer role;
/// stops after [`LINGER`] without a waiting task, or once the arena is
/// gone. Reads the arena only under leases, and sleeps and wakes tasks
/// outside them (a waker may run anything, even the drop of the runtime's
/// last handle, which waits for the lease).
fn futex_thread(detached: &Detached) {
    let tasks = &*detached.tasks;
    let start = detached.arena(|ctl| {
        let word = &ctl.arena.header().wake.futex;
        // ORDERING(futex): Acquire; pairs with the writer's Release bump:
        // the registrations that bump served are in the list taken after.
        let last = word.load(Acquire);
        // Tasks that registered before that load: their bump may be older.
        (std::ptr::from_ref(word), last, ctl.entry() as u64 + 1, take_uncounted(ctl, tasks))
    });
    let Some((word, mut last, me, woken)) = start else {
        tasks.thread_failed();
        return;
    };
    woken.wake();
    // Since when no task has waited (woken tasks that wait again register
    // again at once: only a list empty for `LINGER` stops the thread).
    let mut idle: Option<Instant> = None;
    loop {
        let watch = detached.arena(|ctl| {
            // ORDERING: Relaxed; a hint, the reaper takes the role's word.
            let owner = ctl.arena.header().writer.owner.load(Relaxed);
            owner != 0 && owner != me
        });
        let Some(watch) = watch else { break };
        Futex::wait_detached(word, last, if watch { WATCH_EVERY } else { LINGER });
        let looked = detached.arena(|ctl| {
            // ORDERING(futex): Acquire; as above.
            let now = ctl.arena.header().wake.futex.load(Acquire);
            (now != last).then(|| (now, take_uncounted(ctl, tasks)))
        });
        let Some(bumped) = looked else { break };
        if let Some((now, woken)) = bumped {
            last = now;
            woken.wake();
            continue;
        }
        if !tasks.is_empty() {
            idle = None;
            if watch && !reap(detached, tasks) {
                break;
            }
            continue;
        }
        let since = *idle.get_or_insert_with(Instant::now);
        if since.elapsed() >= LINGER && tasks.thread_may_stop() {
            return;
        }
    }
    // The arena is gone (its tasks, which held its handles, with it).
    tasks.thread_failed();
}

/// Takes every task out of the list and their counts out of `blocking`
/// (under the caller's lease), to be woken after the lease.
#[cfg(not(loom))]
fn take_uncounted(ctl: &ArenaCtl, tasks: &Tasks) -> Woken {
    let woken = tasks.take_all();
    wait::uncount(ctl.arena.header(), woken.counted);
    woken
}

/// Reaps dead processes for the tasks waiting on a writer in another
/// process. A dead writer's reaper marks the stream and wakes the tasks
/// counted in `waiters` (deferred here to after the lease); if the writer
/// died between resetting `waiters` and bumping the futex word, nobody is
/// counted there any more, so once the stream has ended this thread wakes
/// its tasks itself. Returns `false` once the arena is gone.
#[cfg(not(loom))]
fn reap(detached: &Detached, tasks: &Tasks) -> bool {
    let (reaped, deferred) = crate::sync::deferring(|| {
        detached.arena(|ctl| {
            let ended = ctl.sweep_dead(false) && !wait::is_open(ctl.arena.header());
            ended.then(|| take_uncounted(ctl, tasks))
        })
    });
    deferred.into_iter().for_each(std::task::Waker::wake);
    match reaped {
        None => false,
        Some(woken) => {
            if let Some(woken) = woken {
                woken.wake();
            }
            true
        }
    }
}

/// An allocator task's wait for a free slot: its waker in this process's
/// list of slot waiters (`ArenaCtl::slot_tasks`), which the last drop of a
/// pointer in this process wakes when it frees a slot (one load in every
/// drop while nobody waits). The drop loads the list's count before it
/// frees, so a registration racing it, a slot freed by another process or
/// by the writer's hand-back is seen at the next of the wait's naps
/// (20 µs growing to 1 ms, the timer thread) instead.
#[cfg(not(loom))]
pub(crate) struct SlotWait<'a> {
    tasks: &'a Tasks,
    /// The wait's key in the list (0: none yet).
    key: u64,
    naps: u32,
    /// The nap set last: replaced by the next one, cancelled at the end,
    /// so that a wait polled for other reasons does not gather naps.
    nap: Option<timer::NapKey>,
}

#[cfg(not(loom))]
impl<'a> SlotWait<'a> {
    pub(crate) fn new(tasks: &'a Tasks) -> Self {
        Self { tasks, key: 0, naps: 0, nap: None }
    }

    /// Registers the task before it looks for a slot: a slot freed after
    /// the look wakes it.
    pub(crate) fn register(&mut self, cx: &Context<'_>) {
        if self.key == 0 {
            self.key = self.tasks.key();
        }
        // No count in `blocking`: the drops that free slots wake this list.
        let _ = self.tasks.register(self.key, cx.waker(), || false);
    }

    /// The look found none: the task waits, polled again at the latest
    /// after the next nap.
    pub(crate) fn nap(&mut self, cx: &Context<'_>) {
        let nap = Duration::from_micros(20 << self.naps.min(6)).min(Duration::from_millis(1));
        self.naps = self.naps.saturating_add(1);
        if let Some(old) = self.nap.take() {
            timer::cancel(old);
        }
        self.nap = Some(timer::after(Instant::now() + nap, timer::Wake::Waker(cx.waker().clone())));
    }
}

#[cfg(not(loom))]
impl Drop for SlotWait<'_> {
    fn drop(&mut self) {
        if let Some(nap) = self.nap.take() {
            timer::cancel(nap);
        }
        if self.key != 0 {
            self.tasks.remove(self.key);
        }
    }
}

#[cfg(not(loom))]
/// How many times a task facing a full ring or pool yields to its executor
/// before it naps.
const ROOM_YIELDS: u32 = 8;

#[cfg(not(loom))]
/// The pauses of a task waiting for room in the ring or a pool, or for a
/// free slot: a few yields to the executor, then naps of 20 µs growing to
/// 1 ms, as the blocking forms' `Blocking` waits.
#[derive(Debug, Default)]
pub(crate) struct RoomBackoff {
    round: u32,
}

#[cfg(not(loom))]
impl RoomBackoff {
    pub(crate) const fn new() -> Self {
        Self { round: 0 }
    }

    /// One pause: a future that completes after it.
    pub(crate) fn pause(&mut self) -> impl Future<Output = ()> + Send + 'static {
        let round = self.round;
        self.round = self.round.saturating_add(1);
        let nap =
            round.checked_sub(ROOM_YIELDS).map(|k| Duration::from_micros(20 << k.min(6)).min(Duration::from_millis(1)));
        let mut due: Option<Instant> = None;
        std::future::poll_fn(move |cx| {
            let Some(nap) = nap else {
                // A yield: be polled again after the executor's other tasks.
                if due.is_some() {
                    return Poll::Ready(());
                }
                due = Some(Instant::now());
                cx.waker().wake_by_ref();
                return Poll::Pending;
            };
            let now = Instant::now();
            match due {
                Some(at) if now >= at => Poll::Ready(()),
                _ => {
                    let at = *due.get_or_insert(now + nap);
                    timer::after(at, timer::Wake::Waker(cx.waker().clone()));
                    Poll::Pending
                }
            }
        })
    }
}

#[cfg(all(test, not(loom)))]
#[allow(clippy::disallowed_types, reason = "a waker is made from a std `Arc`")]
mod tests {
    use crate::Runtime;
    use crate::sync::Ordering::Relaxed;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll, Wake, Waker};
    use std::time::{Duration, Instant};

    /// Counts its wake-ups, and those made by the thread that made it (the
    /// test's: not the timer's, whose naps may fire at any time, all the
    /// more under Miri).
    struct Count(AtomicUsize, AtomicUsize, std::thread::ThreadId);

    impl Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Relaxed);
            if std::thread::current().id() == self.2 {
                self.1.fetch_add(1, Relaxed);
            }
        }
    }

    impl Count {
        /// Wake-ups made by the test's own thread.
        fn here(&self) -> usize {
            self.1.load(Relaxed)
        }
    }

    fn counting() -> (std::sync::Arc<Count>, Waker) {
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0), AtomicUsize::new(0), std::thread::current().id()));
        (count.clone(), Waker::from(count))
    }

    fn blocking_count(rt: &Runtime) -> u32 {
        rt.shared().arena.header().wake.blocking.load(Relaxed) as u32
    }

    /// The writer's whole cost with no task waiting is its load of
    /// `blocking`: the count is zero unless a wait is pending (and the
    /// `Blocking` reader's own registration is given up by its first async
    /// wait, taken again by its next blocking wait).
    #[test]
    #[cfg_attr(
        miri,
        ignore = "starts the timer thread, which outlives the test binary's main thread (Miri's leg for the async forms runs these paths)"
    )]
    fn a_task_is_counted_only_while_it_waits() {
        let rt = Runtime::new().unwrap();
        let mut reader = rt.reader().unwrap();
        let mut writer = rt.writer().unwrap();
        assert_eq!(blocking_count(&rt), 1, "a Blocking reader counts from its join");
        let (_, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        {
            let mut wait = pin!(reader.recv_async());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            assert_eq!(blocking_count(&rt), 1, "the pending task, instead of the reader");
        }
        assert_eq!(blocking_count(&rt), 0, "a dropped wait is uncounted");
        writer.try_publish_bytes(0, b"x").unwrap();
        {
            let mut wait = pin!(reader.recv_async());
            let Poll::Ready(Ok(event)) = wait.as_mut().poll(&mut cx) else { panic!("an event was ready") };
            assert_eq!(event.data(), b"x");
        }
        assert_eq!(blocking_count(&rt), 0, "a wait that never pended counts nothing");
        assert!(reader.recv_timeout(Duration::from_millis(1)).unwrap().is_none());
        assert_eq!(blocking_count(&rt), 1, "a blocking wait counts the reader again");
    }

    /// In one process the publishing thread itself wakes the task, within
    /// the publish (no thread in between).
    #[test]
    #[cfg_attr(
        miri,
        ignore = "starts the timer thread, which outlives the test binary's main thread (Miri's leg for the async forms runs these paths)"
    )]
    fn the_writers_publish_wakes_a_waiting_task_itself() {
        let rt = Runtime::new().unwrap();
        let mut reader = rt.reader().unwrap();
        let mut writer = rt.writer().unwrap();
        // Acknowledge the registrations to come: the writer has loaded the
        // count with a task in it once (a first wait, woken by a publish).
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        for round in 1..=3 {
            let mut wait = pin!(reader.recv_async());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            writer.try_publish_bytes(0, b"x").unwrap();
            assert_eq!(count.here(), round, "round {round}: not woken by the publish");
            // The wake-up took the task's count with it: the next publish
            // has nobody to look for, before the task even runs.
            assert_eq!(blocking_count(&rt), 0, "round {round}: a woken task is still counted");
            assert!(wait.as_mut().poll(&mut cx).is_ready());
        }
    }

    /// The drop that frees a slot wakes the allocator task waiting for one,
    /// within the drop (not at the wait's next nap); a drop that frees
    /// nothing wakes nobody.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "starts the timer thread, which outlives the test binary's main thread (Miri's leg for the async forms runs these paths)"
    )]
    fn the_drop_that_frees_a_slot_wakes_a_waiting_allocation() {
        let rt = Runtime::builder().slots(crate::SizeClass::S, 1).build().unwrap();
        let alloc = rt.allocator();
        let held = alloc.try_alloc_bytes(0, &[1; 100]).unwrap();
        let other = held.clone();
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut wait = pin!(alloc.alloc_bytes_async(0, &[2; 100]));
        assert!(wait.as_mut().poll(&mut cx).is_pending(), "the pool is full");
        drop(other);
        assert_eq!(count.here(), 0, "a drop that frees nothing wakes nobody");
        drop(held);
        assert_eq!(count.here(), 1, "the freeing drop wakes the allocation");
        let Poll::Ready(Ok(second)) = wait.as_mut().poll(&mut cx) else { panic!("the freed slot is claimed") };
        assert_eq!(second[0], 2);
    }

    /// A wait whose registration no publish has acknowledged is polled
    /// again by the timer (the store-buffering race's bound), and then
    /// again, with growing naps, while nothing comes.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "starts the timer thread, which outlives the test binary's main thread (Miri's leg for the async forms runs these paths)"
    )]
    fn an_unacknowledged_wait_is_polled_again_by_the_timer() {
        let rt = Runtime::new().unwrap();
        let mut reader = rt.reader().unwrap();
        let _writer = rt.writer().unwrap();
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut wait = pin!(reader.recv_async());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        let start = Instant::now();
        for woken in 1..=3 {
            while count.0.load(Relaxed) < woken {
                assert!(start.elapsed() < Duration::from_secs(10), "the timer never polled the wait again");
                crate::sync::sleep(Duration::from_millis(1));
            }
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
    }
}
