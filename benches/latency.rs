//! `latency`: one-way latency of a 64-byte event, as half a round trip: the
//! bench thread publishes event `n` on one channel, an echo thread reads it
//! and publishes `n` back on a second one, the bench thread reads that. Two
//! threads on 2 cores, so both spin (except `slotcast_blocking`).
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

use common::{Padded, fill, spsc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use disruptor::{BusySpin, Polling, Producer};
use hdrhistogram::Histogram;
use slotcast::{Runtime, SizeClass, WaitStrategy};
use std::hint::spin_loop;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Event type of the message that stops a slotcast echo thread.
const STOP: u32 = 1;

fn seq_of(data: &[u8]) -> u64 {
    u64::from_le_bytes(data[..8].try_into().expect("8 bytes"))
}

/// Times `round_trip(n)` for n = 0, 1, 2, ... and records half of each.
fn pingpong(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut round_trip: impl FnMut(u64)) {
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

fn slotcast(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, wait: WaitStrategy) {
    let build = || {
        Runtime::builder()
            .ring_capacity(64)
            .max_readers(1)
            .wait_strategy(wait)
            .slots(SizeClass::XS, 128)
            .build()
            .expect("build the runtime")
    };
    let (ping, pong) = (build(), build());
    let mut ping_reader = ping.reader().expect("join");
    let mut pong_reader = pong.reader().expect("join");
    let mut ping_writer = ping.writer().expect("the writer");
    let mut pong_writer = pong.writer().expect("the writer");
    let echo = std::thread::spawn(move || {
        let mut stop = false;
        while !stop {
            ping_reader
                .read(|ev, _| {
                    if ev.event_type() == STOP {
                        stop = true;
                        return;
                    }
                    let data = ev.data();
                    pong_writer
                        .publish_with(SizeClass::XS, 0, |out| {
                            out[..64].copy_from_slice(data);
                            64
                        })
                        .expect("the class has slots");
                })
                .expect("a sound runtime");
        }
    });
    pingpong(group, name, |seq| {
        ping_writer
            .publish_with(SizeClass::XS, 0, |ev| {
                fill(seq, &mut ev[..64]);
                64
            })
            .expect("the class has slots");
        let mut back = None;
        while back.is_none() {
            pong_reader.read(|ev, _| back = Some(seq_of(ev.data()))).expect("a sound runtime");
        }
        assert_eq!(back, Some(seq), "{name}: the echo is not the event sent");
    });
    ping_writer.publish_with(SizeClass::XS, STOP, |_| 0).expect("the class has slots");
    echo.join().expect("the echo thread panicked");
}

fn disruptor(group: &mut BenchmarkGroup<'_, WallTime>) {
    #[repr(C, align(64))]
    struct Event([u8; 64]);
    let (mut ping_poller, b) = disruptor::build_single_producer(64, || Event([0; 64]), BusySpin).new_event_poller();
    let mut ping_producer = b.build();
    let (mut pong_poller, b) = disruptor::build_single_producer(64, || Event([0; 64]), BusySpin).new_event_poller();
    let mut pong_producer = b.build();
    let echo = std::thread::spawn(move || {
        loop {
            match ping_poller.poll() {
                Ok(mut events) => {
                    for e in &mut events {
                        pong_producer.publish(|out| out.0 = e.0);
                    }
                }
                Err(Polling::NoEvents) => spin_loop(),
                Err(Polling::Shutdown) => return,
            }
        }
    });
    pingpong(group, "disruptor", |seq| {
        ping_producer.publish(|ev| fill(seq, &mut ev.0));
        let mut back = None;
        while back.is_none() {
            match pong_poller.poll() {
                Ok(mut events) => {
                    for e in &mut events {
                        back = Some(seq_of(&e.0));
                    }
                }
                Err(Polling::NoEvents) => spin_loop(),
                Err(Polling::Shutdown) => unreachable!("the echo thread owns the producer until we stop it"),
            }
        }
        assert_eq!(back, Some(seq), "disruptor: the echo is not the event sent");
    });
    drop(ping_producer);
    echo.join().expect("the echo thread panicked");
}

fn spsc_ring(group: &mut BenchmarkGroup<'_, WallTime>) {
    let (mut ping_tx, mut ping_rx) = spsc::ring(64);
    let (mut pong_tx, mut pong_rx) = spsc::ring(64);
    let stop = Arc::new(AtomicBool::new(false));
    let echo = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            // Relaxed: a stop flag; the join below synchronises.
            while !stop.load(Ordering::Relaxed) {
                let n = ping_rx.pop(|slot| {
                    while !pong_tx.try_push(1, |_, out| *out = *slot) {
                        spin_loop();
                    }
                });
                if n == 0 {
                    spin_loop();
                }
            }
        })
    };
    pingpong(group, "spsc_ring", |seq| {
        while !ping_tx.try_push(1, |_, slot| fill(seq, slot)) {
            spin_loop();
        }
        let mut back = None;
        while back.is_none() {
            if pong_rx.pop(|slot| back = Some(seq_of(slot))) == 0 {
                spin_loop();
            }
        }
        assert_eq!(back, Some(seq), "spsc_ring: the echo is not the event sent");
    });
    // Relaxed: pairs with nothing; the echo thread only needs to see it eventually.
    stop.store(true, Ordering::Relaxed);
    echo.join().expect("the echo thread panicked");
}

fn atomic_pingpong(group: &mut BenchmarkGroup<'_, WallTime>) {
    let ping = Arc::new(Padded(AtomicU64::new(0)));
    let pong = Arc::new(Padded(AtomicU64::new(0)));
    let echo = {
        let (ping, pong) = (Arc::clone(&ping), Arc::clone(&pong));
        std::thread::spawn(move || {
            let mut last = 0;
            loop {
                // Acquire: pairs with the bench thread's Release store of `ping`.
                let v = ping.load(Ordering::Acquire);
                if v == u64::MAX {
                    return;
                }
                if v == last {
                    spin_loop();
                    continue;
                }
                last = v;
                // Release: pairs with the bench thread's Acquire load of `pong`.
                pong.store(v, Ordering::Release);
            }
        })
    };
    pingpong(group, "atomic_pingpong", |seq| {
        // Release/Acquire: pair with the echo thread's load of `ping` and
        // store of `pong` (a bare ping-pong carries no data, but a real one would).
        ping.store(seq + 1, Ordering::Release);
        while pong.load(Ordering::Acquire) != seq + 1 {
            spin_loop();
        }
    });
    ping.store(u64::MAX, Ordering::Release);
    echo.join().expect("the echo thread panicked");
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
    slotcast(&mut group, "slotcast_spin", WaitStrategy::BusySpin);
    slotcast(&mut group, "slotcast_blocking", WaitStrategy::Blocking);
    disruptor(&mut group);
    spsc_ring(&mut group);
    atomic_pingpong(&mut group);
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
