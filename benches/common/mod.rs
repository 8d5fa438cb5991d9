//! What every bench shares: the payload each system carries, the tally each
//! reader keeps (order, count and a checksum of every byte it read), the one
//! wait loop every system uses, the fan-out driver that times a burst until
//! the last reader has its last event ([`FanoutRun`]), and where extra
//! results are written. Submodules: the slotcast and disruptor fan-out
//! systems ([`systems`]), the two-thread ping-pong pairs ([`pingpong`]),
//! the hand-written ring ([`spsc`]) and what the peer channels carry
//! ([`msg`]), each used by more than one group.
//!
//! Fairness rules, the same for every system in a group:
//!
//! * The writer writes every payload byte (`fill`), and every reader reads
//!   every payload byte (`checksum`), so a zero-copy design cannot win by not
//!   touching the bytes, nor a copying one lose by touching them twice.
//! * Every wait, of a reader with nothing to read and of a writer facing a
//!   full ring, is [`Backoff`]: 64 spins, then `yield_now` per attempt. That is
//!   also what slotcast's `WaitStrategy::Yield` does, which its runtimes use
//!   here. The machine has 2 cores and a fan-out to 2 or 4 readers runs 3 to 5
//!   threads: busy-spinning would measure the scheduler. (Exception, named
//!   in its bench: `tokio_blocking` receives with tokio's own
//!   `blocking_recv`, which parks the thread.)
//! * Every system gets the same capacity: [`CAP`] events in flight.
//!
//! Harness code needs std's atomics, `Arc` and `yield_now`, which
//! `clippy.toml` reserves for `src/sync.rs` inside the library; each bench
//! crate allows them at its root.
#![allow(dead_code, unreachable_pub)]

pub mod msg;
pub mod pingpong;
pub mod spsc;
pub mod systems;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Events in flight for every system: ring capacity, channel bound, and
/// (for slotcast) slots of the class in use.
pub const CAP: usize = 1024;

/// Events published per criterion iteration. Each iteration ends when every
/// reader has seen the last one, so the fill-up and drain of the pipeline is
/// part of the measurement, amortised over this many events.
pub const BURST: u64 = 8192;
const _: () = assert!(BURST.is_power_of_two());

/// A value alone on its 128-byte line (two 64-byte lines: x86 prefetches
/// pairs), so threads polling neighbouring values do not share a line.
#[repr(align(128))]
pub struct Padded<T>(pub T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// How long the timing thread waits for the readers to finish a burst
/// before it declares the run broken.
const STALL: std::time::Duration = std::time::Duration::from_secs(60);

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Writes the payload of event `seq`: the sequence number in the first word,
/// then one word derived from it, repeated (a loop that vectorises: the
/// writer pays for touching every byte, not for computing them).
#[inline]
pub fn fill(seq: u64, buf: &mut [u8]) {
    let x = seq.wrapping_mul(K).to_le_bytes();
    let mut words = buf.chunks_exact_mut(8);
    if let Some(first) = words.next() {
        first.copy_from_slice(&seq.to_le_bytes());
    }
    for w in words {
        w.copy_from_slice(&x);
    }
}

/// Sum of the payload's 64-bit words: reads every byte, vectorises.
#[inline]
pub fn checksum(data: &[u8]) -> u64 {
    data.chunks_exact(8).fold(0u64, |s, w| s.wrapping_add(u64::from_le_bytes(w.try_into().expect("8 bytes"))))
}

/// `checksum` of what `fill(seq, len)` wrote, in closed form.
pub fn expected_checksum(seq: u64, len: usize) -> u64 {
    let words = (len / 8) as u64;
    seq.wrapping_add(words.saturating_sub(1).wrapping_mul(seq.wrapping_mul(K)))
}

/// The payload size of each event of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Every event this many bytes (a multiple of 8).
    Fixed(usize),
    /// 90% 64 B, 9% 1 KB, 1% 16 KB, in a fixed interleaving.
    Mixed,
}

impl Payload {
    /// Length of event `seq`.
    #[inline]
    pub fn len(self, seq: u64) -> usize {
        match self {
            Payload::Fixed(n) => n,
            Payload::Mixed => match seq % 100 {
                0 => 16 * 1024,
                1..=9 => 1024,
                _ => 64,
            },
        }
    }

    /// The largest event.
    pub fn max(self) -> usize {
        match self {
            Payload::Fixed(n) => n,
            Payload::Mixed => 16 * 1024,
        }
    }

    /// Label in benchmark ids: `64B`, `4KB`, `mixed`.
    pub fn label(self) -> String {
        match self {
            Payload::Fixed(n) if n >= 1024 && n % 1024 == 0 => format!("{}KB", n / 1024),
            Payload::Fixed(n) => format!("{n}B"),
            Payload::Mixed => "mixed".into(),
        }
    }
}

/// One fan-out scenario.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub payload: Payload,
    pub readers: usize,
    /// Events per publish (1: each event on its own; 32: the batch API).
    pub batch: usize,
}

impl Scenario {
    /// The benchmark id's parameter: `64B/2r`, `64B/1r/batch32`.
    pub fn param(&self) -> String {
        let batch = if self.batch > 1 { format!("/batch{}", self.batch) } else { String::new() };
        format!("{}/{}r{batch}", self.payload.label(), self.readers)
    }
}

/// The wait of every system in every bench: spin, then yield (see the
/// module docs).
pub struct Backoff {
    round: u32,
}

impl Backoff {
    const SPINS: u32 = 64;

    pub fn new() -> Self {
        Self { round: 0 }
    }

    #[inline]
    pub fn snooze(&mut self) {
        if self.round < Self::SPINS {
            std::hint::spin_loop();
            self.round += 1;
        } else {
            std::thread::yield_now();
        }
    }

    #[inline]
    pub fn reset(&mut self) {
        self.round = 0;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// What one reader saw: how many events, whether each carried the expected
/// sequence number, and the sum of the checksums of every payload.
pub struct Tally {
    /// Events seen (and the sequence number expected next).
    pub next: u64,
    pub sum: u64,
    /// Events out of order, lost or duplicated (or lagged, for tokio).
    pub errors: u64,
    progress: Arc<Padded<AtomicU64>>,
}

impl Tally {
    pub fn new() -> Self {
        Self::with_progress(Arc::new(Padded(AtomicU64::new(0))))
    }

    fn with_progress(progress: Arc<Padded<AtomicU64>>) -> Self {
        Self { next: 0, sum: 0, errors: 0, progress }
    }

    /// Reads one payload: checks its sequence number, checksums it, and at
    /// the end of every burst tells the timing thread (one store per burst).
    #[inline]
    pub fn see(&mut self, data: &[u8]) {
        let seq = data.get(..8).map_or(u64::MAX, |w| u64::from_le_bytes(w.try_into().expect("8 bytes")));
        self.errors += u64::from(seq != self.next);
        self.sum = self.sum.wrapping_add(checksum(data));
        self.next += 1;
        if self.next & (BURST - 1) == 0 {
            // Release: pairs with the timing thread's Acquire load in
            // `fanout`, which then sees this tally up to date.
            self.progress.store(self.next, Ordering::Release);
        }
    }

    /// Panics unless this reader saw exactly events `0..total`, in order,
    /// with the payloads `fill` wrote.
    pub fn verify(&self, what: &str, payload: Payload, total: u64) {
        assert_eq!(self.next, total, "{what}: saw {} events of {total}", self.next);
        assert_eq!(self.errors, 0, "{what}: {} events out of order, lost or lagged", self.errors);
        let expected = (0..total).fold(0u64, |s, seq| s.wrapping_add(expected_checksum(seq, payload.len(seq))));
        assert_eq!(self.sum, expected, "{what}: payload checksums differ");
    }
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

/// A reader thread's view of the run: whether to stop when idle.
#[derive(Clone)]
pub struct Ctx {
    stop: Arc<AtomicBool>,
}

impl Ctx {
    /// Called by a reader that found nothing to read: `false` once the run
    /// is over (every event has been read by then), otherwise waits a little.
    #[inline]
    pub fn idle(&self, backoff: &mut Backoff) -> bool {
        // Acquire: pairs with the Release store in `fanout` after the last burst.
        if self.stop.load(Ordering::Acquire) {
            return false;
        }
        backoff.snooze();
        true
    }
}

/// The body of one reader thread: reads until told to stop, returns its tally.
pub type ReaderFn = Box<dyn FnOnce(Tally, Ctx) -> Tally + Send>;

/// A fan-out system running: its reader threads started, its writer ready
/// to publish bursts. [`fanout`] lets criterion time it; the `targets`
/// group times fixed rounds of it with `Instant`.
pub struct FanoutRun<P> {
    system: String,
    sc: Scenario,
    stop: Arc<AtomicBool>,
    progress: Vec<Arc<Padded<AtomicU64>>>,
    threads: Vec<JoinHandle<Tally>>,
    publish: P,
    /// Events published so far (and the next sequence number).
    next: u64,
}

impl<P: FnMut(u64, u64)> FanoutRun<P> {
    /// Starts one thread per reader body; nothing is published yet.
    pub fn start(system: &str, sc: &Scenario, readers: Vec<ReaderFn>, publish: P) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mut progress = Vec::new();
        let threads = readers
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let tally = Tally::new();
                progress.push(Arc::clone(&tally.progress));
                let ctx = Ctx { stop: Arc::clone(&stop) };
                std::thread::Builder::new()
                    .name(format!("{system}-reader-{i}"))
                    .spawn(move || body(tally, ctx))
                    .expect("spawn a reader thread")
            })
            .collect();
        Self { system: system.into(), sc: *sc, stop, progress, threads, publish, next: 0 }
    }

    /// Publishes `bursts` bursts of [`BURST`] events, each followed by the
    /// wait until every reader has seen its last event; returns the time
    /// all of it took.
    pub fn bursts(&mut self, bursts: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..bursts {
            (self.publish)(self.next, BURST);
            self.next += BURST;
            let mut backoff = Backoff::new();
            let waiting = Instant::now();
            for (i, p) in self.progress.iter().enumerate() {
                let mut rounds = 0u32;
                // Acquire: pairs with the reader's Release store in `Tally::see`.
                while p.load(Ordering::Acquire) < self.next {
                    backoff.snooze();
                    rounds = rounds.wrapping_add(1);
                    // A reader that lost an event never reaches the end
                    // of the burst: fail loudly instead of hanging.
                    if rounds % 4096 == 0 && waiting.elapsed() > STALL {
                        panic!("{} {}: reader {i} stalled before event {}", self.system, self.sc.param(), self.next);
                    }
                }
            }
        }
        start.elapsed()
    }

    /// Stops the readers and checks that each saw every event published, in
    /// order, intact; returns how many events that was.
    ///
    /// `publish` is dropped before the readers are told to stop, so systems
    /// that signal the end by disconnecting (channels, disruptor) see it.
    pub fn finish(self) -> u64 {
        let Self { system, sc, stop, threads, publish, next, .. } = self;
        drop(publish);
        // Release: pairs with the readers' Acquire load in `Ctx::idle`.
        stop.store(true, Ordering::Release);
        for (i, t) in threads.into_iter().enumerate() {
            let tally = t.join().expect("a reader thread panicked");
            tally.verify(&format!("{system} {} reader {i}", sc.param()), sc.payload, next);
        }
        next
    }
}

/// Runs one fan-out benchmark: starts the reader threads, then lets
/// criterion time `publish(first_seq, BURST)` plus the wait until every
/// reader has seen the burst's last event (`iter_custom`), then stops the
/// readers and checks that each saw every event published, in order, intact
/// ([`FanoutRun`]).
pub fn fanout<P>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    system: &str,
    sc: &Scenario,
    readers: Vec<ReaderFn>,
    publish: P,
) where
    P: FnMut(u64, u64),
{
    let mut run = FanoutRun::start(system, sc, readers, publish);
    group.throughput(criterion::Throughput::Elements(BURST));
    group.bench_function(criterion::BenchmarkId::new(system, sc.param()), |b| b.iter_custom(|iters| run.bursts(iters)));
    run.finish();
}

/// The criterion settings of every group: short enough that `cargo bench`
/// runs the whole matrix in minutes; the command line (`--warm-up-time`,
/// `--measurement-time`, `--sample-size`) overrides them.
pub fn config() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(20)
}

/// Whether criterion runs for real (`cargo bench` passes `--bench`) rather
/// than once per benchmark as a test (`cargo test --benches`).
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// criterion's positional filter argument, if any (options that take a
/// value are skipped with their value).
pub fn criterion_filter() -> Option<String> {
    const WITH_VALUE: [&str; 14] = [
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--profile-time",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--nresamples",
        "--output-format",
        "--color",
    ];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            args.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// Whether a measurement outside criterion named `id` passes criterion's
/// filter (a substring test: the filter is usually a plain id prefix).
pub fn selected(id: &str) -> bool {
    criterion_filter().is_none_or(|f| id.contains(f.as_str()))
}

/// Where criterion writes (`$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `target/criterion` of the workspace),
/// and below it `slotcast-extra/`, where the benches write what criterion
/// does not measure (latency percentiles, idle CPU, instruction counts).
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from);
    target.join("criterion")
}

/// The repository root: the workspace of which this package (`benches/`)
/// is a member, where Cargo puts `target/`.
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or_else(|| manifest.clone(), PathBuf::from)
}

/// Writes `json` to `slotcast-extra/<name>.json` under [`criterion_home`].
pub fn write_extra(name: &str, json: &str) {
    let dir = criterion_home().join("slotcast-extra");
    std::fs::create_dir_all(&dir).expect("create the extra results directory");
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json).expect("write an extra result");
}

/// The median of `values` (NaN if there are none): the figure of a set of
/// interleaved rounds.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
