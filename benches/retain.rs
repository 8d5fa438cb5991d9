//! `retain`: a reader keeps every event past its cursor and hands it to a
//! second thread, which checksums it and drops it. slotcast retains each
//! event as a `RingPtr` (one refcount increment, no copy, no allocation) and
//! passes the pointer through a bounded crossbeam channel; the peer is what a
//! user writes without slotcast: the writer allocates an `Arc<[u8]>` per
//! event, sends it through a bounded crossbeam channel to the reader, which
//! forwards it through a second one.
//!
//! Three threads (writer, reader, consumer) on 2 cores: every wait is the
//! common backoff (spin, then yield), slotcast's runtime uses
//! `WaitStrategy::Yield`. The consumer's tally checks every event arrived,
//! in order, intact.

// Harness and peers use std's atomics, `Arc` and `yield_now`, which
// `clippy.toml` reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use common::{Backoff, CAP, Ctx, Payload, ReaderFn, Scenario, Tally, fill};
use criterion::{Criterion, criterion_group, criterion_main};
use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use slotcast::{RingPtr, Runtime, SizeClass, WaitStrategy};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

const SCENARIO: Scenario = Scenario { payload: Payload::Fixed(64), readers: 1, batch: 1 };

/// Sends with the common backoff; `false` if the receiver is gone.
fn send<T>(tx: &Sender<T>, mut value: T, backoff: &mut Backoff) -> bool {
    loop {
        match tx.try_send(value) {
            Ok(()) => {
                backoff.reset();
                return true;
            }
            Err(TrySendError::Full(back)) => {
                value = back;
                backoff.snooze();
            }
            Err(TrySendError::Disconnected(_)) => return false,
        }
    }
}

/// The consumer: checksums what it receives, drops it.
fn consumer<T: AsRef<[u8]> + Send + 'static>(rx: Receiver<T>) -> ReaderFn {
    Box::new(move |mut tally: Tally, ctx: Ctx| {
        let mut backoff = Backoff::new();
        loop {
            match rx.try_recv() {
                Ok(event) => {
                    tally.see(event.as_ref());
                    drop(event);
                    backoff.reset();
                }
                Err(TryRecvError::Empty) => {
                    if !ctx.idle(&mut backoff) {
                        return tally;
                    }
                }
                Err(TryRecvError::Disconnected) => return tally,
            }
        }
    })
}

/// Wraps a `RingPtr` for the consumer's `AsRef<[u8]>`.
struct Kept(RingPtr);

impl AsRef<[u8]> for Kept {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn retain(c: &mut Criterion) {
    let mut group = c.benchmark_group("retain");

    // slotcast: retain in the reader, hand the RingPtr over.
    {
        // The ring, the hand-off channel and the consumer's batch in flight.
        let rt = Runtime::builder()
            .ring_capacity(CAP)
            .max_readers(1)
            .wait_strategy(WaitStrategy::Yield)
            .slots(SizeClass::XS, 3 * CAP)
            .slots(SizeClass::S, 0)
            .slots(SizeClass::M, 0)
            .slots(SizeClass::L, 0)
            .slots(SizeClass::XL, 0)
            .build()
            .expect("build the runtime");
        let mut reader = rt.reader().expect("join");
        let (tx, rx) = crossbeam_channel::bounded::<Kept>(CAP);
        let stop = Arc::new(AtomicBool::new(false));
        let middle: JoinHandle<()> = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut backoff = Backoff::new();
                let mut send_backoff = Backoff::new();
                // Acquire: pairs with the Release store after the run.
                while !stop.load(Ordering::Acquire) {
                    let read = reader.try_read(|ev, _| {
                        let kept = ev.retain().expect("a sound runtime");
                        send(&tx, Kept(kept), &mut send_backoff);
                    });
                    let n = match read {
                        Ok(n) => n,
                        // The writer is done and every event was read.
                        Err(slotcast::ReadError::Closed) => break,
                        Err(e) => panic!("a sound runtime: {e}"),
                    };
                    if n > 0 {
                        backoff.reset();
                    } else {
                        backoff.snooze();
                    }
                }
            })
        };
        let mut writer = rt.writer().expect("the writer");
        common::fanout(&mut group, "slotcast", &SCENARIO, vec![consumer(rx)], move |first, n| {
            for seq in first..first + n {
                writer
                    .publish_with(SizeClass::XS, 0, |ev| {
                        fill(seq, &mut ev[..64]);
                        64
                    })
                    .expect("the class has slots");
            }
        });
        // Release: pairs with the reader thread's Acquire load.
        stop.store(true, Ordering::Release);
        middle.join().expect("the reader thread panicked");
    }

    // Peer: Arc<[u8]> through crossbeam, forwarded by the reader.
    {
        let (tx, rx) = crossbeam_channel::bounded::<Arc<[u8]>>(CAP);
        let (fwd, fwd_rx) = crossbeam_channel::bounded::<Arc<[u8]>>(CAP);
        let middle: JoinHandle<()> = std::thread::spawn(move || {
            let mut backoff = Backoff::new();
            let mut send_backoff = Backoff::new();
            loop {
                match rx.try_recv() {
                    Ok(event) => {
                        send(&fwd, event, &mut send_backoff);
                        backoff.reset();
                    }
                    Err(TryRecvError::Empty) => backoff.snooze(),
                    Err(TryRecvError::Disconnected) => return,
                }
            }
        });
        common::fanout(&mut group, "crossbeam_arc", &SCENARIO, vec![consumer(fwd_rx)], move |first, n| {
            let mut backoff = Backoff::new();
            for seq in first..first + n {
                let mut arc: Arc<[u8]> = std::iter::repeat_n(0u8, 64).collect();
                fill(seq, Arc::get_mut(&mut arc).expect("a new Arc is unique"));
                send(&tx, arc, &mut backoff);
            }
        });
        middle.join().expect("the forwarding thread panicked");
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = retain
}
criterion_main!(benches);
