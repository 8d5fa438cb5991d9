//! Real processes sharing a runtime through a file: one writer process and
//! three reader processes over a million events; a reader killed while it
//! lags and holds retained events; a writer killed mid-stream and taken over;
//! a runtime whose processes all died; async readers (a tokio runtime in
//! this process) woken by a writer process, told of its death, and an async
//! writer held back by a slow reader process.
//!
//! This is a `harness = false` test: `main` runs the scenarios, and re-runs
//! this same executable with `SLOTCAST_IPC_ROLE` set to play a child process
//! (`reader`, `writer`, `lagging-reader`, `creator`, `slow-reader`, ...).
#![allow(clippy::disallowed_methods)] // the test paces its own processes with std::thread::sleep

mod common;

use common::pattern;
use futures_core::Stream;
use slotcast::{
    Full, Observer, OpenError, OpenOptions, Policy, PublishError, ReadError, Reader, ReaderOptions, ReaderStream,
    RingPtr, Runtime, SizeClass, WaitStrategy,
};
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::pin::pin;
use std::process::{Child, Command, Stdio};
#[allow(clippy::disallowed_types, reason = "the test's own waker")]
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
    mpsc,
};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

const ROLE: &str = "SLOTCAST_IPC_ROLE";

fn env_u64(name: &str) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Tells the parent something, one line on stdout.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

/// Child: joins, verifies `EVENTS` events (payloads carry their own sequence
/// and checksum, and sequences must be contiguous), then reports.
fn role_reader(path: &Path) {
    let events = env_u64("EVENTS");
    let rt = Runtime::open(path).unwrap();
    let mut reader = rt.reader().unwrap();
    let mut next = reader.cursor();
    say("JOINED");
    let start = Instant::now();
    let mut bytes = 0u64;
    let mut progress = Instant::now();
    while next < events {
        let read = reader.read_timeout(Duration::from_secs(30), |ev, _| {
            assert_eq!(ev.sequence(), next, "sequences are contiguous");
            assert_eq!(pattern::check(ev.data()), Ok(next), "event {next} is torn or corrupted");
            assert_eq!(ev.len(), pattern::mixed_len(next));
            bytes += ev.len() as u64;
            next += 1;
        });
        match read {
            Ok(0) => panic!("no event for 30 s after {next}"),
            Ok(_) => progress = Instant::now(),
            // A killed writer: another takes over, and the reader goes on.
            Err(ReadError::WriterDead) if progress.elapsed() < Duration::from_secs(30) => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("read failed after {next}: {e}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    say(&format!("OK {next} {:.0} {:.0}", next as f64 / secs, bytes as f64 / secs));
}

/// Child: takes the writer role (over a dead writer if need be) and
/// publishes until `EVENTS` events exist, pausing if `SLOW` is set.
fn role_writer(path: &Path) {
    let events = env_u64("EVENTS");
    let slow = env_u64("SLOW");
    let rt = Runtime::open(path).unwrap();
    let mut w = rt.writer().unwrap();
    say(&format!("WRITING {}", w.published()));
    let mut seq = w.published();
    // One store of the published cursor per 16 events.
    w.set_flush_every(16);
    while seq < events {
        for _ in 0..16.min(events - seq) {
            let len = pattern::mixed_len(seq);
            let class = SizeClass::for_len(len).unwrap();
            w.publish_with(class, 0, |buf| {
                pattern::fill(seq, &mut buf[..len]);
                len
            })
            .expect("the class has slots");
            seq += 1;
        }
        w.flush();
        if slow > 0 {
            std::thread::sleep(Duration::from_micros(slow));
        }
    }
    say("DONE");
}

/// Child: joins, reads and retains `RETAIN` events, then stops reading and
/// waits to be killed, holding them.
fn role_lagging_reader(path: &Path) {
    let retain = env_u64("RETAIN") as usize;
    let rt = Runtime::open(path).unwrap();
    let mut reader = rt.reader().unwrap();
    say("JOINED");
    let mut kept: Vec<RingPtr> = Vec::new();
    while kept.len() < retain {
        reader
            .read(|ev, _| {
                if kept.len() < retain {
                    kept.push(ev.retain().unwrap());
                }
            })
            .unwrap();
    }
    say("READY");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Child: takes the writer role, publishes `EVENTS` events, then waits to
/// be killed, holding the role.
fn role_stalled_writer(path: &Path) {
    let events = env_u64("EVENTS");
    let rt = Runtime::open(path).unwrap();
    let mut w = rt.writer().unwrap();
    for seq in w.published()..events {
        let len = pattern::mixed_len(seq);
        w.publish_with(SizeClass::for_len(len).unwrap(), 0, |buf| {
            pattern::fill(seq, &mut buf[..len]);
            len
        })
        .unwrap();
    }
    say("PUBLISHED");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Child: reads and verifies everything, waiting with the runtime's
/// strategy; says `DEAD <events read> <unix time in µs>` each time the
/// writer is reported dead, and `CLOSED <events read>` when the stream
/// closes, then exits.
fn role_watching_reader(path: &Path) {
    let rt = Runtime::open(path).unwrap();
    let mut reader = rt.reader().unwrap();
    let mut next = reader.cursor();
    say("JOINED");
    loop {
        let read = reader.read(|ev, _| {
            assert_eq!(pattern::check(ev.data()), Ok(next), "event {next} intact and in order");
            next += 1;
        });
        match read {
            Ok(_) => {}
            Err(ReadError::WriterDead) => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
                say(&format!("DEAD {next} {}", now.as_micros()));
            }
            Err(ReadError::Closed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    say(&format!("CLOSED {next}"));
}

/// Child: joins as a lossy reader, reads one event and, holding it (its
/// cursor pinned), waits to be killed.
fn role_pinned_lossy(path: &Path) {
    let rt = Runtime::open(path).unwrap();
    let mut reader = rt.reader_with(ReaderOptions::new().policy(Policy::Lossy)).unwrap();
    say("JOINED");
    let _held = reader.recv().unwrap();
    say("PINNED");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Child: claims the only XL slot with the allocator and, in the middle of
/// filling it, waits to be killed.
fn role_filler(path: &Path) {
    let rt = Runtime::open(path).unwrap();
    let _never = rt.allocator().try_alloc_with(SizeClass::XL, 7, |buf| {
        buf[0] = 1;
        say("FILLING");
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    });
    unreachable!("the fill never returns");
}

/// Child: creates the file and waits to be killed.
fn role_creator(path: &Path) {
    let _rt = Runtime::builder().shared(path).build().unwrap();
    say("READY");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Child: joins, then reads with the blocking `read` (the runtime's
/// `Blocking` strategy), verifying every event, pausing `SLOW` µs after
/// each, until the stream closes; says `CLOSED <events read>`.
fn role_slow_reader(path: &Path) {
    let slow = Duration::from_micros(env_u64("SLOW"));
    let rt = Runtime::open(path).unwrap();
    let mut reader = rt.reader().unwrap();
    let mut next = reader.cursor();
    say("JOINED");
    loop {
        let read = reader.read(|ev, _| {
            assert_eq!(ev.sequence(), next, "sequences are contiguous");
            assert_eq!(pattern::check(ev.data()), Ok(next), "event {next} is torn or corrupted");
            assert_eq!(ev.len(), pattern::mixed_len(next));
            next += 1;
            std::thread::sleep(slow);
        });
        match read {
            Ok(_) => {}
            Err(ReadError::Closed) => break,
            Err(e) => panic!("read failed after {next}: {e}"),
        }
    }
    say(&format!("CLOSED {next}"));
}

/// Child: creates a shared runtime, reads one event with `recv_async` (a
/// wait: the event is published 10 ms later by another task), drops
/// everything and returns from `main` at once, as a program does.
fn role_async_last_out(path: &Path) {
    let rt = Runtime::builder().shared(path).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let tokio = tokio_runtime();
    tokio.block_on(async {
        let publishing = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            writer.publish_bytes_async(0, b"last").await.unwrap();
            writer
        });
        assert_eq!(reader.recv_async().await.unwrap().data(), b"last");
        drop(publishing.await.unwrap());
    });
    drop((tokio, reader, rt));
    say("DROPPED");
}

struct Proc {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Proc {
    fn spawn(role: &str, path: &Path, env: &[(&str, u64)]) -> Proc {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.env(ROLE, role).env("SLOTCAST_IPC_PATH", path).stdout(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v.to_string());
        }
        let mut child = cmd.spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Proc { child, lines }
    }

    /// The next line the child says (panics if it exits first).
    fn expect(&mut self, prefix: &str) -> String {
        let line = self.lines.next().unwrap_or_else(|| panic!("child exited before {prefix}")).unwrap();
        assert!(line.starts_with(prefix), "expected {prefix}, got {line:?}");
        line
    }

    fn finish(mut self, prefix: &str) -> String {
        let line = self.expect(prefix);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "child failed: {status}");
        line
    }
}

impl Drop for Proc {
    /// A scenario that fails must not leave children behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `cond` holds on fresh statistics of the runtime at `path`.
fn wait_for(rt: &Runtime, what: &str, cond: impl Fn(&slotcast::Stats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond(&rt.stats()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn shared(tag: &str, ring: usize) -> (std::path::PathBuf, Runtime) {
    let path = common::temp_path(tag);
    let rt = Runtime::builder()
        .shared(&path)
        .ring_capacity(ring)
        .slots(SizeClass::XL, 64)
        .wait_strategy(WaitStrategy::Blocking)
        .build()
        .unwrap();
    (path, rt)
}

/// 1 writer process → 3 reader processes, 1,000,000 events of mixed
/// classes: every reader verifies order and checksums.
fn fan_out_to_three_reader_processes() {
    const EVENTS: u64 = 1_000_000;
    let (path, rt) = shared("fanout", 1024);
    let mut readers: Vec<Proc> = (0..3).map(|_| Proc::spawn("reader", &path, &[("EVENTS", EVENTS)])).collect();
    for r in &mut readers {
        r.expect("JOINED");
    }
    wait_for(&rt, "three readers", |s| s.readers.len() == 3);
    let mut writer = Proc::spawn("writer", &path, &[("EVENTS", EVENTS)]);
    writer.expect("WRITING 0");
    writer.finish("DONE");
    for (i, r) in readers.into_iter().enumerate() {
        let line = r.finish("OK");
        let f: Vec<&str> = line.split(' ').collect();
        println!("  reader process {i}: {} events, {} events/s, {} bytes/s", f[1], f[2], f[3]);
        assert_eq!(f[1], EVENTS.to_string());
    }
    drop(rt);
    assert!(!path.exists(), "the last process out removed the file");
}

/// A reader process killed while it lags and holds retained events stops
/// gating the writer, and every slot it held comes back; many times over.
fn a_killed_lagging_reader_releases_everything() {
    let rounds: u32 = 25;
    let (path, rt) = shared("kill-reader", 64);
    let mut w = rt.writer().unwrap();
    let baseline = rt.stats();
    let mut waits = Vec::new();
    for round in 0..rounds {
        let mut child = Proc::spawn("lagging-reader", &path, &[("RETAIN", 20)]);
        child.expect("JOINED");
        wait_for(&rt, "the reader", |s| s.readers.len() == 1);
        let mut seq = w.published();
        while !rt.stats().readers.is_empty() && rt.stats().pool(SizeClass::XS).retained < 20 {
            w.publish_pod(round, &seq).unwrap();
            seq += 1;
        }
        child.expect("READY");
        // Fill the ring: the lagging reader now blocks the writer.
        while w.try_publish_pod(round, &seq).is_ok() {
            seq += 1;
        }
        let held = rt.stats();
        assert_eq!(held.pool(SizeClass::XS).retained, 20, "the child holds its retained events");
        assert!(held.processes.iter().any(|p| p.retained == 20 && p.alive));
        child.child.kill().unwrap();
        child.child.wait().unwrap();
        let killed = Instant::now();
        w.publish_pod_timeout(round, &seq, Duration::from_secs(10))
            .expect("the writer continues once the dead reader is detected");
        waits.push(killed.elapsed());
        let after = rt.stats();
        assert!(after.readers.is_empty(), "round {round}: the dead reader still gates");
        assert_eq!(after.processes.len(), 1, "round {round}: the dead process was reaped");
        for (a, b) in after.pools.iter().zip(&baseline.pools) {
            assert_eq!((a.retained, a.class), (b.retained, b.class), "round {round}: a slot leaked");
        }
    }
    waits.sort();
    println!(
        "  writer continued after a reader's SIGKILL: median {:?}, max {:?} over {rounds} rounds",
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    );
    drop((w, rt));
    assert!(!path.exists());
}

/// A writer process killed mid-stream: a new one takes over from the last
/// published sequence; readers see every event once, none torn.
fn a_new_writer_takes_over_from_a_killed_one() {
    const EVENTS: u64 = 200_000;
    let (path, rt) = shared("kill-writer", 256);
    let mut readers: Vec<Proc> = (0..2).map(|_| Proc::spawn("reader", &path, &[("EVENTS", EVENTS)])).collect();
    for r in &mut readers {
        r.expect("JOINED");
    }
    wait_for(&rt, "two readers", |s| s.readers.len() == 2);
    let mut first = Proc::spawn("writer", &path, &[("EVENTS", EVENTS), ("SLOW", 50)]);
    first.expect("WRITING 0");
    wait_for(&rt, "a third of the stream", |s| s.published >= EVENTS / 3);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let at_kill = rt.published();
    assert!(at_kill < EVENTS, "killed mid-stream");
    let second = Proc::spawn("writer", &path, &[("EVENTS", EVENTS)]);
    let mut second = second;
    let line = second.expect("WRITING");
    let resumed: u64 = line[8..].parse().unwrap();
    assert_eq!(resumed, rt.published().min(resumed), "resumes at the last published sequence");
    assert!(resumed >= at_kill);
    second.finish("DONE");
    for r in readers {
        assert_eq!(r.finish("OK").split(' ').nth(1), Some(EVENTS.to_string().as_str()));
    }
    println!("  writer killed at sequence {at_kill}, successor resumed at {resumed}");
    drop(rt);
}

/// When every process of a file died, opening it reports `Stale`; it can be
/// recovered or removed.
fn a_runtime_whose_processes_died_is_stale() {
    let path = common::temp_path("stale");
    let mut creator = Proc::spawn("creator", &path, &[]);
    creator.expect("READY");
    assert!(Runtime::open(&path).is_ok(), "alive: opens");
    creator.child.kill().unwrap();
    creator.child.wait().unwrap();
    assert!(matches!(Runtime::open(&path), Err(OpenError::Stale)));
    let watch = Observer::open(&path).unwrap();
    assert!(watch.stats().processes.iter().all(|p| !p.alive));
    drop(watch);
    let rt = OpenOptions::new().recover_stale(true).open(&path).unwrap();
    assert_eq!(rt.stats().processes.len(), 1, "the dead creator was reaped");
    drop(rt);
    assert!(!path.exists(), "the recovering process removed it on close");
}

/// SIGKILL a process in the middle of filling a slot it allocated: the
/// slot is not lost. The pool has one XL slot; while the filler lives it
/// is taken, and once the filler is dead the next allocation gets it back
/// (the allocator sweeps for dead processes when a pool is empty).
fn a_slot_whose_filler_was_killed_goes_back() {
    let path = common::temp_path("filler");
    let rt = Runtime::builder().shared(&path).slots(SizeClass::XL, 1).build().unwrap();
    let alloc = rt.allocator();
    let xl = vec![9u8; 10_000];
    let mut filler = Proc::spawn("filler", &path, &[]);
    filler.expect("FILLING");
    let xl_in_use = |rt: &Runtime| rt.stats().pools[SizeClass::XL.index()].in_use;
    assert_eq!(xl_in_use(&rt), 1, "the slot being filled is in use");
    assert!(
        matches!(alloc.try_alloc_bytes(1, &xl), Err(slotcast::AllocError::Full(slotcast::Full::Pool(SizeClass::XL)))),
        "a live filler keeps its slot"
    );
    filler.child.kill().unwrap();
    filler.child.wait().unwrap();
    let killed = Instant::now();
    let ptr = loop {
        match alloc.try_alloc_bytes(1, &xl) {
            Ok(ptr) => break ptr,
            Err(slotcast::AllocError::Full(_)) => {
                assert!(killed.elapsed() < Duration::from_secs(10), "the dead filler's slot never came back");
                std::thread::sleep(Duration::from_micros(100));
            }
            Err(e) => panic!("{e}"),
        }
    };
    println!("  the dead filler's slot was allocated again {:?} after its SIGKILL", killed.elapsed());
    assert_eq!(&ptr[..], &xl[..]);
    drop(ptr);
    assert_eq!(xl_in_use(&rt), 0, "back in the pool");
}

/// A reader asleep in `read()` while its writer's process is killed learns
/// it (`WriterDead`, not a close) within milliseconds, without another
/// process reaping for it; once a new writer publishes it reads on, and it
/// ends at that writer's close.
fn a_reader_waiting_on_a_killed_writer_learns_it_then_resumes() {
    let (path, rt) = shared("dead-writer", 256);
    let mut reader = Proc::spawn("watching-reader", &path, &[]);
    reader.expect("JOINED");
    let mut writer = Proc::spawn("stalled-writer", &path, &[("EVENTS", 1000)]);
    writer.expect("PUBLISHED");
    // Long enough for the reader to have read everything and gone to sleep.
    std::thread::sleep(Duration::from_millis(300));
    let killed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    writer.child.kill().unwrap();
    writer.child.wait().unwrap();
    let line = reader.expect("DEAD");
    let fields: Vec<u64> = line.split(' ').skip(1).map(|f| f.parse().unwrap()).collect();
    assert_eq!(fields[0], 1000, "every event published before the kill was read first");
    let after = Duration::from_micros(fields[1]).saturating_sub(killed);
    assert!(after < Duration::from_secs(10), "the reader learnt of the dead writer only after {after:?}");
    println!(
        "  a reader asleep in read() returned WriterDead {:.2} ms after its writer was killed",
        after.as_secs_f64() * 1e3
    );
    // A new writer takes over: the reader reads on, then sees its close.
    let mut second = Proc::spawn("writer", &path, &[("EVENTS", 3000)]);
    second.expect("WRITING 1000");
    second.finish("DONE");
    assert_eq!(reader.finish("CLOSED"), "CLOSED 3000");
    drop(rt);
}

/// A reader that only polls (`try_recv`, never waiting) learns of a killed
/// writer too: its empty reads reap dead processes now and then.
fn a_polling_reader_learns_of_a_killed_writer() {
    let (path, rt) = shared("polled-dead-writer", 256);
    let mut reader = rt.reader().unwrap();
    let mut writer = Proc::spawn("stalled-writer", &path, &[("EVENTS", 10)]);
    writer.expect("PUBLISHED");
    assert_eq!(reader.try_read(|_, _| ()), Ok(10));
    writer.child.kill().unwrap();
    writer.child.wait().unwrap();
    let start = Instant::now();
    let mut polls = 0u64;
    loop {
        polls += 1;
        match reader.try_recv().map(|e| e.is_some()) {
            Ok(false) => {
                assert!(start.elapsed() < Duration::from_secs(10), "no WriterDead after {polls} polls");
                std::thread::sleep(Duration::from_micros(100));
            }
            Err(ReadError::WriterDead) => break,
            other => panic!("{other:?}"),
        }
    }
    println!(
        "  a polling reader learnt of the dead writer after {polls} polls, {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(reader.try_recv().map(|e| e.is_some()), Ok(false), "reported once per dead writer");
}

/// A lossy reader killed while it reads (its cursor pinned) holds the
/// writer only until its process is reaped, as a gating reader would.
fn a_lossy_reader_killed_mid_read_is_reaped() {
    let (path, rt) = shared("pinned-lossy", 64);
    let mut w = rt.writer().unwrap();
    let mut lossy = Proc::spawn("pinned-lossy", &path, &[]);
    lossy.expect("JOINED");
    w.try_publish_bytes(0, &[1; 32]).unwrap();
    lossy.expect("PINNED");
    for _ in 1..64 {
        w.try_publish_bytes(0, &[2; 32]).unwrap();
    }
    assert_eq!(w.try_publish_bytes(0, &[3; 32]), Err(PublishError::Full(Full::Ring)), "the pinned read holds the ring");
    lossy.child.kill().unwrap();
    lossy.child.wait().unwrap();
    // The writer's next attempts reap the dead process (at most once a
    // millisecond) and go on.
    w.publish_bytes_timeout(0, &[3; 32], Duration::from_secs(10)).expect("the dead reader's pin is released");
    for _ in 0..1000 {
        w.try_publish_bytes(0, &[4; 32]).unwrap();
    }
    assert!(rt.stats().readers.is_empty());
}

/// A tokio runtime on two worker threads, for the async scenarios; this
/// thread stays free to drive the child processes.
fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap()
}

/// Counts the wake-ups of a task that come from one named thread, and
/// passes each on to the executor's waker.
#[allow(clippy::disallowed_types, reason = "the test's own waker")]
struct Tally {
    inner: Waker,
    thread: &'static str,
    count: Arc<AtomicU64>,
}

#[allow(clippy::disallowed_types, reason = "the test's own waker")]
impl Wake for Tally {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if std::thread::current().name() == Some(self.thread) {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.wake_by_ref();
    }
}

/// The waits of a task: how many futures had to wait, and how many
/// wake-ups came from this process's `slotcast-wake` thread (the thread
/// that sleeps on the futex word for the process's tasks; the other
/// wake-ups are the timer thread's naps).
#[allow(clippy::disallowed_types, reason = "the test's own waker")]
#[derive(Debug, Default)]
struct Waits {
    pends: u64,
    by_wake_thread: Arc<AtomicU64>,
}

impl Waits {
    /// Drives `future` to completion under a waker that tallies who woke
    /// it; counts it in `pends` if it returned `Pending`.
    async fn watch<F: Future>(&mut self, future: F) -> F::Output {
        let mut future = pin!(future);
        let mut pended = false;
        let out = std::future::poll_fn(|cx| {
            #[allow(clippy::disallowed_types, reason = "the test's own waker")]
            let tally = Arc::new(Tally {
                inner: cx.waker().clone(),
                thread: "slotcast-wake",
                count: Arc::clone(&self.by_wake_thread),
            });
            let waker = Waker::from(tally);
            let poll = future.as_mut().poll(&mut Context::from_waker(&waker));
            pended |= poll.is_pending();
            poll
        })
        .await;
        self.pends += u64::from(pended);
        out
    }

    fn woken_by_wake_thread(&self) -> u64 {
        self.by_wake_thread.load(Ordering::Relaxed)
    }
}

/// What an async reader saw until the stream closed.
#[derive(Debug, Default)]
struct AsyncRead {
    /// The next sequence it expected: the events it read and verified.
    next: u64,
    /// Its waits, and who woke them.
    waits: Waits,
    /// When each `WriterDead` was returned.
    deaths: Vec<Instant>,
    /// How many of those ended a wait the `slotcast-wake` thread woke (its
    /// reaper found the dead writer).
    deaths_told_by_wake_thread: u64,
    /// Where to tell of each `WriterDead` as it comes.
    told: Option<mpsc::Sender<Instant>>,
}

impl AsyncRead {
    /// Verifies one event of `role_writer`'s pattern at the next sequence.
    fn verify(&mut self, sequence: u64, data: &[u8]) {
        verify(&mut self.next, sequence, data);
    }

    /// An error that ends a read: `true` at the close.
    /// `before`: the wake-ups by the futex word when the read began.
    fn ended(&mut self, error: ReadError, before: u64) -> bool {
        match error {
            ReadError::Closed => true,
            ReadError::WriterDead => {
                let now = Instant::now();
                self.deaths.push(now);
                self.deaths_told_by_wake_thread += u64::from(self.waits.woken_by_wake_thread() > before);
                if let Some(told) = &self.told {
                    told.send(now).unwrap();
                }
                false
            }
            e => panic!("read failed after {}: {e}", self.next),
        }
    }
}

/// Verifies one event of `role_writer`'s pattern at sequence `next`.
fn verify(next: &mut u64, sequence: u64, data: &[u8]) {
    assert_eq!(sequence, *next, "sequences are contiguous");
    assert_eq!(pattern::check(data), Ok(*next), "event {next} is torn or corrupted");
    assert_eq!(data.len(), pattern::mixed_len(*next));
    *next += 1;
}

/// Reads until the close with `recv_async`, `batch_async` and `read_async`
/// in turn.
async fn read_async_to_close(mut reader: Reader, told: Option<mpsc::Sender<Instant>>) -> AsyncRead {
    let mut seen = AsyncRead { told, ..AsyncRead::default() };
    for round in 0u64.. {
        let before = seen.waits.woken_by_wake_thread();
        let waits = &mut seen.waits;
        let ended = match round % 3 {
            0 => match waits.watch(reader.recv_async()).await {
                Ok(event) => {
                    seen.verify(event.sequence(), event.data());
                    false
                }
                Err(e) => seen.ended(e, before),
            },
            1 => match waits.watch(reader.batch_async()).await {
                Ok(batch) => {
                    assert!(!batch.is_empty(), "a completed batch_async has an event");
                    for event in &batch {
                        seen.verify(event.sequence(), event.data());
                    }
                    false
                }
                Err(e) => seen.ended(e, before),
            },
            _ => {
                let mut next = seen.next;
                let read = waits.watch(reader.read_async(|event, _| verify(&mut next, event.sequence(), event.data())));
                let read = read.await;
                seen.next = next;
                match read {
                    Ok(n) => {
                        assert!(n > 0, "a completed read_async handled an event");
                        false
                    }
                    Err(e) => seen.ended(e, before),
                }
            }
        };
        if ended {
            break;
        }
    }
    seen
}

/// Reads a `ReaderStream` until it ends (`None`: the close).
async fn stream_to_close(stream: ReaderStream, told: Option<mpsc::Sender<Instant>>) -> AsyncRead {
    let mut stream = pin!(stream);
    let mut seen = AsyncRead { told, ..AsyncRead::default() };
    loop {
        let before = seen.waits.woken_by_wake_thread();
        let item = seen.waits.watch(std::future::poll_fn(|cx| stream.as_mut().poll_next(cx))).await;
        match item {
            None => break,
            Some(Ok(event)) => {
                // Pool events are retained slots of the other process's
                // writes; XS events copies.
                assert_eq!(event.ring_ptr().is_some(), event.len() > 64);
                seen.verify(event.sequence(), &event);
            }
            Some(Err(e)) => assert!(!seen.ended(e, before), "the stream ends with None, not Closed"),
        }
    }
    seen
}

/// An async reader and an async `ReaderStream` (tasks of a tokio runtime in
/// this process) are woken by a writer in another process: the writer's
/// futex bump reaches this process's `slotcast-wake` thread, which wakes
/// the tasks. Every event is verified; the writer process's close ends the
/// reader with `Closed` and the stream with `None`.
///
/// Fails if the wake-up across processes is lost (the readers would wait
/// for ever: the 60 s bound catches it), if an event is lost, torn or out
/// of order, or if the close does not reach a waiting task.
fn an_async_reader_is_woken_by_a_writer_process() {
    const EVENTS: u64 = 20_000;
    let (path, rt) = shared("async-woken", 256);
    let tokio = tokio_runtime();
    let reading = tokio.spawn(read_async_to_close(rt.reader().unwrap(), None));
    let streaming = tokio.spawn(stream_to_close(rt.reader().unwrap().into_stream(), None));
    // A pause of 300 µs per 16 events: the readers catch up and wait.
    let mut writer = Proc::spawn("writer", &path, &[("EVENTS", EVENTS), ("SLOW", 300)]);
    writer.expect("WRITING 0");
    let started = Instant::now();
    writer.finish("DONE");
    let both = tokio.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), async { (reading.await.unwrap(), streaming.await.unwrap()) })
            .await
            .expect("the async readers end at the writer process's close")
    });
    let secs = started.elapsed().as_secs_f64();
    for (who, seen) in [("async reader", &both.0), ("reader stream", &both.1)] {
        assert_eq!(seen.next, EVENTS, "{who}: every event");
        assert!(seen.deaths.is_empty(), "{who}: the writer closed, it did not die");
        let (pends, woken) = (seen.waits.pends, seen.waits.woken_by_wake_thread());
        assert!(pends > 0, "{who}: it never waited, so no wake-up was tested");
        // The timer's naps alone would end every wait too (a task's
        // registration is never acknowledged while it waits), only later:
        // nearly every wait is woken by the futex word, as the writer
        // publishes well within the first nap (1 ms).
        assert!(woken * 2 >= pends, "{who}: only {woken} of {pends} waits were woken by the futex word");
        println!("  {who}: {} events in {secs:.2} s; {pends} waits, {woken} wake-ups by the futex word", seen.next);
    }
    drop(rt);
    assert!(!path.exists(), "the last process out removed the file (its wake thread holds no handle)");
}

/// A writer process SIGKILLed while an async reader and a stream wait for
/// its next event: both get `WriterDead` (once) from this process's
/// `slotcast-wake` thread, which reaps dead processes while another process
/// holds the writer role; then a new writer process takes over, they read
/// its events and end at its close.
///
/// Fails if a waiting task never learns of the dead writer (the 5 s bound
/// catches the hang), hears of it more than once, or loses an event across
/// the takeover.
fn an_async_reader_learns_of_a_killed_writer_process() {
    let (path, rt) = shared("async-dead-writer", 256);
    let tokio = tokio_runtime();
    let (told, told_rx) = mpsc::channel();
    let reading = tokio.spawn(read_async_to_close(rt.reader().unwrap(), Some(told.clone())));
    let streaming = tokio.spawn(stream_to_close(rt.reader().unwrap().into_stream(), Some(told)));
    let mut writer = Proc::spawn("stalled-writer", &path, &[("EVENTS", 1000)]);
    writer.expect("PUBLISHED");
    wait_for(&rt, "both readers at 1000", |s| s.readers.len() == 2 && s.readers.iter().all(|r| r.cursor == 1000));
    // Long enough for both tasks to be waiting again.
    std::thread::sleep(Duration::from_millis(100));
    let killed = Instant::now();
    writer.child.kill().unwrap();
    writer.child.wait().unwrap();
    // Each task tells of its WriterDead as it gets it: no other process of
    // this runtime reaps for them, and the next writer waits for both.
    let bound = Duration::from_secs(5);
    for _ in 0..2 {
        told_rx.recv_timeout(bound).expect("a waiting task learns of the dead writer within 5 s");
    }
    let mut second = Proc::spawn("writer", &path, &[("EVENTS", 3000)]);
    second.expect("WRITING 1000");
    second.finish("DONE");
    let both = tokio.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), async { (reading.await.unwrap(), streaming.await.unwrap()) })
            .await
            .expect("the async readers end at the second writer's close")
    });
    for (who, seen) in [("async reader", &both.0), ("reader stream", &both.1)] {
        assert_eq!(seen.next, 3000, "{who}: every event of both writers");
        assert_eq!(seen.deaths.len(), 1, "{who}: one WriterDead per dead writer");
        // Not a nap's poll that happened to reap: this process's wake
        // thread watches a writer of another process.
        assert_eq!(seen.deaths_told_by_wake_thread, 1, "{who}: the wake thread's reaper ended the wait");
        let after = seen.deaths[0].saturating_duration_since(killed);
        assert!(after < bound, "{who}: WriterDead only {after:?} after the kill");
        println!("  {who}: WriterDead {:.2} ms after its writer's SIGKILL", after.as_secs_f64() * 1e3);
    }
    drop(rt);
}

/// An async writer (a tokio task in this process) publishes through a ring
/// of 8 and an S pool of 2 slots to a gating reader in another process
/// that pauses after every event: the writer's futures wait for room again
/// and again, and the reader process reads every event, intact and in
/// order, then the close.
///
/// Fails if an async publish overwrites an unread event or drops one (the
/// reader's checks), or completes without room (the same), or never waits
/// (then the ring of 8 was not the limit and the test says so).
fn an_async_writer_waits_for_a_slow_reader_process() {
    const EVENTS: u64 = 3000;
    let path = common::temp_path("async-writer");
    let rt = Runtime::builder()
        .shared(&path)
        .ring_capacity(8)
        .slots(SizeClass::M, 2)
        .slots(SizeClass::XL, 2)
        .wait_strategy(WaitStrategy::Blocking)
        .build()
        .unwrap();
    let mut reader = Proc::spawn("slow-reader", &path, &[("SLOW", 100)]);
    reader.expect("JOINED");
    wait_for(&rt, "the reader", |s| s.readers.len() == 1);
    let mut writer = rt.writer().unwrap();
    let tokio = tokio_runtime();
    let started = Instant::now();
    let waits = tokio.block_on(async {
        let mut waits = Waits::default();
        for seq in 0..EVENTS {
            let len = pattern::mixed_len(seq);
            let class = SizeClass::for_len(len).unwrap();
            // Each async publishing form in turn.
            match seq % 3 {
                0 => {
                    let mut bytes = vec![0; len];
                    pattern::fill(seq, &mut bytes);
                    let published = waits.watch(writer.publish_bytes_async(0, &bytes)).await;
                    assert_eq!(published, Ok(seq));
                }
                1 => {
                    let fill = |buf: &mut [u8]| {
                        pattern::fill(seq, &mut buf[..len]);
                        len
                    };
                    let published = waits.watch(writer.publish_with_async(class, 0, fill)).await;
                    assert!(matches!(published, Ok(s) if s == seq), "publish_with_async: {published:?}");
                }
                _ => {
                    let mut claim = waits.watch(writer.claim_async(class)).await.unwrap();
                    pattern::fill(seq, &mut claim.buf_mut()[..len]);
                    assert_eq!(claim.publish(len), Ok(seq));
                }
            }
        }
        waits
    });
    let secs = started.elapsed().as_secs_f64();
    writer.close();
    assert_eq!(reader.finish("CLOSED"), format!("CLOSED {EVENTS}"));
    let pends = waits.pends;
    assert!(pends > 0, "the writer never waited for room: the ring of 8 was not the limit");
    println!("  async writer: {EVENTS} events in {secs:.2} s to a slow reader process, {pends} waits for room");
    drop(rt);
    assert!(!path.exists());
}

/// A process that waited with `recv_async` (so its `slotcast-wake`
/// thread ran) and exits right after dropping its shared runtime, as a
/// program returning from `main` does, removes the file: the thread holds
/// no handle on the runtime, so the last handle's drop leaves at once.
/// Would fail if the thread kept the runtime alive past the drop: the
/// process's exit would kill it first, leaving the file behind as `Stale`.
fn a_process_exiting_right_after_an_async_wait_removes_its_file() {
    let path = common::temp_path("async-last-out");
    Proc::spawn("async-last-out", &path, &[]).finish("DROPPED");
    if path.exists() {
        let stale = matches!(Runtime::open(&path), Err(OpenError::Stale));
        let _ = std::fs::remove_file(&path);
        panic!("the exited process left its file behind (open: Stale = {stale})");
    }
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let path = std::path::PathBuf::from(std::env::var("SLOTCAST_IPC_PATH").unwrap());
        match role.as_str() {
            "reader" => role_reader(&path),
            "writer" => role_writer(&path),
            "lagging-reader" => role_lagging_reader(&path),
            "creator" => role_creator(&path),
            "filler" => role_filler(&path),
            "stalled-writer" => role_stalled_writer(&path),
            "watching-reader" => role_watching_reader(&path),
            "pinned-lossy" => role_pinned_lossy(&path),
            "slow-reader" => role_slow_reader(&path),
            "async-last-out" => role_async_last_out(&path),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    if cfg!(miri) || !cfg!(target_os = "linux") {
        println!("ipc: skipped (needs Linux processes and file mappings)");
        return;
    }
    common::run_scenarios(&[
        ("fan_out_to_three_reader_processes", || {
            fan_out_to_three_reader_processes();
            Ok(())
        }),
        ("a_killed_lagging_reader_releases_everything", || {
            a_killed_lagging_reader_releases_everything();
            Ok(())
        }),
        ("a_new_writer_takes_over_from_a_killed_one", || {
            a_new_writer_takes_over_from_a_killed_one();
            Ok(())
        }),
        ("a_runtime_whose_processes_died_is_stale", || {
            a_runtime_whose_processes_died_is_stale();
            Ok(())
        }),
        ("a_slot_whose_filler_was_killed_goes_back", || {
            a_slot_whose_filler_was_killed_goes_back();
            Ok(())
        }),
        ("a_reader_waiting_on_a_killed_writer_learns_it_then_resumes", || {
            a_reader_waiting_on_a_killed_writer_learns_it_then_resumes();
            Ok(())
        }),
        ("a_polling_reader_learns_of_a_killed_writer", || {
            a_polling_reader_learns_of_a_killed_writer();
            Ok(())
        }),
        ("a_lossy_reader_killed_mid_read_is_reaped", || {
            a_lossy_reader_killed_mid_read_is_reaped();
            Ok(())
        }),
        ("an_async_reader_is_woken_by_a_writer_process", || {
            an_async_reader_is_woken_by_a_writer_process();
            Ok(())
        }),
        ("an_async_reader_learns_of_a_killed_writer_process", || {
            an_async_reader_learns_of_a_killed_writer_process();
            Ok(())
        }),
        ("an_async_writer_waits_for_a_slow_reader_process", || {
            an_async_writer_waits_for_a_slow_reader_process();
            Ok(())
        }),
        ("a_process_exiting_right_after_an_async_wait_removes_its_file", || {
            a_process_exiting_right_after_an_async_wait_removes_its_file();
            Ok(())
        }),
    ]);
}
