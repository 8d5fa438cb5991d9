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
//! * `callgrind-<hash> --budget NAME EVENTS`: one budget workload (below).
//!
//! # The budget ("Where the nanoseconds go")
//!
//! The workloads above cost publish and read together. The budget workloads
//! separate the writer's share from each reader's, the way issue 12 measured
//! them: one thread publishes half a ring ([`ROUND`] = 512 events of 64 B,
//! ring [`CAP`](common::CAP) = 1024, copied in with `fill`), then drains it
//! through every reader (each checksums every byte into its own `Tally`),
//! and again, round after round. The writer's half is one
//! `#[inline(never)]` function (`budget_phase_writer_*`), the readers' half
//! another (`budget_phase_readers_*`), and each is counted alone with
//! `valgrind --tool=callgrind --toggle-collect='*budget_phase_writer*'` (or
//! `'*budget_phase_readers*'`): callgrind counts only while such a function
//! is on the stack. As above, a short and a long run are subtracted, so what
//! is constant (setup, the first round's cold start) cancels:
//! (LONG − SHORT) / (LONG events − SHORT events).
//!
//! Every budget run also passes `--collect-bus=yes`: callgrind's `Ge`
//! ("global bus events") counts the instructions that lock the bus, that is
//! on x86-64 every `lock`-prefixed read-modify-write and every `xchg` with
//! memory: the atomic read-modify-writes per event, measured, not read off
//! the code. A third run of the long size with `--collect-systime=nsec`
//! counts the system calls made inside the phase (`sysCount` inclusive of
//! the phase's function, summed by `callgrind_annotate`): a futex wake on
//! the writer's path would show there.
//!
//! # Publishing with no task waiting (issue 14)
//!
//! `slotcast_async_1r` is `slotcast_1r` with its reader read through the
//! async forms: each readers' phase drains the round with `read_async`,
//! then lets the reader's task wait for the next event (the future is
//! polled, finds nothing, counts itself in the header's `blocking` word
//! and lists its waker) and drops the wait. So every publish of the
//! writer's phase finds no task waiting, in a runtime where a task has
//! waited. Its writer's phase against `slotcast_1r`'s (and against
//! `slotcast_1r`'s at a commit before the async forms) is the cost of the
//! async forms to a writer nobody waits for: instructions, RMWs and system
//! calls per event. The `slotcast_async` workload is the one-event
//! publish-and-read loop with the reader reading through `read_async`.
//!
//! Systems: slotcast with `publish_with` one event per publish and in
//! batches of 32 (`set_flush_every(32)` + `flush`), readers with `try_read`;
//! disruptor 4 with `publish` and `batch_publish(32)`, readers with
//! `EventPoller::poll`. 1 reader and 4 readers, so that "per extra reader"
//! is (readers' phase with 4 − readers' phase with 1) / 3. "retain + drop"
//! is slotcast's readers' phase where each event is also `retain()`ed and
//! the `RingPtr` dropped, minus the plain readers' phase. disruptor has no
//! retain (its user would copy the event or keep an `Arc`).
//!
//! # Cache lines per event
//!
//! Not measured (callgrind simulates one core): counted from the layout and
//! the code, in [`lines`], which is the one place to update when the layout
//! changes. The unit is the 64-byte hardware line. A "shared" line is one the
//! writer writes that a reader must then fetch from the writer's core. A line
//! that holds k events' worth of data (k descriptors) costs 1/k per event if
//! the reader reads it after the writer is done with it, but 1 per event if
//! the writer rewrites it for each neighbour while the reader keeps up (the
//! reader fetches it again after every write). `shared` is that worst case,
//! the usual one with one event per publish and an eager reader;
//! `shared_best` is the reader a line behind. Counted per case: 48 B and
//! 64 B (one line of payload), 64 B in batches of 32, and 4 KB, where the
//! payload's 64 lines dominate and the per-event overhead lines (slotcast's
//! descriptor and cursor, disruptor's cursor) weigh about 3%. Each row comes
//! with a one-line derivation ("how"), which the report prints.
//!
//! Also measured here, as context: the readers' phase reading through
//! `as_pod::<[u8; 64]>()` (`slotcast_pod_1r`), a length the compiler knows,
//! as disruptor's readers have: its difference to the `data()` readers is
//! what a length known only at run time costs the reader's loop.

// Harness and peers use std's atomics and `Arc`, which `clippy.toml`
// reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use common::{Payload, Tally, fill, spsc};
use disruptor::{BusySpin, Polling, Producer};
use serde_json::{Value, json};
use slotcast::{Reader, Runtime, SizeClass, WaitStrategy, Writer};
use std::collections::BTreeMap;
use std::process::Command;

const SHORT: u64 = 20_000;
const LONG: u64 = 220_000;

/// `(name, batch, what)`.
const WORKLOADS: [(&str, usize, &str); 11] = [
    ("slotcast", 1, "publish_with one event, try_read it"),
    (
        "slotcast_async",
        1,
        "as slotcast, the reader reading through read_async (polled once: the event is there, the task never waits)",
    ),
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
        "slotcast_async" => slotcast_async_one(events),
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

/// Polls `future` once with a waker that does nothing: what an executor's
/// first poll of it does, minus the executor.
fn poll_once<F: std::future::Future>(future: F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::pin!(future).poll(&mut cx)
}

/// As [`slotcast_one`], the reader reading through `read_async`: each
/// event is there at the first poll, so the task never waits.
#[inline(never)]
fn slotcast_async_one(events: u64) -> Tally {
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
        match poll_once(reader.read_async(|ev, _| tally.see(ev.data()))) {
            std::task::Poll::Ready(n) => assert_eq!(n.expect("a sound runtime"), 1),
            std::task::Poll::Pending => panic!("event {seq} published but the async read waits"),
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

/// The totals of one run of this executable under callgrind with `tool_args`
/// and `args`, by event name (`Ir`, and `Ge` with `--collect-bus=yes`).
fn callgrind(exe: &str, tool_args: &[&str], args: &[&str]) -> Result<BTreeMap<String, u64>, String> {
    let out = std::env::temp_dir().join(format!("slotcast-callgrind-{}-{}.out", std::process::id(), args.join("-")));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "-q"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .args(tool_args)
        .arg(exe)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    if !status.success() {
        return Err(format!("valgrind exited with {status}"));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    let events: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("events:"))
        .ok_or("no event names in the callgrind output")?
        .split_whitespace()
        .collect();
    let totals = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .ok_or("no totals in the callgrind output")?;
    // Events that never happened may be left off the end of the line.
    let mut found: BTreeMap<String, u64> = events.iter().map(|e| (e.to_string(), 0)).collect();
    for (name, v) in events.iter().zip(totals.split_whitespace()) {
        found.insert(name.to_string(), v.parse().map_err(|e| format!("bad total {v:?}: {e}"))?);
    }
    Ok(found)
}

/// Total instructions (`Ir`) of one run of `workload` under callgrind.
fn instructions(exe: &str, workload: &str, events: u64) -> Result<u64, String> {
    let totals = callgrind(exe, &[], &["--workload", workload, &events.to_string()])?;
    totals.get("Ir").copied().ok_or_else(|| "no Ir total".to_string())
}

/// Per event, `(LONG − SHORT) / (events difference)`, to two decimals.
fn per_event(short: u64, long: u64, short_events: u64, long_events: u64) -> f64 {
    let v = long.saturating_sub(short) as f64 / (long_events - short_events) as f64;
    (v * 100.0).round() / 100.0
}

/// One budget measurement: workload `b`, phase `phase` alone.
fn measure_budget(exe: &str, b: &Budget, phase: Phase) -> Value {
    let toggle = format!("--toggle-collect={}", phase.pattern());
    let (short_events, long_events) = (BUDGET_SHORT_ROUNDS * ROUND, BUDGET_LONG_ROUNDS * ROUND);
    let run = |events: u64| {
        callgrind(exe, &[&toggle, "--collect-bus=yes"], &["--budget", b.name, &events.to_string()])
            .unwrap_or_else(|e| panic!("budget {} {}: {e}", b.name, phase.name()))
    };
    let (short, long) = (run(short_events), run(long_events));
    let get = |t: &BTreeMap<String, u64>, k: &str| t.get(k).copied().unwrap_or(0);
    let instructions = per_event(get(&short, "Ir"), get(&long, "Ir"), short_events, long_events);
    // Atomics are rare outside retain (a gate recompute per ring or so): keep three decimals.
    let atomics = (get(&long, "Ge").saturating_sub(get(&short, "Ge")) as f64 / (long_events - short_events) as f64
        * 1000.0)
        .round()
        / 1000.0;
    let syscalls = phase_syscalls(exe, b, phase, long_events);
    println!(
        "callgrind/budget/{:<22} {:<8} {instructions:>8.1} instructions, {atomics:.3} atomic RMWs per event, {} \
         system calls in {long_events} events ({})",
        b.name,
        phase.name(),
        syscalls.as_ref().map_or_else(|e| format!("unknown ({e})"), u64::to_string),
        b.what
    );
    json!({
        "name": b.name, "system": b.system, "batch": b.batch, "readers": b.readers, "read": b.read.name(),
        "phase": phase.name(), "instructions_per_event": instructions, "atomics_per_event": atomics,
        "short_events": short_events, "short_total": get(&short, "Ir"), "short_atomics": get(&short, "Ge"),
        "long_events": long_events, "long_total": get(&long, "Ir"), "long_atomics": get(&long, "Ge"),
        "syscalls_in_long_run": syscalls.ok(),
        "what": b.what,
    })
}

/// System calls made inside phase `phase` of budget `b` over `events`
/// events (whole rounds): callgrind's `sysCount` (`--collect-systime`)
/// inclusive of the phase's function, as `callgrind_annotate` sums it.
/// callgrind counts system calls even where `--toggle-collect` has
/// collection off, so the run's total would count the other phase's too.
fn phase_syscalls(exe: &str, b: &Budget, phase: Phase, events: u64) -> Result<u64, String> {
    let out = std::env::temp_dir().join(format!("slotcast-callgrind-{}-sys-{}.out", std::process::id(), b.name));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "-q", "--collect-systime=nsec"])
        .arg(format!("--toggle-collect={}", phase.pattern()))
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(["--budget", b.name, &events.to_string()])
        .status()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    if !status.success() {
        return Err(format!("valgrind exited with {status}"));
    }
    let annotated = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--show=sysCount", "--threshold=100"])
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run callgrind_annotate: {e}"));
    let _ = std::fs::remove_file(&out);
    let text = String::from_utf8_lossy(&annotated?.stdout).into_owned();
    // Lines `COUNT (PERCENT)  file:function`, `.` for none; the phase's
    // function may be listed once per source file inlined into it.
    let name = format!("budget_phase_{}", phase.name());
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.contains(&name))
        .filter_map(|l| l.split_whitespace().next())
        .map(|c| if c == "." { Some(0) } else { c.replace(',', "").parse().ok() })
        .collect::<Option<_>>()
        .ok_or_else(|| format!("an unreadable count for {name} in callgrind_annotate's output"))?;
    counts.into_iter().max().ok_or_else(|| format!("{name} not in callgrind_annotate's output"))
}

/// The repository's commit, the last commit that changed the library's
/// sources (`src/`, `Cargo.toml`), and whether they differ from it now.
fn commit() -> (String, String, bool) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "HEAD"]).unwrap_or_default();
    let library = git(&["log", "-1", "--format=%H", "--", "src", "Cargo.toml"]).unwrap_or_default();
    let dirty = git(&["status", "--porcelain", "--", "src", "Cargo.toml"]).is_some_and(|s| !s.is_empty());
    (head, library, dirty)
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
    if let Some(i) = args.iter().position(|a| a == "--budget") {
        let b = budget(args.get(i + 1).expect("--budget NAME EVENTS"));
        let events = args.get(i + 2).and_then(|n| n.parse().ok()).expect("--budget NAME EVENTS");
        for (r, tally) in run_budget(b, events).iter().enumerate() {
            tally.verify(&format!("{} reader {r}", b.name), Payload::Fixed(64), events);
        }
        return;
    }
    if !common::benchmarking() {
        // `cargo test --benches`: check every workload, natively.
        for (name, batch, _) in WORKLOADS {
            let events = 64 * batch as u64;
            run(name, events).verify(name, payload(name), events);
            println!("callgrind workload {name}: ok");
        }
        for b in &BUDGETS {
            let events = 3 * ROUND;
            let tallies = run_budget(b, events);
            assert_eq!(tallies.len(), b.readers, "{}: one tally per reader", b.name);
            for (r, tally) in tallies.iter().enumerate() {
                tally.verify(&format!("{} reader {r}", b.name), Payload::Fixed(64), events);
            }
            println!("callgrind budget {}: ok", b.name);
        }
        for row in lines::rows() {
            let (shared, best) = (row["shared"].as_f64(), row["shared_best"].as_f64());
            assert!(shared.zip(best).is_some_and(|(s, b)| b >= 0.0 && b <= s), "lines: worst below best in {row}");
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
        let per_event = per_event(short, long, SHORT, LONG);
        println!("callgrind/{name:<20} {per_event:>8.1} instructions per event ({what})");
        rows.push(json!({
            "name": name, "batch": batch, "instructions_per_event": per_event,
            "short_events": SHORT, "short_total": short, "long_events": LONG, "long_total": long,
            "what": what,
        }));
    }
    let mut phases = Vec::new();
    for b in &BUDGETS {
        for &phase in b.phases {
            phases.push(measure_budget(exe, b, phase));
        }
    }
    let version = Command::new("valgrind")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let (commit, src_commit, src_modified) = commit();
    let doc = json!({
        "valgrind": version,
        "workloads": rows,
        "budget": {
            "commit": commit,
            "src_commit": src_commit,
            "src_modified": src_modified,
            "payload": 64,
            "ring": common::CAP,
            "events_per_round": ROUND,
            "method": format!(
                "one thread publishes {ROUND} events of 64 B (ring {}), then each reader drains them, round after \
                 round; each phase counted alone (callgrind --toggle-collect on its function, --collect-bus=yes for \
                 atomic RMWs), (LONG - SHORT) / {} events",
                common::CAP,
                (BUDGET_LONG_ROUNDS - BUDGET_SHORT_ROUNDS) * ROUND
            ),
            "phases": phases,
            "lines": lines::rows(),
            "lines_unit": lines::HW_LINE,
            "lines_note": lines::NOTE,
        },
    });
    common::write_extra("callgrind", &format!("{}\n", serde_json::to_string_pretty(&doc).expect("JSON")));
}

// --- the budget: the writer's share and each reader's ------------------------

/// Events per round of a budget workload: half the ring.
const ROUND: u64 = (common::CAP / 2) as u64;

/// Rounds of the short and the long run of each budget workload.
const BUDGET_SHORT_ROUNDS: u64 = 40;
const BUDGET_LONG_ROUNDS: u64 = 440;

/// One budget workload.
struct Budget {
    name: &'static str,
    system: &'static str,
    /// Events per cursor store of the writer (1 or 32).
    batch: usize,
    readers: usize,
    /// How slotcast's readers read (disruptor's: `Read::Data`).
    read: Read,
    /// Which phases to count (the readers' phase does not depend on the
    /// writer's batch, the writer's barely on the number of readers).
    phases: &'static [Phase],
    what: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Writer,
    Readers,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Writer => "writer",
            Phase::Readers => "readers",
        }
    }

    /// callgrind's `--toggle-collect` pattern: the phase's functions (their
    /// names start so; callgrind matches demangled names).
    fn pattern(self) -> &'static str {
        match self {
            Phase::Writer => "*budget_phase_writer*",
            Phase::Readers => "*budget_phase_readers*",
        }
    }
}

const BOTH: &[Phase] = &[Phase::Writer, Phase::Readers];

/// How a slotcast reader reads each event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Read {
    /// `ev.data()`: a slice of the event's length, as the fan-out readers do.
    Data,
    /// `ev.as_pod::<[u8; 64]>()`: a length the compiler knows, as
    /// disruptor's readers have (its events are one type).
    Pod,
    /// `ev.data()`, then `ev.retain()` and the `RingPtr` dropped.
    Retain,
    /// `ev.data()` through `read_async`, then a wait that finds nothing
    /// (pending: counted in `blocking`, its waker listed) and is dropped.
    Async,
}

impl Read {
    fn name(self) -> &'static str {
        match self {
            Read::Data => "data",
            Read::Pod => "pod",
            Read::Retain => "retain",
            Read::Async => "async",
        }
    }
}

const BUDGETS: [Budget; 9] = [
    Budget {
        name: "slotcast_1r",
        system: "slotcast",
        batch: 1,
        readers: 1,
        read: Read::Data,
        phases: BOTH,
        what: "publish_with one event per publish; 1 reader, try_read",
    },
    Budget {
        name: "slotcast_async_1r",
        system: "slotcast",
        batch: 1,
        readers: 1,
        read: Read::Async,
        phases: BOTH,
        what: "as slotcast_1r, the reader reads through read_async, then waits (pending) and drops the wait: a reader \
               of the async forms, no task waiting at any publish",
    },
    Budget {
        name: "slotcast_4r",
        system: "slotcast",
        batch: 1,
        readers: 4,
        read: Read::Data,
        phases: BOTH,
        what: "publish_with one event per publish; 4 readers, try_read",
    },
    Budget {
        name: "slotcast_batch32_1r",
        system: "slotcast",
        batch: 32,
        readers: 1,
        read: Read::Data,
        phases: &[Phase::Writer],
        what: "publish_with, set_flush_every(32) + flush per 32; 1 reader",
    },
    Budget {
        name: "slotcast_retain_1r",
        system: "slotcast",
        batch: 1,
        readers: 1,
        read: Read::Retain,
        phases: &[Phase::Readers],
        what: "as slotcast_1r, the reader also retain()s each event and drops the RingPtr",
    },
    Budget {
        name: "slotcast_pod_1r",
        system: "slotcast",
        batch: 1,
        readers: 1,
        read: Read::Pod,
        phases: &[Phase::Readers],
        what: "as slotcast_1r, the reader reads as_pod::<[u8; 64]>() (a length the compiler knows)",
    },
    Budget {
        name: "disruptor_1r",
        system: "disruptor",
        batch: 1,
        readers: 1,
        read: Read::Data,
        phases: BOTH,
        what: "publish one event per publish; 1 EventPoller",
    },
    Budget {
        name: "disruptor_4r",
        system: "disruptor",
        batch: 1,
        readers: 4,
        read: Read::Data,
        phases: BOTH,
        what: "publish one event per publish; 4 EventPollers",
    },
    Budget {
        name: "disruptor_batch32_1r",
        system: "disruptor",
        batch: 32,
        readers: 1,
        read: Read::Data,
        phases: &[Phase::Writer],
        what: "batch_publish 32; 1 EventPoller",
    },
];

fn budget(name: &str) -> &'static Budget {
    BUDGETS.iter().find(|b| b.name == name).unwrap_or_else(|| panic!("no budget workload {name:?}"))
}

/// Runs budget workload `b` for `events` events (whole rounds); returns each
/// reader's tally.
fn run_budget(b: &Budget, events: u64) -> Vec<Tally> {
    assert_eq!(events % ROUND, 0, "events must be whole rounds of {ROUND}");
    match (b.system, b.batch) {
        ("slotcast", 1) => slotcast_budget::<1>(events, b.readers, b.read),
        ("slotcast", 32) => slotcast_budget::<32>(events, b.readers, b.read),
        ("disruptor", _) => disruptor_budget(events, b.batch, b.readers),
        _ => unreachable!("no such budget workload"),
    }
}

/// The fan-out bench's runtime shape: a ring of [`CAP`](common::CAP) and CAP XS slots (the XS events are
/// carried in the ring; the slots hold the retain workload's copies), no other class.
fn slotcast_budget<const BATCH: usize>(events: u64, readers: usize, read: Read) -> Vec<Tally> {
    let rt = Runtime::builder()
        .ring_capacity(common::CAP)
        .max_readers(readers)
        .wait_strategy(WaitStrategy::Yield)
        .slots(SizeClass::XS, common::CAP)
        .slots(SizeClass::S, 0)
        .slots(SizeClass::M, 0)
        .slots(SizeClass::L, 0)
        .slots(SizeClass::XL, 0)
        .build()
        .expect("build the runtime");
    let mut readers: Vec<Reader> = (0..readers).map(|_| rt.reader().expect("join")).collect();
    let mut tallies: Vec<Tally> = readers.iter().map(|_| Tally::new()).collect();
    let mut writer = rt.writer().expect("the writer");
    writer.set_flush_every(u32::try_from(BATCH).expect("a small batch"));
    for first in (0..events).step_by(ROUND as usize) {
        budget_phase_writer_slotcast::<BATCH>(&mut writer, first);
        match read {
            Read::Data => budget_phase_readers_slotcast(&mut readers, &mut tallies),
            Read::Pod => budget_phase_readers_slotcast_pod(&mut readers, &mut tallies),
            Read::Retain => budget_phase_readers_slotcast_retain(&mut readers, &mut tallies),
            Read::Async => budget_phase_readers_slotcast_async(&mut readers, &mut tallies),
        }
    }
    tallies
}

/// Publishes events `first..first + ROUND`, `BATCH` per cursor store.
#[inline(never)]
fn budget_phase_writer_slotcast<const BATCH: usize>(writer: &mut Writer, first: u64) {
    for start in (first..first + ROUND).step_by(BATCH) {
        for seq in start..start + BATCH as u64 {
            writer
                .publish_with(SizeClass::XS, 0, |ev| {
                    fill(seq, &mut ev[..64]);
                    64
                })
                .expect("the class has slots");
        }
        if BATCH > 1 {
            writer.flush();
        }
    }
}

/// Each reader in turn reads everything published.
#[inline(never)]
fn budget_phase_readers_slotcast(readers: &mut [Reader], tallies: &mut [Tally]) {
    for (reader, tally) in readers.iter_mut().zip(tallies.iter_mut()) {
        reader.try_read(|ev, _| tally.see(ev.data())).expect("a sound runtime");
    }
}

/// As [`budget_phase_readers_slotcast`], through `as_pod::<[u8; 64]>()`.
#[inline(never)]
fn budget_phase_readers_slotcast_pod(readers: &mut [Reader], tallies: &mut [Tally]) {
    for (reader, tally) in readers.iter_mut().zip(tallies.iter_mut()) {
        reader.try_read(|ev, _| tally.see(ev.as_pod::<[u8; 64]>().expect("64 bytes"))).expect("a sound runtime");
    }
}

/// As [`budget_phase_readers_slotcast`], and each event is also retained
/// (a `RingPtr`) and the pointer dropped.
#[inline(never)]
fn budget_phase_readers_slotcast_retain(readers: &mut [Reader], tallies: &mut [Tally]) {
    for (reader, tally) in readers.iter_mut().zip(tallies.iter_mut()) {
        reader
            .try_read(|ev, _| {
                tally.see(ev.data());
                drop(ev.retain().expect("the slot holds the event"));
            })
            .expect("a sound runtime");
    }
}

/// As [`budget_phase_readers_slotcast`], through `read_async`; then each
/// reader's task waits for the next event (the wait counts itself in the
/// header's `blocking` word and lists its waker) and drops the wait
/// (uncounted, unlisted): the writer's next phase publishes with no task
/// waiting, after the async wait has run its whole course.
#[inline(never)]
fn budget_phase_readers_slotcast_async(readers: &mut [Reader], tallies: &mut [Tally]) {
    for (reader, tally) in readers.iter_mut().zip(tallies.iter_mut()) {
        match poll_once(reader.read_async(|ev, _| tally.see(ev.data()))) {
            std::task::Poll::Ready(n) => assert_eq!(n.expect("a sound runtime"), ROUND as usize),
            std::task::Poll::Pending => panic!("a round published but the async read waits"),
        }
        assert!(poll_once(reader.read_async(|_, _| {})).is_pending(), "nothing left to read: the task waits");
    }
}

type Poller = disruptor::EventPoller<Event, disruptor::SingleProducerBarrier>;

fn disruptor_budget(events: u64, batch: usize, readers: usize) -> Vec<Tally> {
    let builder = disruptor::build_single_producer(common::CAP, || Event([0; 64]), BusySpin);
    let (first, builder) = builder.new_event_poller();
    let mut pollers = vec![first];
    // One poller and several have different producer types (the consumer
    // barrier is one cursor, or the minimum of several).
    if readers == 1 {
        disruptor_rounds(builder.build(), pollers, events, batch)
    } else {
        let (second, mut builder) = builder.new_event_poller();
        pollers.push(second);
        for _ in 2..readers {
            let (poller, b) = builder.new_event_poller();
            builder = b;
            pollers.push(poller);
        }
        disruptor_rounds(builder.build(), pollers, events, batch)
    }
}

fn disruptor_rounds<P: Producer<Event>>(
    mut producer: P,
    mut pollers: Vec<Poller>,
    events: u64,
    batch: usize,
) -> Vec<Tally> {
    let mut tallies: Vec<Tally> = pollers.iter().map(|_| Tally::new()).collect();
    for first in (0..events).step_by(ROUND as usize) {
        match batch {
            1 => budget_phase_writer_disruptor(&mut producer, first),
            32 => budget_phase_writer_disruptor_batch::<P, 32>(&mut producer, first),
            _ => unreachable!("batches of 1 or 32"),
        }
        budget_phase_readers_disruptor(&mut pollers, &mut tallies);
    }
    tallies
}

#[inline(never)]
fn budget_phase_writer_disruptor<P: Producer<Event>>(producer: &mut P, first: u64) {
    for seq in first..first + ROUND {
        producer.publish(|e| fill(seq, &mut e.0));
    }
}

#[inline(never)]
fn budget_phase_writer_disruptor_batch<P: Producer<Event>, const BATCH: usize>(producer: &mut P, first: u64) {
    for start in (first..first + ROUND).step_by(BATCH) {
        producer.batch_publish(BATCH, |iter| {
            for (i, e) in iter.enumerate() {
                fill(start + i as u64, &mut e.0);
            }
        });
    }
}

#[inline(never)]
fn budget_phase_readers_disruptor(pollers: &mut [Poller], tallies: &mut [Tally]) {
    for (poller, tally) in pollers.iter_mut().zip(tallies.iter_mut()) {
        match poller.poll() {
            Ok(mut guard) => {
                for e in &mut guard {
                    tally.see(&e.0);
                }
            }
            Err(Polling::NoEvents | Polling::Shutdown) => unreachable!("just published"),
        }
    }
}

// --- cache lines per event ------------------------------------------------------

/// Cache lines per event, counted from the layout and the code (see the
/// module docs). **This is the one place to update when slotcast's layout
/// or hot path changes**: the sizes below, and the "how" of each count.
/// Sizes that slotcast exports are taken from it; the rest are crate-private
/// and hard-coded here with where they come from.
mod lines {
    use serde_json::{Value, json};
    use slotcast::SizeClass;

    /// The hardware line: the unit a core fetches from another.
    pub(super) const HW_LINE: usize = 64;

    /// slotcast's ring entry (`layout::RING_ENTRY` in `src/layout.rs`):
    /// 128 B, aligned to 128, one per sequence: the `Descriptor` (`slot` and
    /// `header` words, 16 B, asserted there at compile time), then, for an
    /// XS event (up to 64 B), its payload (`layout::INLINE_OFFSET`). The
    /// writer stores both words per event (`WriterCore::commit`,
    /// `src/writer/core.rs`); readers load both (`decode`, `src/reader.rs`).
    const SLOTCAST_ENTRY: usize = 128;
    const SLOTCAST_DESCRIPTOR: usize = 16;

    /// slotcast's slot metadata word (`layout::meta`), one `u64` per slot,
    /// contiguous: for events of class S and up, the writer stores the
    /// generation bump at every reuse (`pool::try_reuse`); readers touch it
    /// only to retain (`fetch_add`) and the `RingPtr`'s drop (`fetch_sub`).
    const SLOTCAST_META: usize = 8;

    /// slotcast's slot header word (`layout`, "slot headers"), one `u64` per
    /// slot, contiguous: stored by `EventRef::retain` (`src/reader.rs`) and
    /// the allocator (`src/slot_alloc.rs`).
    const SLOTCAST_SLOT_HEADER: usize = 8;

    /// The writer's FIFO entry of an owned slot, `Owned { slot: u32,
    /// held_until: u64 }` (`src/writer/owned.rs`), 16 B with padding, in the
    /// writer's own heap memory: rewritten per pooled event (`rotate`).
    const SLOTCAST_FIFO_ENTRY: usize = 16;

    /// Lines of a `len`-byte payload in a line-aligned slot (slotcast's
    /// slots are 64-aligned; so is the bench's disruptor event).
    fn payload_lines(len: usize) -> usize {
        len.div_ceil(HW_LINE)
    }

    /// The rows: `(id, payload bytes, events per cursor store)`.
    pub(super) const CASES: [(&str, usize, usize); 4] =
        [("48B/1", 48, 1), ("64B/1", 64, 1), ("64B/32", 64, 32), ("4KB/1", 4096, 1)];

    /// "one store per event" or "one store per 32 events".
    fn per_store(batch: usize) -> String {
        if batch == 1 { "one store per event".into() } else { format!("one store per {batch} events") }
    }

    fn slotcast(id: &str, len: usize, batch: usize) -> Value {
        let class = SizeClass::for_len(len).expect("a class fits");
        let published = 1.0 / batch as f64;
        if class == SizeClass::XS {
            // In the ring entry: descriptor and payload from its start, on
            // lines no other sequence uses.
            let entry = (SLOTCAST_DESCRIPTOR + len).div_ceil(HW_LINE) as f64;
            let how = format!(
                "ring entry {entry} ({SLOTCAST_DESCRIPTOR} B descriptor + {len} B payload from the start of a \
                 {SLOTCAST_ENTRY} B entry of its own: no line holds two sequences) + published cursor {published} \
                 (own line, {store}); nothing writer-private",
                store = per_store(batch),
            );
            return json!({
                "id": id, "system": "slotcast", "payload": len, "batch": batch,
                "shared": entry + published, "shared_best": entry + published, "writer_private": 0.0,
                "how": how,
            });
        }
        // In a pool slot: its payload's lines, plus the entry's descriptor
        // line (its own, as above).
        let payload = payload_lines(len) as f64;
        let private = SLOTCAST_META as f64 / HW_LINE as f64 + SLOTCAST_FIFO_ENTRY as f64 / HW_LINE as f64;
        let how = format!(
            "payload {payload} ({len} B in a {capacity} B {class:?} slot, line-aligned) + descriptor 1 (the first \
             line of a {SLOTCAST_ENTRY} B ring entry of its own) + published cursor {published} (own line, {store}); \
             writer-private: the slot's metadata word ({SLOTCAST_META} B, generation bump at reuse) and the FIFO \
             entry ({SLOTCAST_FIFO_ENTRY} B, heap)",
            capacity = class.capacity(),
            store = per_store(batch),
        );
        json!({
            "id": id, "system": "slotcast", "payload": len, "batch": batch,
            "shared": payload + 1.0 + published,
            "shared_best": payload + 1.0 + published,
            "writer_private": private,
            "how": how,
        })
    }

    fn disruptor(id: &str, len: usize, batch: usize) -> Value {
        let payload = payload_lines(len) as f64;
        let published = 1.0 / batch as f64;
        let how = format!(
            "payload {payload} ({len} B in a 64-aligned event, in place: disruptor 4's `RingBuffer` is a \
             `Box<[UnsafeCell<E>]>` of the events themselves) + producer cursor {published} (`Cursor`, a \
             `CachePadded<AtomicI64>`, {}); nothing else per event",
            per_store(batch),
        );
        json!({
            "id": id, "system": "disruptor", "payload": len, "batch": batch,
            "shared": payload + published, "shared_best": payload + published, "writer_private": 0.0,
            "how": how,
        })
    }

    /// Every row, slotcast and disruptor, plus slotcast's retain.
    pub(super) fn rows() -> Vec<Value> {
        let mut rows = Vec::new();
        for (id, len, batch) in CASES {
            rows.push(slotcast(id, len, batch));
            rows.push(disruptor(id, len, batch));
        }
        rows.push(json!({
            "id": "retain", "system": "slotcast", "payload": 64, "batch": 1,
            "shared": 0.0, "shared_best": 0.0,
            "writer_private": 0.0,
            "how": format!(
                "lines retain + drop add per 64 B (XS) event, shared with the writer: none. The retain copies the \
                 event out of its ring entry into a free XS slot (`src/slot_alloc.rs`): the slot's payload line, its \
                 metadata word ({SLOTCAST_META} B, {} per line: claim CAS, then `fetch_sub` at the drop) and its \
                 header word ({SLOTCAST_SLOT_HEADER} B, {} per line), all the retaining reader's until the pointer \
                 moves to another thread. A retained event of class S and up adds its metadata and header words' \
                 lines, which the writer's store at reuse moves back (2)",
                HW_LINE / SLOTCAST_META,
                HW_LINE / SLOTCAST_SLOT_HEADER
            ),
        }));
        rows
    }

    /// What the rows leave out, the same for every case.
    pub(super) const NOTE: &str = "Lines the readers write and the writer reads: each reader's cursor (own line; \
        slotcast stores it once per `try_read` step, disruptor once per `poll`), which the writer loads only when \
        its cached gate runs out (slotcast: `recompute_gate`, at most once per 32 events when a reuse waits for it, \
        about once per ring when the readers keep up; disruptor: `next_sequences`, once per run of free slots). \
        Read-only shared lines (configuration, the ring's base pointers, slotcast's `wake` line loaded after each \
        cursor store) are fetched once and stay shared. At 4 KB the payload's 64 lines dominate both systems; \
        the descriptor and cursor lines add 1 to 2 lines (about 3%).";
}
