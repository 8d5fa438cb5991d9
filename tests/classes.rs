//! Size classes configured with 0 slots ("0 removes a class"): an event
//! goes to the next larger class that has slots, and one that no class with
//! slots can hold is refused at once, never waited for. XS events are the
//! exception: they are carried in the ring entry, whatever the XS pool
//! (which only retains and the allocator use). The same through the C ABI:
//! `tests/ffi.rs`.
#![allow(clippy::disallowed_types)] // the tests run calls that may hang on std threads
#![allow(
    clippy::multiple_unsafe_ops_per_block,
    reason = "a block is a run of C calls under one stated contract: live handles, valid pointers"
)]

mod common;

use slotcast::{AllocError, PublishError, Runtime, SizeClass, TryPublishError};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `f` on a thread and gives its result, or `None` if it has not
/// returned within 5 s (the thread is left behind: it hangs).
fn within_5s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(5)).ok()
}

/// A runtime without XS, L and XL slots: only S (256 B) and M (1 KB) exist.
fn s_and_m_only() -> Runtime {
    Runtime::builder()
        .slots(SizeClass::XS, 0)
        .slots(SizeClass::S, 4)
        .slots(SizeClass::M, 2)
        .slots(SizeClass::L, 0)
        .slots(SizeClass::XL, 0)
        .ring_capacity(8)
        .build()
        .unwrap()
}

#[test]
fn the_config_names_the_class_an_event_goes_to() {
    let config = s_and_m_only().config().clone();
    // Each case: a class asked for, and the class with slots that serves it.
    let cases = [
        (SizeClass::XS, Some(SizeClass::S)),
        (SizeClass::S, Some(SizeClass::S)),
        (SizeClass::M, Some(SizeClass::M)),
        (SizeClass::L, None),
        (SizeClass::XL, None),
    ];
    for (asked, served) in cases {
        assert_eq!(config.class_for(asked), served, "{asked}");
    }
    // Each case: a payload length, and the class with slots that holds it.
    let cases = [(0, Some(SizeClass::S)), (10, Some(SizeClass::S)), (257, Some(SizeClass::M)), (1025, None)];
    for (len, served) in cases {
        assert_eq!(config.class_for_len(len), served, "{len} B");
    }
    assert_eq!(config.class_for_len(SizeClass::MAX_PAYLOAD + 1), None);
}

#[test]
fn a_small_event_lands_in_the_next_class_with_slots() {
    let rt = s_and_m_only();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    // XS events need no XS slot: they are carried in the ring.
    assert_eq!(w.try_publish_bytes(1, &[7; 10]), Ok(0));
    assert_eq!(w.try_publish_pod(2, &42u64), Ok(1));
    assert_eq!(w.publish_bytes_timeout(3, &[8; 300], Duration::from_secs(60)), Ok(2));
    let mut seen = Vec::new();
    reader.try_read(|ev, _| seen.push((ev.class(), ev.len(), ev.event_type()))).unwrap();
    assert_eq!(seen, [(SizeClass::XS, 10, 1), (SizeClass::XS, 8, 2), (SizeClass::M, 300, 3)]);
    // Without S slots, an S event lands in M.
    let no_s = Runtime::builder().slots(SizeClass::S, 0).ring_capacity(8).build().unwrap();
    let mut reader_m = no_s.reader().unwrap();
    let mut w_m = no_s.writer().unwrap();
    assert_eq!(w_m.try_publish_bytes(4, &[9; 100]), Ok(0));
    assert_eq!(reader_m.try_recv().unwrap().map(|ev| (ev.class(), ev.len())), Some((SizeClass::M, 100)));
    // The standalone allocator picks classes the same way.
    let ptr = rt.allocator().try_alloc_bytes(4, &[9; 10]).expect("S has free slots");
    assert_eq!((ptr.class(), ptr.as_bytes()), (SizeClass::S, &[9; 10][..]));
    let ptr = rt.allocator().try_alloc_with(SizeClass::XS, 5, |_| 3).expect("an XS request moves up to S");
    assert_eq!((ptr.class(), ptr.len()), (SizeClass::S, 3));
}

#[test]
fn a_waiting_publish_of_a_small_event_returns_promptly() {
    let rt = s_and_m_only();
    let mut w = rt.writer().unwrap();
    let answer = within_5s(move || w.publish_bytes(1, &[7; 10]));
    assert_eq!(answer, Some(Ok(0)), "publish_bytes hung on the empty XS pool");
}

#[test]
fn a_payload_no_class_with_slots_holds_is_refused_at_once() {
    let rt = s_and_m_only();
    let no_l = Err(PublishError::NoSlots(SizeClass::L));
    let mut w = rt.writer().unwrap();
    assert_eq!(w.try_publish_bytes(1, &[0; 2000]), no_l);
    let started = Instant::now();
    assert_eq!(w.publish_bytes_timeout(1, &[0; 2000], Duration::from_secs(60)), no_l);
    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?} for a pool without slots", started.elapsed());
    let answer = within_5s(move || {
        let result = w.publish_bytes(1, &[0; 2000]);
        (result, w.published())
    });
    assert_eq!(answer, Some((no_l, 0)), "publish_bytes hung on pools without slots");
    assert_eq!(rt.allocator().try_alloc_bytes(1, &[0; 2000]).unwrap_err(), AllocError::NoSlots(SizeClass::L));
    let alloc = rt.allocator();
    assert_eq!(alloc.try_alloc_with(SizeClass::L, 1, |_| 0).unwrap_err(), AllocError::NoSlots(SizeClass::L));
    // Over 16 KB it is still `TooLarge`, whatever the classes.
    assert!(matches!(rt.allocator().try_alloc_bytes(1, &[0; 20_000]), Err(AllocError::TooLarge { len: 20_000 })));
}

#[test]
fn an_explicit_class_without_slots_moves_up_or_is_refused_at_once() {
    let rt = s_and_m_only();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    // XS has no slots, and needs none: its events are carried in the ring.
    let claim = w.try_claim(SizeClass::XS).expect("the ring carries XS");
    assert_eq!((claim.class(), claim.capacity()), (SizeClass::XS, 64));
    drop(claim);
    let seq = w.try_publish_with(SizeClass::XS, 0, |buf| buf.len()).expect("the ring carries XS");
    assert_eq!(seq, 0);
    assert_eq!(reader.try_read(|ev, _| assert_eq!((ev.class(), ev.len()), (SizeClass::XS, 64))), Ok(1));
    // S has no slots here: its events go to M, whose slots hold them.
    let no_s = Runtime::builder().slots(SizeClass::S, 0).ring_capacity(8).build().unwrap();
    let mut reader_m = no_s.reader().unwrap();
    let mut w_m = no_s.writer().unwrap();
    let claim = w_m.try_claim(SizeClass::S).expect("M serves S");
    assert_eq!((claim.class(), claim.capacity()), (SizeClass::M, 1024));
    drop(claim);
    assert_eq!(w_m.try_publish_with(SizeClass::S, 0, |buf| buf.len()).ok(), Some(0));
    assert_eq!(reader_m.try_read(|ev, _| assert_eq!((ev.class(), ev.len()), (SizeClass::M, 1024))), Ok(1));
    // Nothing at or above L has slots: refused at once, the closure handed back.
    assert_eq!(w.try_claim(SizeClass::L).map(|_| ()), Err(PublishError::NoSlots(SizeClass::L)));
    let refused = w.try_publish_with(SizeClass::XL, 0, |_| 1).unwrap_err();
    assert_eq!(refused.error(), PublishError::NoSlots(SizeClass::XL));
    assert!(!refused.is_full(), "no slots is not full: waiting cannot help");
    let fill = refused.into_inner().expect("handed back");
    assert_eq!(w.try_publish_with(SizeClass::M, 0, fill).ok(), Some(1), "the closure came back unused");
    let answer = within_5s(move || {
        let started = Instant::now();
        let long = Duration::from_secs(60);
        let claim = w.claim_timeout(SizeClass::L, long).map(|_| ());
        let with = w.publish_with_timeout(SizeClass::XL, 0, |_| 1, long).map_err(|e| e.error());
        let at = Instant::now() + long;
        let claim_at = w.claim_deadline(SizeClass::L, at).map(|_| ());
        let with_at = w.publish_with_deadline(SizeClass::XL, 0, |_| 1, at).map_err(|e| e.error());
        let timed = (claim, with, claim_at, with_at, started.elapsed() < Duration::from_secs(1));
        // The forms that wait as long as it takes answer at once too.
        let claim = w.claim(SizeClass::L).map(|_| ());
        let with = w.publish_with(SizeClass::XL, 0, |_| 1);
        let with_handed_back = matches!(with, Err(TryPublishError::NoSlots(SizeClass::XL, _)));
        (timed, claim, with_handed_back, w.published())
    });
    let (no_l, no_xl) = (Err(PublishError::NoSlots(SizeClass::L)), Err(PublishError::NoSlots(SizeClass::XL)));
    let timed = (no_l, no_xl, no_l, no_xl, true);
    let expected = (timed, no_l, true, 2);
    assert_eq!(answer, Some(expected), "a claim waited on a pool without slots");
}
