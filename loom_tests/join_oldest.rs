//! A reader joining from the oldest event (`StartAt::Oldest`) while the
//! writer computes its floors replays only intact events: every event it
//! reads, from wherever it starts, is in order with its own descriptor and
//! bytes, and it is never refused.
//!
//! Events 0 and 1 fill a ring of 2 (two slots) before the threads start.
//! The writer's thread then publishes events 2 and 3, each of which needs
//! a gating computation (`recompute_gate`: the swap of the gate word to
//! `published | GATE_BUSY`, the table, the floors, the final store of the
//! gate) and the ring entry and slot of an event the joiner may want to
//! replay, while the main thread joins (`Reader::join`: a provisional
//! cursor a ring back, `ACTIVE`, the RMW on the gate word, the floors,
//! `replay_start`) and reads until the stream is closed. A computation
//! whose swap came before the joiner's RMW may have missed its entry: its
//! floors decide what the joiner may replay, and the joiner takes them only
//! once the gate word is no longer busy.
//!
//! Catches: the joiner taking the floors while the gate word is busy (the
//! permanent mutant `oldest_ignores_busy`). The floors it reads then may be
//! a computation older than the one that missed it, or half of each: the
//! first failure loom finds is a new ring floor beside an old slot floor,
//! which the join refuses as corrupt; with that check out of the way
//! (verified by hand), the joiner replays an event from a slot the writer
//! is refilling, reported as a race on the slot's cell.
//!
//! The writer tries each event once (`try_publish`) and closes the stream
//! instead of waiting for room: loom orders a plain store only after the
//! stores its thread has seen, so the joiner's chain of RMWs on the gate
//! word may go on reading a busy value the writer has long cleared, up to
//! `BUSY_GATE_LOOKS` times (the memory model allows any finite delay). A writer spinning for the room held by the joiner's
//! provisional cursor all that while makes executions that exceed loom's
//! branch limit. Bound 2: about 3 s (bound 3: about 45 s).

use crate::common::*;
use slotcast::{ReadError, ReaderOptions, StartAt, WaitStrategy};

const EVENTS: u64 = 4;

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut writer = rt.writer().unwrap();
    publish(&mut writer, 0);
    publish(&mut writer, 1);
    let w = spawn(move || {
        for seq in 2..EVENTS {
            if !try_publish(&mut writer, seq) {
                break;
            }
        }
        writer.close();
    });
    let mut reader = rt
        .reader_with(ReaderOptions::new().start_at(StartAt::Oldest))
        .expect("a joiner of a consistent stream is never refused");
    loop {
        let seq = reader.cursor();
        match reader.recv() {
            Ok(event) => assert_event(&event, seq),
            Err(ReadError::Closed) => break,
            Err(e) => panic!("reading event {seq}: {e}"),
        }
    }
    w.join().unwrap();
}

#[test]
fn oldest_joiner_replays_only_intact_events() {
    check(BOUND, model);
}
