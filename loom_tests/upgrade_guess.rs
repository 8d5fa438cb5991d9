//! An upgrade never returns an event it cannot see completely, whatever
//! handle it is given. A `Handle` is plain data: it may come from another
//! runtime, a C host, or arithmetic on an older handle, with no
//! synchronisation with whoever filled the slot, and `Runtime::upgrade` is
//! safe, so a data race here would be undefined behaviour in safe code.
//!
//! Two ways a slot gets a live generation, each upgraded with a handle made
//! up in advance for it:
//!
//! * the allocator claims a slot and fills it. The slot stays `FILLING` with
//!   a refcount of 0 until `pool::finish_alloc` publishes it with Release,
//!   so the upgrade fails until then and, once it succeeds, its Acquire CAS
//!   sees the whole fill. Catches: the claim taking the slot with a refcount
//!   of 1 before the fill, as shipped until this model found it (the upgrade
//!   then reads the slot while it is written); the permanent mutant
//!   `alloc_unfilled` (`mutants.rs`);
//! * the writer fills a ring slot and a reader retains the event. The
//!   reader's `fetch_add` in `pool::retain` is Release (it acquired the
//!   fill through `published`), so the upgrade's Acquire sees the fill.
//!   Catches: that `fetch_add` Relaxed, as shipped until this model found it
//!   (the upgrade then synchronises with nobody); the permanent mutant
//!   `retain_relaxed` (`mutants.rs`).

use crate::common::*;
use loom::thread;
use slotcast::{Handle, Runtime, UpgradeError, WaitStrategy};

/// Tries to upgrade `handle` a few times, letting the other threads run in
/// between: each attempt either fails or yields exactly `expected`.
fn upgrade_sees_all_or_nothing(rt: &Runtime, handle: Handle, expected: [u8; 4]) {
    for _ in 0..2 {
        match rt.upgrade(handle) {
            Ok(ptr) => {
                assert_eq!(&ptr[..], expected, "an upgrade sees the whole event");
                return;
            }
            Err(UpgradeError::Stale) => pause(),
            Err(e) => panic!("unexpected upgrade error: {e}"),
        }
    }
}

pub(crate) const BOUND: usize = 3;

pub(crate) fn allocator_model() {
    let rt = runtime(1, 1, WaitStrategy::BusySpin);
    let allocator = rt.allocator();
    // Learn the slot and its generation, then free it: the next allocation
    // of this slot will have the next generation.
    let old = allocator.try_alloc_bytes(1, &payload(0)).unwrap().handle();
    let guessed = Handle { generation: old.generation.wrapping_add(1), ..old };
    let upgrader = rt.clone();
    let u = thread::spawn(move || upgrade_sees_all_or_nothing(&upgrader, guessed, payload(1)));
    let ptr = allocator.try_alloc_bytes(1, &payload(1)).unwrap();
    assert_eq!(ptr.handle(), guessed, "the guess is right");
    drop(ptr);
    u.join().unwrap();
}

pub(crate) fn ring_model() {
    let rt = runtime(1, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    // The writer takes its slot at generation 0 and fills it as generation 1.
    let guessed = Handle { class: POOLED.index() as u32, slot: 0, generation: 1, len: 4, event_type: 0 };
    let r = thread::spawn(move || {
        let event = reader.recv().unwrap();
        let kept = event.retain().unwrap();
        assert_eq!(kept.handle(), guessed, "the guess is right");
    });
    let upgrader = rt.clone();
    let u = thread::spawn(move || upgrade_sees_all_or_nothing(&upgrader, guessed, payload(0)));
    publish(&mut writer, 0);
    r.join().unwrap();
    u.join().unwrap();
}

#[test]
fn upgrade_never_sees_an_allocation_being_filled() {
    check(BOUND, allocator_model);
}

#[test]
fn upgrade_of_a_retained_event_sees_the_writers_fill() {
    check(BOUND, ring_model);
}
