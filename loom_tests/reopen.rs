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
//! Found a defect (the model failed at bound 2): the wait ended when it
//! saw the stream closed, with `published` still at the cursor; the state
//! was loaded again, found `OPEN` (the second writer took the role in
//! between), and "nothing to read" came back, so `recv` panicked at its
//! `unreachable!` and `batch`/`read` returned nothing although they wait
//! for at least one event. Fixed in `src/reader.rs` (`wait_or_end`: a wait
//! that ends on a state change leaving nothing to report goes on waiting).
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
fn waiting_reader_survives_a_close_and_reopen() {
    check(BOUND, model);
}
