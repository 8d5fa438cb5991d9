//! The standalone allocator: slots from any thread without the ring, never
//! handed out twice, exhaustion as an error, and sharing the pools with a
//! writer.
#![allow(clippy::disallowed_types)] // the tests coordinate their own threads with std types

mod common;

use slotcast::{AllocError, Full, RingPtr, Runtime, SizeClass};
use std::collections::HashSet;
use std::sync::{Arc, Barrier};

/// Four threads allocate until the pool is dry; no slot is handed out twice
/// while held, and all of them come back.
fn threads_never_share_a_slot(kind: common::Kind) {
    let slots = 256;
    let rt = common::builder(kind).slots(SizeClass::S, slots).build().unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let alloc = rt.allocator();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    match alloc.try_alloc_with(SizeClass::S, t, |buf| {
                        buf[..4].copy_from_slice(&t.to_le_bytes());
                        4
                    }) {
                        Ok(p) => mine.push(p),
                        Err(AllocError::Full(Full::Pool(SizeClass::S))) => break,
                        Err(e) => panic!("{e}"),
                    }
                }
                mine
            })
        })
        .collect();
    let held: Vec<Vec<RingPtr>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let all: Vec<&RingPtr> = held.iter().flatten().collect();
    assert_eq!(all.len(), slots, "every slot allocated exactly once");
    let distinct: HashSet<u32> = all.iter().map(|p| p.handle().slot).collect();
    assert_eq!(distinct.len(), slots, "no slot handed out twice");
    for (t, ptrs) in held.iter().enumerate() {
        for p in ptrs {
            assert_eq!((&p[..], p.event_type()), (&(t as u32).to_le_bytes()[..], t as u32));
        }
    }
    assert_eq!(rt.stats().pool(SizeClass::S).in_use, slots);
    drop(held);
    assert_eq!(rt.stats().pool(SizeClass::S).in_use, 0);
}

every_backing! {
    threads_never_share => super::threads_never_share_a_slot;
}

#[test]
fn exhaustion_and_oversize_are_errors() {
    let rt = Runtime::builder().slots(SizeClass::XS, 2).slots(SizeClass::XL, 0).build().unwrap();
    let alloc = rt.allocator();
    let a = alloc.try_alloc_bytes(0, b"a").unwrap();
    let _b = alloc.try_alloc_bytes(0, b"b").unwrap();
    assert_eq!(alloc.try_alloc_bytes(0, b"c").unwrap_err(), AllocError::Full(Full::Pool(SizeClass::XS)));
    // XL has no slots at all: not exhausted, absent.
    assert_eq!(alloc.try_alloc_bytes(0, &[0; 10_000]).unwrap_err(), AllocError::NoSlots(SizeClass::XL));
    assert_eq!(alloc.try_alloc_bytes(0, &[0; 16_385]).unwrap_err(), AllocError::TooLarge { len: 16_385 });
    assert_eq!(
        alloc.try_alloc_with(SizeClass::M, 0, |_| 1025).unwrap_err(),
        AllocError::OverCapacity { len: 1025, capacity: 1024 },
        "a fill that claims more than the slot is refused"
    );
    assert_eq!(rt.stats().pool(SizeClass::M).in_use, 0, "and its slot went back");
    drop(a);
    alloc.try_alloc_bytes(0, b"c").expect("a slot came back");
}

#[test]
fn a_panicking_fill_returns_its_slot() {
    let rt = Runtime::builder().slots(SizeClass::XS, 1).build().unwrap();
    let alloc = rt.allocator();
    let result = std::panic::catch_unwind(|| alloc.try_alloc_with(SizeClass::XS, 0, |_| panic!("fill failed")));
    assert!(result.is_err());
    alloc.try_alloc_bytes(0, b"ok").expect("the slot is free again");
}

#[test]
fn actors_pass_one_slot_around_and_the_last_drop_frees_it() {
    let rt = Runtime::builder().slots(SizeClass::M, 1).build().unwrap();
    let alloc = rt.allocator();
    let msg = alloc.try_alloc_with(SizeClass::M, 7, |buf| {
        buf[..1000].fill(0xAB);
        1000
    });
    let msg = msg.unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<RingPtr>();
    let relay = std::thread::spawn(move || {
        let mut seen = 0;
        for m in rx {
            assert!(m.iter().all(|&b| b == 0xAB));
            seen += 1;
        }
        seen
    });
    for _ in 0..10 {
        tx.send(msg.clone()).unwrap();
    }
    assert_eq!(alloc.try_alloc_bytes(0, &[0; 1000]).unwrap_err(), AllocError::Full(Full::Pool(SizeClass::M)));
    drop((tx, msg));
    assert_eq!(relay.join().unwrap(), 10);
    assert_eq!(rt.stats().pool(SizeClass::M).in_use, 0);
    alloc.try_alloc_bytes(0, &[0; 1000]).expect("free after the last actor dropped it");
}

/// The writer keeps slots for reuse (of S here: XS events are carried in the
/// ring and take no slot); an allocator that finds the pool empty
/// asks for them back, and the writer returns the idle ones on its next
/// publish of that class (or when asked, or when dropped).
#[test]
fn the_writer_hands_idle_slots_back_to_the_allocator() {
    let rt = Runtime::builder().ring_capacity(64).slots(SizeClass::S, 8).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    let alloc = rt.allocator();
    // A burst while the reader lags: the writer takes every slot.
    for i in 0..8u8 {
        w.try_publish_bytes(0, &[i; 100]).unwrap();
    }
    assert_eq!(rt.stats().pool(SizeClass::S).writer_owned, 8);
    reader.try_read(|_, _| ()).unwrap();
    assert_eq!(alloc.try_alloc_bytes(0, &[0; 100]).unwrap_err(), AllocError::Full(Full::Pool(SizeClass::S)));
    // The failed allocation asked; the next publish of the class answers.
    w.try_publish_bytes(0, &[0; 100]).unwrap();
    let a = alloc.try_alloc_bytes(0, &[0; 100]).expect("idle slots were handed back");
    assert!(rt.stats().pool(SizeClass::S).writer_owned < 8);
    reader.try_read(|_, _| ()).unwrap();
    w.give_back_idle_slots();
    assert_eq!(rt.stats().pool(SizeClass::S).writer_owned, 0);
    let more: Vec<_> = (0..7).map(|_| alloc.try_alloc_bytes(0, &[0; 100]).unwrap()).collect();
    assert_eq!(rt.stats().pool(SizeClass::S).in_use, 8);
    assert!(w.try_publish_bytes(0, &[0; 100]).is_err(), "the allocator holds every slot");
    drop((a, more));
    w.try_publish_bytes(0, &[0; 100]).unwrap();
}

/// A writer dropped while a reader still needed its last events leaves
/// them in the ring's slots; once the reader is done, an allocator gets
/// them back without waiting for another writer.
#[test]
fn slots_a_dropped_writer_kept_go_back_to_the_allocator() {
    let rt = Runtime::builder().slots(SizeClass::S, 4).slots(SizeClass::M, 0).ring_capacity(8).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    for i in 0..4u8 {
        writer.try_publish_bytes(0, &[i; 100]).unwrap();
    }
    drop(writer); // the reader still needs all four slots
    assert_eq!(reader.try_read(|_, _| {}).unwrap(), 4);
    drop(reader);
    let alloc = rt.allocator();
    let kept: Vec<_> = (0..4).map(|i| alloc.try_alloc_bytes(0, &[i; 100]).expect("every slot is free again")).collect();
    assert_eq!(rt.stats().pool(SizeClass::S).in_use, 4);
    drop(kept);
    assert!(rt.writer().is_ok(), "the role is free again");
}

#[repr(C, align(128))]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct OverAligned([u8; 128]);

/// A type slots cannot align is refused as such, not as too large, and
/// takes no slot.
#[test]
fn a_pod_needing_more_alignment_than_a_slot_is_refused() {
    let rt = Runtime::builder().slots(SizeClass::S, 1).build().unwrap();
    let alloc = rt.allocator();
    let err = alloc.try_alloc_pod(0, &OverAligned([7; 128])).unwrap_err();
    assert_eq!(err, AllocError::Align { required: 128 });
    assert!(err.to_string().contains("128"), "{err}");
    assert_eq!(rt.stats().pool(SizeClass::S).in_use, 0);
    let ok = alloc.try_alloc_pod(0, &[7u8; 128]).expect("the one S slot is free");
    assert_eq!(*ok, [7; 128]);
}
