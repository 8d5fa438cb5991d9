//! `RingPtr` and handles: retained events outlive cursors, readers, writers
//! and the runtime itself; refcounts return to zero; a recycled slot never
//! shows a later event through an old pointer and never upgrades an old
//! handle.

mod common;

use common::pattern;
use slotcast::{Handle, ReadError, RingPtr, Runtime, SizeClass, UpgradeError, ViewError};
use std::time::Duration;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn ring_ptrs_of_send_sync_types_are_send_and_sync() {
    assert_send_sync::<RingPtr>();
    assert_send_sync::<RingPtr<[u64; 4]>>();
    assert_send_sync::<Runtime>();
    assert_send_sync::<slotcast::Allocator>();
}

/// Three readers retain every event, keep a random subset for a while and
/// drop them in random order from their own threads; every retained event
/// keeps its bytes until dropped, and every slot comes back.
fn retain_from_threads_and_drop_in_random_order(kind: common::Kind) {
    let events = common::scaled(20_000, 200);
    // Each reader's retain of an XS event is a copy of its own (XS events are
    // read in the ring): a read can retain a whole ring's worth, so three
    // readers need up to 3 x (256 + 40) XS slots.
    let rt =
        common::builder(kind).ring_capacity(256).slots(SizeClass::XS, 1024).slots(SizeClass::S, 512).build().unwrap();
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let mut reader = rt.reader().unwrap();
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t);
                let mut kept: Vec<(u64, RingPtr)> = Vec::new();
                let mut seen = 0;
                while seen < events {
                    reader
                        .read_timeout(Duration::from_secs(10), |ev, _| {
                            kept.push((ev.sequence(), ev.retain().unwrap()));
                            seen += 1;
                        })
                        .unwrap();
                    while kept.len() > 40 {
                        let (seq, ptr) = kept.swap_remove(rng.usize(..kept.len()));
                        assert_eq!(pattern::check(&ptr), Ok(seq), "a retained event changed");
                        // Some pointers travel to another thread before dying.
                        if rng.u8(..) < 16 {
                            std::thread::spawn(move || drop(ptr.clone())).join().unwrap();
                        }
                    }
                }
                rng.shuffle(&mut kept);
                for (seq, ptr) in kept {
                    assert_eq!(pattern::check(&ptr), Ok(seq));
                }
            })
        })
        .collect();
    let mut w = rt.writer().unwrap();
    let mut buf = vec![0u8; 256];
    for seq in 0..events {
        let len = if seq % 4 == 0 { 200 } else { 40 };
        pattern::fill(seq, &mut buf[..len]);
        w.publish_bytes(1, &buf[..len]).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    for pool in rt.stats().pools {
        assert_eq!((pool.retained, pool.in_use), (0, 0), "{pool:?}");
    }
}

/// A pointer to a slot keeps it out of circulation while the writer cycles
/// the rest of the pool: the pointer never sees a later event.
fn a_ring_ptr_never_sees_a_later_event(kind: common::Kind) {
    // Events of class S: they are read in their pool slots (XS events are
    // read in the ring, and a retain copies them).
    let rt = common::builder(kind).ring_capacity(4).slots(SizeClass::S, 2).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    let event = |tag: u8| [tag; 100];
    w.try_publish_bytes(0, &event(0xF1)).unwrap();
    let kept = reader.try_recv().unwrap().unwrap().retain().unwrap();
    for i in 0..common::scaled(1000, 50) {
        w.try_publish_bytes(1, &event(i as u8)).unwrap();
        assert_eq!(reader.try_recv().unwrap().unwrap().data(), &event(i as u8)[..]);
        assert_eq!(&kept[..], &event(0xF1)[..]);
    }
    assert_eq!(rt.stats().pool(SizeClass::S).retained, 1);
    // With the kept slot out of circulation, one slot serves the ring.
    w.try_publish_bytes(0, &event(b'x')).unwrap();
    assert!(w.try_publish_bytes(0, &event(b'y')).is_err(), "the reader has not read x, the other slot is retained");
    drop(kept);
    w.try_publish_bytes(0, &event(b'y')).expect("the released slot is reused");
}

/// An XS event is read in its ring entry; retaining it copies it into a
/// pool slot, so the pointer keeps its bytes while the writer reuses the
/// entry, and a handle from the event itself never upgrades.
fn a_retained_small_event_outlives_its_ring_entry(kind: common::Kind) {
    let rt = common::builder(kind).ring_capacity(4).slots(SizeClass::XS, 1).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(7, b"first").unwrap();
    let event = reader.try_recv().unwrap().unwrap();
    assert_eq!(rt.upgrade(event.handle()).unwrap_err(), UpgradeError::Invalid, "no slot until retained");
    let kept = event.retain().unwrap();
    assert_eq!(event.retain().unwrap_err(), ReadError::NoFreeSlot { class: SizeClass::XS }, "one XS slot");
    drop(event);
    assert_eq!((kept.class(), kept.event_type(), &kept[..]), (SizeClass::XS, 7, &b"first"[..]));
    let again = rt.upgrade(kept.handle()).expect("the copy's handle upgrades");
    for i in 0..common::scaled(1000, 50) {
        w.try_publish_pod(1, &i).unwrap();
        assert_eq!(reader.try_recv().unwrap().unwrap().as_pod::<u64>(), Ok(&i));
        assert_eq!(&kept[..], b"first");
    }
    assert_eq!(rt.stats().pool(SizeClass::XS).retained, 1);
    drop((kept, again));
    assert_eq!(rt.stats().pool(SizeClass::XS).in_use, 0);
}

/// Handles upgrade while their generation lives, and never after.
fn handles_of_recycled_slots_do_not_upgrade(kind: common::Kind) {
    let rt = common::builder(kind).ring_capacity(4).slots(SizeClass::XS, 1).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(5, b"old").unwrap();
    let old = reader.try_recv().unwrap().unwrap().retain().unwrap();
    let h = old.handle();
    assert_eq!((h.class, h.len, h.event_type, h.size_class()), (0, 3, 5, Some(SizeClass::XS)));
    let again = rt.upgrade(h).unwrap();
    assert!(RingPtr::ptr_eq(&old, &again));
    drop((old, again));
    assert_eq!(rt.upgrade(h).unwrap_err(), UpgradeError::Stale, "no pointer holds it any more");

    w.try_publish_bytes(6, b"new").unwrap();
    let new = reader.try_recv().unwrap().unwrap().retain().unwrap();
    assert_eq!(new.handle().slot, h.slot, "the same slot, recycled");
    assert_ne!(new.handle().generation, h.generation);
    assert_eq!(rt.upgrade(h).unwrap_err(), UpgradeError::Stale, "an old generation never upgrades");
    let up = rt.allocator().upgrade(new.handle()).unwrap();
    assert_eq!((&up[..], up.event_type()), (&b"new"[..], 6));
}

/// Pointers outlive the writer, the readers, the allocator and the runtime.
fn pointers_outlive_the_runtime(kind: common::Kind) {
    let rt = common::builder(kind).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for i in 0..10u32 {
        w.try_publish_pod(i, &[i; 100]).unwrap();
    }
    let mut kept = Vec::new();
    reader.try_read(|ev, _| kept.push(ev.retain().unwrap())).unwrap();
    let alloc = rt.allocator();
    let made = alloc.try_alloc_pod(42, &[7u16; 8]).unwrap();
    drop((w, reader, alloc, rt));
    for (i, p) in kept.iter().enumerate() {
        let typed: RingPtr<[u32; 100]> = p.clone().cast().unwrap();
        assert_eq!(*typed, [i as u32; 100]);
    }
    assert_eq!((*made, made.event_type()), ([7u16; 8], 42));
    // The last references die on other threads, in two waves.
    let tail = kept.split_off(5);
    let t1 = std::thread::spawn(move || drop(kept));
    let t2 = std::thread::spawn(move || {
        let copies: Vec<_> = tail.iter().map(RingPtr::clone).collect();
        drop(tail);
        copies.into_iter().map(|p| p.len()).sum::<usize>()
    });
    t1.join().unwrap();
    assert_eq!(t2.join().unwrap(), 5 * 400);
    drop(made);
}

every_backing! {
    retain_and_drop => super::retain_from_threads_and_drop_in_random_order;
    never_a_later_event => super::a_ring_ptr_never_sees_a_later_event;
    small_event_copied => super::a_retained_small_event_outlives_its_ring_entry;
    recycled_handles => super::handles_of_recycled_slots_do_not_upgrade;
    outlive_runtime => super::pointers_outlive_the_runtime;
}

#[test]
fn a_runtime_dropped_before_its_last_writer_and_reader_is_fine() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    drop(rt);
    w.try_publish_bytes(1, b"still here").unwrap();
    assert_eq!(reader.try_recv().unwrap().unwrap().data(), b"still here");
}

#[test]
fn clones_count_and_the_last_drop_frees() {
    let rt = Runtime::new().unwrap();
    let p = rt.allocator().try_alloc_bytes(0, b"x").unwrap();
    let clones: Vec<_> = (0..100).map(|_| p.clone()).collect();
    let h = p.handle();
    assert_eq!(rt.stats().pool(SizeClass::XS).retained, 1);
    drop(clones);
    assert_eq!(rt.upgrade(h).map(|p| p.len()), Ok(1), "one pointer still holds it");
    drop(p);
    assert_eq!(rt.stats().pool(SizeClass::XS).retained, 0);
    assert_eq!(rt.upgrade(h).unwrap_err(), UpgradeError::Stale);
}

#[repr(C, align(128))]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct OverAligned([u8; 128]);

#[test]
fn typed_views_check_size_and_alignment() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    w.try_publish_pod(0, &0xABCD_u32).unwrap();
    w.try_publish_bytes(0, &[0u8; 128]).unwrap();
    let ev = reader.try_recv().unwrap().unwrap();
    assert_eq!(ev.as_pod::<u32>(), Ok(&0xABCD));
    assert_eq!(ev.as_pod::<u64>(), Err(ViewError::Size { expected: 8, actual: 4 }));
    assert_eq!(ev.as_pod::<[u8; 3]>(), Err(ViewError::Size { expected: 3, actual: 4 }));
    let p = ev.retain().unwrap();
    drop(ev);
    assert_eq!(p.clone().cast::<u16>().unwrap_err(), ViewError::Size { expected: 2, actual: 4 });
    assert_eq!(*p.clone().cast::<[u8; 4]>().unwrap(), 0xABCD_u32.to_ne_bytes());
    let ev = reader.try_recv().unwrap().unwrap();
    assert!(matches!(ev.as_pod::<OverAligned>(), Err(ViewError::Align { required: 128 })));
    let p = ev.retain().unwrap();
    assert!(matches!(p.cast::<OverAligned>(), Err(ViewError::Align { required: 128 })));
}

#[test]
fn malformed_handles_are_invalid_not_unsafe() {
    let rt = Runtime::builder().slots(SizeClass::XS, 4).build().unwrap();
    let good = rt.allocator().try_alloc_bytes(0, b"x").unwrap().handle();
    // Each case: one field pushed out of range.
    let cases = [
        Handle { class: 5, ..good },
        Handle { class: u32::MAX, ..good },
        Handle { slot: 4, ..good },
        Handle { slot: u32::MAX, ..good },
    ];
    for h in cases {
        assert_eq!(rt.upgrade(h).unwrap_err(), UpgradeError::Invalid, "{h:?}");
    }
    let zeroed: Handle = bytemuck::Zeroable::zeroed();
    assert!(rt.upgrade(zeroed).is_err());
}

#[test]
fn upgrade_takes_length_and_type_from_the_slot_not_the_handle() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    rt.writer().unwrap().try_publish_bytes(7, b"hello").unwrap();
    let kept = reader.try_recv().unwrap().unwrap().retain().unwrap();
    let allocated = rt.allocator().try_alloc_bytes(8, b"allocated").unwrap();
    for (ptr, len, event_type) in [(&kept, 5, 7), (&allocated, 9, 8)] {
        // A handle that lies about the event (made up, or damaged in transit).
        let lying = Handle { len: 64, event_type: 99, ..ptr.handle() };
        let up = rt.upgrade(lying).unwrap();
        assert_eq!((up.len(), up.event_type()), (len, event_type));
        assert!(RingPtr::ptr_eq(&up, ptr));
    }
}

/// With no XS slots, a retained XS event is copied into class S; slots the
/// writer keeps for its S events are handed back when an XS-only stream
/// follows, so the retain does not fail for good.
#[test]
fn a_retain_gets_the_slots_the_writer_keeps_during_an_xs_only_stream() {
    let rt = Runtime::builder().ring_capacity(8).slots(SizeClass::XS, 0).slots(SizeClass::S, 4).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for i in 0..4u8 {
        w.try_publish_bytes(0, &[i; 100]).unwrap();
    }
    assert_eq!(reader.try_read(|_, _| ()), Ok(4));
    assert_eq!(rt.stats().pool(SizeClass::S).writer_owned, 4, "the writer keeps its S slots");
    let mut kept = None;
    for i in 0..32u8 {
        w.try_publish_bytes(1, &[i; 8]).unwrap();
        reader
            .try_read(|ev, _| {
                if let Ok(p) = ev.retain() {
                    kept.get_or_insert(p);
                }
            })
            .unwrap();
    }
    let kept = kept.expect("an S slot came back to copy the XS event into");
    assert_eq!((kept.class(), kept.len()), (SizeClass::S, 8));
}
