//! A blocked reader learns that the stream closed: it gets the writer's last
//! event, then `ReadError::Closed`, never `Closed` first, never a hang.
//!
//! After a first event read before the threads start (it acknowledges the
//! reader's registration as a blocking reader, see `wake_turn.rs`, so that
//! its sleeps are unbounded), the reader waits with the `Blocking`
//! strategy (under loom: straight to the sleeping half of the protocol,
//! on the futex stand-in) while the writer publishes one event and closes
//! the stream (`Writer::close`: the Release store of `CLOSED` after its
//! last store of `published`, then `wait::wake_all_for_state`). The reader
//! must read event 1, then find the stream closed.
//!
//! Catches: the close stored Relaxed (the permanent mutant `close_relaxed`:
//! a reader that sees `CLOSED` need not see the last `published`, and
//! reports the stream closed before event 1). Verified by hand: the close
//! without `wake_all_for_state`, or with its RMW on `waiters` replaced by a
//! load (a reader asleep before the close, or registering while the
//! writer looks, is never woken: loom reports a model that never ends).
//!
//! The writer's thread is spawned with `loom::thread::spawn`, not
//! `common::spawn`: the latter yields the reader's thread, and loom never
//! again returns to a thread that has yielded a value it saw before the
//! yield (its progress rule), so the reader would always load the newest
//! `published` and the mutant would go unseen. No failure here can come
//! before the writer's thread has run.

use crate::common::*;
use loom::thread;
use slotcast::{ReadError, WaitStrategy};

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    let rt = runtime(2, 1, WaitStrategy::Blocking);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    publish(&mut writer, 0);
    assert_event(&reader.try_recv().unwrap().unwrap(), 0);
    let w = thread::spawn(move || {
        publish(&mut writer, 1);
        writer.close();
    });
    match reader.recv() {
        Ok(event) => assert_event(&event, 1),
        Err(e) => panic!("the reader got `{e}` before event 1"),
    }
    match reader.recv() {
        Err(ReadError::Closed) => {}
        Ok(event) => panic!("an event after the last: {}", event.sequence()),
        Err(e) => panic!("after the last event: `{e}`, not `Closed`"),
    }
    w.join().unwrap();
}

#[test]
fn blocked_reader_gets_the_last_event_then_closed() {
    check(BOUND, model);
}
