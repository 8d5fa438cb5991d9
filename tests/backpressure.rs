//! Wrap-around and backpressure: the writer never overwrites an event a
//! joined reader has not read, reports `Full` (ring or pool) instead, gives
//! the payload back, and resumes as soon as readers make room.

mod common;

use common::pattern;
use slotcast::{Full, PublishError, Reader, Runtime, SizeClass, TryPublishError, WaitStrategy, Writer};
use std::cell::Cell;
use std::time::Duration;

fn small(kind: common::Kind, ring: usize, xs: usize, s: usize) -> Runtime {
    let mut b = common::builder(kind).ring_capacity(ring).slots(SizeClass::XS, xs).slots(SizeClass::S, s);
    for class in [SizeClass::M, SizeClass::L, SizeClass::XL] {
        b = b.slots(class, 0);
    }
    b.build().unwrap()
}

/// Reads everything available and checks it continues the sequence.
fn drain(reader: &mut Reader, next: &mut u64) -> usize {
    reader
        .try_read(|ev, _| {
            assert_eq!(pattern::check(ev.data()), Ok(*next), "event out of order or corrupted");
            *next += 1;
        })
        .unwrap()
}

fn publish(w: &mut Writer, seq: u64, len: usize) -> Result<u64, PublishError> {
    let mut buf = vec![0u8; len];
    pattern::fill(seq, &mut buf);
    w.try_publish_bytes(0, &buf)
}

/// Two readers at different paces over a 4-entry ring and 3 + 6 slots:
/// positions and slots wrap thousands of times, `Full` shows up whenever the
/// slow reader is a ring behind or the pools run out, and both readers still
/// see the exact sequence.
fn wrap_around_many_times(kind: common::Kind) {
    let events = common::scaled(100_000, 500);
    // Two S slots for a ring of 4: the S pool fills before the ring when
    // the slow reader lags (XS events take no slot: they are in the ring).
    let rt = small(kind, 4, 3, 2);
    let mut fast = rt.reader().unwrap();
    let mut slow = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    let (mut seq, mut fast_next, mut slow_next) = (0u64, 0u64, 0u64);
    let (mut ring_full, mut pool_full) = (0, 0);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut step = 0u64;
    while slow_next < events {
        step += 1;
        if seq < events {
            let len = if rng.u8(..) < 200 { 16 + rng.usize(..48) } else { 65 + rng.usize(..191) };
            match publish(&mut w, seq, len) {
                Ok(s) => {
                    assert_eq!(s, seq);
                    seq += 1;
                }
                Err(PublishError::Full(Full::Ring)) => ring_full += 1,
                Err(PublishError::Full(Full::Pool(_))) => pool_full += 1,
                Err(e) => panic!("{e}"),
            }
        }
        drain(&mut fast, &mut fast_next);
        if step % 5 == 0 || seq == events {
            drain(&mut slow, &mut slow_next);
        }
    }
    assert_eq!((fast_next, slow_next), (events, events));
    assert!(ring_full > 0 && pool_full > 0, "both kinds of Full must occur: {ring_full} {pool_full}");
    for pool in rt.stats().pools {
        assert_eq!(pool.in_use, 0, "{pool:?}");
    }
}

/// A reader that stops reading makes the writer report `Full` after one
/// ring's worth, and every unread event is still intact afterwards.
fn stalled_reader_fills_the_ring(kind: common::Kind) {
    let rt = small(kind, 8, 100, 0);
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for seq in 0..8 {
        publish(&mut w, seq, 64).unwrap();
    }
    for _ in 0..3 {
        assert_eq!(publish(&mut w, 8, 64), Err(PublishError::Full(Full::Ring)));
    }
    let mut next = 0;
    assert_eq!(drain(&mut reader, &mut next), 8, "all 8 unread events survive intact");
    publish(&mut w, 8, 64).unwrap();
    assert_eq!(drain(&mut reader, &mut next), 1);
}

/// With more ring than slots, the pool runs out first; other classes go on.
fn stalled_reader_fills_a_pool(kind: common::Kind) {
    let rt = small(kind, 64, 4, 4);
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for seq in 0..4 {
        publish(&mut w, seq, 200).unwrap();
    }
    assert_eq!(publish(&mut w, 4, 200), Err(PublishError::Full(Full::Pool(SizeClass::S))));
    // XS events are carried in the ring: only the ring bounds them.
    publish(&mut w, 4, 64).unwrap();
    // XL has no slots at all: refused as such, not as a full pool.
    assert_eq!(publish(&mut w, 5, 16 * 1024), Err(PublishError::NoSlots(SizeClass::XL)));
    let mut next = 0;
    assert_eq!(drain(&mut reader, &mut next), 5);
    publish(&mut w, 5, 200).unwrap();
}

every_backing! {
    wrap_around => super::wrap_around_many_times;
    stalled_ring => super::stalled_reader_fills_the_ring;
    stalled_pool => super::stalled_reader_fills_a_pool;
}

#[test]
fn a_full_publish_with_hands_the_closure_back_uncalled() {
    let rt = small(common::Kind::Heap, 2, 8, 0);
    let _reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(0, b"a").unwrap();
    w.try_publish_bytes(0, b"b").unwrap();
    let called = Cell::new(false);
    let owned_payload = b"kept by the closure".to_vec();
    let err = w
        .try_publish_with(SizeClass::XS, 1, |buf| {
            called.set(true);
            buf[..owned_payload.len()].copy_from_slice(&owned_payload);
            owned_payload.len()
        })
        .unwrap_err();
    assert!(err.is_full());
    assert_eq!(err.error(), PublishError::Full(Full::Ring));
    assert!(!called.get(), "the closure must not run when nothing can be published");
    let Some(closure) = err.into_inner() else { panic!("a full publish hands the closure back") };
    drop(_reader);
    w.try_publish_with(SizeClass::XS, 1, closure).expect("room once the reader left");
    assert!(called.get());
}

/// `?` turns a closure form's error into a `PublishError` or a boxed error,
/// without `map_err`.
#[test]
fn a_closure_forms_error_converts_with_the_question_mark() {
    fn into_publish_error(w: &mut Writer) -> Result<u64, PublishError> {
        Ok(w.try_publish_with(SizeClass::XS, 0, |_| 1)?)
    }
    fn into_boxed(w: &mut Writer) -> Result<u64, Box<dyn std::error::Error>> {
        Ok(w.try_publish_with(SizeClass::XS, 0, |_| 1)?)
    }
    let rt = small(common::Kind::Heap, 2, 8, 0);
    let _reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    assert_eq!(into_publish_error(&mut w), Ok(0));
    assert_eq!(into_boxed(&mut w).unwrap(), 1);
    assert_eq!(into_publish_error(&mut w), Err(PublishError::Full(Full::Ring)));
    let boxed = into_boxed(&mut w).unwrap_err();
    assert_eq!(boxed.to_string(), Full::Ring.to_string());
}

#[test]
fn timeouts_give_up_with_full() {
    let rt = small(common::Kind::Heap, 2, 8, 0);
    let _reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(0, b"a").unwrap();
    w.try_publish_bytes(0, b"b").unwrap();
    let t = Duration::from_millis(20);
    assert_eq!(w.publish_bytes_timeout(0, b"c", t), Err(PublishError::Full(Full::Ring)));
    assert_eq!(w.publish_pod_timeout(0, &1u64, t), Err(PublishError::Full(Full::Ring)));
    assert_eq!(w.claim_timeout(SizeClass::XS, t).unwrap_err(), PublishError::Full(Full::Ring));
    assert!(matches!(w.publish_with_timeout(SizeClass::XS, 0, |_| 1, t), Err(TryPublishError::Full(Full::Ring, _))));
    let at = std::time::Instant::now() + t;
    assert_eq!(w.publish_bytes_deadline(0, b"c", at), Err(PublishError::Full(Full::Ring)));
    assert_eq!(w.publish_pod_deadline(0, &1u64, at), Err(PublishError::Full(Full::Ring)));
    assert_eq!(w.claim_deadline(SizeClass::XS, at).unwrap_err(), PublishError::Full(Full::Ring));
    assert!(matches!(w.publish_with_deadline(SizeClass::XS, 0, |_| 1, at), Err(TryPublishError::Full(Full::Ring, _))));
    assert!(std::time::Instant::now() >= at, "the deadline forms waited until the deadline");
}

#[test]
fn leaving_releases_gating_at_once() {
    let rt = small(common::Kind::Heap, 4, 8, 0);
    let stalled = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for _ in 0..4 {
        w.try_publish_bytes(0, b"x").unwrap();
    }
    assert!(w.try_publish_bytes(0, b"x").is_err());
    drop(stalled);
    for _ in 0..100 {
        w.try_publish_bytes(0, b"x").expect("no reader gates the writer any more");
    }
}

#[test]
#[cfg_attr(miri, ignore = "sleeps; covered by the loom model of gating")]
fn blocking_publish_waits_until_a_reader_makes_room() {
    for strategy in [WaitStrategy::BusySpin, WaitStrategy::Yield, WaitStrategy::Blocking] {
        let rt = Runtime::builder().ring_capacity(4).wait_strategy(strategy).build().unwrap();
        let mut reader = rt.reader().unwrap();
        let mut w = rt.writer().unwrap();
        let consumer = std::thread::spawn(move || {
            #[allow(clippy::disallowed_methods)] // the test paces its own thread
            std::thread::sleep(Duration::from_millis(30));
            let mut next = 0;
            while next < 50 {
                reader
                    .read_timeout(Duration::from_secs(10), |ev, _| {
                        assert_eq!(ev.as_pod::<u64>(), Ok(&next));
                        next += 1;
                    })
                    .unwrap();
            }
        });
        for i in 0..50u64 {
            w.publish_pod(0, &i).unwrap();
        }
        consumer.join().unwrap();
    }
}

/// A writer deferring its cursor store past the ring's capacity must store
/// it before it waits for room: the reader cannot make room by reading
/// events it cannot see, so otherwise writer and reader wait for each other
/// (here, until the writer's timeout).
#[test]
#[cfg_attr(miri, ignore = "sleeps; covered by the loom model of gating")]
fn a_deferring_writer_that_fills_the_ring_flushes_and_waits() {
    for strategy in [WaitStrategy::Yield, WaitStrategy::Blocking] {
        let rt = Runtime::builder().ring_capacity(4).wait_strategy(strategy).build().unwrap();
        let mut reader = rt.reader().unwrap();
        let mut w = rt.writer().unwrap();
        let consumer = std::thread::spawn(move || {
            let mut next = 0u64;
            while next < 10 {
                reader
                    .read_timeout(Duration::from_secs(10), |ev, _| {
                        assert_eq!(ev.as_pod::<u64>(), Ok(&next));
                        next += 1;
                    })
                    .unwrap();
            }
        });
        w.set_flush_every(32);
        for i in 0..10u64 {
            assert_eq!(w.publish_pod_timeout(0, &i, Duration::from_secs(5)), Ok(i), "{strategy:?}");
            assert!(w.pending() <= 4);
        }
        drop(w);
        consumer.join().unwrap();
    }
}

#[test]
fn an_abandoned_claim_publishes_nothing_and_reuses_its_slot() {
    let rt = small(common::Kind::Heap, 8, 1, 0);
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    {
        let mut claim = w.try_claim(SizeClass::XS).unwrap();
        claim.buf_mut()[..15].copy_from_slice(b"never published");
    }
    assert_eq!(w.published(), 0);
    assert!(reader.try_recv().unwrap().is_none());
    w.try_publish_bytes(3, b"the only slot").unwrap();
    let ev = reader.try_recv().unwrap().unwrap();
    assert_eq!((ev.sequence(), ev.event_type(), ev.data()), (0, 3, &b"the only slot"[..]));
}
