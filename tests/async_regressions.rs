//! Regressions of defects once found in the async forms and the allocator,
//! each seen failing before its fix: an allocation's naps gathering at
//! every poll, a forked child's timer that never fired, and the slots a
//! reader still covered when the writer left never coming back.
// A fork, and waits timed in milliseconds: real processes and real time,
// which Miri has neither of.
#![cfg(not(miri))]
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the tests run their own wakers, counters and pacing on std types"
)]

mod common;
use common::block_on;
use slotcast::{Runtime, SizeClass};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

/// Counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// An allocation waiting on a full pool is polled by its executor whenever
/// it is woken (here: at most once per look, as an executor coalescing
/// wakes does). Every `Pending` poll of `alloc_with_async` sets a timer nap
/// holding a waker (`SlotWait::nap`); each replaces the last, which is
/// cancelled. When none was, a poll that a nap did not cause (a freeing
/// drop's wake-up, a `select!` sibling, any spurious wake) started one more
/// chain of naps re-arming itself at every poll: after 100 ms of unprompted
/// polls the idle wait was polled 4 to 6 times a millisecond for as long as
/// it waited, instead of about once.
#[test]
fn a_waiting_allocation_is_polled_about_once_a_millisecond_however_often_it_was_polled() {
    let rt = Runtime::builder().slots(SizeClass::S, 1).build().unwrap();
    let alloc = rt.allocator();
    let _held = alloc.try_alloc_bytes(0, &[1; 100]).unwrap();
    let count = std::sync::Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);
    let mut wait = pin!(alloc.alloc_bytes_async(0, &[2; 100]));
    assert!(wait.as_mut().poll(&mut cx).is_pending(), "the pool is full");
    // Poll whenever woken (once per look, as an executor coalescing wakes
    // does); for the first 100 ms also poll once every 97 µs unprompted, as
    // freeing drops whose slot another allocation took first would, or a
    // busy `select!` sibling.
    let mut seen = count.0.load(SeqCst);
    let mut run = |for_: Duration, extra: bool| {
        let start = Instant::now();
        let mut polls = 0u64;
        let mut next_extra = Duration::from_micros(97);
        while start.elapsed() < for_ {
            let now = count.0.load(SeqCst);
            let spurious = extra && start.elapsed() >= next_extra;
            if now != seen || spurious {
                if spurious {
                    next_extra += Duration::from_micros(97);
                }
                seen = now;
                polls += 1;
                assert!(wait.as_mut().poll(&mut cx).is_pending());
            } else {
                std::hint::spin_loop();
            }
        }
        polls
    };
    let _ = run(Duration::from_millis(100), true);
    let polls = run(Duration::from_millis(100), false);
    // One chain of 1 ms naps: at most about 100 polls in 100 ms (57 seen
    // here with no unprompted poll before; 416 to 587 after them).
    assert!(polls <= 200, "an idle allocation wait was polled {polls} times in 100 ms");
}

/// The timer thread (`sync/timer.rs`) serves the process that started it: a
/// child forked after the parent used it inherits the timer but not its
/// thread, and makes its own. When it did not (the timer lived behind a
/// `OnceLock`), no nap of the child ever fired, and a runtime the child
/// built for itself hung wherever only a nap wakes a task: here an async
/// writer facing a full ring (readers never wake the writer), which the
/// child's own reader drains 20 ms later.
#[cfg(all(target_os = "linux", not(miri)))]
/// An async writer facing a full ring of 2, which a reader thread drains
/// 20 ms later: only the timer's naps bring the writer back.
fn writer_waits_for_a_slow_reader() {
    let rt = Runtime::builder().ring_capacity(2).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let drain = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..4 {
            drop(reader.recv().unwrap());
        }
    });
    for i in 0..4u8 {
        block_on(writer.publish_bytes_async(0, &[i])).unwrap();
    }
    drain.join().unwrap();
}

#[test]
fn a_forked_child_runs_its_own_async_writer() {
    // The parent's timer: any async wait for room starts it.
    writer_waits_for_a_slow_reader();
    // SAFETY: the child builds its own runtime and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        writer_waits_for_a_slow_reader();
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: a plain waitpid on our child.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            break;
        }
        if start.elapsed() > Duration::from_secs(5) {
            // SAFETY: a signal to our own child, which has not been reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: a plain waitpid on our child, with a valid status.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            panic!("the forked child's async writer never got the room its reader made (5 s)");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child failed: {status}");
}

/// `Allocator::return_ring_slots` borrows the writer role to return the
/// slots a gone writer kept, but a borrow returns only those no reader
/// needs any more: slots a slow reader still covers stay the ring's. It
/// stops borrowing for a writer (epoch) only once a borrow left nothing
/// kept. When it stopped after the first borrow, the slots the reader
/// covered then stayed out of the pools until a new writer came, and an
/// async allocation waited for them forever.
#[test]
fn slots_a_reader_covered_when_the_writer_left_return_once_it_moves_on() {
    let rt = Runtime::builder().slots(SizeClass::S, 2).build().unwrap();
    let alloc = rt.allocator();
    let mut reader = rt.reader().unwrap();
    {
        let mut writer = rt.writer().unwrap();
        writer.try_publish_bytes(0, &[1; 200]).unwrap();
        writer.try_publish_bytes(0, &[2; 200]).unwrap();
    }
    // The reader covers both events: nothing to return yet (this claim
    // borrows the role, the one time for this writer).
    assert!(alloc.try_alloc_bytes(0, &[3; 200]).is_err(), "the reader still covers both slots");
    for _ in 0..2 {
        drop(reader.try_recv().unwrap().unwrap());
    }
    assert!(matches!(reader.try_recv(), Err(slotcast::ReadError::Closed)));
    // Nobody needs the slots any more.
    let claimed = alloc.try_alloc_bytes(0, &[3; 200]);
    assert!(claimed.is_ok(), "a slot no reader needs stays the ring's: {claimed:?}");
    let waited = block_on(async {
        let timeout = Instant::now() + Duration::from_secs(2);
        let mut wait = pin!(alloc.alloc_bytes_async(0, &[4; 200]));
        std::future::poll_fn(|cx| match wait.as_mut().poll(cx) {
            std::task::Poll::Pending if Instant::now() > timeout => std::task::Poll::Ready(None),
            std::task::Poll::Pending => std::task::Poll::Pending,
            std::task::Poll::Ready(r) => std::task::Poll::Ready(Some(r)),
        })
        .await
    });
    assert!(matches!(waited, Some(Ok(_))), "the async allocation waited 2 s for the second free slot");
}
