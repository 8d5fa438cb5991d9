//! `rejoin` with the leaving reader in a thread of its own: the joiner's
//! claim of the entry is then the only edge from the leave to the joiner,
//! and so from the leaving reader's read to the writer that pairs the
//! joiner's start position with the leaver's state (see `rejoin`).
//!
//! Three threads: the writer publishes 3 events into a ring of 2 and a pool
//! of 2; another thread reads event 0 and leaves; the main thread joins at
//! once if the entry is free (else after the leave, in order) and reads on.
//!
//! Catches: `ORDERING(gating)` of the claim, the Acquire CAS that takes a
//! `FREE` entry in `Reader::join` made Relaxed (the joiner does not acquire
//! the leave, so its Release start position carries nothing to the writer,
//! which refills event 0's slot while the leaver's read of it is not ordered
//! before: loom reports the race). Checked by hand, no kept mutant: the
//! switch does not fit on the CAS's line. With the leaver and the joiner in
//! one thread (`rejoin`) program order stands in for that edge, and every
//! other model passes with the claim Relaxed (checked). Also catches
//! `join_relaxed`, as `rejoin` does (checked).
//!
//! Bound 1: the race needs a single preemption (the joiner between its
//! cursor store and its RMW on the gate word); this model takes a minute at
//! bound 2, against seconds at 1.

use crate::common::*;
use slotcast::{JoinError, WaitStrategy};

const EVENTS: u64 = 3;

pub(crate) const BOUND: usize = 1;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut first = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let w = spawn(move || {
        for seq in 0..EVENTS {
            publish(&mut writer, seq);
        }
    });
    let r = spawn(move || {
        let event = first.recv().unwrap();
        assert_event(&event, 0);
        drop(event);
        drop(first);
    });
    // Join at once if the entry is free; else after the leave, in order.
    let mut second = match rt.reader() {
        Ok(reader) => reader,
        Err(JoinError::TooManyReaders { .. }) => {
            r.join().unwrap();
            rt.reader().unwrap()
        }
        Err(e) => panic!("unexpected join error: {e}"),
    };
    read_rest_after_rejoin(&mut second, EVENTS);
    w.join().unwrap();
}

#[test]
fn rejoined_entry_from_another_thread_never_lets_the_writer_overwrite_a_read() {
    check(BOUND, model);
}
