//! `fanout`: one writer, 1, 2 and 4 readers, every reader sees and checksums
//! every event; 64 B, 4 KB and mixed-size payloads. slotcast beside the
//! systems a user would pick instead, in one criterion group:
//!
//! | id | what |
//! |---|---|
//! | `slotcast` | `publish_with` in place, readers `try_read` in place; `WaitStrategy::Yield` (`common::systems`) |
//! | `disruptor` | disruptor 4, one `EventPoller` per reader (every consumer sees every event); events of the largest payload size, written and read in place (`common::systems`) |
//! | `bus` | bus 2 (`try_broadcast`/`try_recv`); `[u8; 64]` by value at 64 B, `Arc<[u8]>` above |
//! | `crossbeam_arc` | one bounded crossbeam channel per reader, each sent the same `Arc<[u8]>` |
//! | `tokio` | `tokio::sync::broadcast`, `try_recv` plus the common backoff; by value at 64 B, `Arc<[u8]>` above |
//! | `tokio_blocking` | the same with `blocking_recv` (parks the thread), 64 B only |
//! | `spsc_ring` | the hand-written two-atomic ring (1 reader, 64 B): the hardware floor |
//! | `base` | the harness alone: fill and checksum each event on one thread |
//!
//! `/batch32` ids publish 32 events per cursor store (slotcast `set_flush_every`,
//! disruptor `batch_publish`, the ring's batched push).
//!
//! Every system waits with the common `Backoff` (spin, then yield) on both
//! sides: 3 to 5 threads share 2 cores. The writer of a broadcast channel
//! that drops values for slow receivers (tokio) waits for room itself, so
//! that every reader sees every event; the tally at the end checks it.

// Harness and peers use std's atomics, `Arc` and `yield_now`, which
// `clippy.toml` reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use common::msg::{Inline64, Msg};
use common::{Backoff, CAP, Ctx, Payload, ReaderFn, Scenario, Tally, fill, spsc, systems};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use std::sync::Arc;

const KB: usize = 1024;

fn scenarios() -> Vec<Scenario> {
    let mut all = Vec::new();
    for payload in [Payload::Fixed(64), Payload::Fixed(4 * KB), Payload::Mixed] {
        for readers in [1, 2, 4] {
            all.push(Scenario { payload, readers, batch: 1 });
        }
    }
    for readers in [1, 2] {
        all.push(Scenario { payload: Payload::Fixed(64), readers, batch: 32 });
    }
    all
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout");
    base(&mut group);
    for sc in scenarios() {
        let ours = systems::slotcast(&sc);
        common::fanout(&mut group, "slotcast", &sc, ours.readers, ours.publish);
        let peer = systems::disruptor(&sc);
        common::fanout(&mut group, "disruptor", &sc, peer.readers, peer.publish);
        if sc.readers == 1 && sc.payload == Payload::Fixed(64) {
            spsc_ring(&mut group, &sc);
        }
        if sc.batch > 1 {
            continue;
        }
        crossbeam_arc(&mut group, &sc);
        if sc.payload == Payload::Fixed(64) {
            bus::<Inline64>(&mut group, &sc);
            tokio::<Inline64>(&mut group, &sc, false);
            tokio::<Inline64>(&mut group, &sc, true);
        } else {
            bus::<Arc<[u8]>>(&mut group, &sc);
            tokio::<Arc<[u8]>>(&mut group, &sc, false);
        }
    }
    group.finish();
}

/// The harness's own cost per event: fill a 64-byte payload and checksum it,
/// on one thread, no system in between.
fn base(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.throughput(criterion::Throughput::Elements(common::BURST));
    group.bench_function(criterion::BenchmarkId::new("base", "64B/1r"), |b| {
        let mut buf = common::spsc::Slot([0; 64]);
        let mut tally = Tally::new();
        b.iter(|| {
            for _ in 0..common::BURST {
                fill(tally.next, std::hint::black_box(&mut buf.0));
                tally.see(std::hint::black_box(&buf.0));
            }
        })
    });
}

// --- the hand-written ring ----------------------------------------------------

fn spsc_ring(group: &mut BenchmarkGroup<'_, WallTime>, sc: &Scenario) {
    let (mut producer, mut consumer) = spsc::ring(CAP);
    let reader: ReaderFn = Box::new(move |mut tally: Tally, ctx: Ctx| {
        let mut backoff = Backoff::new();
        loop {
            if consumer.pop(|slot| tally.see(slot)) > 0 {
                backoff.reset();
            } else if !ctx.idle(&mut backoff) {
                return tally;
            }
        }
    });
    let batch = sc.batch;
    common::fanout(group, "spsc_ring", sc, vec![reader], move |first, n| {
        let mut backoff = Backoff::new();
        let mut seq = first;
        while seq < first + n {
            let start = seq;
            while !producer.try_push(batch, |i, slot| fill(start + i as u64, slot)) {
                backoff.snooze();
            }
            backoff.reset();
            seq += batch as u64;
        }
    });
}

// --- channels -----------------------------------------------------------------

fn crossbeam_arc(group: &mut BenchmarkGroup<'_, WallTime>, sc: &Scenario) {
    let (senders, readers): (Vec<_>, Vec<ReaderFn>) = (0..sc.readers)
        .map(|_| {
            let (tx, rx) = crossbeam_channel::bounded::<Arc<[u8]>>(CAP);
            let reader: ReaderFn = Box::new(move |mut tally: Tally, ctx: Ctx| {
                let mut backoff = Backoff::new();
                loop {
                    match rx.try_recv() {
                        Ok(m) => {
                            tally.see(&m);
                            backoff.reset();
                        }
                        Err(crossbeam_channel::TryRecvError::Empty) => {
                            if !ctx.idle(&mut backoff) {
                                return tally;
                            }
                        }
                        Err(crossbeam_channel::TryRecvError::Disconnected) => return tally,
                    }
                }
            });
            (tx, reader)
        })
        .unzip();
    let payload = sc.payload;
    common::fanout(group, "crossbeam_arc", sc, readers, move |first, n| {
        let mut backoff = Backoff::new();
        for seq in first..first + n {
            let msg = <Arc<[u8]>>::make(seq, payload.len(seq));
            for tx in &senders {
                let mut m = Arc::clone(&msg);
                while let Err(crossbeam_channel::TrySendError::Full(back)) = tx.try_send(m) {
                    m = back;
                    backoff.snooze();
                }
                backoff.reset();
            }
        }
    });
}

fn bus<M: Msg>(group: &mut BenchmarkGroup<'_, WallTime>, sc: &Scenario) {
    let mut bus = bus::Bus::<M>::new(CAP);
    let readers: Vec<ReaderFn> = (0..sc.readers)
        .map(|_| {
            let mut rx = bus.add_rx();
            Box::new(move |mut tally: Tally, ctx: Ctx| {
                let mut backoff = Backoff::new();
                loop {
                    match rx.try_recv() {
                        Ok(m) => {
                            tally.see(m.bytes());
                            backoff.reset();
                        }
                        Err(std::sync::mpsc::TryRecvError::Empty) => {
                            if !ctx.idle(&mut backoff) {
                                return tally;
                            }
                        }
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => return tally,
                    }
                }
            }) as ReaderFn
        })
        .collect();
    let payload = sc.payload;
    common::fanout(group, "bus", sc, readers, move |first, n| {
        let mut backoff = Backoff::new();
        for seq in first..first + n {
            let mut m = M::make(seq, payload.len(seq));
            while let Err(back) = bus.try_broadcast(m) {
                m = back;
                backoff.snooze();
            }
            backoff.reset();
        }
    });
}

fn tokio<M: Msg>(group: &mut BenchmarkGroup<'_, WallTime>, sc: &Scenario, blocking: bool) {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    let (tx, _) = tokio::sync::broadcast::channel::<M>(CAP);
    let readers: Vec<ReaderFn> = (0..sc.readers)
        .map(|_| {
            let mut rx = tx.subscribe();
            Box::new(move |mut tally: Tally, ctx: Ctx| {
                let mut backoff = Backoff::new();
                loop {
                    if blocking {
                        match rx.blocking_recv() {
                            Ok(m) => tally.see(m.bytes()),
                            Err(RecvError::Lagged(n)) => tally.errors += n,
                            Err(RecvError::Closed) => return tally,
                        }
                        continue;
                    }
                    match rx.try_recv() {
                        Ok(m) => {
                            tally.see(m.bytes());
                            backoff.reset();
                        }
                        Err(TryRecvError::Empty) => {
                            if !ctx.idle(&mut backoff) {
                                return tally;
                            }
                        }
                        Err(TryRecvError::Lagged(n)) => tally.errors += n,
                        Err(TryRecvError::Closed) => return tally,
                    }
                }
            }) as ReaderFn
        })
        .collect();
    let payload = sc.payload;
    let name = if blocking { "tokio_blocking" } else { "tokio" };
    common::fanout(group, name, sc, readers, move |first, n| {
        let mut backoff = Backoff::new();
        for seq in first..first + n {
            // tokio's broadcast never blocks its sender: it overwrites the
            // oldest value. Wait for room, so that nobody lags.
            while tx.len() >= CAP {
                backoff.snooze();
            }
            backoff.reset();
            if tx.send(M::make(seq, payload.len(seq))).is_err() {
                unreachable!("the receivers outlive the sender");
            }
        }
    });
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = fanout
}
criterion_main!(benches);
