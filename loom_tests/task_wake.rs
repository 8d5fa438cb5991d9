//! Async wait: no lost wake-up between the writer's publish and a task
//! going `Pending` (`task_wait.rs`). The task is driven by loom's
//! `block_on`, which parks the thread until the task's waker is woken: a
//! task left waiting with nobody to wake it is a deadlock, which loom
//! reports.
//!
//! The reader waits for two events with `recv_async` while the writer
//! publishes them (each followed by `wait::wake_readers`). A task counts
//! itself among the readers that may sleep only while it waits, and its
//! count is never acknowledged before the publish it waits for: in the
//! store-buffering race of `wait.rs` the writer's Relaxed load of the count
//! misses it, and the shipped code then has the timer poll the task again
//! after a nap, which loom (no clock) leaves out. So a second reader, lossy
//! (it never holds the writer back) and `Blocking`, acknowledged before the
//! threads start, keeps the count non-zero: the writer runs the sleeper
//! protocol after every publish, and the task relies on it alone, the list
//! of wakers included. Two events, so that the writer's reset of `waiters`
//! after the first wake can meet the task's registration for the second.
//! The writer is handed back and dropped after the reads: its close wakes
//! every task, which would hide a lost wake-up.
//!
//! Catches: the task putting its waker in the list after counting itself in
//! `waiters` (the writer's RMW sees the count, wakes a list without the
//! waker, and the task goes `Pending` having missed `published`); the
//! permanent mutant `task_register_after`. The writer waking the sleeping
//! threads but not the list; the mutant `tasks_unwoken`. And, as in
//! `wake.rs`, the writer's RMW on `waiters` weakened to a load (`wake_load`,
//! verified by hand).

use crate::common::*;
use loom::thread;
use slotcast::{Policy, ReaderOptions, WaitStrategy};

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 2, WaitStrategy::Blocking);
    let _keeper = rt.reader_with(ReaderOptions::new().policy(Policy::Lossy)).unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    // Event 0, before the threads: the writer acknowledges both readers'
    // registrations (the task's reader gives its own up at its first wait).
    publish(&mut writer, 0);
    assert_event(&reader.try_recv().unwrap().unwrap(), 0);
    let w = thread::spawn(move || {
        for seq in 1..3 {
            publish(&mut writer, seq);
        }
        writer
    });
    loom::future::block_on(async {
        for seq in 1..3 {
            let event = reader.recv_async().await.unwrap();
            assert_event(&event, seq);
        }
    });
    drop(w.join().unwrap());
}

#[test]
fn a_waiting_task_is_always_woken() {
    check(BOUND, model);
}
