//! The bridge against a real `nats-server`: two runtimes in two files under a
//! temporary directory stand for the two hosts.
//!
//! * 10^6 events across the bridge, with core NATS and with JetStream, every
//!   one verified by two gating readers on the far side;
//! * the receiving bridge killed (SIGKILL, in a child process) at random
//!   points and started again on the same sink, with JetStream: nothing lost,
//!   nothing twice;
//! * `nats-server` restarted under core NATS: the loss is counted exactly;
//! * malformed messages on the subject: counted, none of their bytes in the
//!   ring, the bridge goes on (core and JetStream);
//! * the sending bridge stopped and started again with JetStream: nothing
//!   lost; a lossy sending bridge lapped by its writer: the receiving side
//!   counts exactly what the sending side lost;
//! * the two bridges of a JetStream link started at once: both come up.
//!
//! A `harness = false` test: `main` runs the scenarios one after another
//! (each prints its time), and re-runs this executable with
//! `SLOTCAST_BRIDGE_ROLE=in` for the receiving bridge that is killed.
//! Arguments that do not start with `-` select scenarios by substring;
//! `SLOTCAST_BRIDGE_REPEAT=n` runs the selection n times.
#![allow(clippy::disallowed_methods)] // the test paces its own threads and processes with std::thread::sleep
#![allow(clippy::disallowed_types, reason = "the test's own counters between its threads")]

#[path = "common/nats_server.rs"]
mod nats_server;

use nats_server::NatsServer;
use slotcast::{Policy, ReadError, Reader, Runtime, SizeClass, Writer};
use slotcast_bridge::frame::{self, Encoder};
use slotcast_bridge::{BridgeError, Delivery, InOptions, Link, OutOptions, Running, Snapshot};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const ROLE: &str = "SLOTCAST_BRIDGE_ROLE";

// ---------------------------------------------------------------------------
// Events: the payload carries its source sequence, and its type, length and
// every byte follow from it, so a reader checks each event on its own.

/// Events of the XS class only (8..=64 bytes) while set: a scenario that
/// needs events the source's ring keeps without a reader sets it (one
/// scenario runs at a time).
static XS_ONLY: AtomicBool = AtomicBool::new(false);

/// The payload's length: 8..=300 bytes, so XS, S and M slots are all used
/// (or 8..=64, see [`XS_ONLY`]).
fn event_len(seq: u64) -> usize {
    let spread = if XS_ONLY.load(Relaxed) { 57 } else { 293 };
    8 + ((seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % spread) as usize
}

fn event_type(seq: u64) -> u32 {
    (seq as u32).wrapping_mul(2_654_435_761) ^ 0x5ca1_ab1e
}

fn event_byte(seq: u64, i: usize) -> u8 {
    (seq as u8).wrapping_mul(31).wrapping_add(i as u8).wrapping_mul(7) ^ (seq >> 8) as u8
}

fn fill(seq: u64, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend((8..event_len(seq)).map(|i| event_byte(seq, i)));
}

/// The event's source sequence if every field is what it must be.
fn check(ty: u32, data: &[u8]) -> Result<u64, String> {
    let Some(head) = data.get(..8) else {
        return Err(format!("a {}-byte event, shorter than its sequence", data.len()));
    };
    let seq = u64::from_le_bytes(head.try_into().unwrap());
    if data.len() != event_len(seq) {
        return Err(format!("event {seq}: {} bytes, expected {}", data.len(), event_len(seq)));
    }
    if ty != event_type(seq) {
        return Err(format!("event {seq}: type {ty:#x}, expected {:#x}", event_type(seq)));
    }
    if let Some(i) = (8..data.len()).find(|&i| data[i] != event_byte(seq, i)) {
        return Err(format!("event {seq}: byte {i} is {:#x}, expected {:#x}", data[i], event_byte(seq, i)));
    }
    Ok(seq)
}

// ---------------------------------------------------------------------------
// The two hosts.

struct Hosts {
    dir: PathBuf,
    source: Runtime,
    sink: Runtime,
}

impl Hosts {
    fn new(name: &str, source_ring: usize) -> Hosts {
        let dir = std::env::temp_dir().join(format!("slotcast-bridge-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Pools as large as the ring: a class never runs out of slots before
        // the ring is full, so the writers wait on readers, not on pools.
        let build = |path: &Path, ring: usize| {
            Runtime::builder()
                .shared(path)
                .ring_capacity(ring)
                .slots(SizeClass::S, ring.max(1024))
                .slots(SizeClass::M, ring.max(1024))
                .build()
                .unwrap()
        };
        let source = build(&dir.join("source"), source_ring);
        let sink = build(&dir.join("sink"), 4096);
        Hosts { dir, source, sink }
    }

    fn sink_path(&self) -> PathBuf {
        self.dir.join("sink")
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// Far-side readers: threads that check every event and count what they saw,
// stopped by `abort` when the scenario gives up (so a stuck test panics with
// the counts instead of hanging).

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Every source sequence from 0, in order, none missing.
    Every,
    /// Strictly increasing source sequences, gaps allowed (recorded).
    Increasing,
}

struct FarReader {
    seen: Arc<AtomicU64>,
    handle: JoinHandle<Result<Vec<u64>, String>>,
}

struct Far {
    readers: Vec<FarReader>,
    abort: Arc<AtomicBool>,
}

impl Far {
    /// Joins `count` gating readers of `sink` now (before anything is
    /// published into it) and starts their threads.
    fn join(sink: &Runtime, count: usize, expect: Expect) -> Far {
        let abort = Arc::new(AtomicBool::new(false));
        let readers = (0..count)
            .map(|_| {
                let reader = sink.reader().unwrap();
                let seen = Arc::new(AtomicU64::new(0));
                let (s, a) = (Arc::clone(&seen), Arc::clone(&abort));
                FarReader { seen, handle: std::thread::spawn(move || far_read(reader, expect, &s, &a)) }
            })
            .collect();
        Far { readers, abort }
    }

    fn counts(&self) -> Vec<u64> {
        self.readers.iter().map(|r| r.seen.load(Relaxed)).collect()
    }

    /// Waits for every reader to see `Closed`; panics with `what()` and the
    /// counts if they have not by `deadline`. The sequences each read
    /// (recorded with [`Expect::Increasing`]).
    fn finish(self, deadline: Instant, what: impl Fn() -> String) -> Vec<Vec<u64>> {
        while !self.readers.iter().all(|r| r.handle.is_finished()) {
            if Instant::now() > deadline {
                self.abort.store(true, Relaxed);
                panic!("timed out: far readers saw {:?}; {}", self.counts(), what());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.readers
            .into_iter()
            .map(|r| match r.handle.join().unwrap() {
                Ok(seqs) => seqs,
                Err(e) => {
                    // The other readers stop too, and leave the sink.
                    self.abort.store(true, Relaxed);
                    panic!("a far reader failed: {e}; {}", what())
                }
            })
            .collect()
    }
}

fn far_read(mut reader: Reader, expect: Expect, seen: &AtomicU64, abort: &AtomicBool) -> Result<Vec<u64>, String> {
    let mut next = 0u64;
    let mut count = 0u64;
    let mut seqs = Vec::new();
    let mut error = None;
    loop {
        if abort.load(Relaxed) {
            return Err(format!("aborted after {count} events"));
        }
        let read = reader.read_timeout(Duration::from_millis(50), |ev, _| {
            if error.is_some() {
                return;
            }
            match check(ev.event_type(), ev.data()) {
                Err(e) => error = Some(format!("after {count} events: {e}")),
                Ok(seq) if expect == Expect::Every && seq != next => {
                    error = Some(format!("after {count} events: event {seq} where {next} was due"));
                }
                Ok(seq) if expect == Expect::Increasing && seq < next => {
                    error = Some(format!("after {count} events: event {seq} after {}", next - 1));
                }
                Ok(seq) => {
                    if expect == Expect::Increasing {
                        seqs.push(seq);
                    }
                    next = seq + 1;
                    count += 1;
                }
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        seen.store(count, Relaxed);
        match read {
            Ok(_) => {}
            Err(ReadError::Closed) => return Ok(if expect == Expect::Every { vec![count] } else { seqs }),
            // The receiving bridge (the sink's writer) was killed: reported
            // once, then reads wait for the next bridge to take over.
            Err(ReadError::WriterDead) => {}
            Err(e) => return Err(format!("after {count} events: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------
// Bridges and the source's writer.

fn out_options(link: &Link) -> OutOptions {
    let mut options = OutOptions::new(link.clone());
    // Frequent heartbeats: the first one tells the test the bridge has joined
    // the source (and, with core NATS, that the receiving side is listening).
    options.heartbeat = Duration::from_millis(50);
    options
}

/// Waits until `cond` holds, or panics with `what()`.
fn wait_until(secs: u64, mut cond: impl FnMut() -> bool, what: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {secs} s: {}", what());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Starts the out bridge and waits for its first heartbeat (it has joined
/// the source) and, when `listening` is given, for that receiving bridge to
/// have received a frame (with core NATS, so it is subscribed: the stream's
/// start at sequence 0 is known, and every later loss is counted).
fn start_out(source: &Runtime, options: OutOptions, listening: Option<&Running>) -> Running {
    let out = slotcast_bridge::spawn_out(source.clone(), options).unwrap();
    wait_until(
        20,
        || out.progress().messages > 0 && listening.is_none_or(|i| i.progress().messages > 0),
        || format!("bridges not up: out {:?} in {:?}", out.progress(), listening.map(Running::progress)),
    );
    out
}

/// How far the source's writer may run ahead of the sink in the every-event
/// core scenario: core NATS holds no backlog, so a receiving bridge that
/// falls behind by more than the server's and the client's buffers is a
/// slow consumer and loses frames. 50,000 events (some 8 MB) stay well
/// inside them.
const MAX_AHEAD: u64 = 50_000;

/// Publishes `n` events (`fill`) into `source` on a thread of its own, then
/// closes the stream. `pacing`: bursts of `burst` events with `sleep`
/// between them.
fn spawn_writer(source: &Runtime, n: u64, pacing: Option<(u64, Duration)>) -> JoinHandle<()> {
    spawn_writer_within(source, n, pacing, None)
}

/// As [`spawn_writer`], and, given a sink, never more than [`MAX_AHEAD`]
/// events ahead of what it has published.
fn spawn_writer_within(
    source: &Runtime,
    n: u64,
    pacing: Option<(u64, Duration)>,
    sink: Option<&Runtime>,
) -> JoinHandle<()> {
    // Taken here, so that a writer role held by someone else fails the
    // scenario at once rather than in a thread.
    let mut writer = source.writer().unwrap();
    let sink = sink.cloned();
    std::thread::spawn(move || {
        let mut buf = Vec::with_capacity(512);
        for seq in 0..n {
            if let Some((burst, pause)) = pacing {
                if seq > 0 && seq % burst == 0 {
                    std::thread::sleep(pause);
                }
            }
            if let Some(sink) = sink.as_ref().filter(|_| seq % 1024 == 0) {
                let since = Instant::now();
                while seq.saturating_sub(sink.published()) > MAX_AHEAD {
                    assert!(
                        since.elapsed() < Duration::from_secs(60),
                        "the sink stayed at {} events for 60 s while the writer was at {seq}",
                        sink.published()
                    );
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
            publish_one(&mut writer, seq, &mut buf);
        }
        writer.close();
    })
}

/// Publishes the event `seq` (waiting at most a minute for room: a bridge
/// that stopped reading fails the scenario instead of hanging it).
fn publish_one(writer: &mut Writer, seq: u64, buf: &mut Vec<u8>) {
    fill(seq, buf);
    let published = writer
        .publish_bytes_timeout(event_type(seq), buf, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("publishing event {seq}: {e}"));
    assert_eq!(published, seq, "the source's sequence numbers are the events' own");
}

/// Waits for a bridge to end (the source's end, or a `stop` asked before);
/// panics with its counters after `secs`, or with its error. Its last
/// counters.
fn join_bridge(running: Running, side: &str, secs: u64) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !running.is_finished() {
        if Instant::now() > deadline {
            running.stop();
            panic!("the {side} bridge did not end within {secs} s: {:?}", running.progress());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let last = running.progress();
    running.join().unwrap_or_else(|e| panic!("the {side} bridge failed: {e}; its counters: {last:?}"))
}

/// The events of 0..n missing from `seqs` (strictly increasing), and in how
/// many runs they went missing.
fn gaps(seqs: &[u64], n: u64) -> (u64, u64) {
    let (mut missing, mut runs, mut next) = (0, 0, 0);
    for &seq in seqs {
        assert!(seq >= next && seq < n, "sequence {seq} out of order or out of 0..{n} (next due {next})");
        if seq > next {
            missing += seq - next;
            runs += 1;
        }
        next = seq + 1;
    }
    if n > next {
        missing += n - next;
        runs += 1;
    }
    (missing, runs)
}

/// The payload bytes of the events 0..n.
fn bytes_of(n: u64) -> u64 {
    (0..n).map(|seq| event_len(seq) as u64).sum()
}

// ---------------------------------------------------------------------------
// 1. Every event across the bridge, checked by two gating far readers.

fn every_event(delivery: Delivery, n: u64) {
    let core = delivery == Delivery::Core;
    let server = NatsServer::start(!core);
    let hosts = Hosts::new(if core { "every-core" } else { "every-jetstream" }, 16384);
    let link = Link::new(server.url(), "every", delivery);
    let far = Far::join(&hosts.sink, 2, Expect::Every);
    let bin = slotcast_bridge::spawn_in(hosts.sink.clone(), InOptions::new(link.clone())).unwrap();
    // Core NATS: the in bridge must be subscribed before the first event.
    // JetStream: it reads the stream from its start, whenever it comes up.
    let out = start_out(&hosts.source, out_options(&link), core.then_some(&bin));
    let (pout, pin) = (out.progress_handle(), bin.progress_handle());
    let t = Instant::now();
    // JetStream keeps the backlog on the server: no need to hold the writer.
    let writer = spawn_writer_within(&hosts.source, n, None, core.then_some(&hosts.sink));
    let counts = far.finish(Instant::now() + Duration::from_secs(60), || {
        format!("source at {}; out {:?}; in {:?}", hosts.source.published(), pout.snapshot(), pin.snapshot())
    });
    let secs = t.elapsed().as_secs_f64();
    writer.join().unwrap();
    let (o, i) = (join_bridge(out, "out", 10), join_bridge(bin, "in", 10));
    println!("    {n} events in {secs:.2} s, {:.0} events/s; out {o:?}; in {i:?}", n as f64 / secs);
    assert_eq!(counts, vec![vec![n], vec![n]], "each far reader sees every event once");
    assert_eq!((o.events, o.lost), (n, 0), "out: {o:?}");
    assert_eq!((i.events, i.lost, i.malformed, i.duplicates), (n, 0, 0, 0), "in: {i:?}");
    assert_eq!((o.bytes, i.bytes), (bytes_of(n), bytes_of(n)), "every payload byte, once, both sides");
    assert!(o.ended && i.ended, "both bridges ended with the source's stream");
}

fn every_event_core() {
    every_event(Delivery::Core, 1_000_000);
}

fn every_event_jetstream() {
    every_event(Delivery::jetstream_for("every"), 1_000_000);
}

// ---------------------------------------------------------------------------
// 2. The receiving bridge killed (SIGKILL) and started again, with JetStream.

const CHILD_URL: &str = "SLOTCAST_BRIDGE_URL";
const CHILD_SINK: &str = "SLOTCAST_BRIDGE_SINK";
const CHILD_SUBJECT: &str = "SLOTCAST_BRIDGE_SUBJECT";

/// A receiving bridge in a child process (this executable with
/// `SLOTCAST_BRIDGE_ROLE=in`), its status lines read by a thread.
struct InChild {
    child: Child,
    /// The thread reading its stdout; ends when the child's stdout closes.
    lines: Option<JoinHandle<()>>,
    last: Arc<Mutex<String>>,
}

impl InChild {
    /// The last status line it printed.
    fn last(&self) -> String {
        self.last.lock().unwrap().clone()
    }

    /// SIGKILL; its last status line.
    fn kill(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.last()
    }
}

impl Drop for InChild {
    fn drop(&mut self) {
        // A scenario that unwinds leaves no bridge behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a receiving bridge for the subject `restart` on the sink file in
/// a child process.
fn start_in_child(server: &NatsServer, sink: &Path) -> InChild {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, "in")
        .env(CHILD_URL, server.url())
        .env(CHILD_SINK, sink)
        .env(CHILD_SUBJECT, "restart")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let last = Arc::new(Mutex::new(String::from("(no status line yet)")));
    let keep = Arc::clone(&last);
    let lines = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            *keep.lock().unwrap() = line;
        }
    });
    InChild { child, lines: Some(lines), last }
}

/// The child's side: a receiving bridge on the sink file named by the
/// environment, reporting `AT <published at start> <events> <duplicates>
/// <lost> <malformed> <messages>` every few milliseconds, and `DONE` with
/// the same numbers when the source's stream ended.
fn role_in() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let subject = var(CHILD_SUBJECT);
    let link = Link::new(var(CHILD_URL), subject.as_str(), Delivery::jetstream_for(&subject));
    let sink = Runtime::open(var(CHILD_SINK)).unwrap();
    let at_start = sink.published();
    let bin = slotcast_bridge::spawn_in(sink, InOptions::new(link)).unwrap();
    let line =
        |s: &Snapshot| format!("{at_start} {} {} {} {} {}", s.events, s.duplicates, s.lost, s.malformed, s.messages);
    // Never outlives its test: the parent kills it or the stream ends well
    // before this; a parent gone makes the next write fail.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut stdout = std::io::stdout();
    while !bin.is_finished() {
        if Instant::now() > deadline {
            eprintln!("in child: the stream did not end within 120 s: {:?}", bin.progress());
            std::process::exit(2);
        }
        if writeln!(stdout, "AT {}", line(&bin.progress())).and_then(|()| stdout.flush()).is_err() {
            std::process::exit(3);
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    match bin.join() {
        Ok(s) => println!("DONE {}", line(&s)),
        Err(e) => {
            println!("FAILED {e}");
            std::process::exit(1);
        }
    }
}

/// The stream sequence a restarted receiving bridge reads from: the
/// `stream` line of its resume record (`PATH.bridge-in`).
fn recorded_stream_sequence(sink: &Path) -> u64 {
    let mut name = sink.as_os_str().to_owned();
    name.push(".bridge-in");
    let text = std::fs::read_to_string(PathBuf::from(name)).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("stream ")).map_or(0, |n| n.parse().unwrap())
}

/// The events frames the stream holds, in order: (stream sequence, first
/// event's sequence, count).
fn stream_frames(rt: &tokio::runtime::Runtime, server: &NatsServer) -> Vec<(u64, u64, u64)> {
    let Delivery::JetStream { stream } = Delivery::jetstream_for("restart") else { unreachable!() };
    rt.block_on(async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let mut stream = async_nats::jetstream::new(client).get_stream(&stream).await.unwrap();
        let last = stream.info().await.unwrap().state.last_sequence;
        let mut frames = Vec::new();
        for seq in 1..=last {
            let message = stream.get_raw_message(seq).await.unwrap();
            let f = frame::Frame::parse(&message.payload).unwrap();
            if f.kind() == frame::Kind::Events {
                frames.push((seq, f.sequence(), u64::from(f.count())));
            }
        }
        frames
    })
}

fn receiving_restart() {
    const N: u64 = 200_000;
    let server = NatsServer::start(true);
    let hosts = Hosts::new("restart", 4096);
    let link = Link::new(server.url(), "restart", Delivery::jetstream_for("restart"));
    let far = Far::join(&hosts.sink, 2, Expect::Every);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut child = start_in_child(&server, &hosts.sink_path());
    let out = start_out(&hosts.source, out_options(&link), None);
    let pout = out.progress_handle();
    let t = Instant::now();
    // Unpaced: the stream holds a backlog, so the in bridge is busy with a
    // frame (published in part) when it is killed.
    let writer = spawn_writer(&hosts.source, N, None);
    // Kill points: three random counts of events in the sink.
    let mut kills: Vec<u64> = (0..3).map(|_| fastrand::u64(N / 10..N * 9 / 10)).collect();
    kills.sort_unstable();
    let deadline = Instant::now() + Duration::from_secs(60);
    let what = |child_line: &str| {
        format!("out {:?}; sink published {}; in child: {child_line}", pout.snapshot(), hosts.sink.published())
    };
    let mut killed = 0;
    // Where the last restarted bridge reads the stream from.
    let mut read_from = 0;
    'kills: for &at in &kills {
        while hosts.sink.published() < at {
            // A far reader that stopped has failed (the stream is not
            // closed before the last kill): `finish` says why, at once.
            if far.readers.iter().any(|r| r.handle.is_finished()) {
                break 'kills;
            }
            if Instant::now() > deadline {
                let line = child.last();
                far.abort.store(true, Relaxed);
                panic!("timed out before kill point {at}: far readers {:?}; {}", far.counts(), what(&line));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let published = hosts.sink.published();
        let last = child.kill();
        child.lines.take().unwrap().join().unwrap();
        read_from = recorded_stream_sequence(&hosts.sink_path());
        println!(
            "    killed the in bridge at {published} events in the sink (last counters: {last}); \
             its record says read from stream sequence {read_from}"
        );
        child = start_in_child(&server, &hosts.sink_path());
        killed += 1;
    }
    let counts = far.finish(deadline, || what(&child.last()));
    let secs = t.elapsed().as_secs_f64();
    writer.join().unwrap();
    // The last bridge ends with the stream (far readers saw `Closed`); a
    // bounded wait all the same.
    let wait_from = Instant::now();
    let status = loop {
        if let Some(status) = child.child.try_wait().unwrap() {
            break status;
        }
        assert!(wait_from.elapsed() < Duration::from_secs(20), "the last in bridge did not exit: {}", child.last());
        std::thread::sleep(Duration::from_millis(5));
    };
    child.lines.take().unwrap().join().unwrap();
    let done = child.last();
    let o = join_bridge(out, "out", 10);
    println!("    {N} events in {secs:.2} s with {killed} kills; out {o:?}; last in bridge: {done}");
    assert_eq!(killed, kills.len(), "every kill point was reached");
    assert!(status.success(), "the last in bridge failed: {status}; it said {done:?}");
    assert_eq!(counts, vec![vec![N], vec![N]], "each far reader sees every event once");
    // DONE published_at_start events duplicates lost malformed messages
    let f: Vec<u64> = done.split(' ').skip(1).map(|x| x.parse().unwrap()).collect();
    assert!(done.starts_with("DONE ") && f.len() == 6, "the last in bridge said {done:?}");
    let (at_start, events, duplicates, lost, malformed) = (f[0], f[1], f[2], f[3], f[4]);
    assert_eq!(events, N - at_start, "the last in bridge published exactly what the sink lacked");
    assert_eq!((lost, malformed), (0, 0));
    println!("    the last in bridge started at {at_start}, skipped {duplicates} redelivered events");
    // What it had to skip: the events of the frames from where its record
    // said to read up to where the sink stood (the record is written at a
    // frame's end, every 64 frames or every second, so it may be a few
    // frames behind; every event it reads again is a duplicate, none
    // published twice).
    let frames = stream_frames(&rt, &server);
    assert_eq!(frames.iter().map(|f| f.2).sum::<u64>(), N, "the stream holds every event once: {frames:?}");
    let first_read = frames.iter().find(|f| f.0 >= read_from).map_or(at_start, |f| f.1);
    assert_eq!(
        duplicates,
        at_start.saturating_sub(first_read),
        "read again from stream sequence {read_from} (first event {first_read}), the sink at {at_start}"
    );
}

// ---------------------------------------------------------------------------
// 3. nats-server restarted under core NATS: the loss counted exactly.

fn server_restart_core() {
    const N: u64 = 200_000;
    let mut server = NatsServer::start(false);
    let hosts = Hosts::new("server-restart", 4096);
    let link = Link::new(server.url(), "restart.core", Delivery::Core);
    let far = Far::join(&hosts.sink, 1, Expect::Increasing);
    let bin = slotcast_bridge::spawn_in(hosts.sink.clone(), InOptions::new(link.clone())).unwrap();
    let out = start_out(&hosts.source, out_options(&link), Some(&bin));
    let (pout, pin) = (out.progress_handle(), bin.progress_handle());
    let t = Instant::now();
    // About 2 s: bursts of 10,000 events (some 10 ms of frames streaming
    // through the server), then 100 ms of sleep.
    let writer = spawn_writer(&hosts.source, N, Some((10_000, Duration::from_millis(100))));
    // The kill lands in the middle of a burst, with frames in the server and
    // in its sockets' buffers: those are lost for sure. (Killed between two
    // bursts, the server holds nothing; the sending client keeps what is
    // published while it is disconnected and sends it on reconnection, so
    // a loss then depends on which client reconnects first.)
    wait_until(30, || hosts.source.published() >= N / 2 + 5_000, || format!("source at {}", hosts.source.published()));
    server.restart();
    let restarted_at = hosts.source.published();
    let mut seqs = far.finish(Instant::now() + Duration::from_secs(60), || {
        format!("out {:?}; in {:?}", pout.snapshot(), pin.snapshot())
    });
    writer.join().unwrap();
    let (o, i) = (join_bridge(out, "out", 10), join_bridge(bin, "in", 10));
    let seqs = seqs.pop().unwrap();
    let received = seqs.len() as u64;
    // Strictly increasing (the far reader checked each against the last).
    let (missing, runs) = gaps(&seqs, N);
    println!(
        "    restarted at {restarted_at}: {N} published, {received} received, {} lost in {runs} gaps, in {:.2} s; \
         out {o:?}; in {i:?}",
        i.lost,
        t.elapsed().as_secs_f64()
    );
    assert!(i.lost > 0, "nothing lost across a server restart mid-burst: the scenario does not test the count");
    assert_eq!(received + i.lost, N, "every event received or counted lost");
    assert_eq!(missing, i.lost, "the gaps add up to lost");
    assert_eq!((i.events, o.events, o.lost), (received, N, 0), "out sent every event; in published those received");
    assert!(o.disconnects >= 1 && i.disconnects >= 1, "both bridges saw the server go: out {o:?}; in {i:?}");
}

// ---------------------------------------------------------------------------
// 4. Malformed messages on the subject, between real frames.

/// The kinds of malformed message, one per reason a message is not a frame.
const MALFORMED_KINDS: u64 = 11;

/// A malformed message of kind `k % MALFORMED_KINDS`. Those that carry
/// events carry `source`'s next real sequence numbers, from `next`, with
/// 0xEE payloads: a byte of them published reaches the far reader, whose
/// check fails.
fn malformed_message(k: u64, source: u64, next: u64) -> Vec<u8> {
    let mut encoder = Encoder::new(source, 1024);
    for seq in next..next + 3 {
        assert!(encoder.push(seq, event_type(seq), &[0xEE; 40]));
    }
    let mut good = encoder.take();
    frame::Frame::parse(&good).expect("the base of a malformed message is a frame");
    let count_at = |f: &mut Vec<u8>, n: u32| f[24..28].copy_from_slice(&n.to_le_bytes());
    match k % MALFORMED_KINDS {
        0 => Vec::new(),
        // Zero first: never the magic.
        1 => std::iter::once(0).chain((0..fastrand::usize(1..300)).map(|_| fastrand::u8(..))).collect(),
        2 => good[..good.len() - 5].to_vec(),
        3 => {
            good[3] = b'9';
            good
        }
        4 => good[..frame::HEADER_LEN - 12].to_vec(),
        5 => {
            good[4] = 7;
            good
        }
        6 => {
            good[6] = 1;
            good
        }
        7 => {
            // A heartbeat that claims the events after it.
            let mut h = frame::heartbeat(source, next);
            count_at(&mut h, 3);
            h.extend_from_slice(&good[frame::HEADER_LEN..]);
            h
        }
        8 => {
            // One event of the largest size, then its length raised by one
            // (and the byte added): too long for any size class.
            let mut big = Encoder::new(source, frame::MAX_EVENT_LEN + 64);
            assert!(big.push(next, event_type(next), &vec![0xEE; frame::MAX_EVENT_LEN]));
            let mut f = big.take();
            let at = frame::HEADER_LEN + 4;
            f[at..at + 4].copy_from_slice(&(frame::MAX_EVENT_LEN as u32 + 1).to_le_bytes());
            f.push(0xEE);
            f
        }
        9 => {
            count_at(&mut good, 4);
            good
        }
        _ => {
            good.extend_from_slice(&[0xEE; 7]);
            good
        }
    }
}

fn malformed(delivery: Delivery) {
    /// Real events between two malformed messages.
    const EVERY: u64 = 1_000;
    const MALFORMED: u64 = 10 * MALFORMED_KINDS;
    const N: u64 = EVERY * MALFORMED;
    const SOURCE: u64 = 0x5eed_0000_0000_0001;
    let jetstream = delivery != Delivery::Core;
    let server = NatsServer::start(jetstream);
    let hosts = Hosts::new(if jetstream { "malformed-jetstream" } else { "malformed-core" }, 4096);
    let link = Link::new(server.url(), "malformed", delivery);
    let far = Far::join(&hosts.sink, 1, Expect::Every);
    let bin = slotcast_bridge::spawn_in(hosts.sink.clone(), InOptions::new(link.clone())).unwrap();
    let mut options = out_options(&link);
    // Known, so that the malformed messages name the real source.
    options.source = Some(SOURCE);
    let out = start_out(&hosts.source, options, (!jetstream).then_some(&bin));
    let (pout, pin) = (out.progress_handle(), bin.progress_handle());
    // A plain client on the same subject.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = rt.block_on(async_nats::connect(server.url())).unwrap();
    // Its acknowledgement task runs on this runtime.
    let context = jetstream.then(|| {
        let _in_runtime = rt.enter();
        async_nats::jetstream::new(client.clone())
    });
    let mut writer = hosts.source.writer().unwrap();
    let mut buf = Vec::new();
    for k in 0..MALFORMED {
        for seq in k * EVERY..(k + 1) * EVERY {
            publish_one(&mut writer, seq, &mut buf);
        }
        let bad = bytes::Bytes::from(malformed_message(k, SOURCE, (k + 1) * EVERY));
        rt.block_on(async {
            match &context {
                // Stored (acknowledged) before the next real frame is sent.
                Some(context) => {
                    context.publish("malformed", bad).await.unwrap().await.unwrap();
                }
                None => client.publish("malformed", bad).await.unwrap(),
            }
        });
    }
    rt.block_on(client.flush()).unwrap();
    // Every malformed message taken before the stream's end is sent after
    // them (core NATS orders nothing between two connections).
    wait_until(
        20,
        || pin.snapshot().malformed >= MALFORMED,
        || format!("in {:?}; out {:?}", pin.snapshot(), pout.snapshot()),
    );
    writer.close();
    let counts = far.finish(Instant::now() + Duration::from_secs(30), || {
        format!("out {:?}; in {:?}", pout.snapshot(), pin.snapshot())
    });
    let (o, i) = (join_bridge(out, "out", 10), join_bridge(bin, "in", 10));
    println!("    {N} events and {MALFORMED} malformed messages; out {o:?}; in {i:?}");
    assert_eq!(counts, vec![vec![N]], "every real event, none of the malformed ones' bytes");
    assert_eq!(i.malformed, MALFORMED, "each malformed message counted once");
    assert_eq!((i.events, i.lost, i.duplicates, i.sources), (N, 0, 0, 1), "in: {i:?}");
    assert_eq!(i.messages, o.messages + MALFORMED, "every message received: the bridge went on after each");
}

fn malformed_core() {
    malformed(Delivery::Core);
}

fn malformed_jetstream() {
    malformed(Delivery::jetstream_for("malformed"));
}

// ---------------------------------------------------------------------------
// 5. The sending bridge stopped and started again (JetStream); a lossy
//    sending bridge lapped by its writer.

/// XS events only while it lives (reset when the scenario ends or unwinds).
struct XsOnly;

impl XsOnly {
    fn set() -> XsOnly {
        XS_ONLY.store(true, Relaxed);
        XsOnly
    }
}

impl Drop for XsOnly {
    fn drop(&mut self) {
        XS_ONLY.store(false, Relaxed);
    }
}

/// The stream, made before the bridges with a one-second duplicate window:
/// a server restarted more than that after the last frame no longer knows
/// its message id (the sending bridge must then anchor its next frame on
/// the subject's last stream sequence instead).
fn create_stream_with_a_short_duplicate_window(server: &NatsServer, link: &Link) {
    let Delivery::JetStream { stream } = &link.delivery else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let context = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
        context
            .create_stream(async_nats::jetstream::stream::Config {
                name: stream.clone(),
                subjects: vec![link.subject.clone()],
                storage: async_nats::jetstream::stream::StorageType::File,
                duplicate_window: Duration::from_secs(1),
                ..Default::default()
            })
            .await
            .unwrap();
    });
}

/// The sending bridge stopped and started again; with `server_restart`,
/// the server restarts while it is away, past the duplicate window.
fn sending_restart(pooled: bool, server_restart: bool) {
    const BEFORE: u64 = 50_000;
    const DOWN: u64 = 2_000;
    const AFTER: u64 = 50_000;
    const N: u64 = BEFORE + DOWN + AFTER;
    let _xs = (!pooled).then(XsOnly::set);
    let mut server = NatsServer::start(true);
    let name = match (pooled, server_restart) {
        (true, _) => "send-restart-pooled",
        (false, false) => "send-restart",
        (false, true) => "send-restart-server",
    };
    let hosts = Hosts::new(name, 4096);
    let link = Link::new(server.url(), "send.restart", Delivery::jetstream_for("send.restart"));
    if server_restart {
        create_stream_with_a_short_duplicate_window(&server, &link);
    }
    let far = Far::join(&hosts.sink, 1, if pooled { Expect::Increasing } else { Expect::Every });
    let bin = slotcast_bridge::spawn_in(hosts.sink.clone(), InOptions::new(link.clone())).unwrap();
    let out = start_out(&hosts.source, out_options(&link), None);
    let pin = bin.progress_handle();
    let mut writer = hosts.source.writer().unwrap();
    let mut buf = Vec::new();
    for seq in 0..BEFORE {
        publish_one(&mut writer, seq, &mut buf);
    }
    wait_until(20, || out.progress().events >= BEFORE, || format!("out {:?}", out.progress()));
    out.stop();
    let first = join_bridge(out, "out (first)", 20);
    if server_restart {
        std::thread::sleep(Duration::from_millis(1_500));
        server.restart();
    }
    // While no bridge reads the source: its ring keeps the entries (and the
    // XS events in them); the pool slots of larger events are free again.
    for seq in BEFORE..BEFORE + DOWN {
        publish_one(&mut writer, seq, &mut buf);
    }
    let out = start_out(&hosts.source, out_options(&link), None);
    let pout = out.progress_handle();
    for seq in BEFORE + DOWN..N {
        publish_one(&mut writer, seq, &mut buf);
    }
    writer.close();
    let mut seqs = far.finish(Instant::now() + Duration::from_secs(30), || {
        format!("first out {first:?}; out {:?}; in {:?}", pout.snapshot(), pin.snapshot())
    });
    let (o, i) = (join_bridge(out, "out (again)", 10), join_bridge(bin, "in", 10));
    println!("    {N} published; first out {first:?}; out again {o:?}; in {i:?}");
    assert_eq!((first.events, first.lost), (BEFORE, 0), "the first out bridge sent what it read: {first:?}");
    assert_eq!(i.malformed, 0);
    if pooled {
        let seqs = seqs.pop().unwrap();
        let received = seqs.len() as u64;
        let (missing, runs) = gaps(&seqs, N);
        println!("    pooled: {received} received, {} lost in {runs} gaps", i.lost);
        assert!(o.lost > 0, "the pooled events published while down were replayed: the scenario tests nothing");
        assert_eq!(i.lost, o.lost, "the receiving side counts what the sending side could not resend");
        assert_eq!(received + i.lost, N);
        assert_eq!(missing, i.lost, "the gaps add up to lost");
        assert_eq!(i.events, received);
    } else {
        assert_eq!(seqs, vec![vec![N]], "every event, once");
        assert_eq!((o.lost, i.lost, i.events), (0, 0, N), "out again {o:?}; in {i:?}");
    }
}

fn lossy_lapped() {
    const N: u64 = 200_000;
    let server = NatsServer::start(true);
    // A small source ring: the writer, held back by no one, laps the bridge.
    let hosts = Hosts::new("lossy", 256);
    let link = Link::new(server.url(), "lossy", Delivery::jetstream_for("lossy"));
    let far = Far::join(&hosts.sink, 1, Expect::Increasing);
    let bin = slotcast_bridge::spawn_in(hosts.sink.clone(), InOptions::new(link.clone())).unwrap();
    let mut options = out_options(&link);
    options.policy = Policy::Lossy;
    let out = start_out(&hosts.source, options, None);
    let (pout, pin) = (out.progress_handle(), bin.progress_handle());
    let t = Instant::now();
    let writer = spawn_writer(&hosts.source, N, None);
    let mut seqs = far.finish(Instant::now() + Duration::from_secs(30), || {
        format!("out {:?}; in {:?}", pout.snapshot(), pin.snapshot())
    });
    writer.join().unwrap();
    let (o, i) = (join_bridge(out, "out", 10), join_bridge(bin, "in", 10));
    let seqs = seqs.pop().unwrap();
    let received = seqs.len() as u64;
    let (missing, runs) = gaps(&seqs, N);
    println!(
        "    {N} published, {received} received, {} lost in {runs} gaps, in {:.2} s; out {o:?}; in {i:?}",
        i.lost,
        t.elapsed().as_secs_f64()
    );
    assert!(o.lost > 0, "the writer never lapped the bridge: the scenario does not test the count");
    assert_eq!(i.lost, o.lost, "the receiving side counts what the sending side lost");
    assert_eq!(received + i.lost, N);
    assert_eq!(missing, i.lost, "the gaps add up to lost");
    assert_eq!((o.events, i.events), (received, received));
}

// ---------------------------------------------------------------------------
// 6. Both bridges of a link started at once on a server without the stream.

fn bridges_start_together() {
    const LINKS: usize = 20;
    let server = NatsServer::start(true);
    let mut failed = Vec::new();
    for k in 0..LINKS {
        let subject = format!("together.{k}");
        let link = Link::new(server.url(), subject.as_str(), Delivery::jetstream_for(&subject));
        let bin = slotcast_bridge::spawn_in(Runtime::new().unwrap(), InOptions::new(link.clone())).unwrap();
        let out = slotcast_bridge::spawn_out(Runtime::new().unwrap(), out_options(&link)).unwrap();
        // Up once the out bridge has sent a heartbeat (the stream exists)
        // and the in bridge has received it through its consumer.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(out.progress().messages > 0 && bin.progress().messages > 0) {
            if out.is_finished() || bin.is_finished() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "link {k} not up in 20 s: out {:?} in {:?}",
                out.progress(),
                bin.progress()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        out.stop();
        bin.stop();
        // Bounded: a bridge whose server died waits minutes for JetStream
        // acknowledgements before it gives up.
        for (side, running) in [("out", &out), ("in", &bin)] {
            wait_until(
                30,
                || running.is_finished(),
                || format!("link {k} {side} did not stop: {:?}", running.progress()),
            );
        }
        for (side, result) in [("out", out.join()), ("in", bin.join())] {
            if let Err(e) = result {
                failed.push(format!("link {k} {side}: {e}"));
            }
        }
    }
    println!("    {} of {LINKS} links failed to start", failed.len());
    assert!(failed.is_empty(), "bridges started together failed: {failed:#?}");
}

// ---------------------------------------------------------------------------
// 7. A receiving bridge that fails leaves the local stream open.

fn failed_in_bridge_leaves_the_stream_open() {
    let server = NatsServer::start(false);
    let hosts = Hosts::new("failed", 4096);
    let link = Link::new(server.url(), "failed", Delivery::Core);
    let mut reader = hosts.sink.reader().unwrap();
    let mut options = InOptions::new(link.clone());
    // A resume record it cannot write: the first frame (the out bridge's
    // first heartbeat) fails the bridge after it took the writer role.
    options.resume_file = Some(PathBuf::from("/nonexistent-slotcast-dir/sink.bridge-in"));
    let bin = slotcast_bridge::spawn_in(hosts.sink.clone(), options).unwrap();
    let out = start_out(&hosts.source, out_options(&link), None);
    wait_until(20, || bin.is_finished(), || format!("the in bridge did not fail: {:?}", bin.progress()));
    let error = bin.join().unwrap_err();
    assert!(matches!(error, BridgeError::Resume(_)), "{error}");
    // Not `Closed`: the local readers wait for a new bridge.
    assert_eq!(reader.try_recv().map(|e| e.is_some()), Err(ReadError::WriterDead));
    assert_eq!(reader.try_recv().map(|e| e.is_some()), Ok(false));
    println!("    the in bridge failed ({error}); its sink's reader saw WriterDead");
    out.stop();
    join_bridge(out, "out", 10);
}

// ---------------------------------------------------------------------------
// 8. nats-server restarted under JetStream: nothing lost, nothing twice.

fn server_restart_jetstream() {
    const N: u64 = 100_000;
    let mut server = NatsServer::start(true);
    let hosts = Hosts::new("js-server-restart", 4096);
    let link = Link::new(server.url(), "restart.js", Delivery::jetstream_for("restart.js"));
    let far = Far::join(&hosts.sink, 2, Expect::Every);
    let bin = slotcast_bridge::spawn_in(hosts.sink.clone(), InOptions::new(link.clone())).unwrap();
    let out = start_out(&hosts.source, out_options(&link), None);
    let (pout, pin) = (out.progress_handle(), bin.progress_handle());
    let t = Instant::now();
    // Bursts, so that frames are in flight (sent, not yet acknowledged)
    // when the server dies.
    let writer = spawn_writer(&hosts.source, N, Some((5_000, Duration::from_millis(20))));
    wait_until(30, || hosts.source.published() >= N / 2, || format!("source at {}", hosts.source.published()));
    server.restart();
    let counts = far.finish(Instant::now() + Duration::from_secs(90), || {
        format!("out {:?}; in {:?}", pout.snapshot(), pin.snapshot())
    });
    let secs = t.elapsed().as_secs_f64();
    writer.join().unwrap();
    let (o, i) = (join_bridge(out, "out", 30), join_bridge(bin, "in", 30));
    println!("    {N} events across a server restart in {secs:.2} s; out {o:?}; in {i:?}");
    assert_eq!(counts, vec![vec![N], vec![N]], "each far reader sees every event once, in order");
    assert_eq!((o.events, o.lost), (N, 0), "out: {o:?}");
    assert_eq!((i.events, i.lost, i.duplicates, i.malformed), (N, 0, 0, 0), "in: {i:?}");
    assert!(o.disconnects >= 1 && i.disconnects >= 1, "both bridges saw the restart: out {o:?} in {i:?}");
}

// ---------------------------------------------------------------------------
// 9. Events the far ring has no slots for: counted, skipped, the rest in order.

fn rejected_events() {
    const N: u64 = 20_000;
    let server = NatsServer::start(false);
    let hosts = Hosts::new("rejected", 4096);
    // A far ring with no slots above S (an event goes to the next class up
    // that has slots): the source's events of 257 to 300 bytes cannot be
    // published there.
    let sink_path = hosts.dir.join("sink-small");
    let sink = Runtime::builder()
        .shared(&sink_path)
        .ring_capacity(4096)
        .slots(SizeClass::S, 4096)
        .slots(SizeClass::M, 0)
        .slots(SizeClass::L, 0)
        .slots(SizeClass::XL, 0)
        .build()
        .unwrap();
    let far = Far::join(&sink, 1, Expect::Increasing);
    let link = Link::new(server.url(), "rejected", Delivery::Core);
    let bin = slotcast_bridge::spawn_in(sink.clone(), InOptions::new(link.clone())).unwrap();
    let out = start_out(&hosts.source, out_options(&link), Some(&bin));
    let (pout, pin) = (out.progress_handle(), bin.progress_handle());
    let writer = spawn_writer_within(&hosts.source, N, None, Some(&sink));
    let mut seqs = far.finish(Instant::now() + Duration::from_secs(60), || {
        format!("out {:?}; in {:?}", pout.snapshot(), pin.snapshot())
    });
    writer.join().unwrap();
    let (o, i) = (join_bridge(out, "out", 10), join_bridge(bin, "in", 10));
    let seqs = seqs.pop().unwrap();
    let fits: Vec<u64> = (0..N).filter(|&s| event_len(s) <= SizeClass::S.capacity()).collect();
    let rejected = N - fits.len() as u64;
    println!("    {N} events, {rejected} without a slot class in the far ring; in {i:?}");
    assert!(rejected > 0, "the scenario sends events the far ring cannot hold");
    assert_eq!(i.rejected, rejected, "every event without room is counted");
    assert_eq!(seqs, fits, "every other event arrives, in order");
    assert_eq!((i.events, i.lost, i.malformed, i.duplicates), (fits.len() as u64, 0, 0, 0), "in: {i:?}");
    assert_eq!(o.events, N);
    // The resume record maps the ring's count to the source's next event.
    let mut record = sink_path.as_os_str().to_owned();
    record.push(".bridge-in");
    let text = std::fs::read_to_string(PathBuf::from(record)).unwrap();
    let field = |name: &str| -> u64 {
        text.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().parse().unwrap()).unwrap()
    };
    assert_eq!(field("sequence ") + (sink.published() - field("local ")), N, "{text}");
}

// ---------------------------------------------------------------------------

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("in") {
        role_in();
        return;
    }
    // The servers' JetStream stores and the two hosts' files go under the
    // temporary directory: unless TMPDIR says otherwise, memory (/dev/shm)
    // when there is one, so that the scenarios do not wait on a disk other
    // work keeps busy. What they test (frames, sequence numbers, restarts)
    // does not depend on the disk.
    if std::env::var_os("TMPDIR").is_none() && Path::new("/dev/shm").is_dir() {
        // SAFETY: in `main` before any thread is started: nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var("TMPDIR", "/dev/shm") };
    }
    let scenarios: [(&str, fn()); 15] = [
        ("every_event_core", every_event_core),
        ("every_event_jetstream", every_event_jetstream),
        ("receiving_restart_jetstream", receiving_restart),
        ("server_restart_core", server_restart_core),
        ("malformed_core", malformed_core),
        ("malformed_jetstream", malformed_jetstream),
        ("sending_restart_jetstream", || sending_restart(false, false)),
        ("sending_restart_pooled_jetstream", || sending_restart(true, false)),
        ("sending_restart_across_a_server_restart_jetstream", || sending_restart(false, true)),
        ("lossy_lapped", lossy_lapped),
        ("bridges_start_together_jetstream", bridges_start_together),
        ("failed_in_bridge_leaves_the_stream_open", failed_in_bridge_leaves_the_stream_open),
        ("server_restart_jetstream", server_restart_jetstream),
        ("rejected_events_core", rejected_events),
        ("every_event_core_small", || every_event(Delivery::Core, 10_000)),
    ];
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let repeat: u32 = std::env::var("SLOTCAST_BRIDGE_REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let all = Instant::now();
    let mut ran = 0;
    let mut failed = Vec::new();
    for round in 0..repeat {
        for (name, run) in scenarios {
            // The small run is for a quick check by name only.
            let chosen = if filters.is_empty() {
                !name.ends_with("_small")
            } else {
                filters.iter().any(|f| name.contains(f.as_str()))
            };
            if !chosen {
                continue;
            }
            println!("{name} (round {}) ...", round + 1);
            let t = Instant::now();
            // One failure does not hide the others' results: each scenario
            // cleans up after itself as it unwinds (server, files, child).
            match std::panic::catch_unwind(run) {
                Ok(()) => println!("{name}: ok in {:.2} s", t.elapsed().as_secs_f64()),
                Err(_) => {
                    println!("{name}: FAILED after {:.2} s", t.elapsed().as_secs_f64());
                    failed.push(name);
                }
            }
            ran += 1;
        }
    }
    println!("{ran} scenario runs, {} failed {failed:?}, in {:.2} s", failed.len(), all.elapsed().as_secs_f64());
    if !failed.is_empty() {
        std::process::exit(1);
    }
}
