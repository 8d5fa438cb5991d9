//! The writer role handed from one thread to another: the second writer
//! continues the sequence where the first stopped, and the slots the first
//! gave back (one free, one handed to a `RingPtr`) are refilled only after
//! everything done to them before.
//!
//! The first writer publishes events 0 and 1 into a ring of 2 and a pool of
//! 2 slots; the reader reads both and retains event 0; the first writer is
//! dropped, which gives back its slots (event 1's free, event 0's to the
//! retained pointer) and frees the role. Another thread, spinning on
//! `Runtime::writer` meanwhile, takes the role, rebuilds the ring position
//! and its slots from the arena, and publishes events 2 and 3, which need
//! both slots: event 0's only once the pointer (read and dropped by the main
//! thread) has freed it. Dropping the first writer closes the stream until
//! the second takes the role and reopens it: a reader that has read
//! everything meanwhile is told `ReadError::Closed`, and reads again.
//!
//! Catches: `ORDERING(writer-role)` weakened, the Release store of the role
//! in `Writer::drop` made Relaxed (mutant `writer_role_relaxed`: the second
//! writer's Acquire CAS of the role then acquires nothing, and its `rebuild`
//! can read a `published` older than the first writer's last, start the
//! sequence there and overwrite published events: the model sees a repeated
//! sequence number). Not caught: the Release CAS of `pool::give_back` made
//! Relaxed. Here every later write to a given-back slot is either the
//! second writer's, gated on the reader's cursor (which it acquires itself
//! and which covers every read of the slot), or follows the pointer's drop in
//! the thread that gave the slot back; `writer_alloc` is the model where
//! that CAS is the only edge (an allocator takes the slot).

use crate::common::*;
use slotcast::{ReadError, Reader, WaitStrategy, WriterError};

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut first = rt.writer().unwrap();
    let next = rt.clone();
    let w = spawn(move || {
        let mut second = loop {
            match next.writer() {
                Ok(writer) => break writer,
                Err(WriterError::Taken { .. }) => pause(),
                Err(e) => panic!("unexpected writer error: {e}"),
            }
        };
        for seq in 2..4 {
            publish(&mut second, seq);
        }
    });
    assert!(try_publish(&mut first, 0) && try_publish(&mut first, 1));
    let kept = {
        let event = reader.recv().unwrap();
        assert_event(&event, 0);
        event.retain().unwrap()
    };
    assert_event(&reader.recv().unwrap(), 1);
    drop(first);
    assert_eq!(&kept[..], payload(0), "a retained event outlives its writer");
    drop(kept);
    for seq in 2..4 {
        recv_across_handover(&mut reader, seq);
    }
    w.join().unwrap();
}

/// Reads event `seq`, which the second writer publishes: until it has
/// taken the role, the stream may be closed (the first writer's drop).
/// With `try_recv`: `recv` across a reopening is `reopen::model`.
fn recv_across_handover(reader: &mut Reader, seq: u64) {
    loop {
        match reader.try_recv() {
            Ok(Some(event)) => return assert_event(&event, seq),
            Ok(None) | Err(ReadError::Closed) => pause(),
            Err(e) => panic!("reading event {seq}: {e}"),
        }
    }
}

#[test]
fn second_writer_continues_where_the_first_stopped() {
    check(BOUND, model);
}
