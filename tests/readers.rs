//! Readers joining and leaving at any time, the reader limit, lag, and the
//! cursor semantics of guards and batches.
#![allow(clippy::disallowed_types)] // the tests coordinate their own threads with std types

mod common;

use common::pattern;
use slotcast::{JoinError, Runtime, SizeClass, WaitStrategy};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// While the writer publishes without pause, three threads keep joining,
/// reading a random stretch and leaving. Each reader starts at the
/// published sequence of its join and then sees a gap-free, intact run.
fn join_and_leave_while_publishing(kind: common::Kind) {
    let rounds = common::scaled(300, 5);
    let rt =
        common::builder(kind).ring_capacity(512).max_readers(3).wait_strategy(WaitStrategy::Yield).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let rt = rt.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut w = rt.writer().unwrap();
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut buf = [0u8; 48];
                pattern::fill(seq, &mut buf);
                // A timeout, so the writer notices `stop` even when no
                // reader is joined to make room... which cannot happen:
                // with no reader nothing gates it.
                if w.publish_bytes_timeout(0, &buf, Duration::from_millis(10)).is_ok() {
                    seq += 1;
                }
            }
            seq
        })
    };
    let joiners: Vec<_> = (0..3u64)
        .map(|t| {
            let rt = rt.clone();
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t);
                for _ in 0..rounds {
                    let before = rt.published();
                    let mut reader = rt.reader().unwrap();
                    let after = rt.published();
                    let start = reader.cursor();
                    assert!(before <= start && start <= after, "joined at {start}, published {before}..{after}");
                    let mut next = start;
                    let want = rng.u64(1..common::scaled(2000, 40));
                    while next < start + want {
                        reader
                            .read_timeout(Duration::from_secs(10), |ev, _| {
                                assert_eq!(ev.sequence(), next);
                                assert_eq!(pattern::check(ev.data()), Ok(next));
                                next += 1;
                            })
                            .unwrap();
                    }
                    drop(reader);
                }
            })
        })
        .collect();
    for j in joiners {
        j.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let published = writer.join().unwrap();
    assert!(published > 0);
    assert!(rt.stats().readers.is_empty());
}

every_backing! {
    join_and_leave => super::join_and_leave_while_publishing;
}

#[test]
fn a_reader_sees_only_what_is_published_after_it_joins() {
    let rt = Runtime::new().unwrap();
    let mut w = rt.writer().unwrap();
    for i in 0..3u8 {
        w.try_publish_bytes(0, &[i]).unwrap();
    }
    let mut reader = rt.reader().unwrap();
    assert_eq!(reader.cursor(), 3);
    assert!(reader.try_recv().unwrap().is_none());
    w.try_publish_bytes(0, &[3]).unwrap();
    w.try_publish_bytes(0, &[4]).unwrap();
    let mut seen = Vec::new();
    reader.try_read(|ev, _| seen.push((ev.sequence(), ev.data()[0]))).unwrap();
    assert_eq!(seen, [(3, 3), (4, 4)]);
}

#[test]
fn the_reader_limit_is_an_error_until_someone_leaves() {
    let rt = Runtime::builder().max_readers(2).build().unwrap();
    let a = rt.reader().unwrap();
    let _b = rt.reader().unwrap();
    assert_eq!(rt.reader().unwrap_err(), JoinError::TooManyReaders { max: 2 });
    assert_eq!(rt.stats().readers.len(), 2);
    drop(a);
    rt.reader().expect("a free entry again");
}

#[test]
fn lag_counts_unread_events() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for _ in 0..5 {
        w.try_publish_bytes(0, b"e").unwrap();
    }
    assert_eq!(reader.lag(), 5);
    drop(reader.try_recv().unwrap());
    drop(reader.try_recv().unwrap());
    assert_eq!(reader.lag(), 3);
    assert_eq!(rt.stats().max_lag(), 3);
}

#[test]
fn a_guard_moves_the_cursor_when_dropped() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(0, b"a").unwrap();
    w.try_publish_bytes(0, b"b").unwrap();
    {
        let ev = reader.try_recv().unwrap().unwrap();
        assert_eq!((ev.sequence(), ev.data()), (0, &b"a"[..]));
        assert_eq!(rt.stats().readers[0].cursor, 0, "not yet consumed");
    }
    assert_eq!(reader.cursor(), 1);
    assert_eq!(rt.stats().readers[0].cursor, 1);
    assert_eq!(reader.try_recv().unwrap().unwrap().data(), b"b");
    assert!(reader.try_recv().unwrap().is_none());
}

#[test]
fn a_batch_consumes_exactly_the_events_iterated() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for i in 0..10u64 {
        w.try_publish_pod(0, &i).unwrap();
    }
    {
        let batch = reader.try_batch().unwrap();
        assert_eq!(batch.len(), 10);
        let firsts: Vec<u64> = batch.iter().take(4).map(|e| *e.as_pod::<u64>().unwrap()).collect();
        assert_eq!(firsts, [0, 1, 2, 3]);
    }
    assert_eq!(reader.cursor(), 4);
    let batch = reader.try_batch().unwrap();
    let rest: Vec<u64> = batch.iter().map(|e| *e.as_pod::<u64>().unwrap()).collect();
    assert_eq!(rest, [4, 5, 6, 7, 8, 9]);
    drop(batch);
    assert!(reader.try_batch().unwrap().is_empty());
}

#[test]
fn end_of_batch_flags_the_last_event_of_each_call() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    let mut flags = Vec::new();
    for round in 1..4 {
        for _ in 0..round {
            w.try_publish_bytes(0, b"x").unwrap();
        }
        reader.try_read(|_, end| flags.push(end)).unwrap();
    }
    assert_eq!(flags, [true, false, true, false, false, true]);
}

#[test]
fn retained_events_outlive_their_reader() {
    // A small pool, so that the churn below reuses every other slot many
    // times (and stays quick under Miri): S events, in pool slots, and XS
    // events, whose retain is a copy while the churn reuses the ring.
    let rt = Runtime::builder().slots(SizeClass::S, 16).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(2, &[7; 100]).unwrap();
    w.try_publish_bytes(3, b"keep me").unwrap();
    let kept = reader.try_recv().unwrap().unwrap().retain().unwrap();
    let small = reader.try_recv().unwrap().unwrap().retain().unwrap();
    drop(reader);
    for i in 0..common::scaled(10_000, 100) {
        if i % 2 == 0 {
            w.try_publish_bytes(0, &[0; 100]).unwrap();
        } else {
            w.try_publish_bytes(0, b"churn").unwrap();
        }
    }
    assert_eq!((&kept[..], kept.event_type(), kept.class()), (&[7; 100][..], 2, SizeClass::S));
    assert_eq!((&small[..], small.event_type()), (&b"keep me"[..], 3));
}

#[test]
#[cfg_attr(miri, ignore = "sleeps; the wake-up protocol has a loom model")]
fn blocked_readers_wake_for_each_event() {
    let rt = Runtime::builder().wait_strategy(WaitStrategy::Blocking).build().unwrap();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let mut reader = rt.reader().unwrap();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..5 {
                    let ev = reader.recv().unwrap();
                    got.push(*ev.as_pod::<u32>().unwrap());
                }
                got
            })
        })
        .collect();
    let mut w = rt.writer().unwrap();
    for i in 0..5u32 {
        // Long enough for the readers to go to sleep on the futex.
        #[allow(clippy::disallowed_methods)] // the test paces its own thread
        std::thread::sleep(Duration::from_millis(20));
        w.try_publish_pod(0, &i).unwrap();
    }
    for t in threads {
        assert_eq!(t.join().unwrap(), [0, 1, 2, 3, 4]);
    }
}

#[test]
fn waiting_with_a_timeout_returns_empty_handed() {
    for strategy in [WaitStrategy::BusySpin, WaitStrategy::Yield, WaitStrategy::Blocking] {
        let rt = Runtime::builder().wait_strategy(strategy).build().unwrap();
        let mut reader = rt.reader().unwrap();
        let t = Duration::from_millis(if cfg!(miri) { 1 } else { 15 });
        assert!(reader.recv_timeout(t).unwrap().is_none());
        assert!(reader.batch_timeout(t).unwrap().is_empty());
        assert_eq!(reader.read_timeout(t, |_, _| panic!("no event")).unwrap(), 0);
    }
}

/// Set in a child copy of this test binary: the shared file to join as a
/// reader of.
const CHILD_READER: &str = "SLOTCAST_TEST_CHILD_READER";

/// A reader process that dies without leaving keeps its entry until it is
/// reaped; a join that finds no free entry reaps dead processes and takes
/// the entry, instead of answering `TooManyReaders`.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot map files or spawn processes")]
fn a_join_reaps_a_dead_readers_entry_when_the_table_is_full() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    if let Some(path) = std::env::var_os(CHILD_READER) {
        // The child: join, say so, and wait to be killed.
        let rt = Runtime::open(&path).unwrap();
        let _reader = rt.reader().unwrap();
        let mut out = std::io::stdout().lock();
        writeln!(out, "JOINED").unwrap();
        out.flush().unwrap();
        loop {
            #[allow(clippy::disallowed_methods, reason = "a child process parked until it is killed")]
            std::thread::park();
        }
    }
    let path = common::temp_path("dead-reader");
    let rt = Runtime::builder().shared(&path).max_readers(1).build().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["a_join_reaps_a_dead_readers_entry_when_the_table_is_full", "--exact", "--nocapture"])
        .env(CHILD_READER, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let joined = lines.map_while(Result::ok).any(|line| line == "JOINED");
    assert!(joined, "the child did not join");
    assert_eq!(rt.reader().unwrap_err(), JoinError::TooManyReaders { max: 1 }, "the live child holds the entry");
    child.kill().unwrap();
    child.wait().unwrap();
    let mut w = rt.writer().unwrap();
    let mut reader = rt.reader().expect("the dead child's entry is reaped at the join");
    w.try_publish_bytes(1, b"after").unwrap();
    assert_eq!(reader.try_read(|ev, _| assert_eq!(ev.data(), b"after")), Ok(1));
}

/// `try_read` stores the cursor every `max_batch` events: a writer facing a
/// full ring gets room after `k` events handled, not after all of them.
#[test]
fn a_bounded_read_hands_room_back_every_max_batch_events() {
    let rt = Runtime::builder().ring_capacity(8).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for i in 0..8u32 {
        w.try_publish_pod(0, &i).unwrap();
    }
    assert!(w.try_publish_pod(0, &99u32).is_err(), "the ring is full");
    reader.set_max_batch(NonZeroUsize::new(3).unwrap());
    assert_eq!(reader.max_batch().get(), 3);
    // (sequence, end_of_batch, whether the writer found room right then)
    let mut steps = Vec::new();
    let n = reader
        .try_read(|ev, end| {
            let room = w.try_publish_pod(1, &(100 + ev.sequence() as u32)).is_ok();
            steps.push((ev.sequence(), end, room));
        })
        .unwrap();
    assert_eq!(n, 8, "everything available, in steps");
    let expected = [
        (0, false, false),
        (1, false, false),
        (2, true, false),
        // The cursor was stored at 3: three events of room.
        (3, false, true),
        (4, false, true),
        (5, true, true),
        (6, false, true),
        (7, true, true),
    ];
    assert_eq!(steps, expected);
    assert_eq!(reader.cursor(), 8);
    // A batch holds at most `max_batch` events too.
    assert_eq!(reader.try_batch().unwrap().len(), 3);
}

#[test]
fn the_default_max_batch_is_a_quarter_of_the_ring() {
    for (ring, max) in [(4096, 1024), (8, 2), (2, 1)] {
        let rt = Runtime::builder().ring_capacity(ring).build().unwrap();
        assert_eq!(rt.reader().unwrap().max_batch().get(), max, "ring {ring}");
    }
}

/// A reader may wait differently from the runtime: a `Blocking` reader of a
/// `BusySpin` runtime sleeps, and the writer (spinning itself) wakes it.
#[test]
#[cfg_attr(miri, ignore = "sleeps; the wake-up protocol has a loom model")]
fn a_blocking_reader_of_a_spinning_runtime_is_woken_promptly() {
    let rt = Runtime::builder().wait_strategy(WaitStrategy::BusySpin).build().unwrap();
    let mut reader = rt.reader().unwrap();
    assert_eq!(reader.wait_strategy(), WaitStrategy::BusySpin);
    reader.set_wait_strategy(WaitStrategy::Blocking);
    assert_eq!(reader.wait_strategy(), WaitStrategy::Blocking);
    let mut w = rt.writer().unwrap();
    // The first publish acknowledges the reader's registration (until then
    // it would only nap, see `wait`'s module docs); then it truly sleeps.
    w.try_publish_pod(0, &0u32).unwrap();
    assert!(reader.try_recv().unwrap().is_some());
    let t = std::thread::spawn(move || {
        let mut waits = Vec::new();
        for i in 1..4u32 {
            let start = Instant::now();
            let ev = reader.recv_timeout(Duration::from_secs(5)).unwrap().expect("woken before the timeout");
            waits.push((*ev.as_pod::<u32>().unwrap(), start.elapsed()));
            assert_eq!(*ev.as_pod::<u32>().unwrap(), i);
        }
        waits
    });
    for i in 1..4u32 {
        // Long enough for the reader to go to sleep on the futex.
        #[allow(clippy::disallowed_methods)] // the test paces its own thread
        std::thread::sleep(Duration::from_millis(100));
        w.try_publish_pod(0, &i).unwrap();
    }
    for (i, waited) in t.join().unwrap() {
        assert!(waited < Duration::from_secs(2), "event {i}: woken after {waited:?}");
    }
}

/// Turning back from `Blocking` and leaving give the registration back: the
/// reader still reads, with its new strategy.
#[test]
fn a_reader_can_change_its_strategy_back_and_forth() {
    let rt = Runtime::builder().wait_strategy(WaitStrategy::Blocking).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for strategy in [WaitStrategy::Yield, WaitStrategy::Blocking, WaitStrategy::BusySpin, WaitStrategy::Blocking] {
        reader.set_wait_strategy(strategy);
        assert_eq!(reader.wait_strategy(), strategy);
        w.try_publish_bytes(0, b"x").unwrap();
        assert_eq!(reader.recv_timeout(Duration::from_secs(5)).unwrap().unwrap().data(), b"x");
        assert!(reader.recv_timeout(Duration::from_millis(2)).unwrap().is_none());
    }
}

#[test]
fn deadline_forms_wait_until_an_instant() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let t = Duration::from_millis(if cfg!(miri) { 1 } else { 15 });
    let start = Instant::now();
    assert!(reader.recv_deadline(start + t).unwrap().is_none());
    assert!(reader.batch_deadline(start + t).unwrap().is_empty());
    assert_eq!(reader.read_deadline(start + t, |_, _| panic!("no event")).unwrap(), 0);
    assert!(start.elapsed() >= t);
    // A deadline in the past is a try.
    rt.writer().unwrap().try_publish_bytes(0, b"now").unwrap();
    assert_eq!(reader.recv_deadline(start).unwrap().unwrap().data(), b"now");
}

/// The voluntary context switches of the calling thread so far.
#[cfg(all(target_os = "linux", not(miri)))]
fn voluntary_switches() -> i64 {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid out-pointer for the call's duration.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    usage.ru_nvcsw
}

/// An idle `Blocking` reader whose registration no publish has acknowledged
/// yet (the writer is there, but publishes nothing) naps with a growing
/// length, so it wakes a few dozen times a second at most, not once per
/// millisecond.
#[test]
#[cfg(all(target_os = "linux", not(miri)))] // thread CPU accounting; Miri has no getrusage
fn an_idle_unacknowledged_blocking_reader_rarely_wakes() {
    let rt = Runtime::builder().wait_strategy(WaitStrategy::Blocking).build().unwrap();
    let _writer = rt.writer().unwrap();
    let mut reader = rt.reader().unwrap();
    let idle = Duration::from_secs(1);
    let (switches, waited) = std::thread::spawn(move || {
        let before = voluntary_switches();
        let start = Instant::now();
        assert!(reader.recv_timeout(idle).unwrap().is_none(), "nothing was published");
        (voluntary_switches() - before, start.elapsed())
    })
    .join()
    .unwrap();
    assert!(waited >= idle);
    let per_second = switches as f64 / waited.as_secs_f64();
    assert!(per_second < 50.0, "{switches} wake-ups in {waited:?} ({per_second:.0}/s)");
}

/// In a forked child, `set_wait_strategy` leaves the reader as it was (as
/// every other call does): its registration is the parent's, and a changed
/// strategy with the parent's registration left in place would break the
/// rule that a reader is registered exactly while it is `Blocking`.
#[test]
#[cfg(all(target_os = "linux", not(miri)))] // fork: Miri runs none of it
fn a_forked_childs_set_wait_strategy_changes_nothing() {
    let path = common::temp_path("fork-strategy");
    let rt = Runtime::builder().wait_strategy(WaitStrategy::Blocking).shared(&path).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    // SAFETY: the child only uses and drops the handles, then exits without
    // returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let checks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for strategy in [WaitStrategy::Yield, WaitStrategy::BusySpin, WaitStrategy::Blocking] {
                reader.set_wait_strategy(strategy);
                assert_eq!(reader.wait_strategy(), WaitStrategy::Blocking, "after {strategy:?}");
            }
            drop((reader, writer, rt));
        }));
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(if checks.is_ok() { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status:#x}");
    // The parent's reader still blocks and is woken.
    writer.try_publish_bytes(0, b"after").unwrap();
    assert_eq!(reader.recv_timeout(Duration::from_secs(5)).unwrap().unwrap().data(), b"after");
}
