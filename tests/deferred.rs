//! A writer deferring its cursor store (`Writer::set_flush_every`): deferred
//! events stay invisible to readers until the writer flushes (explicitly, at
//! its bound, when it is dropped, or when the ring is full), and then all of
//! them are visible, in order. And the writer's own wait strategy: sleeping
//! readers are woken whatever it is.

#[macro_use]
mod common;

use slotcast::{Full, PublishError, Reader, Runtime, SizeClass, WaitStrategy};
use std::time::{Duration, Instant};

fn runtime(kind: common::Kind, ring: usize) -> Runtime {
    common::builder(kind).ring_capacity(ring).build().unwrap()
}

/// The payloads a reader can see now, each a one-byte event.
fn visible(reader: &mut Reader) -> Vec<u8> {
    let mut seen = Vec::new();
    reader.try_read(|ev, _| seen.push(ev.data()[0])).unwrap();
    seen
}

fn explicit_flush(kind: common::Kind) {
    let rt = runtime(kind, 64);
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.set_flush_every(1000);
    for i in 0..10u8 {
        assert_eq!(w.try_publish_bytes(0, &[i]), Ok(u64::from(i)), "sequence numbers are assigned at once");
    }
    assert_eq!((w.pending(), w.published(), reader.lag()), (10, 0, 0));
    assert_eq!(visible(&mut reader), [0u8; 0], "deferred events are invisible");
    w.flush();
    assert_eq!((w.pending(), w.published()), (0, 10));
    assert_eq!(visible(&mut reader), (0..10).collect::<Vec<u8>>(), "all visible, in order");
    w.flush(); // nothing pending: nothing happens
    assert_eq!(w.published(), 10);
}

fn the_bound(kind: common::Kind) {
    let rt = runtime(kind, 64);
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    assert_eq!(w.flush_every(), 1, "every event at once by default");
    w.set_flush_every(3);
    assert_eq!(w.flush_every(), 3);
    let mut next = 0u8;
    for round in 0..4 {
        for _ in 0..2 {
            w.try_publish_bytes(0, &[next]).unwrap();
            next += 1;
        }
        assert!(visible(&mut reader).is_empty(), "round {round}: two of three are deferred");
        w.try_publish_with(SizeClass::XS, 0, |buf| {
            buf[0] = next;
            1
        })
        .unwrap();
        next += 1;
        let expected: Vec<u8> = (next - 3..next).collect();
        assert_eq!(visible(&mut reader), expected, "round {round}: the third flushes all three");
    }
    // Lowering the bound below what is pending flushes at once; 0 means 1.
    w.try_publish_bytes(0, &[next]).unwrap();
    w.try_publish_bytes(0, &[next + 1]).unwrap();
    w.set_flush_every(0);
    assert_eq!((w.flush_every(), w.pending()), (1, 0));
    assert_eq!(visible(&mut reader), [next, next + 1]);
}

fn drop_flushes(kind: common::Kind) {
    let rt = runtime(kind, 64);
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.set_flush_every(100);
    for i in 0..5u8 {
        let mut claim = w.try_claim(SizeClass::XS).unwrap();
        claim.buf_mut()[0] = i;
        claim.publish(1).unwrap();
    }
    assert!(visible(&mut reader).is_empty());
    drop(w);
    assert_eq!(visible(&mut reader), [0, 1, 2, 3, 4], "dropping the writer publishes what it deferred");
    // The next writer continues after them.
    assert_eq!(rt.writer().unwrap().try_publish_bytes(0, &[5]), Ok(5));
}

/// A `try_` form that finds the ring full stores the cursor first, so the
/// readers can make the room it lacks.
fn a_full_ring_flushes(kind: common::Kind) {
    let rt = runtime(kind, 4);
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.set_flush_every(100);
    for i in 0..4u8 {
        w.try_publish_bytes(0, &[i]).unwrap();
    }
    assert_eq!(w.pending(), 4);
    assert_eq!(w.try_publish_bytes(0, &[4]), Err(PublishError::Full(Full::Ring)));
    assert_eq!(w.pending(), 0, "flushed before reporting full");
    assert_eq!(visible(&mut reader), [0, 1, 2, 3]);
    assert_eq!(w.try_publish_bytes(0, &[4]), Ok(4));
}

/// With no reader, the flush itself makes the room: a `try_` form that
/// finds the ring or a pool full only because its own events are deferred
/// succeeds, it does not report `Full`.
fn no_reader_no_spurious_full(kind: common::Kind) {
    let rt = runtime(kind, 4);
    let mut w = rt.writer().unwrap();
    w.set_flush_every(100);
    let ring: Vec<_> = (0..10u8).map(|i| w.try_publish_bytes(0, &[i])).collect();
    assert_eq!(ring, (0..10).map(Ok).collect::<Vec<_>>(), "the ring");
    drop(w);
    // A pool smaller than the bound: 10 L events through 4 L slots.
    let rt = common::builder(kind).ring_capacity(64).slots(SizeClass::L, 4).build().unwrap();
    let mut w = rt.writer().unwrap();
    w.set_flush_every(100);
    let l_event = vec![7; SizeClass::M.capacity() + 1];
    let pool: Vec<_> = (0..10).map(|_| w.try_publish_bytes(1, &l_event)).collect();
    assert_eq!(pool, (0..10).map(Ok).collect::<Vec<_>>(), "the L pool");
}

every_backing! {
    no_reader => super::no_reader_no_spurious_full;
    explicit => super::explicit_flush;
    bound => super::the_bound;
    drop => super::drop_flushes;
    full_ring => super::a_full_ring_flushes;
}

/// The writer's strategy is its own (the runtime's by default), and does not
/// decide whether sleeping readers are woken: a reader asleep on the futex
/// gets the event of a busy-spinning writer at once, not at its timeout.
#[test]
#[cfg_attr(miri, ignore = "sleeps; the wake-up protocol has its loom model")]
fn a_sleeping_reader_is_woken_whatever_the_writers_strategy() {
    let rt = Runtime::builder().wait_strategy(WaitStrategy::Blocking).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    assert_eq!(w.wait_strategy(), WaitStrategy::Blocking, "the runtime's by default");
    w.set_wait_strategy(WaitStrategy::BusySpin);
    assert_eq!(w.wait_strategy(), WaitStrategy::BusySpin);
    let sleeper = std::thread::spawn(move || {
        let started = Instant::now();
        let got = reader.recv_timeout(Duration::from_secs(10)).unwrap().map(|ev| ev.data().to_vec());
        (got, started.elapsed())
    });
    // Long enough for the reader to spin, yield and go to sleep.
    #[allow(clippy::disallowed_methods)] // the test paces its own thread
    std::thread::sleep(Duration::from_millis(200));
    w.try_publish_bytes(0, b"wake").unwrap();
    let (got, waited) = sleeper.join().unwrap();
    assert_eq!(got.as_deref(), Some(&b"wake"[..]));
    assert!(waited < Duration::from_secs(5), "the reader slept until its timeout: {waited:?}");
}
