//! `callgrind`: instructions per event, counted by valgrind's callgrind, for
//! the same single-threaded workload on each system: publish one 64-byte
//! event (or a batch of 32), then read it (them) back on the same thread,
//! filling and checksumming the payload as the `fanout` readers do.
//!
//! Wall time on a shared 2-core machine is noisy; instruction counts are
//! not. Each workload runs twice under callgrind, with `SHORT` and `LONG`
//! events; the difference of the totals over the difference of the counts is
//! the cost of one event with setup and teardown cancelled out.
//!
//! * `cargo bench -p slotcast-benches --bench callgrind`: runs every workload under
//!   `valgrind --tool=callgrind` (skipped, with a note, if valgrind is not
//!   installed) and writes `slotcast-extra/callgrind.json` under criterion's
//!   directory, which `BENCHMARKS.md` reads.
//! * `cargo test --release -p slotcast-benches --benches`: runs every
//!   workload natively, once, and checks each event arrived intact.
//! * `callgrind-<hash> --workload NAME EVENTS`: one workload, for a manual
//!   `valgrind --tool=callgrind` or `callgrind_annotate` session.

// Harness and peers use std's atomics and `Arc`, which `clippy.toml`
// reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use common::{Payload, Tally, fill, spsc};
use disruptor::{BusySpin, Polling, Producer};
use slotcast::{Runtime, SizeClass, WaitStrategy};
use std::process::Command;

const SHORT: u64 = 20_000;
const LONG: u64 = 220_000;

/// `(name, batch, what)`.
const WORKLOADS: [(&str, usize, &str); 10] = [
    ("slotcast", 1, "publish_with one event, try_read it"),
    ("slotcast_pod", 1, "as slotcast, reading through as_pod::<[u8; 64]>() (a length the compiler knows)"),
    ("disruptor", 1, "publish one event, poll it (EventPoller)"),
    ("spsc_ring", 1, "push one event, pop it"),
    ("slotcast_batch32", 32, "32 publish_with with a deferred cursor store, one try_read"),
    ("disruptor_batch32", 32, "batch_publish 32, one poll"),
    ("spsc_ring_batch32", 32, "push 32 with one store, pop them"),
    ("slotcast_alloc", 1, "Allocator::try_alloc_with 256 B, fill, read, drop the RingPtr"),
    ("box_alloc", 1, "Box<[u8; 256]>, fill, read, drop"),
    ("arc_alloc", 1, "Arc<[u8]> of 256 B, fill, read, drop"),
];

/// Payload of a workload's events.
fn payload(name: &str) -> Payload {
    if name.ends_with("_alloc") { Payload::Fixed(256) } else { Payload::Fixed(64) }
}

/// Runs workload `name` for `events` events and returns the reader's tally.
/// Each workload is its own non-inlined function, so that changing one does
/// not change the code generated for another.
fn run(name: &str, events: u64) -> Tally {
    let (_, batch, _) = *WORKLOADS.iter().find(|w| w.0 == name).unwrap_or_else(|| panic!("no workload {name:?}"));
    assert_eq!(events % batch as u64, 0, "events must be a multiple of the batch");
    match name {
        "slotcast" => slotcast_one(events, false),
        "slotcast_pod" => slotcast_one(events, true),
        "slotcast_batch32" => slotcast_batch(events, batch),
        "disruptor" => disruptor_one(events),
        "disruptor_batch32" => disruptor_batch(events, batch),
        "spsc_ring" | "spsc_ring_batch32" => spsc_ring(events, batch),
        "slotcast_alloc" => slotcast_alloc(events),
        "box_alloc" => box_alloc(events),
        "arc_alloc" => arc_alloc(events),
        _ => unreachable!(),
    }
}

fn slotcast_runtime() -> Runtime {
    Runtime::builder()
        .ring_capacity(common::CAP)
        .max_readers(1)
        .wait_strategy(WaitStrategy::Yield)
        .build()
        .expect("build the runtime")
}

#[inline(never)]
fn slotcast_one(events: u64, pod: bool) -> Tally {
    let mut tally = Tally::new();
    let rt = slotcast_runtime();
    let mut reader = rt.reader().expect("join");
    let mut writer = rt.writer().expect("the writer");
    for seq in 0..events {
        writer
            .publish_with(SizeClass::XS, 0, |ev| {
                fill(seq, &mut ev[..64]);
                64
            })
            .expect("the class has slots");
        if pod {
            reader.try_read(|ev, _| tally.see(ev.as_pod::<[u8; 64]>().expect("64 bytes"))).expect("a sound runtime");
        } else {
            reader.try_read(|ev, _| tally.see(ev.data())).expect("a sound runtime");
        }
    }
    tally
}

#[inline(never)]
fn slotcast_batch(events: u64, batch: usize) -> Tally {
    let mut tally = Tally::new();
    let rt = slotcast_runtime();
    let mut reader = rt.reader().expect("join");
    let mut writer = rt.writer().expect("the writer");
    // One cursor store per batch: at the batch's last event, or at the flush.
    writer.set_flush_every(u32::try_from(batch).expect("a small batch"));
    for first in (0..events).step_by(batch) {
        for seq in first..first + batch as u64 {
            writer
                .publish_with(SizeClass::XS, 0, |ev| {
                    fill(seq, &mut ev[..64]);
                    64
                })
                .expect("the class has slots");
        }
        writer.flush();
        reader.try_read(|ev, _| tally.see(ev.data())).expect("a sound runtime");
    }
    tally
}

#[repr(C, align(64))]
struct Event([u8; 64]);

#[inline(never)]
fn disruptor_one(events: u64) -> Tally {
    let mut tally = Tally::new();
    let builder = disruptor::build_single_producer(common::CAP, || Event([0; 64]), BusySpin);
    let (mut poller, builder) = builder.new_event_poller();
    let mut producer = builder.build();
    for seq in 0..events {
        producer.publish(|e| fill(seq, &mut e.0));
        match poller.poll() {
            Ok(mut guard) => {
                for e in &mut guard {
                    tally.see(&e.0);
                }
            }
            Err(Polling::NoEvents | Polling::Shutdown) => unreachable!("just published"),
        }
    }
    tally
}

#[inline(never)]
fn disruptor_batch(events: u64, batch: usize) -> Tally {
    let mut tally = Tally::new();
    let builder = disruptor::build_single_producer(common::CAP, || Event([0; 64]), BusySpin);
    let (mut poller, builder) = builder.new_event_poller();
    let mut producer = builder.build();
    for first in (0..events).step_by(batch) {
        producer.batch_publish(batch, |iter| {
            for (i, e) in iter.enumerate() {
                fill(first + i as u64, &mut e.0);
            }
        });
        match poller.poll() {
            Ok(mut guard) => {
                for e in &mut guard {
                    tally.see(&e.0);
                }
            }
            Err(Polling::NoEvents | Polling::Shutdown) => unreachable!("just published"),
        }
    }
    tally
}

#[inline(never)]
fn spsc_ring(events: u64, batch: usize) -> Tally {
    let mut tally = Tally::new();
    let (mut producer, mut consumer) = spsc::ring(common::CAP);
    for first in (0..events).step_by(batch) {
        assert!(producer.try_push(batch, |i, slot| fill(first + i as u64, slot)));
        consumer.pop(|slot| tally.see(slot));
    }
    tally
}

#[inline(never)]
fn slotcast_alloc(events: u64) -> Tally {
    let mut tally = Tally::new();
    let rt = Runtime::new().expect("build the runtime");
    let allocator = rt.allocator();
    for seq in 0..events {
        let ptr = allocator
            .try_alloc_with(SizeClass::S, 1, |buf| {
                fill(seq, &mut buf[..256]);
                256
            })
            .expect("a free slot");
        tally.see(&ptr);
    }
    tally
}

#[inline(never)]
fn box_alloc(events: u64) -> Tally {
    let mut tally = Tally::new();
    for seq in 0..events {
        let mut boxed = Box::new([0u8; 256]);
        fill(seq, &mut boxed[..]);
        tally.see(std::hint::black_box(&boxed[..]));
    }
    tally
}

#[inline(never)]
fn arc_alloc(events: u64) -> Tally {
    let mut tally = Tally::new();
    for seq in 0..events {
        let mut arc: std::sync::Arc<[u8]> = std::iter::repeat_n(0u8, 256).collect();
        fill(seq, std::sync::Arc::get_mut(&mut arc).expect("unique"));
        tally.see(std::hint::black_box(&arc[..]));
    }
    tally
}

/// Total instructions (`Ir`) of one run of `workload` under callgrind.
fn instructions(exe: &str, workload: &str, events: u64) -> Result<u64, String> {
    let out = std::env::temp_dir().join(format!("slotcast-callgrind-{}-{workload}-{events}.out", std::process::id()));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "-q"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .args([exe, "--workload", workload, &events.to_string()])
        .status()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    if !status.success() {
        return Err(format!("valgrind exited with {status}"));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no totals in the callgrind output".to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--workload") {
        let name = args.get(i + 1).expect("--workload NAME EVENTS");
        let events = args.get(i + 2).and_then(|n| n.parse().ok()).expect("--workload NAME EVENTS");
        let tally = run(name, events);
        tally.verify(name, payload(name), events);
        return;
    }
    if !common::benchmarking() {
        // `cargo test --benches`: check every workload, natively.
        for (name, batch, _) in WORKLOADS {
            let events = 64 * batch as u64;
            run(name, events).verify(name, payload(name), events);
            println!("callgrind workload {name}: ok");
        }
        return;
    }
    // Honour criterion's filter, as the other groups do.
    if !common::selected("callgrind") {
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("callgrind: valgrind is not installed; skipping instruction counts");
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let exe = exe.to_str().expect("a UTF-8 path");
    let mut rows = Vec::new();
    for (name, batch, what) in WORKLOADS {
        let short = instructions(exe, name, SHORT).unwrap_or_else(|e| panic!("{name}: {e}"));
        let long = instructions(exe, name, LONG).unwrap_or_else(|e| panic!("{name}: {e}"));
        let per_event = (long.saturating_sub(short)) as f64 / (LONG - SHORT) as f64;
        println!("callgrind/{name:<20} {per_event:>8.1} instructions per event ({what})");
        rows.push(format!(
            "    {{\"name\": \"{name}\", \"batch\": {batch}, \"instructions_per_event\": {per_event:.2}, \
             \"short_events\": {SHORT}, \"short_total\": {short}, \"long_events\": {LONG}, \"long_total\": {long}, \
             \"what\": \"{what}\"}}"
        ));
    }
    let version = Command::new("valgrind")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    common::write_extra(
        "callgrind",
        &format!("{{\n  \"valgrind\": \"{version}\",\n  \"workloads\": [\n{}\n  ]\n}}\n", rows.join(",\n")),
    );
}
