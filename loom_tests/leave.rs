//! A reader leaving releases gating: the writer, blocked by a reader that
//! stopped reading, proceeds once that reader is dropped, and never before
//! the reader's last read is done.
//!
//! The reader reads event 0 and leaves; the writer publishes 4 events
//! through a ring of 2, so events 2 and 3 reuse what the reader read, and
//! event 3 needs the reader gone (its cursor stays at 1).
//!
//! Catches: leaving without freeing the entry (the `FREE` store in
//! `Reader::drop` removed: the writer waits forever, loom reports a model
//! that never ends); and `ORDERING(gating)` weakened, that store made
//! Relaxed (the writer sees the entry free without acquiring the reader's
//! read of event 0's slot, and refills it: loom reports the race). Both
//! verified by hand.

use crate::common::*;
use loom::thread;
use slotcast::WaitStrategy;

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let r = thread::spawn(move || {
        let event = reader.recv().unwrap();
        assert_event(&event, 0);
        drop(event);
        drop(reader);
    });
    for seq in 0..4 {
        publish(&mut writer, seq);
    }
    r.join().unwrap();
}

#[test]
fn leaving_reader_releases_gating() {
    check(BOUND, model);
}
