//! A lossy reader lapped while it reads: every event it receives is intact
//! and in order, the events it is told it missed make up the rest exactly
//! (`received + missed = published`, and `Reader::lost` is their sum), and
//! the writer never writes a slot under the reader's open read.
//!
//! The reader (`Policy::Lossy`) reads three events through a ring of 2
//! with two slots, with `recv`, holding each guard while it reads the
//! payload, while the writer publishes them without ever waiting for it
//! between reads. Event 2 needs the ring entry and the slot of event 0: a
//! reader still at 0 is lapped (`WriterCore::lap_lossy` moves its cursor by
//! a CAS to 2), unless its read of event 0 is open (the cursor pinned by
//! the CAS in `lossy_available`), in which case the writer respects the pin
//! until the commit unpins it (`lossy_pin_release` models that wait alone).
//! A lapped reader's next pin fails on the moved cursor: it returns
//! `ReadError::Lagged { missed }` and goes on from there.
//!
//! Catches: the reader reading without pinning (the permanent mutant
//! `lossy_no_pin`: the writer laps the unpinned cursor and refills the slot
//! being read, which loom reports as a race on the slot's cell); the writer
//! moving the cursor with a plain store instead of a CAS (the permanent
//! mutant `lap_store`: a pin made between the writer's load and its store
//! is overwritten and the pinned event's slot refilled, the same race).
//! Verified by hand: the unpin (`unpin`, `ORDERING(lossy)` Release) made
//! Relaxed (the writer refills a slot whose read it has not acquired: a
//! race); the lap CAS without its Release half, or the pin CAS failing with
//! Relaxed instead of Acquire (the lapped reader then loads a `published`
//! older than the cursor the writer gave it, and reports the stream
//! corrupt). The Acquire halves of the pin's success and of the lap CAS
//! fail no model: see `main.rs`.
//!
//! Bound 2 (22 to 27 s measured here): at 3 it took 260 s.

use crate::common::*;
use slotcast::{Policy, ReadError, ReaderOptions, WaitStrategy};

const EVENTS: u64 = 3;

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader_with(ReaderOptions::new().policy(Policy::Lossy)).unwrap();
    let mut writer = rt.writer().unwrap();
    let w = spawn(move || {
        for seq in 0..EVENTS {
            publish(&mut writer, seq);
        }
    });
    let (mut received, mut missed) = (0, 0);
    while reader.cursor() < EVENTS {
        let at = reader.cursor();
        let lapped = match reader.recv() {
            Ok(event) => {
                assert_event(&event, at);
                received += 1;
                continue;
            }
            Err(ReadError::Lagged { missed }) => missed,
            Err(e) => panic!("reading event {at}: {e}"),
        };
        assert!(lapped > 0, "a lap moves the cursor forward");
        assert_eq!(reader.cursor(), at + lapped, "the reader goes on after the events it missed");
        missed += lapped;
    }
    assert_eq!(received + missed, EVENTS, "received + missed = published");
    assert_eq!(reader.lost(), missed, "lost() sums every Lagged");
    w.join().unwrap();
}

#[test]
fn lapped_lossy_reader_reads_intact_events_and_counts_the_rest() {
    check(BOUND, model);
}
