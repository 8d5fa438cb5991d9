//! `async_fanout`: slotcast's async reader against `tokio::sync::broadcast`,
//! both on a multi-threaded tokio runtime of **2 workers** (the machine
//! these figures come from has 2 cores; more workers would only queue for
//! them). Two parts:
//!
//! * **Fan-out** (criterion group `async_fanout`, ids `slotcast/64B/2r`,
//!   `tokio/4KB/4r`, ...): one writer task, 2 and 4 reader tasks, 64 B and
//!   4 KB events. Each criterion iteration publishes a burst of
//!   [`BURST`](common::BURST) events and ends when every reader has seen
//!   the burst's last one. Then, outside criterion, the same scenarios run
//!   in interleaved rounds (slotcast, then tokio, [`ROUNDS`] times, a fresh
//!   system each round) and the median of the per-round ratios
//!   slotcast/tokio goes to `slotcast-extra/async_fanout.json`: on a shared
//!   2-core machine only a same-run ratio means much.
//! * **Wake-up latency** (`async_fanout/wake`, same file): a reader task
//!   idle (its wait pending) before every publish; a publishing thread
//!   sleeps 50 to 200 µs, stamps the time into a 64-byte event and
//!   publishes it; the reader task records the time from the stamp to its
//!   running with the event (hdrhistogram, p50/p99). The publishing thread
//!   is not a worker of the reader's runtime, so the task always runs on a
//!   thread other than the publisher's: the wake-up crosses threads as a
//!   wake from another runtime's worker or an ingest thread does. Both
//!   systems in the same run, interleaved rounds.
//!
//! The systems:
//!
//! | id | writer task | reader tasks |
//! |---|---|---|
//! | `slotcast` | `claim_async`, `fill` in place, `Claim::publish` (the zero-copy form: the writer writes the payload once, into the slot the readers read) | `read_async`: every event available, in place, per wake-up (see below) |
//! | `tokio` | `send`; by value (`[u8; 64]`) at 64 B, `Arc<[u8]>` at 4 KB, as the `fanout` group's tokio peer; waits for room with `yield_now` | `recv().await` per event |
//!
//! Why `read_async`: it is the form a user writes for throughput. One
//! poll hands the handler every event published so far, read in place
//! with one cursor store at the end, where `recv_async` costs a future, a
//! guard and a cursor store per event, and the `Stream` (`into_stream`)
//! a copy or a retained pointer per event.
//!
//! tokio's broadcast never makes its sender wait: it overwrites the oldest
//! value, and a slow receiver lags. Its writer task waits for room itself
//! (`len() < CAP`, yielding to the runtime meanwhile) so that every reader
//! sees every event, as slotcast's `claim_async` waits for room in its
//! ring. Every reader of both systems checks every event's sequence number
//! (order, none lost) and checksums every byte (content); each system's
//! tallies are verified when it stops.
//!
//! Under `cargo test --benches` criterion runs each benchmark once, and the
//! rounds and the latency run tiny and write nothing. `async_fanout-<hash>
//! --round slotcast 64B/2r 8` runs one round of one system alone, for a
//! manual `valgrind --tool=callgrind` session.

// Harness and peers use std's atomics and `Arc`, which `clippy.toml`
// reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use common::msg::{Inline64, Msg};
use common::{BURST, CAP, Payload, Scenario, Tally, fill, median};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use slotcast::{ReadError, Runtime, SizeClass, Writer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::sync::broadcast;

const KB: usize = 1024;

/// Worker threads of the runtime: the machine's 2 cores.
const WORKERS: usize = 2;

/// Interleaved rounds per scenario (each runs both systems once).
const ROUNDS: usize = 5;

/// Timed bursts per system and round at 64 B and 4 KB, after
/// [`WARM_UP_BURSTS`] untimed: about 0.1 to 0.5 s per system and round on
/// a quiet machine, many times the scheduler's time slice.
const ROUND_BURSTS_64B: u64 = 96;
const ROUND_BURSTS_4KB: u64 = 32;
const WARM_UP_BURSTS: u64 = 2;

/// How long a burst may take before the run is declared broken (a lost
/// event would otherwise hang it).
const STALL: Duration = Duration::from_secs(60);

fn scenarios() -> Vec<Scenario> {
    let mut all = Vec::new();
    for payload in [Payload::Fixed(64), Payload::Fixed(4 * KB)] {
        for readers in [2, 4] {
            all.push(Scenario { payload, readers, batch: 1 });
        }
    }
    all
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_time()
        .build()
        .expect("build the tokio runtime")
}

// --- what tokio's channel carries ---------------------------------------------

// --- one system running on a runtime -------------------------------------------

/// Polls and completions of one kind of future (the readers' reads, the
/// writer's waits for room): where the wake-up path's work shows.
#[derive(Clone, Copy, Debug, Default)]
struct Polls {
    /// Times a future was polled.
    polls: u64,
    /// Futures that completed (each completion's last poll is counted above).
    done: u64,
}

impl Polls {
    fn add(&mut self, other: Polls) {
        self.polls += other.polls;
        self.done += other.done;
    }

    /// Polls that found nothing and returned `Pending`.
    fn pending(&self) -> u64 {
        self.polls - self.done
    }
}

/// Awaits `fut`, counting its polls in `count`.
async fn counted<F: std::future::Future>(fut: F, count: &mut Polls) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let out = std::future::poll_fn(|cx| {
        count.polls += 1;
        fut.as_mut().poll(cx)
    })
    .await;
    count.done += 1;
    out
}

/// The writer half of a system, moved into a task for each burst and
/// handed back at its end.
enum Publisher {
    Slotcast(Box<Writer>, Payload),
    Tokio64(broadcast::Sender<Inline64>),
    TokioArc(broadcast::Sender<Arc<[u8]>>, Payload),
}

impl Publisher {
    /// Publishes events `first..first + n` from a task.
    /// Publishes events `first..first + n` from a task; counts the polls
    /// of the writer's waits for room (slotcast: `claim_async`; tokio: one
    /// per `yield_now` while the channel is full, plus one per event).
    async fn burst(mut self, first: u64, n: u64, polls: &mut Polls) -> Self {
        match &mut self {
            Publisher::Slotcast(writer, payload) => {
                let class = SizeClass::for_len(payload.max()).expect("a class fits");
                for seq in first..first + n {
                    let len = payload.len(seq);
                    let mut claim = counted(writer.claim_async(class), polls).await.expect("the class has slots");
                    fill(seq, &mut claim.buf_mut()[..len]);
                    claim.publish(len).expect("a claimed slot publishes");
                }
            }
            Publisher::Tokio64(tx) => tokio_burst::<Inline64>(tx, Payload::Fixed(64), first, n, polls).await,
            Publisher::TokioArc(tx, payload) => tokio_burst::<Arc<[u8]>>(tx, *payload, first, n, polls).await,
        }
        self
    }
}

async fn tokio_burst<M: Msg>(tx: &broadcast::Sender<M>, payload: Payload, first: u64, n: u64, polls: &mut Polls) {
    for seq in first..first + n {
        // The channel would overwrite the oldest value: wait for room so
        // that nobody lags.
        polls.polls += 1;
        polls.done += 1;
        while tx.len() >= CAP {
            polls.polls += 1;
            tokio::task::yield_now().await;
        }
        if tx.send(M::make(seq, payload.len(seq))).is_err() {
            unreachable!("the receivers outlive the sender");
        }
    }
}

/// A system running: its reader tasks spawned on a 2-worker runtime, its
/// writer ready to publish bursts.
struct AsyncRun {
    name: &'static str,
    sc: Scenario,
    rt: tokio::runtime::Runtime,
    /// One permit per reader per burst it finished.
    done: Arc<Semaphore>,
    readers: Vec<tokio::task::JoinHandle<(Tally, Polls)>>,
    publisher: Option<Publisher>,
    /// The writer's waits for room, over every burst.
    writer_polls: Polls,
    /// Events published so far (and the next sequence number).
    next: u64,
}

/// The end of a burst for a reader that just saw its event: one permit.
#[inline]
fn burst_end(tally: &Tally, done: &Semaphore) {
    if tally.next % BURST == 0 {
        done.add_permits(1);
    }
}

impl AsyncRun {
    fn slotcast(sc: &Scenario) -> Self {
        let class = SizeClass::for_len(sc.payload.max()).expect("a class fits");
        let mut builder = Runtime::builder().ring_capacity(CAP).max_readers(sc.readers);
        for c in [SizeClass::XS, SizeClass::S, SizeClass::M, SizeClass::L, SizeClass::XL] {
            builder = builder.slots(c, if c == class { CAP } else { 0 });
        }
        let ring = builder.build().expect("build the slotcast runtime");
        let rt = runtime();
        let done = Arc::new(Semaphore::new(0));
        let readers = (0..sc.readers)
            .map(|_| {
                let mut reader = ring.reader().expect("join");
                let done = Arc::clone(&done);
                rt.spawn(async move {
                    let mut tally = Tally::new();
                    let mut polls = Polls::default();
                    loop {
                        let read = reader.read_async(|ev, _| {
                            tally.see(ev.data());
                            burst_end(&tally, &done);
                        });
                        match counted(read, &mut polls).await {
                            Ok(_) => {}
                            // The writer is gone and every event was read.
                            Err(ReadError::Closed) => return (tally, polls),
                            Err(e) => panic!("a sound runtime: {e}"),
                        }
                    }
                })
            })
            .collect();
        let writer = ring.writer().expect("the only writer");
        let publisher = Some(Publisher::Slotcast(Box::new(writer), sc.payload));
        Self { name: "slotcast", sc: *sc, rt, done, readers, publisher, writer_polls: Polls::default(), next: 0 }
    }

    fn tokio(sc: &Scenario) -> Self {
        match sc.payload {
            Payload::Fixed(64) => {
                let (tx, _) = broadcast::channel::<Inline64>(CAP);
                Self::tokio_with(sc, &tx, Publisher::Tokio64(tx.clone()))
            }
            _ => {
                let (tx, _) = broadcast::channel::<Arc<[u8]>>(CAP);
                Self::tokio_with(sc, &tx, Publisher::TokioArc(tx.clone(), sc.payload))
            }
        }
    }

    fn tokio_with<M: Msg>(sc: &Scenario, tx: &broadcast::Sender<M>, publisher: Publisher) -> Self {
        use broadcast::error::RecvError;
        let rt = runtime();
        let done = Arc::new(Semaphore::new(0));
        let readers = (0..sc.readers)
            .map(|_| {
                let mut rx = tx.subscribe();
                let done = Arc::clone(&done);
                rt.spawn(async move {
                    let mut tally = Tally::new();
                    let mut polls = Polls::default();
                    loop {
                        match counted(rx.recv(), &mut polls).await {
                            Ok(m) => {
                                tally.see(m.bytes());
                                burst_end(&tally, &done);
                            }
                            Err(RecvError::Lagged(n)) => tally.errors += n,
                            Err(RecvError::Closed) => return (tally, polls),
                        }
                    }
                })
            })
            .collect();
        let writer_polls = Polls::default();
        Self { name: "tokio", sc: *sc, rt, done, readers, publisher: Some(publisher), writer_polls, next: 0 }
    }

    /// Publishes `bursts` bursts of [`BURST`] events from a writer task,
    /// each followed by the wait until every reader has seen its last
    /// event; returns the time all of it took.
    fn bursts(&mut self, bursts: u64) -> Duration {
        let readers = u32::try_from(self.sc.readers).expect("a few readers");
        let mut publisher = self.publisher.take().expect("the publisher is home between bursts");
        let (done, mut next) = (Arc::clone(&self.done), self.next);
        let (name, param) = (self.name, self.sc.param());
        let start = Instant::now();
        let (publisher, polls) = self.rt.block_on(async move {
            let mut all = Polls::default();
            for _ in 0..bursts {
                let publishing = tokio::spawn(async move {
                    let mut polls = Polls::default();
                    (publisher.burst(next, BURST, &mut polls).await, polls)
                });
                let polls;
                (publisher, polls) = publishing.await.expect("the writer task panicked");
                all.add(polls);
                next += BURST;
                // A reader that lost an event never reaches the end of the
                // burst: fail loudly instead of hanging.
                match tokio::time::timeout(STALL, done.acquire_many(readers)).await {
                    Ok(permits) => permits.expect("the semaphore stays open").forget(),
                    Err(_) => panic!("{name} {param}: a reader stalled before event {next}"),
                }
            }
            (publisher, all)
        });
        let took = start.elapsed();
        self.next += bursts * BURST;
        self.publisher = Some(publisher);
        self.writer_polls.add(polls);
        took
    }

    /// Drops the writer (the readers see the end of the stream) and checks
    /// that each reader saw every event published, in order, intact.
    /// Returns the polls of the readers' reads (all readers) and of the
    /// writer's waits for room.
    fn finish(mut self) -> (Polls, Polls) {
        drop(self.publisher.take());
        let (name, sc, next) = (self.name, self.sc, self.next);
        let readers = std::mem::take(&mut self.readers);
        let reads = self.rt.block_on(async move {
            let mut all = Polls::default();
            for (i, reader) in readers.into_iter().enumerate() {
                let (tally, polls) = reader.await.expect("a reader task panicked");
                tally.verify(&format!("{name} {} reader {i}", sc.param()), sc.payload, next);
                all.add(polls);
            }
            all
        });
        (reads, self.writer_polls)
    }
}

// --- criterion -------------------------------------------------------------------

fn async_fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("async_fanout");
    group.throughput(Throughput::Elements(BURST));
    for sc in scenarios() {
        for make in [AsyncRun::slotcast as fn(&Scenario) -> AsyncRun, AsyncRun::tokio] {
            let mut run = make(&sc);
            group.bench_function(BenchmarkId::new(run.name, sc.param()), |b| b.iter_custom(|iters| run.bursts(iters)));
            run.finish();
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = async_fanout
}

// --- interleaved rounds ------------------------------------------------------------

/// One round of one system: events per second (per reader: each reader
/// sees every event) over `bursts` timed bursts.
/// Also returns the polls of the round (warm-up included): per event read
/// by each reader, the reads completed and the polls that found nothing,
/// and per event published, the writer's polls.
fn round(mut run: AsyncRun, bursts: u64) -> (f64, Value) {
    run.bursts(WARM_UP_BURSTS);
    let took = run.bursts(bursts);
    let (readers, events) = (run.sc.readers as f64, run.next as f64);
    let (reads, writes) = run.finish();
    let polls = json!({
        "reads_per_event": reads.done as f64 / (events * readers),
        "pending_reads_per_event": reads.pending() as f64 / (events * readers),
        "writer_polls_per_event": writes.polls as f64 / events,
    });
    ((bursts * BURST) as f64 / took.as_secs_f64(), polls)
}

/// Timed bursts per system and round of scenario `sc` (when benchmarking).
fn round_bursts(sc: &Scenario) -> u64 {
    if sc.payload == Payload::Fixed(64) { ROUND_BURSTS_64B } else { ROUND_BURSTS_4KB }
}

fn fanout_rounds(rounds: usize, benchmarking: bool) -> Vec<Value> {
    let mut rows = Vec::new();
    for sc in scenarios() {
        let id = format!("async_fanout/rounds/{}", sc.param());
        if !common::selected(&id) {
            continue;
        }
        let bursts = if benchmarking { round_bursts(&sc) } else { 1 };
        let (mut ours, mut theirs, mut polls) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..rounds {
            let (a, a_polls) = round(AsyncRun::slotcast(&sc), bursts);
            let (b, b_polls) = round(AsyncRun::tokio(&sc), bursts);
            println!("{id} round {}: slotcast {:.2} M/s {a_polls}, tokio {:.2} M/s {b_polls}", r + 1, a / 1e6, b / 1e6);
            ours.push(a);
            theirs.push(b);
            polls.push(json!({"slotcast": a_polls, "tokio": b_polls}));
        }
        let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
        let med = median(&ratios);
        println!("{id}: median ratio slotcast/tokio {med:.2} (rounds {ratios:.2?})");
        rows.push(json!({
            "scenario": sc.param(),
            "payload": sc.payload.label(),
            "readers": sc.readers,
            "events_per_round": bursts * BURST,
            "slotcast": ours,
            "tokio": theirs,
            "ratios": ratios,
            "median_ratio": med,
            "slotcast_median": median(&ours),
            "tokio_median": median(&theirs),
            "polls": polls,
        }));
    }
    rows
}

// --- wake-up latency -----------------------------------------------------------------

/// The time base the publisher stamps into each event and the reader task
/// subtracts from: nanoseconds since it.
fn stamp(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_nanos()).expect("a run shorter than 584 years")
}

/// The pause before publish `i`: 50 to 200 µs, varied (a fixed period
/// could beat with the runtime's own timers).
fn spacing(i: u64) -> Duration {
    Duration::from_micros(50 + (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 151)
}

/// A 64-byte wake-up event: sequence number, then the publisher's stamp.
fn wake_event(seq: u64, at: u64) -> [u8; 64] {
    let mut ev = [0u8; 64];
    ev[..8].copy_from_slice(&seq.to_le_bytes());
    ev[8..16].copy_from_slice(&at.to_le_bytes());
    ev
}

/// Sequence number and stamp of a wake-up event.
fn wake_fields(data: &[u8]) -> (u64, u64) {
    let word = |i: usize| u64::from_le_bytes(data[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    (word(0), word(1))
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// Records one received wake-up event: checks its sequence number.
fn record(hist: &mut Histogram<u64>, base: Instant, expected: u64, data: &[u8]) {
    let (seq, at) = wake_fields(data);
    assert_eq!(seq, expected, "wake-up events arrive in order, none lost");
    hist.saturating_record(stamp(base).saturating_sub(at).max(1));
}

/// `samples` wake-ups of an idle slotcast reader task (`read_async`), each
/// after a pause of the publishing thread.
fn wake_slotcast(samples: u64) -> Histogram<u64> {
    let ring = Runtime::builder().ring_capacity(CAP).max_readers(1).build().expect("build the slotcast runtime");
    let mut reader = ring.reader().expect("join");
    let mut writer = ring.writer().expect("the writer");
    let rt = runtime();
    let base = Instant::now();
    let task = rt.spawn(async move {
        let mut hist = histogram();
        let mut next = 0;
        loop {
            match reader
                .read_async(|ev, _| {
                    record(&mut hist, base, next, ev.data());
                    next += 1;
                })
                .await
            {
                Ok(_) => {}
                Err(ReadError::Closed) => return (hist, next),
                Err(e) => panic!("a sound runtime: {e}"),
            }
        }
    });
    for seq in 0..samples {
        std::thread::sleep(spacing(seq));
        writer.publish_bytes(0, &wake_event(seq, stamp(base))).expect("a 64-byte event fits");
    }
    drop(writer);
    let (hist, seen) = rt.block_on(task).expect("the reader task panicked");
    assert_eq!(seen, samples, "slotcast: every wake-up event read");
    hist
}

/// The same with a `tokio::sync::broadcast` receiver task (`recv().await`).
fn wake_tokio(samples: u64) -> Histogram<u64> {
    use broadcast::error::RecvError;
    let (tx, mut rx) = broadcast::channel::<Inline64>(CAP);
    let rt = runtime();
    let base = Instant::now();
    let task = rt.spawn(async move {
        let mut hist = histogram();
        let mut next = 0;
        loop {
            match rx.recv().await {
                Ok(m) => {
                    record(&mut hist, base, next, &m.0);
                    next += 1;
                }
                Err(RecvError::Lagged(n)) => panic!("tokio: {n} wake-up events lagged"),
                Err(RecvError::Closed) => return (hist, next),
            }
        }
    });
    for seq in 0..samples {
        std::thread::sleep(spacing(seq));
        // A reader task kept off the cores for CAP events would lag: wait
        // for room, as slotcast's `publish_bytes` does.
        while tx.len() >= CAP {
            std::thread::yield_now();
        }
        if tx.send(Inline64(wake_event(seq, stamp(base)))).is_err() {
            unreachable!("the receiver outlives the sender");
        }
    }
    drop(tx);
    let (hist, seen) = rt.block_on(task).expect("the reader task panicked");
    assert_eq!(seen, samples, "tokio: every wake-up event read");
    hist
}

fn quantiles(hist: &Histogram<u64>) -> Value {
    json!({
        "samples": hist.len(),
        "p50_ns": hist.value_at_quantile(0.5),
        "p90_ns": hist.value_at_quantile(0.9),
        "p99_ns": hist.value_at_quantile(0.99),
        "p999_ns": hist.value_at_quantile(0.999),
        "max_ns": hist.max(),
    })
}

fn wake_rounds(rounds: usize, samples: u64) -> Option<Value> {
    if !common::selected("async_fanout/wake") {
        return None;
    }
    let (mut ours, mut theirs) = (histogram(), histogram());
    let mut per_round = Vec::new();
    for r in 0..rounds {
        let a = wake_slotcast(samples);
        let b = wake_tokio(samples);
        println!(
            "async_fanout/wake round {}: slotcast p50 {} ns p99 {} ns, tokio p50 {} ns p99 {} ns",
            r + 1,
            a.value_at_quantile(0.5),
            a.value_at_quantile(0.99),
            b.value_at_quantile(0.5),
            b.value_at_quantile(0.99)
        );
        per_round.push(json!({"slotcast": quantiles(&a), "tokio": quantiles(&b)}));
        ours.add(&a).expect("same bounds");
        theirs.add(&b).expect("same bounds");
    }
    let (s, t) = (quantiles(&ours), quantiles(&theirs));
    println!("async_fanout/wake: slotcast {s}, tokio {t}");
    Some(json!({
        "samples_per_round": samples,
        "spacing_us": [50, 200],
        "slotcast": s,
        "tokio": t,
        "rounds": per_round,
    }))
}

/// `--round SYSTEM SCENARIO BURSTS`: one round of one system (`slotcast`
/// or `tokio`, scenario as `64B/2r`), for a manual `valgrind
/// --tool=callgrind` session; prints its rate and poll counts.
fn one_round(args: &[String]) {
    let usage = "--round slotcast|tokio 64B/2r|64B/4r|4KB/2r|4KB/4r BURSTS";
    let (system, param) = (args.first().expect(usage), args.get(1).expect(usage));
    let bursts = args.get(2).and_then(|b| b.parse().ok()).expect(usage);
    let sc = scenarios().into_iter().find(|sc| &sc.param() == param).expect(usage);
    let run = match system.as_str() {
        "slotcast" => AsyncRun::slotcast(&sc),
        "tokio" => AsyncRun::tokio(&sc),
        _ => panic!("{usage}"),
    };
    let (rate, polls) = round(run, bursts);
    println!("{system} {param}: {:.2} M/s per reader, {polls}", rate / 1e6);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--round") {
        one_round(&args[i + 1..]);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();

    let benchmarking = common::benchmarking();
    // Under `cargo test --benches`: one tiny round of each, to check that
    // both systems run and every event arrives intact; nothing written.
    let (rounds, samples) = if benchmarking { (ROUNDS, 2000) } else { (1, 20) };
    let started = Instant::now();
    let fanout = fanout_rounds(rounds, benchmarking);
    let wake = wake_rounds(rounds, samples);
    let seconds = started.elapsed().as_secs_f64();
    println!("async_fanout: interleaved rounds in {seconds:.1} s");
    if benchmarking && (!fanout.is_empty() || wake.is_some()) {
        let doc = json!({
            "workers": WORKERS,
            "rounds": rounds,
            "order": "slotcast, then tokio, in every round",
            "burst": BURST,
            "warm_up_bursts": WARM_UP_BURSTS,
            "seconds": seconds,
            "fanout": fanout,
            "wake": wake,
        });
        common::write_extra("async_fanout", &format!("{doc:#}\n"));
    }
}
