//! `fanout`: one writer, 1, 2 and 4 readers, every reader sees and checksums
//! every event; 64 B, 4 KB and mixed-size payloads. slotcast beside the
//! systems a user would pick instead, in one criterion group:
//!
//! | id | what |
//! |---|---|
//! | `slotcast` | `publish_with` in place, readers `try_read` in place; `WaitStrategy::Yield` |
//! | `disruptor` | disruptor 4, one `EventPoller` per reader (every consumer sees every event); events of the largest payload size, written and read in place |
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

use common::{Backoff, CAP, Ctx, Payload, ReaderFn, Scenario, Tally, fill, spsc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use disruptor::{BusySpin, Polling, Producer};
use slotcast::{Runtime, SizeClass, WaitStrategy};
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
        slotcast(&mut group, &sc);
        match sc.payload {
            Payload::Fixed(64) => disruptor::<Fixed<64>>(&mut group, &sc),
            Payload::Fixed(4096) => disruptor::<Fixed<4096>>(&mut group, &sc),
            Payload::Mixed => disruptor::<Mixed>(&mut group, &sc),
            Payload::Fixed(n) => unreachable!("no disruptor event type for {n} bytes"),
        }
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

// --- slotcast ---------------------------------------------------------------

/// A runtime with [`CAP`] ring entries and [`CAP`] slots of each class the
/// payload uses (fewer of the rare large ones in the mixed stream).
fn runtime(payload: Payload, readers: usize) -> Runtime {
    let mut builder = Runtime::builder()
        .ring_capacity(CAP)
        .max_readers(readers)
        .wait_strategy(WaitStrategy::Yield)
        .slots(SizeClass::XS, 0)
        .slots(SizeClass::S, 0)
        .slots(SizeClass::M, 0)
        .slots(SizeClass::L, 0)
        .slots(SizeClass::XL, 0);
    builder = match payload {
        Payload::Fixed(n) => builder.slots(SizeClass::for_len(n).expect("a class fits"), CAP),
        // 90% / 9% / 1% of a ring's worth, with room to spare.
        Payload::Mixed => builder.slots(SizeClass::XS, CAP).slots(SizeClass::M, CAP / 4).slots(SizeClass::XL, 64),
    };
    builder.build().expect("build the runtime")
}

fn slotcast(group: &mut BenchmarkGroup<'_, WallTime>, sc: &Scenario) {
    let rt = runtime(sc.payload, sc.readers);
    let readers: Vec<ReaderFn> = (0..sc.readers)
        .map(|_| {
            let mut reader = rt.reader().expect("join");
            Box::new(move |mut tally: Tally, ctx: Ctx| {
                let mut backoff = Backoff::new();
                loop {
                    let n = reader.try_read(|ev, _| tally.see(ev.data())).expect("a sound runtime");
                    if n > 0 {
                        backoff.reset();
                    } else if !ctx.idle(&mut backoff) {
                        return tally;
                    }
                }
            }) as ReaderFn
        })
        .collect();
    let mut writer = rt.writer().expect("the only writer");
    let (payload, batch) = (sc.payload, sc.batch);
    // One cursor store per batch: at the batch's last event, or at the flush.
    writer.set_flush_every(u32::try_from(batch).expect("a small batch"));
    common::fanout(group, "slotcast", sc, readers, move |first, n| {
        if batch == 1 {
            for seq in first..first + n {
                let len = payload.len(seq);
                writer
                    .publish_with(SizeClass::for_len(len).expect("a class fits"), 0, |ev| {
                        fill(seq, &mut ev[..len]);
                        len
                    })
                    .expect("the class has slots");
            }
        } else {
            let mut seq = first;
            while seq < first + n {
                for seq in seq..seq + batch as u64 {
                    let len = payload.len(seq);
                    writer
                        .publish_with(SizeClass::for_len(len).expect("a class fits"), 0, |ev| {
                            fill(seq, &mut ev[..len]);
                            len
                        })
                        .expect("the class has slots");
                }
                writer.flush();
                seq += batch as u64;
            }
        }
    });
}

// --- disruptor --------------------------------------------------------------

/// A disruptor event: the payload in place.
trait Event: Send + Sync + 'static {
    fn new() -> Self;
    fn write(&mut self, seq: u64, len: usize);
    fn data(&self) -> &[u8];
}

/// A fixed-size payload, line-aligned as slotcast's slots are.
#[repr(C, align(64))]
struct Fixed<const N: usize>([u8; N]);

impl<const N: usize> Event for Fixed<N> {
    fn new() -> Self {
        Fixed([0; N])
    }

    #[inline]
    fn write(&mut self, seq: u64, _len: usize) {
        fill(seq, &mut self.0);
    }

    #[inline]
    fn data(&self) -> &[u8] {
        &self.0
    }
}

/// The mixed stream: a disruptor's events are all one type, so each is as
/// large as the largest event (16 KB) and carries its length.
#[repr(C, align(64))]
struct Mixed {
    len: usize,
    data: [u8; 16 * KB],
}

impl Event for Mixed {
    fn new() -> Self {
        Mixed { len: 0, data: [0; 16 * KB] }
    }

    #[inline]
    fn write(&mut self, seq: u64, len: usize) {
        self.len = len;
        fill(seq, &mut self.data[..len]);
    }

    #[inline]
    fn data(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

fn poller_reader<E: Event>(mut poller: disruptor::EventPoller<E, disruptor::SingleProducerBarrier>) -> ReaderFn {
    Box::new(move |mut tally: Tally, ctx: Ctx| {
        let mut backoff = Backoff::new();
        loop {
            match poller.poll() {
                Ok(mut events) => {
                    for e in &mut events {
                        tally.see(e.data());
                    }
                    backoff.reset();
                }
                Err(Polling::NoEvents) => {
                    if !ctx.idle(&mut backoff) {
                        return tally;
                    }
                }
                Err(Polling::Shutdown) => return tally,
            }
        }
    })
}

fn disruptor_publish<E: Event>(mut producer: impl Producer<E>, payload: Payload, batch: usize) -> impl FnMut(u64, u64) {
    move |first, n| {
        let mut backoff = Backoff::new();
        if batch == 1 {
            for seq in first..first + n {
                let len = payload.len(seq);
                while producer.try_publish(|e| e.write(seq, len)).is_err() {
                    backoff.snooze();
                }
                backoff.reset();
            }
        } else {
            let mut seq = first;
            while seq < first + n {
                let start = seq;
                while producer
                    .try_batch_publish(batch, |iter| {
                        for (i, e) in iter.enumerate() {
                            let s = start + i as u64;
                            e.write(s, payload.len(s));
                        }
                    })
                    .is_err()
                {
                    backoff.snooze();
                }
                backoff.reset();
                seq += batch as u64;
            }
        }
    }
}

fn disruptor<E: Event>(group: &mut BenchmarkGroup<'_, WallTime>, sc: &Scenario) {
    // Pollers never wait inside the disruptor, and the producer uses
    // `try_publish` with the common backoff: the strategy is unused.
    let builder = disruptor::build_single_producer(CAP, E::new, BusySpin);
    let (first, builder) = builder.new_event_poller();
    let mut readers = vec![poller_reader(first)];
    if sc.readers == 1 {
        let producer = builder.build();
        common::fanout(group, "disruptor", sc, readers, disruptor_publish(producer, sc.payload, sc.batch));
    } else {
        let (second, mut builder) = builder.new_event_poller();
        readers.push(poller_reader(second));
        for _ in 2..sc.readers {
            let (poller, b) = builder.new_event_poller();
            builder = b;
            readers.push(poller_reader(poller));
        }
        let producer = builder.build();
        common::fanout(group, "disruptor", sc, readers, disruptor_publish(producer, sc.payload, sc.batch));
    }
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

/// What a channel carries.
trait Msg: Clone + Send + Sync + 'static {
    fn make(seq: u64, len: usize) -> Self;
    fn bytes(&self) -> &[u8];
}

/// 64 bytes by value: what a user sends through a broadcast channel when
/// events are small.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Inline64([u8; 64]);

impl Msg for Inline64 {
    #[inline]
    fn make(seq: u64, _len: usize) -> Self {
        let mut m = Inline64([0; 64]);
        fill(seq, &mut m.0);
        m
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Msg for Arc<[u8]> {
    /// One allocation, filled in place: the zero-copy way to share bytes
    /// through a channel.
    #[inline]
    fn make(seq: u64, len: usize) -> Self {
        let mut arc: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
        fill(seq, Arc::get_mut(&mut arc).expect("a new Arc is unique"));
        arc
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        self
    }
}

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
