//! Reader policies and the stream's life: lossy readers and `Lagged`, a
//! stream that closes, late joiners that replay the ring's window.

#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // the tests coordinate their own threads with std types

mod common;

use common::{Kind, builder, pattern, scaled};
use slotcast::{Full, Policy, PublishError, ReadError, ReaderOptions, Runtime, SizeClass, StartAt, WaitStrategy};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn lossy() -> ReaderOptions {
    ReaderOptions::new().policy(Policy::Lossy)
}

/// Publishes `seq`'s pattern (its own sequence and checksum) of `len` bytes.
fn publish(w: &mut slotcast::Writer, seq: u64, len: usize) -> Result<u64, PublishError> {
    let class = SizeClass::for_len(len).unwrap();
    w.try_publish_with(class, 0, |buf| {
        pattern::fill(seq, &mut buf[..len]);
        len
    })
    .map_err(|e| e.error())
}

/// Reads everything a lossy reader can until it is drained, checking every
/// event; returns (events read, events reported lost).
fn drain_lossy(reader: &mut slotcast::Reader, mut next: u64) -> (u64, u64, u64) {
    let (mut read, mut lost) = (0, 0);
    loop {
        match reader.try_read(|ev, _| {
            assert_eq!(ev.sequence(), next, "in order, nothing skipped silently");
            assert_eq!(pattern::check(ev.data()), Ok(next), "event {next} intact");
            next += 1;
        }) {
            Ok(0) => return (read, lost, next),
            Ok(n) => read += n as u64,
            Err(ReadError::Lagged { missed }) => {
                lost += missed;
                next += missed;
                assert_eq!(reader.cursor(), next, "the cursor moved past exactly the missed events");
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// A lossy reader that never reads never stops the writer, in the ring or
/// in a small pool, and then learns exactly how much it missed.
fn a_lossy_reader_that_never_reads_never_stops_the_writer(kind: Kind) {
    let rt = builder(kind).ring_capacity(16).slots(SizeClass::S, 6).build().unwrap();
    let mut tap = rt.reader_with(lossy()).unwrap();
    assert_eq!(tap.policy(), Policy::Lossy);
    let mut writer = rt.writer().unwrap();
    let events = scaled(1000, 100);
    for seq in 0..events {
        // XS events (in the ring) and S events (in a pool of 6 slots).
        let len = if seq % 3 == 0 { 100 } else { 24 };
        publish(&mut writer, seq, len).unwrap_or_else(|e| panic!("event {seq}: {e}"));
    }
    let (read, lost, next) = drain_lossy(&mut tap, 0);
    assert_eq!(next, events);
    assert_eq!(read + lost, events, "received + lost = published");
    assert!(lost > 0 && read > 0, "read {read}, lost {lost}");
    assert_eq!(tap.lost(), lost);
}

/// A pinned read holds the writer back for that read only.
fn a_lossy_read_in_progress_holds_the_writer_until_it_ends(kind: Kind) {
    let rt = builder(kind).ring_capacity(8).build().unwrap();
    let mut tap = rt.reader_with(lossy()).unwrap();
    let mut writer = rt.writer().unwrap();
    publish(&mut writer, 0, 40).unwrap();
    {
        let event = tap.try_recv().unwrap().unwrap();
        // The writer fills the ring up to the pinned event, then must wait.
        for seq in 1..8 {
            publish(&mut writer, seq, 40).unwrap();
        }
        assert_eq!(publish(&mut writer, 8, 40), Err(PublishError::Full(Full::Ring)));
        assert_eq!(pattern::check(event.data()), Ok(0), "the pinned event was not overwritten");
    }
    // Read done: the writer laps the idle reader instead of waiting.
    for seq in 8..40 {
        publish(&mut writer, seq, 40).unwrap();
    }
    let (read, lost, next) = drain_lossy(&mut tap, 1);
    assert_eq!((read + lost, next), (39, 40));
}

/// A gating reader still gates when a lossy reader is beside it, and the
/// lossy one is lapped only as far as the gating one allows.
fn a_gating_reader_still_gates_beside_a_lossy_one(kind: Kind) {
    let rt = builder(kind).ring_capacity(8).build().unwrap();
    let mut gating = rt.reader().unwrap();
    let mut tap = rt.reader_with(lossy()).unwrap();
    let mut writer = rt.writer().unwrap();
    for seq in 0..8 {
        publish(&mut writer, seq, 16).unwrap();
    }
    assert_eq!(publish(&mut writer, 8, 16), Err(PublishError::Full(Full::Ring)));
    assert_eq!(gating.try_read(|_, _| ()), Ok(8));
    for seq in 8..30 {
        publish(&mut writer, seq, 16).unwrap();
        assert_eq!(gating.try_read(|_, _| ()), Ok(1));
    }
    let (read, lost, next) = drain_lossy(&mut tap, 0);
    assert_eq!((read + lost, next), (30, 30));
    assert!(lost > 0);
}

/// Events a lossy reader receives are intact and in order, and received +
/// lost = published exactly, with a reader that pauses at random.
#[cfg_attr(miri, ignore = "threads and sleeps: too slow under Miri")]
#[test]
fn received_plus_lost_is_published_with_a_reader_that_pauses() {
    let rt = Runtime::builder().ring_capacity(64).slots(SizeClass::S, 16).build().unwrap();
    let mut tap = rt.reader_with(lossy()).unwrap();
    let events = 200_000u64;
    let rt2 = rt.clone();
    let writer = std::thread::spawn(move || {
        let mut w = rt2.writer().unwrap();
        for seq in 0..events {
            let len = pattern::mixed_len(seq).min(200);
            loop {
                match publish(&mut w, seq, len) {
                    Ok(_) => break,
                    // Only a read in progress holds the writer back.
                    Err(PublishError::Full(_)) => std::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
        w.close();
    });
    let (mut next, mut read, mut lost, mut rng) = (0u64, 0u64, 0u64, 0x9e37_79b9_7f4a_7c15u64);
    loop {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        if rng % 64 == 0 {
            std::thread::sleep(Duration::from_micros(rng % 200));
        }
        match tap.read(|ev, _| {
            assert_eq!(ev.sequence(), next);
            assert_eq!(pattern::check(ev.data()), Ok(next), "event {next} intact");
            next += 1;
        }) {
            Ok(n) => read += n as u64,
            Err(ReadError::Lagged { missed }) => {
                lost += missed;
                next += missed;
            }
            Err(ReadError::Closed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    writer.join().unwrap();
    assert_eq!(read + lost, events, "read {read} + lost {lost}");
    assert_eq!(tap.lost(), lost);
}

/// Closing: readers read what was published, then get `Closed` from every
/// form of read; a new writer reopens the stream.
fn a_closed_stream_is_drained_then_reports_closed(kind: Kind) {
    let rt = builder(kind).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut tap = rt.reader_with(lossy()).unwrap();
    let mut writer = rt.writer().unwrap();
    writer.set_flush_every(8);
    for seq in 0..3 {
        publish(&mut writer, seq, 16).unwrap();
    }
    // The deferred events are published by the close, not lost.
    writer.close();
    for r in [&mut reader, &mut tap] {
        assert_eq!(r.try_read(|_, _| ()), Ok(3));
        assert_eq!(r.try_recv().map(|e| e.is_some()), Err(ReadError::Closed));
        assert_eq!(r.try_batch().map(|b| b.len()), Err(ReadError::Closed));
        assert_eq!(r.read(|_, _| ()), Err(ReadError::Closed), "a wait without deadline ends too");
        assert_eq!(r.read_timeout(Duration::from_secs(60), |_, _| ()), Err(ReadError::Closed));
        assert_eq!(r.recv().map(|_| ()), Err(ReadError::Closed));
    }
    // A new writer reopens it.
    let mut writer = rt.writer().unwrap();
    assert_eq!(reader.try_read(|_, _| ()), Ok(0), "open again, nothing yet");
    publish(&mut writer, 3, 16).unwrap();
    assert_eq!(reader.try_read(|ev, _| assert_eq!(ev.sequence(), 3)), Ok(1));
    drop(writer);
    assert_eq!(reader.try_read(|_, _| ()), Err(ReadError::Closed), "dropping closes too");
}

/// The allocator borrowing the free writer role to return slots neither
/// reopens a closed stream nor closes an open one.
fn the_allocator_borrowing_the_role_leaves_the_stream_as_it_was(kind: Kind) {
    let rt = builder(kind).slots(SizeClass::S, 2).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    for seq in 0..2 {
        publish(&mut writer, seq, 100).unwrap();
    }
    assert_eq!(reader.try_read(|_, _| ()), Ok(2));
    writer.close();
    // The writer's two S slots are the ring's: the allocator borrows the
    // role to get them back.
    let alloc = rt.allocator();
    let kept = (0..2).map(|_| alloc.try_alloc_bytes(0, &[1; 100]).unwrap()).collect::<Vec<_>>();
    assert_eq!(kept.len(), 2);
    assert_eq!(reader.try_read(|_, _| ()), Err(ReadError::Closed), "still closed");

    // A stream that was never closed is not closed by the allocator either.
    let rt = builder(kind).slots(SizeClass::S, 2).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let alloc = rt.allocator();
    let kept = (0..2).map(|_| alloc.try_alloc_bytes(0, &[1; 100]).unwrap()).collect::<Vec<_>>();
    drop(kept);
    assert!(alloc.try_alloc_bytes(0, &[1; 100]).is_ok());
    assert_eq!(reader.try_read(|_, _| ()), Ok(0), "open, nothing published");
}

/// A lossy reader whose guard is forgotten is not pinned for good: its next
/// read goes on under the pin (the event again, as a gating reader would),
/// and then the writer laps it as usual.
fn a_forgotten_guard_does_not_pin_a_lossy_reader_for_good(kind: Kind) {
    let rt = builder(kind).ring_capacity(8).build().unwrap();
    let mut tap = rt.reader_with(lossy()).unwrap();
    let mut writer = rt.writer().unwrap();
    publish(&mut writer, 0, 16).unwrap();
    std::mem::forget(tap.try_recv().unwrap().unwrap());
    let again = tap.try_recv().map(|e| e.map(|e| pattern::check(e.data())));
    assert_eq!(again, Ok(Some(Ok(0))), "the next read after the forgotten guard");
    for seq in 1..40 {
        publish(&mut writer, seq, 16).unwrap_or_else(|e| panic!("event {seq}: {e}"));
    }
    let (read, lost, next) = drain_lossy(&mut tap, 1);
    assert_eq!((read + lost, next), (39, 40));
}

/// A `try_read` handler that panics ends the lossy read as it unwinds: the
/// writer is not held back, and the reader reads on.
fn a_panicking_handler_ends_a_lossy_read(kind: Kind) {
    let rt = builder(kind).ring_capacity(8).build().unwrap();
    let mut tap = rt.reader_with(lossy()).unwrap();
    let mut writer = rt.writer().unwrap();
    publish(&mut writer, 0, 16).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = tap.try_read(|_, _| panic!("the handler fails"));
    }));
    assert!(caught.is_err());
    for seq in 1..40 {
        publish(&mut writer, seq, 16).unwrap_or_else(|e| panic!("event {seq}: {e}"));
    }
    let (read, lost, next) = drain_lossy(&mut tap, 0);
    assert_eq!((read + lost, next), (40, 40), "the event under the panic was not consumed");
}

/// A lossy `try_read` handles one step of at most `max_batch` events per
/// call (its pin holds the writer back for that step only).
fn a_lossy_read_handles_one_step_per_call(kind: Kind) {
    let rt = builder(kind).ring_capacity(16).build().unwrap();
    let mut tap = rt.reader_with(lossy()).unwrap();
    tap.set_max_batch(std::num::NonZeroUsize::new(3).unwrap());
    let mut writer = rt.writer().unwrap();
    for seq in 0..10 {
        publish(&mut writer, seq, 16).unwrap();
    }
    let steps: Vec<usize> = std::iter::from_fn(|| tap.try_read(|_, _| ()).ok().filter(|&n| n > 0)).collect();
    assert_eq!(steps, [3, 3, 3, 1]);
}

/// Every kind of wait wakes up when the writer closes, sleeping readers
/// included.
#[cfg_attr(miri, ignore = "threads and sleeps: too slow under Miri")]
#[test]
fn a_waiting_reader_wakes_when_the_writer_closes() {
    for strategy in [WaitStrategy::BusySpin, WaitStrategy::Yield, WaitStrategy::Blocking] {
        for policy in [Policy::Gating, Policy::Lossy] {
            let rt = Runtime::new().unwrap();
            let mut reader = rt.reader_with(ReaderOptions::new().policy(policy)).unwrap();
            reader.set_wait_strategy(strategy);
            let mut writer = rt.writer().unwrap();
            let (tx, rx) = mpsc::channel();
            let waiter = std::thread::spawn(move || {
                // One event first: the writer's publish acknowledges a
                // blocking reader, which from then on sleeps without a
                // bound, so only the close's wake-up can end its wait.
                assert_eq!(reader.read(|_, _| ()), Ok(1));
                let result = reader.read(|_, _| ()).map(|_| ());
                tx.send((result, Instant::now())).unwrap();
            });
            publish(&mut writer, 0, 16).unwrap();
            // Long enough for a blocking reader to be asleep on the futex.
            std::thread::sleep(Duration::from_millis(50));
            let closed = Instant::now();
            writer.close();
            let (result, woke) = rx.recv_timeout(Duration::from_secs(10)).expect("the reader never woke");
            assert_eq!(result, Err(ReadError::Closed), "{strategy:?} {policy:?}");
            eprintln!("{strategy:?} {policy:?}: woke {:?} after close", woke.duration_since(closed));
            waiter.join().unwrap();
        }
    }
}

/// A writer that abandons its role does not close the stream: every kind
/// of waiting reader wakes to `WriterDead` (once), then waits for the next
/// writer and reads its events.
#[cfg_attr(miri, ignore = "threads and sleeps: too slow under Miri")]
#[test]
fn a_waiting_reader_wakes_to_writer_dead_when_the_writer_abandons_then_reads_the_next() {
    for strategy in [WaitStrategy::BusySpin, WaitStrategy::Yield, WaitStrategy::Blocking] {
        for policy in [Policy::Gating, Policy::Lossy] {
            let rt = Runtime::new().unwrap();
            let mut reader = rt.reader_with(ReaderOptions::new().policy(policy)).unwrap();
            reader.set_wait_strategy(strategy);
            let mut writer = rt.writer().unwrap();
            let (tx, rx) = mpsc::channel();
            let waiter = std::thread::spawn(move || {
                assert_eq!(reader.read(|_, _| ()), Ok(1));
                tx.send(reader.read(|_, _| ()).map(|_| ())).unwrap();
                // Reported once: the next read waits for a new writer's event.
                let mut seen = Vec::new();
                let next = reader.read(|e, _| seen.push(e.sequence())).map(|_| seen);
                tx.send(next.map(|seen| assert_eq!(seen, vec![1]))).unwrap();
            });
            publish(&mut writer, 0, 16).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            writer.abandon();
            let result = rx.recv_timeout(Duration::from_secs(10)).expect("the reader never woke");
            assert_eq!(result, Err(ReadError::WriterDead), "{strategy:?} {policy:?}");
            let mut next = rt.writer().unwrap();
            publish(&mut next, 1, 16).unwrap();
            let after = rx.recv_timeout(Duration::from_secs(10)).expect("the reader never read the next writer");
            assert_eq!(after, Ok(()), "{strategy:?} {policy:?}");
            waiter.join().unwrap();
        }
    }
}

/// A late joiner starting from the oldest event replays the ring's window
/// of XS events, in order and intact, then goes on with new ones.
fn a_late_joiner_replays_the_window(kind: Kind) {
    let rt = builder(kind).ring_capacity(64).build().unwrap();
    let mut writer = rt.writer().unwrap();
    let mut early = rt.reader().unwrap();
    for seq in 0..200 {
        publish(&mut writer, seq, 48).unwrap();
        assert_eq!(early.try_read(|_, _| ()), Ok(1));
    }
    for policy in [Policy::Gating, Policy::Lossy] {
        let mut late = rt.reader_with(ReaderOptions::new().policy(policy).start_at(StartAt::Oldest)).unwrap();
        let first = late.cursor();
        assert!(first <= 200 - 48, "{policy:?}: at least three quarters of the ring: starts at {first}");
        assert!(first >= 200 - 64, "{policy:?}: no more than the ring holds: starts at {first}");
        let mut next = first;
        // A lossy reader reads one step (`max_batch`) per call.
        while late.try_read(|ev, _| {
            assert_eq!(ev.sequence(), next);
            assert_eq!(pattern::check(ev.data()), Ok(next));
            next += 1;
        }) != Ok(0)
        {}
        assert_eq!(next, 200, "{policy:?}: everything from the start on");
    }
    let now = rt.reader_with(ReaderOptions::new().start_at(StartAt::Now)).unwrap();
    assert_eq!(now.cursor(), 200);
}

/// A replay never returns an event whose pool slot was recycled: with a
/// pool much smaller than the ring, the writer reuses the slots of old S
/// events, and the late joiner starts after the last of them.
fn a_replay_skips_events_whose_slot_was_recycled(kind: Kind) {
    let rt = builder(kind).ring_capacity(64).slots(SizeClass::S, 8).build().unwrap();
    let mut writer = rt.writer().unwrap();
    let mut early = rt.reader().unwrap();
    for seq in 0..200 {
        let len = if seq % 2 == 0 { 100 } else { 30 };
        publish(&mut writer, seq, len).unwrap();
        assert_eq!(early.try_read(|_, _| ()), Ok(1));
    }
    let mut late = rt.reader_with(ReaderOptions::new().start_at(StartAt::Oldest)).unwrap();
    let first = late.cursor();
    assert!(first < 200, "the newest events are replayed");
    let mut next = first;
    late.try_read(|ev, _| {
        assert_eq!(pattern::check(ev.data()), Ok(next), "event {next}: never a recycled slot's bytes");
        next += 1;
    })
    .unwrap();
    assert_eq!(next, 200);
}

/// The lost count and the policy are visible in the runtime's statistics.
fn stats_show_each_readers_policy_and_losses(kind: Kind) {
    let rt = builder(kind).ring_capacity(8).build().unwrap();
    let mut gating = rt.reader().unwrap();
    let mut tap = rt.reader_with(lossy()).unwrap();
    let mut writer = rt.writer().unwrap();
    for seq in 0..40 {
        publish(&mut writer, seq, 16).unwrap();
        assert_eq!(gating.try_read(|_, _| ()), Ok(1), "the gating reader keeps up");
    }
    let _ = drain_lossy(&mut tap, 0);
    assert!(tap.lost() > 0, "the tap was lapped");
    let stats = rt.stats();
    let policies: Vec<_> = stats.readers.iter().map(|r| (r.policy, r.lost)).collect();
    assert!(policies.contains(&(Policy::Gating, 0)), "{policies:?}");
    assert!(policies.contains(&(Policy::Lossy, tap.lost())), "{policies:?}");
}

every_backing! {
    lossy_never_stops_the_writer => super::a_lossy_reader_that_never_reads_never_stops_the_writer;
    lossy_read_holds_the_writer => super::a_lossy_read_in_progress_holds_the_writer_until_it_ends;
    gating_beside_lossy => super::a_gating_reader_still_gates_beside_a_lossy_one;
    closed_drained => super::a_closed_stream_is_drained_then_reports_closed;
    allocator_role => super::the_allocator_borrowing_the_role_leaves_the_stream_as_it_was;
    late_joiner => super::a_late_joiner_replays_the_window;
    replay_recycled => super::a_replay_skips_events_whose_slot_was_recycled;
    stats_policies => super::stats_show_each_readers_policy_and_losses;
    forgotten_guard => super::a_forgotten_guard_does_not_pin_a_lossy_reader_for_good;
    panicking_handler => super::a_panicking_handler_ends_a_lossy_read;
    one_step_per_call => super::a_lossy_read_handles_one_step_per_call;
}
