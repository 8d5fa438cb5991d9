//! Handle upgrade racing slot reuse: upgrading the handle of a retained
//! event either returns that event, bytes intact, or fails; never the event
//! that reused the slot.
//!
//! Event 0 is retained and its handle taken; then, at the same time, one
//! thread drops the only `RingPtr`, the writer publishes events 2 and 3 (event
//! 2 wants event 0's slot: it reuses it with a plain store if the refcount is
//! 0, or hands it off), and the main thread upgrades the handle.
//!
//! Catches: the upgrade's single CAS that checks the generation and a
//! refcount above 0 in one word (`pool::upgrade`) split into a check and a
//! `fetch_add` (the writer's reuse lands in between; the upgrade then
//! resurrects the slot under the new event: loom reports the pointer's read
//! racing the writer's refill); and the `refcount == 0` refusal dropped (the
//! upgrade revives a count of 0 between the writer's load and its plain
//! store). Both verified by hand; the first is the permanent mutant
//! `upgrade_split` (`mutants.rs`).

use crate::common::*;
use loom::thread;
use slotcast::{UpgradeError, WaitStrategy};

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    assert!(try_publish(&mut writer, 0) && try_publish(&mut writer, 1));
    let kept = {
        let event = reader.recv().unwrap();
        assert_event(&event, 0);
        event.retain().unwrap()
    };
    drop(reader.recv().unwrap());
    let handle = kept.handle();

    let d = thread::spawn(move || drop(kept));
    let w = thread::spawn(move || {
        for seq in 2..4 {
            publish(&mut writer, seq);
        }
    });
    match rt.upgrade(handle) {
        Ok(ptr) => {
            assert_eq!(ptr.handle(), handle);
            assert_eq!(&ptr[..], payload(0), "an upgrade returns the original event");
        }
        Err(UpgradeError::Stale) => {}
        Err(e) => panic!("unexpected upgrade error: {e}"),
    }
    d.join().unwrap();
    w.join().unwrap();
    drop(reader);
}

#[test]
fn upgrade_returns_the_original_or_fails() {
    check(BOUND, model);
}
