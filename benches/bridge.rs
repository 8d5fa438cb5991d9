//! `bridge`: what carrying a ring's events over NATS costs (issue 16), in
//! one run of interleaved rounds against a real `nats-server` the bench
//! starts and stops (`bridge/tests/common/nats_server.rs`), beside
//! `async-nats` publishing the same events directly. The results go to
//! `slotcast-extra/bridge.json` under criterion's directory, which
//! `benches/report/bridge_report.rs` renders.
//!
//! Throughput, 64-byte and 4 KB payloads, every case in every round:
//!
//! | case | how |
//! |---|---|
//! | `bridge-core` | a writer thread publishes N events into a source runtime in a shared file under `/dev/shm`; `spawn_out` → the server → `spawn_in` → a sink runtime in another file; a reader of the sink counts every event. Timed from the writer's first publish to that reader's last event |
//! | `bridge-jetstream` | the same with `Delivery::jetstream_for` (frames stored in a file-backed stream, read by an ordered consumer) |
//! | `nats` | `async-nats` alone: one NATS message per event, published by one client in a loop (a `Bytes` built per event), received by a subscriber on another client; timed from the first publish to the last message received |
//! | `nats-frames` | `async-nats` publishing the bridge's own frames, built before the timing (up to 64 KiB each, as the bridge's default), a subscriber parsing each and counting its events: the transport's ceiling for what the bridge sends |
//!
//! Each pipeline (the two bridges, the two client pairs) is set up once and
//! carries every round; a round runs every case once, so a neighbour's load
//! hits the cases alike. A case's figure is the median of its rounds, a
//! ratio's the median of the rounds' ratios. N is chosen per case by a
//! first, untimed round, so that each takes about [`TARGET_SECONDS`].
//!
//! Latency: 64-byte events at [`LATENCY_RATE`] per second for
//! [`LATENCY_SECONDS`], each carrying its publish time (nanoseconds since an
//! `Instant` shared in the process), through the core-NATS bridge and
//! through `async-nats` alone (publish and flush, per event); the far side
//! records `now - stamp` in an HDR histogram.
//!
//! Everything runs in this process (the server aside): a writer thread, the
//! two bridges' threads, the far reader and the server's threads share the
//! machine's cores, so every wait blocks instead of spinning (the runtimes'
//! default `WaitStrategy::Blocking`; the bridges and the clients wait in
//! tokio). Run alone as `cargo bench -p slotcast-benches --bench bridge`;
//! criterion's options do not apply. Under `cargo test --benches` it carries
//! [`CHECK_EVENTS`] events of each size through each case, checking every
//! one (sequence, type, length, every byte), and a short latency run, and
//! writes nothing. It needs `nats-server` (`$NATS_SERVER`, else on the
//! path): without it the timed run says "not measured" and writes nothing
//! (the report's section says so), and the test mode fails.

// Harness code uses std's `Instant`, threads and sleeps freely.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;
#[path = "../bridge/tests/common/nats_server.rs"]
mod nats_server;

use async_nats::ConnectOptions;
use bytes::Bytes;
use common::{checksum, expected_checksum, fill, median};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use slotcast::{Reader, Runtime, SizeClass, Writer};
use slotcast_bridge::frame::{Encoder, Frame, Kind};
use slotcast_bridge::{Delivery, InOptions, Link, OutOptions, Running, Snapshot};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Rounds, each running every case once.
const ROUNDS: usize = 7;
/// The payload sizes.
const SIZES: [usize; 2] = [64, 4096];
/// Seconds each timed case should take; N is sized for it.
const TARGET_SECONDS: f64 = 0.8;
/// Events of the first (calibrating) round, per size.
fn calibration_events(size: usize) -> u64 {
    if size <= 64 { 50_000 } else { 5_000 }
}
/// Bounds on N.
const MIN_EVENTS: u64 = 2_000;
const MAX_EVENTS: u64 = 3_000_000;
/// Events of each size each case carries in a test run, every one checked.
const CHECK_EVENTS: u64 = 3_000;
/// Latency: events per second and seconds.
const LATENCY_RATE: u64 = 10_000;
const LATENCY_SECONDS: f64 = 2.0;
/// Latency events in a test run.
const CHECK_LATENCY_EVENTS: u64 = 200;
/// The longest any wait may take before the run is declared stuck.
const STALL: Duration = Duration::from_secs(60);
/// Frames' size, as the bridge's default `max_frame_bytes`.
const FRAME_BYTES: usize = OutOptions::DEFAULT_MAX_FRAME_BYTES;
/// Event type of the measured events; the warm-up markers are type 0.
const EVENT_TYPE: u32 = 1;
/// Messages the `async-nats`-alone subscriber's client buffers before it
/// drops: a whole round's (one message per event; the bridge's receiving
/// client buffers `InOptions::max_pending_frames`, 8192, but of frames).
/// With 64 Ki, the subscriber, slower than the publisher at 64 B, dropped
/// most of a round.
const SUBSCRIPTION_CAPACITY: usize = MAX_NATS_EVENTS as usize;
/// Bounds on N for `async-nats` alone (its subscriber buffers a round).
const MAX_NATS_EVENTS: u64 = 1 << 20;
/// Silence after which the far side of a core-NATS case stops waiting for
/// events that were dropped (the server or a client dropped them when a
/// receiver fell behind: core NATS has no flow control).
const DROPPED_AFTER: Duration = Duration::from_secs(5);
/// 4 KB slots in each runtime: the default 60 would make the writer wait
/// for the bridge's reader every 60 events; a user streaming 4 KB events
/// sizes the class for it.
const L_SLOTS: usize = 1024;

/// The process's time origin: latency stamps are nanoseconds since it.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn stamp_now() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// Sleeps until `due` (a short sleep's granularity is the kernel's: late
/// events go at once, so the rate holds on average).
fn pace(due: Instant) {
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

/// The payload of a latency event: its sequence, then its publish time.
fn latency_payload(seq: u64) -> [u8; 64] {
    let mut buf = [0u8; 64];
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    buf[8..16].copy_from_slice(&stamp_now().to_le_bytes());
    buf
}

fn word(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"))
}

/// What the far side does with each measured event.
enum Check<'a> {
    /// Its sequence only (the timed runs).
    Count,
    /// Its sequence, length and every byte (the test mode).
    Every,
    /// Its sequence, and `now - stamp` into the histogram.
    Latency(&'a mut Histogram<u64>),
}

/// The far side's tally of one run.
struct Tally {
    /// Events received (up to and including the last one sent).
    got: u64,
    /// When the last one came.
    last: Instant,
}

/// Takes one measured event: checks it, records it; `Ok(true)` once it is
/// the run's last.
fn take_event(
    data: &[u8],
    expect: &mut u64,
    last_seq: u64,
    size: usize,
    check: &mut Check<'_>,
) -> Result<bool, String> {
    if data.len() < 16 {
        return Err(format!("an event of {} bytes", data.len()));
    }
    let seq = word(data, 0);
    if seq < *expect || seq > last_seq {
        return Err(format!("event {seq} came when {expect} was expected (the run ends at {last_seq})"));
    }
    match check {
        Check::Count => {}
        Check::Every => {
            if seq != *expect {
                return Err(format!("event {seq} came when {expect} was expected: events lost"));
            }
            if data.len() != size || checksum(data) != expected_checksum(seq, size) {
                return Err(format!("event {seq}: {} bytes, not the {size} the writer filled", data.len()));
            }
        }
        Check::Latency(h) => {
            let took = stamp_now().saturating_sub(word(data, 8));
            h.record(took.max(1)).map_err(|e| format!("latency {took} ns out of range: {e}"))?;
        }
    }
    *expect = seq + 1;
    Ok(seq == last_seq)
}

// --- the bridge ------------------------------------------------------------------------------

/// Removes the bench's runtime files however the run ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A writer → source ring → out bridge → NATS → in bridge → sink ring →
/// reader pipeline, carrying every round.
struct Pipeline {
    writer: Option<Writer>,
    far: Reader,
    out: Option<Running>,
    inbound: Option<Running>,
    /// The source sequence the next measured event gets (the markers of
    /// the warm-up count too).
    next: u64,
    _dir: TempDir,
}

fn runtime(path: PathBuf) -> Runtime {
    Runtime::builder()
        .shared(&path)
        .slots(SizeClass::L, L_SLOTS)
        .build()
        .unwrap_or_else(|e| panic!("creating the runtime {}: {e}", path.display()))
}

impl Pipeline {
    fn start(url: &str, subject: &str, delivery: Delivery) -> Pipeline {
        let base =
            if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let dir = base.join(format!("slotcast-bench-bridge-{}-{subject}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let dir = TempDir(dir);
        let source = runtime(dir.0.join("source"));
        let sink = runtime(dir.0.join("sink"));
        let far = sink.reader().expect("the far reader joins the sink");
        let link = Link::new(url, subject, delivery);
        let inbound = slotcast_bridge::spawn_in(sink, InOptions::new(link.clone())).expect("the receiving bridge");
        let out = slotcast_bridge::spawn_out(source.clone(), OutOptions::new(link)).expect("the sending bridge");
        let writer = source.writer().expect("the source's writer");
        let mut p = Pipeline { writer: Some(writer), far, out: Some(out), inbound: Some(inbound), next: 0, _dir: dir };
        p.warm_up(subject);
        p
    }

    fn out(&self) -> Snapshot {
        self.out.as_ref().expect("running").progress()
    }

    fn inbound(&self) -> Snapshot {
        self.inbound.as_ref().expect("running").progress()
    }

    /// Publishes a marker event every 20 ms until one reaches the far
    /// reader: then the sending bridge has joined the source and the
    /// receiving one is subscribed (core NATS drops what is published
    /// before), and every later event crosses.
    fn warm_up(&mut self, subject: &str) {
        let deadline = Instant::now() + STALL;
        let writer = self.writer.as_mut().expect("the writer");
        loop {
            writer.publish_bytes(0, &[0u8; 16]).expect("publish a marker");
            self.next += 1;
            match self.far.recv_timeout(Duration::from_millis(20)) {
                Ok(Some(e)) if e.event_type() == 0 => return,
                Ok(Some(e)) => panic!("{subject}: an event of type {} before any was sent", e.event_type()),
                Ok(None) => {}
                Err(e) => match self.inbound.take() {
                    // The receiving bridge stopped (its writer role went
                    // with it, closing the sink): say why.
                    Some(inbound) if inbound.is_finished() => {
                        panic!("{subject}: the far reader: {e}; the receiving bridge stopped: {:?}", inbound.join())
                    }
                    _ => panic!("{subject}: the far reader: {e}"),
                },
            }
            assert!(
                Instant::now() < deadline,
                "{subject}: no marker crossed the bridge in {STALL:?}: out {:?}, in {:?}",
                self.out(),
                self.inbound()
            );
        }
    }

    /// Carries `n` events of `size` bytes (or, with `Check::Latency`, 64
    /// stamped events at `LATENCY_RATE`): returns the seconds from the
    /// first publish to the far reader's last event and the events lost.
    fn run(&mut self, n: u64, size: usize, mut check: Check<'_>) -> (f64, u64) {
        let first = self.next;
        let last_seq = first + n - 1;
        let paced = matches!(check, Check::Latency(_));
        let lost_before = self.inbound().lost;
        let writer = self.writer.as_mut().expect("the writer");
        let far = &mut self.far;
        let inbound = self.inbound.as_ref().expect("running").progress_handle();
        let (started, tally) = std::thread::scope(|s| {
            let w = s.spawn(move || {
                let mut buf = vec![0u8; size];
                let start = Instant::now();
                let interval = Duration::from_secs_f64(1.0 / LATENCY_RATE as f64);
                for i in 0..n {
                    if paced {
                        pace(start + interval * i as u32);
                        writer.publish_bytes(EVENT_TYPE, &latency_payload(first + i)).expect("publish");
                    } else {
                        fill(first + i, &mut buf);
                        writer.publish_bytes(EVENT_TYPE, &buf).expect("publish");
                    }
                }
                start
            });
            let mut expect = first;
            let mut got = 0u64;
            let mut deadline = Instant::now() + STALL;
            let last = loop {
                match far.recv_timeout(Duration::from_millis(100)) {
                    Ok(Some(e)) => {
                        if e.event_type() != EVENT_TYPE {
                            continue;
                        }
                        got += 1;
                        deadline = Instant::now() + STALL;
                        match take_event(e.data(), &mut expect, last_seq, size, &mut check) {
                            Ok(true) => break Instant::now(),
                            Ok(false) => {}
                            Err(why) => panic!("bridge, far reader: {why}; in {:?}", inbound.snapshot()),
                        }
                    }
                    Ok(None) => {
                        // The receiving bridge counted what core NATS
                        // dropped (at the next frame or heartbeat): every
                        // event is accounted for.
                        if got + (inbound.snapshot().lost - lost_before) >= n {
                            break Instant::now();
                        }
                        assert!(
                            Instant::now() < deadline,
                            "bridge: the far reader got {got} of {n} events, then nothing for {STALL:?}: in {:?}",
                            inbound.snapshot()
                        );
                    }
                    Err(e) => panic!("bridge: the far reader: {e}"),
                }
            };
            (w.join().expect("the writer thread"), Tally { got, last })
        });
        self.next = last_seq + 1;
        // The receiving bridge counts a gap when the frame after it comes:
        // by the last event, every loss before it is counted.
        let lost = self.inbound().lost - lost_before;
        assert_eq!(tally.got + lost, n, "bridge: events received and lost against those sent");
        ((tally.last - started).as_secs_f64(), lost)
    }

    /// Closes the source: the end crosses, both bridges stop.
    fn finish(mut self) -> (Snapshot, Snapshot) {
        self.writer.take().expect("the writer").close();
        let deadline = Instant::now() + STALL;
        let (out, inbound) = (self.out.take().expect("running"), self.inbound.take().expect("running"));
        while !(out.is_finished() && inbound.is_finished()) {
            assert!(
                Instant::now() < deadline,
                "the bridges did not stop at the source's end: out {:?}, in {:?}",
                out.progress(),
                inbound.progress()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        (out.join().expect("the sending bridge"), inbound.join().expect("the receiving bridge"))
    }
}

// --- async-nats alone ---------------------------------------------------------------------------

/// What a client thread is asked to do.
enum Job {
    /// Publish events `first..first + n` of `size` bytes, one message each.
    Plain { first: u64, n: u64, size: usize },
    /// Publish these frames.
    Frames(Vec<Bytes>),
    /// Publish `n` stamped 64-byte events at `LATENCY_RATE`, flushing each.
    Paced { first: u64, n: u64 },
    /// Receive until event `last` (one event per message, or frames), and
    /// check each as asked; with `latency`, record each.
    Receive { first: u64, last: u64, size: usize, frames: bool, every: bool, latency: bool },
}

/// What a client thread answers.
enum Done {
    Published(Instant),
    Received { got: u64, last: Instant, latency: Option<Box<Histogram<u64>>> },
    Failed(String),
}

/// A client on a thread of its own, with its own current-thread runtime
/// (as each bridge has), taking jobs.
struct Peer {
    jobs: tokio::sync::mpsc::UnboundedSender<(Job, mpsc::Sender<Done>)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Peer {
    /// A publisher (`subscribe: false`) or a subscriber to `subject`, ready
    /// when this returns.
    fn start(url: &str, subject: &str, subscribe: bool) -> Peer {
        let (jobs, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Job, mpsc::Sender<Done>)>();
        let (ready_tx, ready) = mpsc::channel::<Result<(), String>>();
        let name = subject.to_owned();
        let (url, subject) = (url.to_owned(), subject.to_owned());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
            rt.block_on(async move {
                let client = match ConnectOptions::new()
                    .subscription_capacity(SUBSCRIPTION_CAPACITY)
                    .connect(url.as_str())
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("connect: {e}")));
                        return;
                    }
                };
                let mut sub = None;
                if subscribe {
                    match client.subscribe(subject.clone()).await {
                        Ok(s) => sub = Some(s),
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("subscribe: {e}")));
                            return;
                        }
                    }
                }
                // The subscription is at the server once the flush returns.
                if let Err(e) = client.flush().await {
                    let _ = ready_tx.send(Err(format!("flush: {e}")));
                    return;
                }
                let _ = ready_tx.send(Ok(()));
                while let Some((job, reply)) = rx.recv().await {
                    let done = match (job, sub.as_mut()) {
                        (Job::Receive { first, last, size, frames, every, latency }, Some(sub)) => {
                            receive(sub, first, last, size, frames, every, latency).await
                        }
                        (job, None) => publish(&client, &subject, job).await,
                        (_, Some(_)) => Done::Failed("a subscriber asked to publish".into()),
                    };
                    let _ = reply.send(done);
                }
            });
        });
        match ready.recv_timeout(STALL) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("async-nats client on {name}: {e}"),
            Err(e) => panic!("async-nats client on {name} not ready in {STALL:?}: {e}"),
        }
        Peer { jobs, thread: Some(thread) }
    }

    /// Hands `job` over; the answer comes on the returned channel.
    fn ask(&self, job: Job) -> mpsc::Receiver<Done> {
        let (tx, rx) = mpsc::channel();
        self.jobs.send((job, tx)).expect("the client thread is running");
        rx
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Closing the job channel ends the thread's loop.
        let (closed, _) = tokio::sync::mpsc::unbounded_channel();
        self.jobs = closed;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn publish(client: &async_nats::Client, subject: &str, job: Job) -> Done {
    let subject = async_nats::Subject::from(subject);
    let start = Instant::now();
    let result: Result<(), String> = async {
        match job {
            Job::Plain { first, n, size } => {
                for i in 0..n {
                    // What a user without the bridge writes: a message per
                    // event, its bytes filled as the ring's writer fills its
                    // slot.
                    let mut buf = vec![0u8; size];
                    fill(first + i, &mut buf);
                    client.publish(subject.clone(), Bytes::from(buf)).await.map_err(|e| e.to_string())?;
                }
            }
            Job::Frames(frames) => {
                for f in frames {
                    client.publish(subject.clone(), f).await.map_err(|e| e.to_string())?;
                }
            }
            Job::Paced { first, n } => {
                let interval = Duration::from_secs_f64(1.0 / LATENCY_RATE as f64);
                for i in 0..n {
                    pace(start + interval * i as u32);
                    let payload = Bytes::copy_from_slice(&latency_payload(first + i));
                    client.publish(subject.clone(), payload).await.map_err(|e| e.to_string())?;
                    // Sent now, not when the client next gets round to it.
                    client.flush().await.map_err(|e| e.to_string())?;
                }
            }
            Job::Receive { .. } => return Err("a publisher asked to receive".into()),
        }
        client.flush().await.map_err(|e| e.to_string())
    }
    .await;
    match result {
        Ok(()) => Done::Published(start),
        Err(e) => Done::Failed(format!("publish: {e}")),
    }
}

async fn receive(
    sub: &mut async_nats::Subscriber,
    first: u64,
    last: u64,
    size: usize,
    frames: bool,
    every: bool,
    latency: bool,
) -> Done {
    let mut h = latency.then(histogram);
    let mut expect = first;
    let mut got = 0u64;
    loop {
        let message = match tokio::time::timeout(DROPPED_AFTER, sub.next()).await {
            Ok(Some(m)) => m,
            Ok(None) => return Done::Failed("the subscription ended".into()),
            // Core NATS dropped the rest (the receiving side fell behind):
            // the caller counts them lost. A broken run is caught there
            // too: nothing received at all fails it.
            Err(_) => return Done::Received { got, last: Instant::now(), latency: h.map(Box::new) },
        };
        let mut check = match (&mut h, every) {
            (Some(h), _) => Check::Latency(h),
            (None, true) => Check::Every,
            (None, false) => Check::Count,
        };
        let mut done = false;
        if frames {
            let frame = match Frame::parse(&message.payload) {
                Ok(f) => f,
                Err(e) => return Done::Failed(format!("a malformed frame: {e}")),
            };
            if frame.kind() != Kind::Events {
                continue;
            }
            for e in frame.events() {
                got += 1;
                match take_event(e.data, &mut expect, last, size, &mut check) {
                    Ok(d) => done |= d,
                    Err(why) => return Done::Failed(why),
                }
            }
        } else {
            got += 1;
            match take_event(&message.payload, &mut expect, last, size, &mut check) {
                Ok(d) => done = d,
                Err(why) => return Done::Failed(why),
            }
        }
        if done {
            return Done::Received { got, last: Instant::now(), latency: h.map(Box::new) };
        }
    }
}

/// A publisher and a subscriber on one subject.
struct Pair {
    name: &'static str,
    publisher: Peer,
    subscriber: Peer,
    next: u64,
}

impl Pair {
    fn start(url: &str, name: &'static str) -> Pair {
        Pair { name, subscriber: Peer::start(url, name, true), publisher: Peer::start(url, name, false), next: 0 }
    }

    /// Runs one job pair: seconds from the first publish to the last event
    /// received, and the events lost (sent and never received).
    fn run(&mut self, n: u64, size: usize, how: PairJob, every: bool) -> (f64, u64, Option<Box<Histogram<u64>>>) {
        let first = self.next;
        let last = first + n - 1;
        self.next = last + 1;
        let (publish, frames, latency) = match how {
            PairJob::Plain => (Job::Plain { first, n, size }, false, false),
            PairJob::Frames => (Job::Frames(frames_of(first, n, size)), true, false),
            PairJob::Paced => (Job::Paced { first, n }, false, true),
        };
        let received = self.subscriber.ask(Job::Receive { first, last, size, frames, every, latency });
        let published = self.publisher.ask(publish);
        let wait = |rx: mpsc::Receiver<Done>, what: &str| {
            rx.recv_timeout(STALL + Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("{}: the {what} did not answer: {e}", self.name))
        };
        let start = match wait(published, "publisher") {
            Done::Published(t) => t,
            Done::Failed(e) => panic!("{}: {e}", self.name),
            Done::Received { .. } => unreachable!("a publisher received"),
        };
        match wait(received, "subscriber") {
            Done::Received { got, last, latency } => {
                assert!(got > 0, "{}: not one of {n} events received in {DROPPED_AFTER:?}", self.name);
                ((last - start).as_secs_f64(), n - got, latency)
            }
            Done::Failed(e) => panic!("{}, subscriber: {e}", self.name),
            Done::Published(_) => unreachable!("a subscriber published"),
        }
    }
}

#[derive(Clone, Copy)]
enum PairJob {
    Plain,
    Frames,
    Paced,
}

/// Events `first..first + n` in bridge frames of up to [`FRAME_BYTES`].
fn frames_of(first: u64, n: u64, size: usize) -> Vec<Bytes> {
    let mut encoder = Encoder::new(1, FRAME_BYTES);
    let mut frames = Vec::new();
    let mut buf = vec![0u8; size];
    for seq in first..first + n {
        fill(seq, &mut buf);
        if encoder.len_with(size) > FRAME_BYTES && !encoder.is_empty() {
            frames.push(Bytes::from(encoder.take()));
        }
        assert!(encoder.push(seq, EVENT_TYPE, &buf), "consecutive events fit a frame");
    }
    if !encoder.is_empty() {
        frames.push(Bytes::from(encoder.take()));
    }
    frames
}

// --- the run ------------------------------------------------------------------------------------

const CASES: [(&str, &str); 4] = [
    ("bridge-core", "the bridge, core NATS"),
    ("bridge-jetstream", "the bridge, JetStream"),
    ("nats", "async-nats alone, one message per event"),
    ("nats-frames", "async-nats alone, the bridge's frames (pre-built)"),
];

/// Same-run ratios: (id, numerator, denominator, what).
const RATIOS: [(&str, &str, &str, &str); 3] = [
    ("core_over_nats", "bridge-core", "nats", "bridge (core NATS) / async-nats alone"),
    ("jetstream_over_core", "bridge-jetstream", "bridge-core", "bridge: JetStream / core NATS"),
    ("core_over_frames", "bridge-core", "nats-frames", "bridge (core NATS) / async-nats sending its frames"),
];

struct Setup {
    core: Pipeline,
    jetstream: Pipeline,
    nats: Pair,
    frames: Pair,
}

impl Setup {
    fn start(url: &str) -> Setup {
        Setup {
            core: Pipeline::start(url, "bench_bridge_core", Delivery::Core),
            jetstream: Pipeline::start(url, "bench_bridge_js", Delivery::jetstream_for("bench_bridge_js")),
            nats: Pair::start(url, "bench_nats"),
            frames: Pair::start(url, "bench_nats_frames"),
        }
    }

    /// One case once: (seconds, events lost).
    fn run(&mut self, case: &str, n: u64, size: usize, every: bool) -> (f64, u64) {
        let check = if every { Check::Every } else { Check::Count };
        match case {
            "bridge-core" => self.core.run(n, size, check),
            "bridge-jetstream" => self.jetstream.run(n, size, check),
            "nats" => {
                let (s, lost, _) = self.nats.run(n, size, PairJob::Plain, every);
                (s, lost)
            }
            "nats-frames" => {
                let (s, lost, _) = self.frames.run(n, size, PairJob::Frames, every);
                (s, lost)
            }
            _ => unreachable!("unknown case {case}"),
        }
    }
}

fn latency_json(id: &str, label: &str, h: &Histogram<u64>) -> Value {
    json!({
        "id": id, "label": label, "events": h.len(),
        "p50": h.value_at_quantile(0.50), "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999), "max": h.max(), "mean": h.mean(),
    })
}

/// The load average now (`/proc/loadavg`'s first three fields): the
/// report says what else the 2 cores were doing.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "unknown".into(), |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn server_version() -> String {
    let out = std::process::Command::new(nats_server::binary()).arg("--version").output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_else(|e| format!("unknown ({e})"))
}

/// Test mode: every case with every size, small and checked; a short
/// latency run of each kind.
fn check(setup: &mut Setup) {
    for size in SIZES {
        for (case, _) in CASES {
            let (_, lost) = setup.run(case, CHECK_EVENTS, size, true);
            assert_eq!(lost, 0, "{case}: {size}-byte events lost");
        }
    }
    let mut h = histogram();
    let (_, lost) = setup.core.run(CHECK_LATENCY_EVENTS, 64, Check::Latency(&mut h));
    assert_eq!((lost, h.len()), (0, CHECK_LATENCY_EVENTS), "bridge latency run");
    let (_, lost, h) = setup.nats.run(CHECK_LATENCY_EVENTS, 64, PairJob::Paced, false);
    assert_eq!((lost, h.map(|h| h.len())), (0, Some(CHECK_LATENCY_EVENTS)), "async-nats latency run");
}

fn main() {
    if !common::selected("bridge") {
        return;
    }
    epoch();
    let benchmarking = common::benchmarking();
    // Without a server the report's section says "not measured" and the
    // other groups of `scripts/bench-report` still run; the test mode
    // (CI, which installs the server) fails instead, in `NatsServer::start`.
    if benchmarking && !nats_server::available() {
        println!("bridge: not measured: `{}` does not run (apt-get install nats-server)", nats_server::binary());
        return;
    }
    let load_before = loadavg();
    let server = nats_server::NatsServer::start(true);
    let started = Instant::now();
    let mut setup = Setup::start(&server.url());
    if !benchmarking {
        check(&mut setup);
        let (out, inbound) = setup.core.finish();
        assert_eq!((inbound.lost, inbound.malformed, out.lost), (0, 0, 0), "core bridge: {out:?} {inbound:?}");
        let (out, inbound) = setup.jetstream.finish();
        assert_eq!((inbound.lost, inbound.malformed, out.lost), (0, 0, 0), "JetStream bridge: {out:?} {inbound:?}");
        println!(
            "bridge: every case checked ({CHECK_EVENTS} events of 64 B and 4 KB each, every byte) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        return;
    }

    // The first round sizes N for each case; untimed. It runs cold (the
    // first allocations, the server's and the clients' buffers growing) and
    // comes out slower than the rounds, which thus take less than the target.
    let mut events: BTreeMap<(String, usize), u64> = BTreeMap::new();
    for size in SIZES {
        for (case, _) in CASES {
            let n = calibration_events(size);
            let (secs, lost) = setup.run(case, n, size, false);
            let rate = (n - lost) as f64 / secs;
            let max = if case.starts_with("nats") { MAX_NATS_EVENTS } else { MAX_EVENTS };
            let sized = ((rate * TARGET_SECONDS) as u64).clamp(MIN_EVENTS, max);
            println!("bridge: {case}/{size}B: calibration {:.3} M/s, N = {sized}", rate / 1e6);
            events.insert((case.to_owned(), size), sized);
        }
    }

    // Each case's rate per round, `None` for a round that lost events.
    let mut per_round: BTreeMap<(String, usize), Vec<Option<f64>>> = BTreeMap::new();
    let mut lost_rounds: BTreeMap<(String, usize), Vec<u64>> = BTreeMap::new();
    let mut frames_per_round: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for round in 0..ROUNDS {
        let mut line = Vec::new();
        for size in SIZES {
            for (case, _) in CASES {
                let n = events[&(case.to_owned(), size)];
                let messages_before = setup.core.out().messages;
                let (secs, lost) = setup.run(case, n, size, false);
                if case == "bridge-core" {
                    let messages = setup.core.out().messages - messages_before;
                    frames_per_round.entry(size).or_default().push(n as f64 / messages.max(1) as f64);
                }
                let key = (case.to_owned(), size);
                if lost == 0 {
                    per_round.entry(key).or_default().push(Some(n as f64 / secs));
                    line.push(format!("{case}/{size}B {:.3}M", n as f64 / secs / 1e6));
                } else {
                    // A round that lost events is not a rate of them all.
                    per_round.entry(key.clone()).or_default().push(None);
                    lost_rounds.entry(key).or_default().push(lost);
                    line.push(format!("{case}/{size}B lost {lost}"));
                }
            }
        }
        println!("bridge round {}: {}", round + 1, line.join(", "));
    }
    let throughput_seconds = started.elapsed().as_secs_f64();

    let latency_events = (LATENCY_RATE as f64 * LATENCY_SECONDS) as u64;
    let mut h = histogram();
    let (_, lost_bridge) = setup.core.run(latency_events, 64, Check::Latency(&mut h));
    let bridge_latency = latency_json("bridge-core", "the bridge, core NATS: writer's publish → far reader", &h);
    let (_, lost_nats, h) = setup.nats.run(latency_events, 64, PairJob::Paced, false);
    let h = h.expect("a latency histogram");
    let nats_latency = latency_json("nats", "async-nats alone: publish and flush → subscriber", &h);
    for l in [&bridge_latency, &nats_latency] {
        println!(
            "bridge: latency {}: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns ({} events)",
            l["id"], l["p50"], l["p99"], l["p999"], l["max"], l["events"]
        );
    }
    let (core_out, core_in) = setup.core.finish();
    let (js_out, js_in) = setup.jetstream.finish();
    println!("bridge: core NATS bridges at the end: out {core_out:?}, in {core_in:?}");
    println!("bridge: JetStream bridges at the end: out {js_out:?}, in {js_in:?}");
    drop((setup.nats, setup.frames));
    let seconds = started.elapsed().as_secs_f64();

    let mut throughput = Vec::new();
    for size in SIZES {
        for (case, label) in CASES {
            let key = (case.to_owned(), size);
            let rs: Vec<f64> = per_round.get(&key).into_iter().flatten().flatten().copied().collect();
            let med = median(&rs);
            println!(
                "bridge: {case:<18} {size:>5} B median {:>8.3} M events/s {:>8.1} MB/s",
                med / 1e6,
                med * size as f64 / 1e6
            );
            throughput.push(json!({
                "id": case, "label": label, "size": size, "events": events[&key], "rates": rs, "median": med,
                "mb_per_s": med * size as f64 / 1e6, "lost_rounds": lost_rounds.get(&key).cloned().unwrap_or_default(),
            }));
        }
    }
    let mut ratios = Vec::new();
    for size in SIZES {
        for (id, num, den, what) in RATIOS {
            let (Some(a), Some(b)) = (per_round.get(&(num.to_owned(), size)), per_round.get(&(den.to_owned(), size)))
            else {
                continue;
            };
            // Rounds in which both cases carried every event, paired.
            let rs: Vec<f64> = a.iter().zip(b).filter_map(|(a, b)| Some((*a)? / (*b)?)).collect();
            if rs.is_empty() {
                continue;
            }
            let med = median(&rs);
            println!("bridge: {size} B: {what}: median {med:.3} (rounds {rs:.3?})");
            ratios.push(
                json!({"id": id, "size": size, "num": num, "den": den, "what": what, "ratios": rs, "median": med}),
            );
        }
    }
    let frames: Vec<Value> = SIZES
        .iter()
        .map(|s| json!({"size": s, "events_per_message": median(frames_per_round.get(s).map_or(&[][..], |v| v))}))
        .collect();
    println!("bridge: {ROUNDS} rounds in {throughput_seconds:.1} s, {seconds:.1} s in all");
    let doc = json!({
        "command": "cargo bench -p slotcast-benches --bench bridge",
        "rounds": ROUNDS,
        "target_seconds": TARGET_SECONDS,
        "server": server_version(),
        "setup": "in one process (the server aside): the source and sink runtimes in two files under /dev/shm, the \
                  bridges' threads, the writer thread, the far reader and the client threads; runtimes and readers \
                  wait Blocking (the default), the bridges and the clients in tokio",
        "l_slots": L_SLOTS,
        "frame_bytes": FRAME_BYTES,
        "subscription_capacity": SUBSCRIPTION_CAPACITY,
        "seconds": seconds,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "throughput": throughput,
        "ratios": ratios,
        "bridge_frames": frames,
        "latency": {
            "rate": LATENCY_RATE, "seconds": LATENCY_SECONDS, "size": 64,
            "lost": {"bridge-core": lost_bridge, "nats": lost_nats},
            "cases": [bridge_latency, nats_latency],
        },
        "bridges": {
            "core": {
                "out_messages": core_out.messages, "in_lost": core_in.lost, "in_malformed": core_in.malformed,
                "out_disconnects": core_out.disconnects, "in_disconnects": core_in.disconnects,
            },
            "jetstream": {
                "out_messages": js_out.messages, "in_lost": js_in.lost, "in_duplicates": js_in.duplicates,
                "out_disconnects": js_out.disconnects, "in_disconnects": js_in.disconnects,
            },
        },
    });
    drop(server);
    common::write_extra("bridge", &format!("{doc:#}\n"));
}
