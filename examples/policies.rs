//! Reader policies and the stream's life, measured: what a lossy reader
//! that stops reading costs the writer, what a lossy reader that sleeps at
//! random receives, and how soon a blocked reader learns that the stream
//! closed or that its writer's process died.
//!
//! ```text
//! cargo run --release --example policies                      # default sizes, under a minute
//! cargo run --release --example policies -- --events 10000000 # the full lossy figure
//! ```
//!
//! Every line says what it measured and how; every figure is measured by
//! this run. Exits with status 1 if an event was corrupted, out of order or
//! neither received nor counted lost, or if a reader missed the end of its
//! stream.

#![allow(clippy::disallowed_methods)] // the example sleeps and yields with std between its own measurements

#[path = "common/pattern.rs"]
mod pattern;

use clap::{Parser, ValueEnum};
use slotcast::{Policy, ReadError, ReaderOptions, Runtime, SizeClass, WaitStrategy, Writer};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Reader policies and the stream's life: the figures of issue 13")]
struct Args {
    /// Events published to the lossy reader that sleeps at random.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per round of the writer-rate comparison.
    #[arg(long, default_value_t = 4_000_000)]
    rate_events: u64,
    /// Events per store of the published cursor in the writer-rate
    /// comparison (1: each event on its own).
    #[arg(long, default_value_t = 32)]
    flush_every: u32,
    /// Rounds of each configuration in the writer-rate comparison (at least 5).
    #[arg(long, default_value_t = 9)]
    rounds: usize,
    /// Rounds per wait strategy of the in-process close latency.
    #[arg(long, default_value_t = 200)]
    close_rounds: usize,
    /// Rounds per wait strategy of the killed-writer latency.
    #[arg(long, default_value_t = 5)]
    kill_rounds: usize,
    /// How the readers of the rate comparison and of the lossy run wait.
    #[arg(long, value_enum, default_value_t = Wait::Yield)]
    wait: Wait,
    /// Which figures to print (all by default).
    #[arg(long, value_enum)]
    only: Option<Part>,
    /// (internal) The role of a child process.
    #[arg(long, hide = true)]
    child: Option<Role>,
    /// (internal) The shared file of a child process.
    #[arg(long, hide = true)]
    path: Option<PathBuf>,
    /// (internal) The readers child also joins a lossy reader that never reads.
    #[arg(long, hide = true)]
    with_lossy: bool,
    /// (internal) The CPU the readers child pins its gating reader to.
    #[arg(long, hide = true)]
    cpu: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Part {
    /// The writer's rate with and without a stopped lossy reader.
    Rate,
    /// Received + lost = published with a lossy reader that sleeps.
    Lossy,
    /// How soon a blocked reader learns the stream closed or its writer died.
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Role {
    /// Joins a gating reader (and a lossy one with `--with-lossy`), says
    /// `ready`, reads every event until the stream closes.
    Readers,
    /// Takes the writer role, publishes one event, says `ready`, waits to
    /// be killed.
    Writer,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Wait {
    Spin,
    Yield,
    Blocking,
}

impl Wait {
    fn strategy(self) -> WaitStrategy {
        match self {
            Wait::Spin => WaitStrategy::BusySpin,
            Wait::Yield => WaitStrategy::Yield,
            Wait::Blocking => WaitStrategy::Blocking,
        }
    }
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const STRATEGIES: [WaitStrategy; 3] = [WaitStrategy::BusySpin, WaitStrategy::Yield, WaitStrategy::Blocking];

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.child {
        Some(Role::Readers) => child_readers(&args),
        Some(Role::Writer) => child_writer(&args),
        None => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("policies: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// "N busy threads on C cores", and whether they outnumber the cores.
fn threads(busy: usize, what: &str) -> String {
    let c = cores();
    let verdict = if busy > c { ": threads outnumber cores" } else { "" };
    let s = if busy == 1 { "" } else { "s" };
    format!("{busy} busy thread{s} ({what}) on {c} cores{verdict}")
}

fn run(args: &Args) -> Result {
    if args.rounds < 5 {
        return Err("--rounds must be at least 5".into());
    }
    if args.events == 0
        || args.rate_events == 0
        || args.close_rounds == 0
        || args.kill_rounds == 0
        || args.flush_every == 0
    {
        return Err(
            "--events, --rate-events, --flush-every, --close-rounds and --kill-rounds must be at least 1".into()
        );
    }
    println!("slotcast policies: {} cores, pid {}", cores(), std::process::id());
    let all = args.only.is_none();
    if all || args.only == Some(Part::Rate) {
        println!();
        rate(args)?;
    }
    if all || args.only == Some(Part::Lossy) {
        println!();
        lossy(args)?;
    }
    if all || args.only == Some(Part::Close) {
        println!();
        close_in_process(args)?;
        println!();
        writer_killed(args)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// a. The writer's rate with a lossy reader that stops reading.

/// Publishes `events` 8-byte events (each its own sequence), making them
/// visible `flush_every` at a time, and returns the writer's rate in events
/// per second, from its first publish to its last.
fn publish_timed(writer: &mut Writer, events: u64, flush_every: u32) -> Result<f64> {
    writer.set_flush_every(flush_every);
    let start = Instant::now();
    for seq in 0..events {
        writer.publish_pod(0, &seq)?;
    }
    writer.flush();
    Ok(events as f64 / start.elapsed().as_secs_f64())
}

/// Reads until the stream closes, checking that event `i` is the value
/// `i`; returns the number read.
fn read_all(reader: &mut slotcast::Reader) -> Result<u64> {
    let mut next = reader.cursor();
    let mut bad = 0u64;
    loop {
        match reader.read(|ev, _| {
            if ev.as_pod::<u64>().ok() != Some(&next) || ev.sequence() != next {
                bad += 1;
            }
            next += 1;
        }) {
            Ok(_) => {}
            Err(ReadError::Closed) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if bad > 0 {
        return Err(format!("{bad} events out of order or wrong").into());
    }
    Ok(next)
}

/// One in-process round: a gating reader that reads everything, and with
/// `with_lossy` a lossy reader that joined and never reads.
fn rate_round_in_process(args: &Args, with_lossy: bool, reader_cpu: Option<usize>) -> Result<f64> {
    let rt = Runtime::builder().wait_strategy(args.wait.strategy()).build()?;
    let mut gating = rt.reader()?;
    let stopped = if with_lossy { Some(rt.reader_with(ReaderOptions::new().policy(Policy::Lossy))?) } else { None };
    let mut writer = rt.writer()?;
    let (ready, started) = mpsc::channel();
    let reading = std::thread::spawn(move || {
        if let Some(cpu) = reader_cpu {
            Affinity::only(cpu).set();
        }
        let _ = ready.send(());
        read_all(&mut gating).map_err(|e| e.to_string())
    });
    // Timed once the reader runs, as across processes.
    started.recv()?;
    let rate = publish_timed(&mut writer, args.rate_events, args.flush_every)?;
    writer.close();
    let read = reading.join().map_err(|_| "the reader thread panicked")??;
    if read != args.rate_events {
        return Err(format!("the gating reader read {read} of {} events", args.rate_events).into());
    }
    if let Some(tap) = stopped {
        if tap.cursor() != 0 {
            return Err("the stopped lossy reader moved".into());
        }
    }
    Ok(rate)
}

fn shm_path(tag: &str) -> PathBuf {
    PathBuf::from(format!("/dev/shm/slotcast-policies-{}-{tag}", std::process::id()))
}

/// Runs this example again as a child process in `role`, and waits for it
/// to say `ready`.
fn spawn_child(role: &str, path: &Path, extra: &[&str]) -> Result<Child> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--child", role, "--path"])
        .arg(path)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    if line.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("the {role} child did not start: {line:?}").into());
    }
    Ok(child)
}

/// One round across processes: the readers in a child process.
fn rate_round_across(args: &Args, with_lossy: bool, round: usize, reader_cpu: Option<usize>) -> Result<f64> {
    let path = shm_path(&format!("rate-{round}-{with_lossy}"));
    let rt = Runtime::builder().shared(&path).wait_strategy(args.wait.strategy()).build()?;
    let mut extra = Vec::new();
    if with_lossy {
        extra.push("--with-lossy".to_string());
    }
    if let Some(cpu) = reader_cpu {
        extra.extend(["--cpu".to_string(), cpu.to_string()]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut child = spawn_child("readers", &path, &extra)?;
    let mut writer = rt.writer()?;
    let rate = publish_timed(&mut writer, args.rate_events, args.flush_every)?;
    writer.close();
    let status = child.wait()?;
    drop(rt);
    let _ = std::fs::remove_file(&path);
    if !status.success() {
        return Err(format!("the readers child failed: {status}").into());
    }
    Ok(rate)
}

fn child_readers(args: &Args) -> Result {
    let rt = Runtime::open(args.path.as_ref().ok_or("--path")?)?;
    let mut gating = rt.reader()?;
    let _stopped =
        if args.with_lossy { Some(rt.reader_with(ReaderOptions::new().policy(Policy::Lossy))?) } else { None };
    // Spawned by a writer pinned to its CPU, the child inherited that.
    if let Some(cpu) = args.cpu {
        Affinity::only(cpu).set();
    }
    println!("ready");
    let read = read_all(&mut gating)?;
    if read == 0 {
        return Err("nothing read".into());
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

fn rate(args: &Args) -> Result {
    println!(
        "a. Writer rate, one gating reader alone (A) vs one gating reader plus one lossy reader that joined and never reads (B)"
    );
    println!(
        "   {} events of 8 bytes per round, publish_pod, made visible {} at a time (set_flush_every), timed from the first publish to the last; \
         one warm-up round of each (not counted), then {} rounds of each, interleaved (A B, B A, ...); the readers wait with {:?}",
        args.rate_events,
        args.flush_every,
        args.rounds,
        args.wait.strategy()
    );
    println!("   {}", threads(2, "the writer, the gating reader"));
    let allowed = Affinity::get();
    let mut reader_cpu = None;
    match allowed.as_ref().map(|a| a.cpus()) {
        Some(cpus) if cpus.len() >= 2 => {
            reader_cpu = Some(cpus[1]);
            println!(
                "   the writer pinned to CPU {}, the gating reader to CPU {} (unpinned, a new thread may start on \
                 its writer's CPU and share it for a whole round)",
                cpus[0], cpus[1]
            );
            Affinity::only(cpus[0]).set();
        }
        _ => println!("   not pinned: fewer than 2 CPUs allowed, or no way to pin on this system"),
    }
    let result = rate_rounds(args, reader_cpu);
    if let Some(allowed) = allowed {
        allowed.set();
    }
    result
}

/// The rounds of [`rate`], in one process and across processes.
fn rate_rounds(args: &Args, reader_cpu: Option<usize>) -> Result {
    for across in [false, true] {
        let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let one = |with_lossy: bool, round: usize| {
            if across {
                rate_round_across(args, with_lossy, round, reader_cpu)
            } else {
                rate_round_in_process(args, with_lossy, reader_cpu)
            }
        };
        // A warm-up pair, not counted: the first rounds of a run pay for
        // page faults and cold caches.
        one(false, usize::MAX)?;
        one(true, usize::MAX)?;
        for round in 0..args.rounds {
            let one = |with_lossy: bool| one(with_lossy, round);
            let (ra, rb) = if round % 2 == 0 {
                let ra = one(false)?;
                (ra, one(true)?)
            } else {
                let rb = one(true)?;
                (one(false)?, rb)
            };
            a.push(ra);
            b.push(rb);
            ratios.push(rb / ra);
        }
        let where_ = if across {
            "across processes (writer in this process, both readers in a child process, over a file in /dev/shm)"
        } else {
            "in one process (writer and gating reader on their own threads)"
        };
        let list = |v: &[f64]| v.iter().map(|r| format!("{:.1}", r / 1e6)).collect::<Vec<_>>().join(" ");
        println!("   {where_}:");
        println!("     A rounds (M events/s): {}", list(&a));
        println!("     B rounds (M events/s): {}", list(&b));
        let shown = ratios.iter().map(|r| format!("{r:.3}")).collect::<Vec<_>>().join(" ");
        println!("     B/A per round: {shown}");
        let ratio = median(&mut ratios);
        println!(
            "     median A {:.1} M events/s, median B {:.1} M events/s; median of the per-round ratios B/A = {ratio:.3} ({:+.1}%; target within 10%)",
            median(&mut a) / 1e6,
            median(&mut b) / 1e6,
            (ratio - 1.0) * 100.0
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// b. Received + lost = published, with a lossy reader that sleeps at random.

fn lossy(args: &Args) -> Result {
    let strategy = args.wait.strategy();
    let rt = Runtime::builder().wait_strategy(strategy).slots(SizeClass::XL, 64).build()?;
    let mut tap = rt.reader_with(ReaderOptions::new().policy(Policy::Lossy))?;
    let events = args.events;
    println!("b. A lossy reader that sleeps at random, {events} events, in one process");
    println!(
        "   payloads self-checking (sequence, fill, checksum), 90% 64 B, 9% 1 KB, 1% 16 KB; ring {} entries; \
         the reader sleeps 0-200 us before 1 read in 64 and 0-5 ms before 1 in 4096; it waits with {strategy:?}",
        rt.config().ring_capacity()
    );
    println!("   {}", threads(2, "the writer, the lossy reader"));
    let rt2 = rt.clone();
    let start = Instant::now();
    let writing = std::thread::spawn(move || -> std::result::Result<u64, String> {
        let mut w = rt2.writer().map_err(|e| e.to_string())?;
        for seq in 0..events {
            let len = pattern::mixed_len(seq);
            let class = SizeClass::for_len(len).ok_or("no class")?;
            // Waits only while the lossy reader holds one read open.
            w.publish_with(class, 0, |buf| {
                pattern::fill(seq, &mut buf[..len]);
                len
            })
            .map_err(|e| e.error().to_string())?;
        }
        let published = w.published();
        w.close();
        Ok(published)
    });
    let (mut next, mut received, mut lost, mut laps, mut bad) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    loop {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        if rng % 4096 == 0 {
            std::thread::sleep(Duration::from_micros(rng % 5000));
        } else if rng % 64 == 0 {
            std::thread::sleep(Duration::from_micros(rng % 200));
        }
        match tap.read(|ev, _| {
            let intact = pattern::check(ev.data()) == Ok(next) && ev.len() == pattern::mixed_len(next);
            if ev.sequence() != next || !intact {
                bad += 1;
            }
            next += 1;
        }) {
            Ok(n) => received += n as u64,
            Err(ReadError::Lagged { missed }) => {
                lost += missed;
                laps += 1;
                next += missed;
            }
            Err(ReadError::Closed) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let elapsed = start.elapsed();
    let published = writing.join().map_err(|_| "the writer thread panicked")??;
    println!(
        "   published {published}, received {received}, lost {lost} (in {laps} laps), {bad} received events corrupted or out of order, {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "   received + lost = {} = published: {}; reader's own count of lost events: {}",
        received + lost,
        received + lost == published,
        tap.lost()
    );
    assert_eq!(received + lost, published, "received + lost must equal published");
    assert_eq!(tap.lost(), lost, "the reader's count of lost events is the sum of its Lagged reports");
    if bad > 0 {
        return Err(format!("{bad} received events were corrupted or out of order").into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// c. How soon a blocked reader learns that the stream ended.

/// p50, p99 and max of `samples`, in microseconds.
fn percentiles(samples: &mut [Duration]) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    format!("p50 {:.0} us, p99 {:.0} us, max {:.0} us", us(at(0.5)), us(at(0.99)), us(at(1.0)))
}

fn close_in_process(args: &Args) -> Result {
    println!("c. Close latency in one process: a reader blocked in read() until close() returns Closed");
    println!(
        "   per round: the writer publishes one event, the reader reads it and blocks in read(), the writer waits 5 ms \
         (long enough for a Blocking reader to be asleep on its futex), then close(); measured from just before close() \
         to the reader's return, {} rounds per strategy",
        args.close_rounds
    );
    println!("   {}", threads(1, "the reader; the writer sleeps until it closes"));
    for strategy in STRATEGIES {
        let rt = Runtime::builder().wait_strategy(strategy).build()?;
        let mut reader = rt.reader()?;
        let mut samples = Vec::with_capacity(args.close_rounds);
        for _ in 0..args.close_rounds {
            let mut writer = rt.writer()?;
            let (tx, rx) = mpsc::channel();
            let latency = std::thread::scope(|s| -> Result<Duration> {
                let waiting = s.spawn(|| wait_for_end(&mut reader, &tx, ReadError::Closed));
                writer.publish_bytes(0, b"one")?;
                rx.recv_timeout(Duration::from_secs(10))?;
                std::thread::sleep(Duration::from_millis(5));
                let closed = Instant::now();
                writer.close();
                let woke = waiting.join().map_err(|_| "the reader panicked")??;
                Ok(woke.saturating_duration_since(closed))
            })?;
            samples.push(latency);
        }
        println!("   {strategy:?}: {}", percentiles(&mut samples));
    }
    Ok(())
}

/// Reads (telling `read` of every event) until the read returns `end`,
/// and returns when it did.
fn wait_for_end(
    reader: &mut slotcast::Reader,
    read: &mpsc::Sender<()>,
    end: ReadError,
) -> std::result::Result<Instant, String> {
    loop {
        match reader.read(|_, _| {
            let _ = read.send(());
        }) {
            Ok(_) => {}
            Err(e) if e == end => return Ok(Instant::now()),
            Err(e) => return Err(format!("expected {end:?}, got {e:?}")),
        }
    }
}

fn writer_killed(args: &Args) -> Result {
    println!(
        "c. Killed writer: a reader blocked in read() while its writer process is killed (SIGKILL) returns WriterDead"
    );
    println!(
        "   per round: a child process takes the writer role and publishes one event; this process's reader reads it \
         and blocks in read(); after 20 ms the child is killed; measured from just before kill() to the reader's return \
         (the kernel's teardown of the child and its lock included), {} rounds per strategy, one file in /dev/shm",
        args.kill_rounds
    );
    println!("   {}", threads(1, "the reader; the writer process is idle until killed"));
    let path = shm_path("killed");
    let rt = Runtime::builder().shared(&path).build()?;
    let result = (|| -> Result {
        for strategy in STRATEGIES {
            let mut reader = rt.reader()?;
            reader.set_wait_strategy(strategy);
            let mut samples = Vec::with_capacity(args.kill_rounds);
            for _ in 0..args.kill_rounds {
                let (tx, rx) = mpsc::channel();
                let latency = std::thread::scope(|s| -> Result<Duration> {
                    // The child holds the role before the reader waits: until
                    // then the last round's dead writer is what it would see.
                    let mut child = spawn_child("writer", &path, &[])?;
                    let waiting = s.spawn(|| wait_for_end(&mut reader, &tx, ReadError::WriterDead));
                    rx.recv_timeout(Duration::from_secs(10))?;
                    std::thread::sleep(Duration::from_millis(20));
                    let killed = Instant::now();
                    child.kill()?;
                    let woke = waiting.join().map_err(|_| "the reader panicked")??;
                    child.wait()?;
                    Ok(woke.saturating_duration_since(killed))
                })?;
                samples.push(latency);
            }
            println!("   {strategy:?}: {}", percentiles(&mut samples));
        }
        Ok(())
    })();
    drop(rt);
    let _ = std::fs::remove_file(&path);
    result
}

fn child_writer(args: &Args) -> Result {
    let rt = Runtime::open(args.path.as_ref().ok_or("--path")?)?;
    let mut writer = rt.writer()?;
    writer.publish_bytes(0, b"one")?;
    println!("ready");
    // Killed long before.
    std::thread::sleep(Duration::from_secs(60));
    Err("not killed within 60 s".into())
}

/// A thread's CPU affinity.
#[cfg(target_os = "linux")]
struct Affinity(libc::cpu_set_t);

#[cfg(target_os = "linux")]
impl Affinity {
    /// The calling thread's.
    fn get() -> Option<Affinity> {
        // SAFETY: a zeroed cpu_set_t is a valid (empty) set, and
        // sched_getaffinity writes at most `size_of::<cpu_set_t>()` bytes.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above; `set` outlives the call.
        let ok = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } == 0;
        ok.then_some(Affinity(set))
    }

    /// Only `cpu`.
    fn only(cpu: usize) -> Affinity {
        // SAFETY: a zeroed cpu_set_t is a valid (empty) set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        if cpu < libc::CPU_SETSIZE as usize {
            // SAFETY: `cpu` is within the set's bits.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        Affinity(set)
    }

    /// The CPUs in the set.
    fn cpus(&self) -> Vec<usize> {
        // SAFETY: every `c` is within the set's bits.
        (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &self.0) }).collect()
    }

    /// Makes it the calling thread's (a failure leaves the thread as it was).
    fn set(&self) {
        // SAFETY: sched_setaffinity reads `size_of::<cpu_set_t>()` bytes of
        // a valid set.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.0) };
    }
}

/// Elsewhere threads are not pinned (and the rate comparison says so).
#[cfg(not(target_os = "linux"))]
struct Affinity;

#[cfg(not(target_os = "linux"))]
impl Affinity {
    fn get() -> Option<Affinity> {
        None
    }

    fn only(_cpu: usize) -> Affinity {
        Affinity
    }

    fn cpus(&self) -> Vec<usize> {
        Vec::new()
    }

    fn set(&self) {}
}
