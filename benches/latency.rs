//! `latency`: one-way latency of a 64-byte event, as half a round trip: the
//! bench thread publishes event `n` on one channel, an echo thread reads it
//! and publishes `n` back on a second one, the bench thread reads that. Two
//! threads on 2 cores, so both spin (except `slotcast_blocking`). The
//! pairs are `common::pingpong`'s, which the `targets` group runs too.
//!
//! | id | what |
//! |---|---|
//! | `slotcast_spin` | two runtimes, `WaitStrategy::BusySpin`, `publish_with` / `read` |
//! | `slotcast_blocking` | the same with `WaitStrategy::Blocking` (spin, yield, then futex) |
//! | `disruptor` | two disruptor 4 rings, `publish` / `EventPoller`, spinning polls |
//! | `spsc_ring` | two hand-written two-atomic rings, spinning |
//! | `atomic_pingpong` | two padded atomics and nothing else: the hardware floor |
//!
//! criterion times the round trips (its estimates are round-trip times);
//! every one-way sample also goes into an HDR histogram, whose p50, p99 and
//! p99.9 are written to `slotcast-extra/latency-<id>.json` under criterion's
//! directory. The bench also measures the CPU time a reader with nothing to
//! read uses over 1 s, with the blocking and the yielding strategy
//! (`slotcast-extra/idle_cpu.json`).

// Harness and peers use std's atomics, `Arc` and `spin_loop`, which
// `clippy.toml` reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use common::pingpong;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hdrhistogram::Histogram;
use slotcast::{Runtime, WaitStrategy};
use std::time::{Duration, Instant};

/// Times `round_trip(n)` for n = 0, 1, 2, ... and records half of each.
fn run(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut round_trip: impl FnMut(u64)) {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds");
    let mut seq = 0u64;
    group.bench_function(BenchmarkId::new(name, "64B"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                round_trip(seq);
                let rtt = start.elapsed();
                total += rtt;
                hist.saturating_record((rtt.as_nanos() / 2) as u64);
                seq += 1;
            }
            total
        })
    });
    if common::benchmarking() && !hist.is_empty() {
        let q = |p: f64| hist.value_at_quantile(p);
        common::write_extra(
            &format!("latency-{name}"),
            &format!(
                "{{\"id\": \"latency/{name}/64B\", \"unit\": \"ns one-way\", \"samples\": {}, \"p50\": {}, \"p90\": {}, \
                 \"p99\": {}, \"p999\": {}, \"max\": {}}}\n",
                hist.len(),
                q(0.5),
                q(0.9),
                q(0.99),
                q(0.999),
                hist.max()
            ),
        );
    }
}

/// CPU time of the calling thread, where the platform tells it.
fn thread_cpu() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Some(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// A reader with nothing to read for `idle`: the CPU time its thread used.
fn idle_reader_cpu(wait: WaitStrategy, idle: Duration) -> (Option<Duration>, Duration) {
    let rt = Runtime::builder().wait_strategy(wait).max_readers(1).build().expect("build the runtime");
    let mut reader = rt.reader().expect("join");
    let thread = std::thread::spawn(move || {
        let (cpu, wall) = (thread_cpu(), Instant::now());
        let n = reader.read(|_, _| {}).expect("a sound runtime");
        assert_eq!(n, 1);
        (thread_cpu().zip(cpu).map(|(after, before)| after - before), wall.elapsed())
    });
    std::thread::sleep(idle);
    rt.writer().expect("the writer").publish_bytes(0, b"wake up").expect("fits");
    thread.join().expect("the reader thread panicked")
}

fn idle_cpu() {
    let mut rows = Vec::new();
    for (name, wait) in [("blocking", WaitStrategy::Blocking), ("yield", WaitStrategy::Yield)] {
        let (cpu, wall) = idle_reader_cpu(wait, Duration::from_secs(1));
        let cpu_ns = cpu.map_or("null".to_string(), |c| c.as_nanos().to_string());
        println!("latency/idle_cpu/{name}: reader thread CPU {cpu:?} over {wall:?} idle");
        rows.push(format!("\"{name}\": {{\"cpu_ns\": {cpu_ns}, \"wall_ns\": {}}}", wall.as_nanos()));
    }
    common::write_extra("idle_cpu", &format!("{{{}}}\n", rows.join(", ")));
}

fn latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("latency");
    group.throughput(Throughput::Elements(1));
    let mut echo = pingpong::slotcast(WaitStrategy::BusySpin);
    run(&mut group, "slotcast_spin", |seq| echo.round_trip(seq));
    drop(echo);
    let mut echo = pingpong::slotcast(WaitStrategy::Blocking);
    run(&mut group, "slotcast_blocking", |seq| echo.round_trip(seq));
    drop(echo);
    let mut echo = pingpong::disruptor();
    run(&mut group, "disruptor", |seq| echo.round_trip(seq));
    drop(echo);
    let mut echo = pingpong::spsc_ring();
    run(&mut group, "spsc_ring", |seq| echo.round_trip(seq));
    drop(echo);
    let mut echo = pingpong::atomic();
    run(&mut group, "atomic_pingpong", |seq| echo.round_trip(seq));
    drop(echo);
    group.finish();
    // Not a criterion measurement (one 1-second observation); skipped when
    // testing, and when a filter excludes it.
    if common::benchmarking() && common::selected("latency/idle_cpu") {
        idle_cpu();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = latency
}
criterion_main!(benches);
