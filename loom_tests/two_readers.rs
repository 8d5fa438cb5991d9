//! Two readers see the same events in the same order, each at its own pace,
//! while the writer wraps a ring of 2 around them: the third event reuses
//! the first one's ring position and slot, which the writer may do only
//! once the slower of the two readers has passed it. (The faster one reads
//! its first two events before the other threads start: three spinning
//! threads are more than loom can explore in CI time, and the race that
//! matters is between the writer and the slower reader.)
//!
//! Catches: gating on one reader only, `recompute_gate` taking the minimum
//! of the first active entry's cursor instead of every active entry's (the
//! writer then overwrites a slot and a descriptor the slower reader is
//! still reading: loom reports a concurrent read and write of the slot cell,
//! or the slower reader sees a later event). Verified by hand.

use crate::common::*;
use loom::thread;
use slotcast::{Reader, WaitStrategy};

fn read(reader: &mut Reader, seqs: std::ops::Range<u64>) -> Vec<(u64, Vec<u8>)> {
    seqs.map(|seq| {
        let event = reader.recv().unwrap();
        assert_event(&event, seq);
        (event.sequence(), event.data().to_vec())
    })
    .collect()
}

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 2, WaitStrategy::BusySpin);
    let mut first = rt.reader().unwrap();
    let mut second = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    // Events 0 and 1 fill the ring, and the first reader reads them at
    // once. Event 2 reuses event 0's ring position and slot, so the writer
    // must wait for the second reader, which reads at the same time.
    assert!(try_publish(&mut writer, 0) && try_publish(&mut writer, 1));
    let mut mine = read(&mut first, 0..2);
    let other = thread::spawn(move || read(&mut second, 0..3));
    publish(&mut writer, 2);
    mine.extend(read(&mut first, 2..3));
    let theirs = other.join().unwrap();
    assert_eq!(mine, theirs);
}

#[test]
fn two_readers_see_the_same_events_in_the_same_order() {
    check(BOUND, model);
}
