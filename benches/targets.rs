//! `targets`: the timed targets of issue 12 as same-run ratios. Absolute
//! rates on a shared 2-core machine swing several-fold between runs, so a
//! ratio of two figures measured minutes apart says little. Here each target
//! runs its two systems alternately, slotcast then the peer, for [`ROUNDS`]
//! rounds; each round is a fixed amount of work timed with `Instant`, on a
//! system built for that round and torn down after it. The ratio of each
//! round's pair, and the median of those ratios, go to
//! `slotcast-extra/targets.json` under criterion's directory.
//!
//! | target | slotcast | peer | needed |
//! |---|---|---|---|
//! | fan-out 64 B, 1 and 2 readers, one event per publish | `common::systems::slotcast` | `disruptor` | ≥ 1.0× the peer's events/s |
//! | fan-out 64 B, 1 and 2 readers, batches of 32 | `set_flush_every(32)` | `disruptor` `batch_publish` | ≥ 1.0× |
//! | fan-out 4 KB, 1 and 2 readers | | `disruptor` | ≥ 1.0× |
//! | one-way latency p50, 64 B | `common::pingpong::slotcast`, `BusySpin` | `disruptor` | ≤ 1.1× the peer's p50 |
//! | one-way latency p50, 64 B | | the bare atomic ping-pong | ≤ 1.5× |
//!
//! The fan-out rounds are the `fanout` group's code (`common::systems`,
//! `common::FanoutRun`): both sides wait with the common backoff (spin, then
//! yield), and every reader's count, order and payload checksums are
//! verified at the end of every round. The latency rounds are the `latency`
//! group's pairs (`common::pingpong`), spinning on both threads; every echo
//! is checked. Run alone as `cargo bench -p slotcast-benches --bench
//! targets` (a filter such as `targets/latency` selects targets);
//! criterion's timing options do not apply. Under `cargo test --benches` it
//! runs one tiny round of each and writes nothing.

// Harness and peers use std's atomics, `Arc` and `yield_now`, which
// `clippy.toml` reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use common::{BURST, Payload, Scenario, median, pingpong, systems};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use slotcast::WaitStrategy;
use std::time::Instant;

/// Rounds per target, each running both systems once.
const ROUNDS: usize = 5;

/// Bursts of [`BURST`] events run, untimed, before a fan-out round's timed
/// bursts: thread start-up and the first touch of every slot stay out of
/// the figure.
const WARM_UP_BURSTS: u64 = 4;

/// Round trips run, untimed, before a latency round's timed ones.
const WARM_UP_TRIPS: u64 = 20_000;

/// One fan-out target: the scenario and the timed bursts per round.
struct FanoutTarget {
    sc: Scenario,
    bursts: u64,
}

fn fanout_targets() -> Vec<FanoutTarget> {
    let s = |payload, readers, batch| Scenario { payload, readers, batch };
    let (b64, b4k) = (Payload::Fixed(64), Payload::Fixed(4096));
    // About 0.1 to 0.4 s per system and round on a quiet machine (the whole
    // group: about half a minute; several times that when other work
    // competes for the cores), many times the scheduler's time slice.
    vec![
        FanoutTarget { sc: s(b64, 1, 1), bursts: 1024 },
        FanoutTarget { sc: s(b64, 2, 1), bursts: 1024 },
        FanoutTarget { sc: s(b64, 1, 32), bursts: 2048 },
        FanoutTarget { sc: s(b64, 2, 32), bursts: 1536 },
        FanoutTarget { sc: s(b4k, 1, 1), bursts: 48 },
        FanoutTarget { sc: s(b4k, 2, 1), bursts: 64 },
    ]
}

/// One round of one fan-out system: events per second (per reader: each
/// reader sees every event) over `bursts` timed bursts.
fn fanout_round(system: systems::System, name: &str, sc: &Scenario, bursts: u64) -> f64 {
    let mut run = system.start(name, sc);
    run.bursts(WARM_UP_BURSTS.min(bursts));
    let took = run.bursts(bursts);
    run.finish();
    (bursts * BURST) as f64 / took.as_secs_f64()
}

/// One round of one ping-pong pair: the p50 of `trips` one-way latencies
/// (half of each round trip, in ns) and their mean.
fn latency_round<F: FnMut(Option<u64>)>(mut echo: pingpong::Echo<F>, trips: u64) -> (f64, f64) {
    for seq in 0..WARM_UP_TRIPS.min(trips) {
        echo.round_trip(seq);
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds");
    let mut total = 0u128;
    for seq in WARM_UP_TRIPS..WARM_UP_TRIPS + trips {
        let start = Instant::now();
        echo.round_trip(seq);
        let rtt = start.elapsed().as_nanos();
        total += rtt;
        hist.saturating_record((rtt / 2) as u64);
    }
    drop(echo);
    (hist.value_at_quantile(0.5) as f64, total as f64 / 2.0 / trips as f64)
}

/// What one target measured, as `targets.json` holds it.
#[allow(clippy::too_many_arguments)]
fn outcome(
    id: &str,
    what: &str,
    peer: &str,
    metric: &str,
    at_least: bool,
    needed: f64,
    work: &str,
    ours: &[f64],
    theirs: &[f64],
    extra: Value,
) -> Value {
    let ratios: Vec<f64> = ours.iter().zip(theirs).map(|(a, b)| a / b).collect();
    let med = median(&ratios);
    println!("{id}: median ratio {med:.3} (rounds {ratios:.3?}); needed {} {needed}", if at_least { "≥" } else { "≤" });
    json!({
        "id": id,
        "what": what,
        "system": "slotcast",
        "peer": peer,
        "metric": metric,
        "ratio": format!("slotcast / {peer}"),
        "at_least": at_least,
        "needed": needed,
        "work": work,
        "slotcast": ours,
        "peer_values": theirs,
        "ratios": ratios,
        "median_ratio": med,
        "slotcast_median": median(ours),
        "peer_median": median(theirs),
        "extra": extra,
    })
}

fn main() {
    let benchmarking = common::benchmarking();
    // Under `cargo test --benches`: one tiny round of each, to check that
    // every system runs and every event arrives intact.
    let (rounds, scale) = if benchmarking { (ROUNDS, 1) } else { (1, 0) };
    let started = Instant::now();
    let mut results = Vec::new();

    for t in fanout_targets() {
        let sc = t.sc;
        let id = format!("targets/fanout/{}", sc.param());
        if !common::selected(&id) {
            continue;
        }
        let began = Instant::now();
        let bursts = if scale == 0 { 2 } else { t.bursts };
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            ours.push(fanout_round(systems::slotcast(&sc), "slotcast", &sc, bursts));
            theirs.push(fanout_round(systems::disruptor(&sc), "disruptor", &sc, bursts));
            println!(
                "{id} round {}: slotcast {:.2} M/s, disruptor {:.2} M/s",
                round + 1,
                ours[round] / 1e6,
                theirs[round] / 1e6
            );
        }
        println!("{id}: {rounds} rounds in {:.1} s", began.elapsed().as_secs_f64());
        let batch = if sc.batch > 1 { format!(", batches of {}", sc.batch) } else { ", one event per publish".into() };
        let peer_api = if sc.batch > 1 { "disruptor batch_publish" } else { "disruptor" };
        results.push(outcome(
            &id,
            &format!(
                "fan-out {}, {} reader{}{batch}",
                sc.payload.label(),
                sc.readers,
                if sc.readers > 1 { "s" } else { "" }
            ),
            peer_api,
            "events/s per reader",
            true,
            1.0,
            &format!("{} events per system and round, after {} untimed", bursts * BURST, WARM_UP_BURSTS * BURST),
            &ours,
            &theirs,
            json!({"scenario": sc.param(), "readers": sc.readers, "batch": sc.batch}),
        ));
    }

    let trips = if scale == 0 { 1000 } else { 1 << 20 };
    for (peer, needed) in [("disruptor", 1.1), ("atomic_pingpong", 1.5)] {
        let id = format!("targets/latency/{peer}");
        if !common::selected(&id) {
            continue;
        }
        let began = Instant::now();
        let (mut ours, mut theirs, mut means) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let (p50, ours_mean) = latency_round(pingpong::slotcast(WaitStrategy::BusySpin), trips);
            let (peer_p50, peer_mean) = match peer {
                "disruptor" => latency_round(pingpong::disruptor(), trips),
                _ => latency_round(pingpong::atomic(), trips),
            };
            println!("{id} round {}: slotcast_spin p50 {p50} ns, {peer} p50 {peer_p50} ns", round + 1);
            ours.push(p50);
            theirs.push(peer_p50);
            means.push(json!({"slotcast": ours_mean, "peer": peer_mean}));
        }
        println!("{id}: {rounds} rounds in {:.1} s", began.elapsed().as_secs_f64());
        results.push(outcome(
            &id,
            "one-way latency p50, 64 B, spin",
            peer,
            "ns one-way p50",
            false,
            needed,
            &format!("{trips} round trips per system and round, after {WARM_UP_TRIPS} untimed"),
            &ours,
            &theirs,
            json!({"mean_ns_one_way": means}),
        ));
    }

    let seconds = started.elapsed().as_secs_f64();
    println!("targets: {} targets, {rounds} rounds each, {seconds:.1} s", results.len());
    if benchmarking && !results.is_empty() {
        let doc = json!({
            "rounds": rounds,
            "order": "slotcast, then the peer, in every round",
            "burst": BURST,
            "seconds": seconds,
            "targets": results,
        });
        common::write_extra("targets", &format!("{doc:#}\n"));
    }
}
