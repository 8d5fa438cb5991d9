//! `ipc`: one writer process, reader processes on the same machine, 256-byte
//! messages through a file under `/dev/shm`; every reader checksums every
//! message and the run fails if any is lost, reordered or corrupted.
//!
//! | id | what |
//! |---|---|
//! | `slotcast/256B/1p`, `/2p` | a shared runtime: the bench process publishes with `publish_with` in place, 1 or 2 reader processes read in place (`try_read`); `WaitStrategy::Yield` |
//! | `ipc_ring/256B/1p` | ipc_ring 0.2 (an SPSC byte ring in a mapped file): `try_push` copies in, `try_pop` copies out |
//! | `spsc_shm/256B/1p` | the two-atomic ring of fixed 256-byte slots in a mapped file: the hardware floor across processes |
//!
//! Each sample spawns the reader processes (this same executable, re-run
//! with `SLOTCAST_IPC_BENCH_ROLE` set), waits until they are ready, then
//! times the writer from its first message until every reader has reported
//! its last one. Every system waits with the common `Backoff` (spin, then
//! yield): with 2 readers, 3 processes share 2 cores. Capacity: 1024
//! messages in flight for every system.

// Harness and peers use std's atomics and `yield_now`, which `clippy.toml`
// reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use common::{Backoff, CAP, checksum, expected_checksum, fill};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use slotcast::{Runtime, SizeClass, WaitStrategy};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ROLE: &str = "SLOTCAST_IPC_BENCH_ROLE";
const LEN: usize = 256;

fn temp_path(tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    PathBuf::from(format!(
        "/dev/shm/slotcast-ipc-bench-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// What a reader process checks: messages `0..n` in order, each with the
/// checksum `fill` gives it.
struct Check {
    next: u64,
    errors: u64,
}

impl Check {
    fn see(&mut self, data: &[u8]) {
        let seq = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        if seq != self.next || data.len() != LEN || checksum(data) != expected_checksum(seq, LEN) {
            self.errors += 1;
        }
        self.next += 1;
    }
}

/// Reader processes of one sample.
struct Readers(Vec<(Child, std::io::Lines<BufReader<std::process::ChildStdout>>)>);

impl Readers {
    fn spawn(role: &str, path: &Path, n: u64, count: usize) -> Readers {
        let exe = std::env::current_exe().expect("the bench executable");
        Readers(
            (0..count)
                .map(|_| {
                    let mut child = Command::new(&exe)
                        .env(ROLE, role)
                        .env("SLOTCAST_IPC_BENCH_PATH", path)
                        .env("SLOTCAST_IPC_BENCH_N", n.to_string())
                        .stdout(Stdio::piped())
                        .spawn()
                        .expect("spawn a reader process");
                    let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
                    (child, lines)
                })
                .collect(),
        )
    }

    fn expect(&mut self, prefix: &str) -> Vec<String> {
        self.0
            .iter_mut()
            .map(|(_, lines)| {
                let line = lines.next().expect("a reader process exited early").expect("readable");
                assert!(line.starts_with(prefix), "expected {prefix}, got {line:?}");
                line
            })
            .collect()
    }

    /// Waits for every reader's report; panics on any error.
    fn finish(mut self) {
        for line in self.expect("DONE") {
            assert_eq!(line, "DONE 0", "a reader process saw lost, reordered or corrupted messages");
        }
        for (child, _) in &mut self.0 {
            assert!(child.wait().expect("wait").success());
        }
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            if !matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn slotcast_sample(readers: usize, n: u64) -> Duration {
    let path = temp_path("slotcast");
    let rt = Runtime::builder()
        .shared(&path)
        .ring_capacity(CAP)
        .slots(SizeClass::S, CAP)
        .max_readers(readers)
        .wait_strategy(WaitStrategy::Yield)
        .build()
        .expect("create the shared runtime");
    let mut procs = Readers::spawn("slotcast", &path, n, readers);
    procs.expect("READY");
    let mut w = rt.writer().expect("the writer role");
    let start = Instant::now();
    for seq in 0..n {
        w.publish_with(SizeClass::S, 0, |ev| {
            fill(seq, &mut ev[..LEN]);
            LEN
        })
        .expect("the class has slots");
    }
    procs.finish();
    start.elapsed()
}

fn slotcast_reader(path: &Path, n: u64) {
    let rt = Runtime::open(path).expect("open the shared runtime");
    let mut reader = rt.reader().expect("join");
    println!("READY");
    let mut check = Check { next: 0, errors: 0 };
    let mut backoff = Backoff::new();
    while check.next < n {
        match reader.try_read(|ev, _| check.see(ev.data())).expect("no corruption") {
            0 => backoff.snooze(),
            _ => backoff.reset(),
        }
    }
    println!("DONE {}", check.errors);
}

/// ipc_ring needs a power-of-two byte capacity: `CAP` messages of 256 bytes
/// plus its 4-byte headers.
const IPC_RING_BYTES: usize = (CAP * (LEN + 4)).next_power_of_two();

fn ipc_ring_sample(n: u64) -> Duration {
    let path = temp_path("ipc-ring");
    let mut ring = ipc_ring::RingWriter::create(&path, IPC_RING_BYTES).expect("create the ipc_ring file");
    let mut procs = Readers::spawn("ipc_ring", &path, n, 1);
    procs.expect("READY");
    let mut msg = [0u8; LEN];
    let mut backoff = Backoff::new();
    let start = Instant::now();
    for seq in 0..n {
        fill(seq, &mut msg);
        loop {
            match ring.try_push(&msg) {
                Ok(()) => break,
                Err(ipc_ring::IpcError::Full) => backoff.snooze(),
                Err(e) => panic!("ipc_ring push: {e}"),
            }
        }
        backoff.reset();
    }
    procs.finish();
    let elapsed = start.elapsed();
    let _ = std::fs::remove_file(&path);
    elapsed
}

fn ipc_ring_reader(path: &Path, n: u64) {
    let mut ring = ipc_ring::RingReader::open(path).expect("open the ipc_ring file");
    println!("READY");
    let mut check = Check { next: 0, errors: 0 };
    let mut buf = Vec::with_capacity(LEN);
    let mut backoff = Backoff::new();
    while check.next < n {
        match ring.try_pop(&mut buf).expect("pop") {
            Some(_) => {
                check.see(&buf);
                backoff.reset();
            }
            None => backoff.snooze(),
        }
    }
    println!("DONE {}", check.errors);
}

/// The two-atomic ring in a mapped file: `head` (written by the writer),
/// `tail` (written by the reader), each alone on its line, then `CAP` slots
/// of 256 bytes.
mod spsc_shm {
    use super::{CAP, LEN};
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};

    const LINE: usize = 128;
    pub(crate) const BYTES: usize = 2 * LINE + CAP * LEN;

    pub(crate) struct Ring {
        _map: memmap2::MmapRaw,
        base: *mut u8,
        /// The other side's counter, as last loaded.
        cached: u64,
        /// This side's counter.
        mine: u64,
    }

    impl Ring {
        pub(crate) fn create(path: &Path) -> Ring {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(path)
                .expect("create the ring file");
            file.set_len(BYTES as u64).expect("size the ring file");
            Self::map(&file)
        }

        pub(crate) fn open(path: &Path) -> Ring {
            let file = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("open the ring file");
            Self::map(&file)
        }

        fn map(file: &std::fs::File) -> Ring {
            let map = memmap2::MmapOptions::new().len(BYTES).map_raw(file).expect("map the ring file");
            let base = map.as_mut_ptr();
            Ring { _map: map, base, cached: 0, mine: 0 }
        }

        fn counter(&self, line: usize) -> &AtomicU64 {
            // SAFETY: offsets 0 and `LINE` are inside the `BYTES`-long mapping.
            let ptr = unsafe { self.base.add(line * LINE) };
            // SAFETY: the mapping is page-aligned and lives as long as `self`;
            // the counter there is 8-aligned and both processes only use it
            // atomically.
            unsafe { AtomicU64::from_ptr(ptr.cast()) }
        }

        fn slot(&self, seq: u64) -> *mut u8 {
            // SAFETY: `seq % CAP < CAP` slots of `LEN` bytes follow the two lines.
            unsafe { self.base.add(2 * LINE + (seq as usize % CAP) * LEN) }
        }

        /// Writer: the slot of the next message, or `None` if the ring is full.
        pub(crate) fn try_push(&mut self, msg: &[u8; LEN]) -> bool {
            if self.mine - self.cached == CAP as u64 {
                // ORDERING: Acquire; pairs with the reader's Release store of
                // `tail`: its reads of the slot happen before our overwrite.
                self.cached = self.counter(1).load(Ordering::Acquire);
                if self.mine - self.cached == CAP as u64 {
                    return false;
                }
            }
            // SAFETY: the reader is done with this slot (`tail` passed it) and
            // will not read it before `head` covers it.
            unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), self.slot(self.mine), LEN) };
            self.mine += 1;
            // ORDERING: Release; pairs with the reader's Acquire load of `head`.
            self.counter(0).store(self.mine, Ordering::Release);
            true
        }

        /// Reader: runs `f` on the next message, if any.
        pub(crate) fn try_pop(&mut self, f: impl FnOnce(&[u8])) -> bool {
            if self.mine == self.cached {
                // ORDERING: Acquire; pairs with the writer's Release store of `head`.
                self.cached = self.counter(0).load(Ordering::Acquire);
                if self.mine == self.cached {
                    return false;
                }
            }
            // SAFETY: `head` covers this slot, and the writer does not touch
            // it again before `tail` passes it.
            f(unsafe { std::slice::from_raw_parts(self.slot(self.mine), LEN) });
            self.mine += 1;
            // ORDERING: Release; pairs with the writer's Acquire load of `tail`.
            self.counter(1).store(self.mine, Ordering::Release);
            true
        }
    }
}

fn spsc_sample(n: u64) -> Duration {
    let path = temp_path("spsc");
    let mut ring = spsc_shm::Ring::create(&path);
    let mut procs = Readers::spawn("spsc_shm", &path, n, 1);
    procs.expect("READY");
    let mut msg = [0u8; LEN];
    let mut backoff = Backoff::new();
    let start = Instant::now();
    for seq in 0..n {
        fill(seq, &mut msg);
        while !ring.try_push(&msg) {
            backoff.snooze();
        }
        backoff.reset();
    }
    procs.finish();
    let elapsed = start.elapsed();
    let _ = std::fs::remove_file(&path);
    elapsed
}

fn spsc_reader(path: &Path, n: u64) {
    let mut ring = spsc_shm::Ring::open(path);
    println!("READY");
    let mut check = Check { next: 0, errors: 0 };
    let mut backoff = Backoff::new();
    while check.next < n {
        if ring.try_pop(|m| check.see(m)) {
            backoff.reset();
        } else {
            backoff.snooze();
        }
    }
    println!("DONE {}", check.errors);
}

fn ipc(c: &mut Criterion) {
    let mut group = c.benchmark_group("ipc");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).throughput(Throughput::Elements(1));
    for readers in [1, 2] {
        group.bench_function(BenchmarkId::new("slotcast", format!("256B/{readers}p")), |b| {
            b.iter_custom(|n| slotcast_sample(readers, n))
        });
    }
    group.bench_function(BenchmarkId::new("ipc_ring", "256B/1p"), |b| b.iter_custom(ipc_ring_sample));
    group.bench_function(BenchmarkId::new("spsc_shm", "256B/1p"), |b| b.iter_custom(spsc_sample));
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = ipc
}

fn main() {
    // A reader process of a sample: this executable, re-run by `Readers`.
    if let Ok(role) = std::env::var(ROLE) {
        let path = PathBuf::from(std::env::var("SLOTCAST_IPC_BENCH_PATH").expect("path"));
        let n: u64 = std::env::var("SLOTCAST_IPC_BENCH_N").expect("n").parse().expect("a count");
        match role.as_str() {
            "slotcast" => slotcast_reader(&path, n),
            "ipc_ring" => ipc_ring_reader(&path, n),
            "spsc_shm" => spsc_reader(&path, n),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
