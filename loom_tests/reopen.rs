//! A reader waiting in `recv` while the writer closes the stream and a new
//! writer takes the role (which reopens it) and publishes: the wait returns
//! the new event, or `ReadError::Closed` for the moment the stream was
//! closed, and never returns without either.
//!
//! The first writer, taken by the main thread, is dropped in the writer's
//! thread (a close), which then takes the role again and publishes event 0;
//! the reader, with nothing to read, waits in `recv` (`BusySpin`) and reads
//! again after a `Closed`.
//!
//! DEFECT (this model fails; ignored until `src/reader.rs` is fixed): the
//! wait (`wait::wait_for_event`) ends when it sees the stream closed, with
//! `published` still at the cursor; `nothing_new` then loads the state
//! again, finds it `OPEN` (the second writer took the role in between) and
//! returns the cursor as "nothing to read"; `available` returns 0, and
//! `next_until` with `Deadline::NEVER` returns `Ok(None)`, so `recv` panics
//! at its `unreachable!` ("a wait without deadline returns an event").
//! `batch` and `read` return an empty batch and 0 events at the same
//! point, although they wait for at least one; a lossy reader's
//! `lossy_available` does the same. Found by `writer_handover` once its
//! reader reads again after `Closed` (which it must since the stream has a
//! life): loom's trace, at bound 2, is the one described.
//!
//! Mutants: none (it checks the shipped code's wait across a reopening).

use crate::common::*;
use loom::thread;
use slotcast::{ReadError, WaitStrategy};

pub(crate) const BOUND: usize = 2;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let first = rt.writer().unwrap();
    let next = rt.clone();
    let w = thread::spawn(move || {
        drop(first);
        let mut second = next.writer().expect("the role is free after the drop");
        publish(&mut second, 0);
    });
    loop {
        match reader.recv() {
            Ok(event) => {
                assert_event(&event, 0);
                break;
            }
            Err(ReadError::Closed) => pause(),
            Err(e) => panic!("waiting for event 0: {e}"),
        }
    }
    w.join().unwrap();
}

#[test]
#[ignore = "defect: recv panics (unreachable) when the stream closes and reopens during its wait"]
fn waiting_reader_survives_a_close_and_reopen() {
    check(BOUND, model);
}
