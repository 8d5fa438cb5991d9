//! The sections of issue 14: async fan-out against tokio's broadcast, the
//! wake-up latency of an idle task, the cost per publish with no task
//! waiting, and the actor graph; and the issue's targets.
//!
//! A module of the report generator (`generate.rs`). It reads:
//!
//! * criterion's `async_fanout/{slotcast,tokio}/{64B,4KB}/{2,4}r` and
//!   `actor_graph/1KB/{ringptr,arc,vec}` estimates;
//! * `slotcast-extra/async_fanout.json` (`benches/async_fanout.rs`): the
//!   interleaved rounds (`fanout[]`: `scenario`, `ratios`, `median_ratio`,
//!   `slotcast_median`, `tokio_median`, `polls[]`) and the wake-up latency
//!   (`wake`: `slotcast` and `tokio` quantiles);
//! * `slotcast-extra/callgrind.json` (`benches/callgrind.rs`): the budget
//!   phases `slotcast_1r` and `slotcast_async_1r`, writer;
//! * `slotcast-extra/actor_graph.json` (`benches/actor_graph.rs`): the
//!   actor graph's interleaved rounds (`median_ringptr_over_arc`,
//!   `median_ringptr_over_vec`, per-round rates and ratios);
//! * `benches/report/budget-137af2b.json`: the callgrind bench's own output
//!   at commit 137af2b, before the async forms.
//!
//! A group that did not run leaves its section with a line saying so.
//! Nothing here is a figure of its own: every number printed is read from
//! those files, or is a difference or ratio of such numbers.

use super::{Bench, Report, Target, chart, charts, color, mps, ns, rate_row, ratio};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The async fan-out scenarios, in the order the bench runs them.
const SCENARIOS: [&str; 4] = ["64B/2r", "64B/4r", "4KB/2r", "4KB/4r"];

/// The actor graph's benchmark ids (under `actor_graph/1KB/`).
const ACTORS: [&str; 3] = ["ringptr", "arc", "vec"];

/// A field of one budget phase (`workload`, `phase`) of a callgrind result.
fn phase<'a>(doc: Option<&'a Value>, workload: &str, phase: &str, key: &str) -> Option<&'a Value> {
    doc?["budget"]["phases"].as_array()?.iter().find(|p| p["name"] == workload && p["phase"] == phase).map(|p| &p[key])
}

fn median(values: &[f64]) -> f64 {
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

/// The issue's targets, from what this run measured (`None`: not measured).
pub(super) fn targets(r: &Report, base: Option<&Value>) -> Vec<Target> {
    let af = r.extra("async_fanout");
    let cg = r.extra("callgrind");
    let mut out = Vec::new();
    for readers in [2, 4] {
        let sc = format!("64B/{readers}r");
        let rounds = af.as_ref().and_then(|a| a["fanout"].as_array()?.iter().find(|f| f["scenario"] == sc.as_str()));
        out.push(Target {
            what: format!("async fan-out 64 B, {readers} readers: slotcast / tokio broadcast"),
            value: rounds.and_then(|f| f["median_ratio"].as_f64()),
            at_least: true,
            threshold: 5.0,
            note: "median of the interleaved rounds' ratios".into(),
        });
    }
    // The actor graph's interleaved rounds when they ran (the figure to go
    // by), else criterion's medians.
    let ag = r.extra("actor_graph");
    for (peer, min) in [("arc", 1.5), ("vec", 2.0)] {
        let interleaved = ag.as_ref().and_then(|a| a[format!("median_ringptr_over_{peer}")].as_f64());
        let (value, note) = match interleaved {
            Some(v) => (Some(v), "messages/s, median of the interleaved rounds' ratios"),
            None => (
                r.rate_ratio("actor_graph/1KB/ringptr", &format!("actor_graph/1KB/{peer}")),
                "messages/s, criterion medians",
            ),
        };
        out.push(Target {
            what: format!(
                "actor graph, 1 KB messages: RingPtr / {}",
                if peer == "arc" { "Arc<[u8]>" } else { "Vec<u8>" }
            ),
            value,
            at_least: true,
            threshold: min,
            note: note.into(),
        });
    }
    let writer = |doc: Option<&Value>, w: &str, key: &str| phase(doc, w, "writer", key).and_then(Value::as_f64);
    let cg = cg.as_ref();
    out.push(Target {
        what: "publish with no task waiting: instructions per publish, async reader − plain reader".into(),
        value: writer(cg, "slotcast_async_1r", "instructions_per_event")
            .zip(writer(cg, "slotcast_1r", "instructions_per_event"))
            .map(|(a, p)| a - p),
        at_least: false,
        threshold: 1.0,
        note: "callgrind, writer's phase; one load at most".into(),
    });
    out.push(Target {
        what: "publish with no task waiting: instructions per publish, async reader − the plain reader at 137af2b"
            .into(),
        value: writer(cg, "slotcast_async_1r", "instructions_per_event")
            .zip(writer(base, "slotcast_1r", "instructions_per_event"))
            .map(|(a, p)| a - p),
        at_least: false,
        threshold: 1.0,
        note: "callgrind, writer's phase, before the async forms".into(),
    });
    out.push(Target {
        what: "publish with no task waiting: atomic RMWs per publish, async reader − plain reader".into(),
        value: writer(cg, "slotcast_async_1r", "atomics_per_event")
            .zip(writer(cg, "slotcast_1r", "atomics_per_event"))
            .map(|(a, p)| a - p),
        at_least: false,
        threshold: 0.0,
        note: "callgrind --collect-bus, writer's phase".into(),
    });
    out
}

/// The issue 14 targets table.
pub(super) fn targets_table(r: &Report, base: Option<&Value>) -> String {
    let mut w = String::new();
    let _ = writeln!(w, "## Targets (issue 14)\n");
    let _ = writeln!(
        w,
        "The async fan-out ratios are the median of interleaved rounds (slotcast, then tokio, each round on a \
         fresh system; see \"async fan-out\" below); the actor graph's are the median of its interleaved rounds when they \
         ran, else criterion's medians; the per-publish costs are callgrind counts of the writer's phase (see \"Publishing with no \
         task waiting\"). A row reads \"not measured\" when its bench did not run.\n"
    );
    let _ = writeln!(w, "| target | measured | needed | verdict |\n|---|---|---|---|");
    for t in targets(r, base) {
        let is_count = t.what.starts_with("publish with no task");
        let measured = match t.value {
            None => "–".into(),
            Some(v) if is_count => format!("{v:.3}"),
            v => ratio(v),
        };
        let needed = if is_count {
            format!("≤ {}", t.threshold)
        } else {
            format!("{} {:.1}×", if t.at_least { "≥" } else { "≤" }, t.threshold)
        };
        let _ = writeln!(w, "| {} ({}) | {measured} | {needed} | **{}** |", t.what, t.note, t.verdict());
    }
    let _ = writeln!(w);
    w
}

fn quantile_row(w: &mut String, system: &str, q: &Value) {
    let f = |k: &str| q[k].as_f64().map_or("–".into(), ns);
    let _ = writeln!(
        w,
        "| {system} | {} | {} | {} | {} | {} | {} |",
        f("p50_ns"),
        f("p90_ns"),
        f("p99_ns"),
        f("p999_ns"),
        f("max_ns"),
        q["samples"].as_u64().unwrap_or(0)
    );
}

/// The async fan-out, wake-up latency, per-publish cost and actor graph
/// sections.
pub(super) fn sections(r: &Report, output: &Path, base: Option<&Value>) -> String {
    let mut md = String::new();
    let w = &mut md;
    let af = r.extra("async_fanout");

    // --- async fan-out ----------------------------------------------------------
    let _ = writeln!(w, "## async fan-out (issue 14)\n");
    let _ = writeln!(
        w,
        "`benches/async_fanout.rs`: one writer task and 2 or 4 reader tasks on a multi-threaded tokio runtime \
         of 2 workers (the machine's cores). slotcast: the writer `claim_async`s a slot, fills it in place and \
         publishes; each reader `read_async`s every event available per wake-up, in place. tokio: \
         `broadcast` carrying `[u8; 64]` by value at 64 B and `Arc<[u8]>` at 4 KB; its writer waits for room \
         (`len() < 1024`, `yield_now` meanwhile) so that nobody lags, its readers `recv().await`. Every reader \
         checks every event's sequence number and checksums its bytes. Events per second delivered to each \
         reader.\n"
    );
    let criterion: Vec<(&str, Option<&Bench>, Option<&Bench>)> = SCENARIOS
        .iter()
        .map(|sc| (*sc, r.get(&format!("async_fanout/slotcast/{sc}")), r.get(&format!("async_fanout/tokio/{sc}"))))
        .collect();
    if criterion.iter().all(|(_, a, b)| a.is_none() && b.is_none()) {
        let _ = writeln!(w, "Criterion figures: not measured (the `async_fanout` group did not run).\n");
    } else {
        let series: Vec<(String, plotters::style::RGBColor, Vec<Option<f64>>)> = ["slotcast", "tokio"]
            .iter()
            .map(|&sys| {
                let vals = SCENARIOS.iter().map(|sc| r.rate(&format!("async_fanout/{sys}/{sc}"))).collect();
                (sys.to_string(), color(sys), vals)
            })
            .collect();
        let bars = charts::Bars {
            title: "async fan-out on tokio (2 workers): events/s per reader (median)".into(),
            x_desc: "payload / reader tasks".into(),
            y_desc: "events/s per reader (log scale)".into(),
            groups: SCENARIOS.iter().map(|s| s.to_string()).collect(),
            series,
            format: charts::per_second,
        };
        w.push_str(&chart(
            output,
            "async_fanout",
            "async fan-out throughput, slotcast beside tokio broadcast",
            &bars,
            (1000, 480),
        ));
        let _ = writeln!(w);
        let _ =
            writeln!(w, "| scenario | system | median | 95% CI | MAD | slotcast / system |\n|---|---|---|---|---|---|");
        for (sc, ours, peer) in &criterion {
            let rate = ours.and_then(|b| b.rate()).map(|x| x.0);
            for (sys, b) in [("slotcast", ours), ("tokio", peer)] {
                if let Some(b) = b {
                    rate_row(w, &format!("{sc} | {sys}"), b, rate);
                }
            }
        }
        let _ = writeln!(w);
    }
    match af.as_ref().and_then(|a| a["fanout"].as_array()).filter(|f| !f.is_empty()) {
        None => {
            let _ = writeln!(w, "Interleaved rounds: not measured (`slotcast-extra/async_fanout.json` has none).\n");
        }
        Some(rows) => {
            let a = af.as_ref().expect("read above");
            let _ = writeln!(
                w,
                "Interleaved rounds, the figure to go by: {} rounds per scenario, slotcast then tokio in each, each \
                 system built for its round ({} untimed bursts of {} events, then the timed ones); a round's ratio \
                 is slotcast's events/s over tokio's. Polls per event per reader: how many reads completed \
                 (`read_async`, `recv`) and how many polls found nothing (Pending), median over the rounds; \
                 the wake-up path runs once per Pending poll.\n",
                a["rounds"], a["warm_up_bursts"], a["burst"]
            );
            let _ = writeln!(
                w,
                "| scenario | slotcast / tokio (median) | rounds' ratios | medians: slotcast, tokio | reads per event: slotcast, tokio | Pending polls per event: slotcast, tokio |\n|---|---|---|---|---|---|"
            );
            for f in rows {
                let rs: Vec<String> = f["ratios"].as_array().into_iter().flatten().map(|x| ratio(x.as_f64())).collect();
                let polls = |sys: &str, key: &str| {
                    let v: Vec<f64> =
                        f["polls"].as_array().into_iter().flatten().filter_map(|p| p[sys][key].as_f64()).collect();
                    if v.is_empty() { "–".to_string() } else { format!("{:.4}", median(&v)) }
                };
                let rate = |k: &str| f[k].as_f64().map_or("–".into(), mps);
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {}, {} | {}, {} | {}, {} |",
                    f["scenario"].as_str().unwrap_or_default(),
                    ratio(f["median_ratio"].as_f64()),
                    rs.join(", "),
                    rate("slotcast_median"),
                    rate("tokio_median"),
                    polls("slotcast", "reads_per_event"),
                    polls("tokio", "reads_per_event"),
                    polls("slotcast", "pending_reads_per_event"),
                    polls("tokio", "pending_reads_per_event"),
                );
            }
            let _ = writeln!(w);
        }
    }

    // --- wake-up latency ----------------------------------------------------------
    let _ = writeln!(w, "## Wake-up latency of an idle task (issue 14)\n");
    match af.as_ref().map(|a| &a["wake"]).filter(|v| v.is_object()) {
        None => {
            let _ = writeln!(w, "Not measured (`slotcast-extra/async_fanout.json` has no `wake`).\n");
        }
        Some(wake) => {
            let _ = writeln!(
                w,
                "From a publish to a reader task running with the event, the task idle (its wait pending) before \
                 each publish: a publishing thread sleeps {} to {} µs, stamps the time into a 64-byte event and \
                 publishes it; the task, on a 2-worker tokio runtime, records the time since the stamp. The \
                 publishing thread is not one of the runtime's workers, so the task always runs on another \
                 thread. slotcast: `publish_bytes` to a task in `read_async`; tokio: `send` to a task in \
                 `recv().await`. {} samples per system and round, {} rounds, interleaved; all rounds' samples \
                 together:\n",
                wake["spacing_us"][0],
                wake["spacing_us"][1],
                wake["samples_per_round"],
                wake["rounds"].as_array().map_or(0, Vec::len)
            );
            let _ = writeln!(w, "| system | p50 | p90 | p99 | p99.9 | max | samples |\n|---|---|---|---|---|---|---|");
            quantile_row(w, "slotcast", &wake["slotcast"]);
            quantile_row(w, "tokio", &wake["tokio"]);
            let _ = writeln!(w);
        }
    }

    // --- publish with no task waiting --------------------------------------------
    let _ = writeln!(w, "## Publishing with no task waiting (issue 14)\n");
    let cg = r.extra("callgrind");
    let row = |doc: Option<&Value>, wl: &str| {
        let f = |k: &str| phase(doc, wl, "writer", k).cloned();
        (f("instructions_per_event"), f("atomics_per_event"), f("syscalls_in_long_run"), f("long_events"))
    };
    let (plain, asyn) = (row(cg.as_ref(), "slotcast_1r"), row(cg.as_ref(), "slotcast_async_1r"));
    if asyn.0.is_none() {
        let _ = writeln!(
            w,
            "Not measured (no `slotcast_async_1r` writer phase in `slotcast-extra/callgrind.json`: the callgrind \
             group did not run, or valgrind was missing).\n"
        );
    } else {
        let _ = writeln!(
            w,
            "callgrind, the writer's phase of the budget workloads (`benches/callgrind.rs`: one thread publishes \
             512 events of 64 B, then the reader drains them, round after round; the writer's function counted \
             alone). `slotcast_async_1r` reads through `read_async` and then lets its task wait once (the wait \
             counts itself in `blocking` and lists its waker) and drops the wait, so every publish finds no task \
             waiting; `slotcast_1r` reads with `try_read`. The 137af2b row is the same bench's output at commit \
             137af2b, before the async forms (`benches/report/budget-137af2b.json`). Atomic RMWs: callgrind's \
             bus-lock count (`--collect-bus`); system calls: `sysCount` inclusive of the writer's phase \
             (`--collect-systime`), over the long run's events. A system call on the writer's path would \
             add the instructions of its wrapper to the writer's count, and the functions it runs to the \
             phase's listing: with the two instruction counts equal, a count above zero is another thread's \
             call (the reader's timer thread, which a wait that was never acknowledged arms) that callgrind \
             charges to the instruction the writer's thread was at when it switched threads.\n"
        );
        let _ = writeln!(
            w,
            "| writer's phase | instructions per publish | atomic RMWs per publish | system calls (long run) | − plain reader, this run |\n|---|---|---|---|---|"
        );
        let num = |v: &Option<Value>, d: usize| {
            v.as_ref().and_then(Value::as_f64).map_or("–".into(), |x| format!("{x:.d$}"))
        };
        let calls = |v: &(Option<Value>, Option<Value>, Option<Value>, Option<Value>)| match (&v.2, &v.3) {
            (Some(Value::Number(c)), Some(Value::Number(e))) => format!("{c} in {e} events"),
            _ => "not counted".into(),
        };
        let base_row = row(base, "slotcast_1r");
        let diff = |v: &Option<Value>| {
            v.as_ref()
                .and_then(Value::as_f64)
                .zip(plain.0.as_ref().and_then(Value::as_f64))
                .map_or("–".into(), |(a, p)| format!("{:+.2} instructions", a - p))
        };
        for (label, v) in [
            ("slotcast_async_1r (async reader, not waiting)", &asyn),
            ("slotcast_1r (plain reader)", &plain),
            ("slotcast_1r at 137af2b (before the async forms)", &base_row),
        ] {
            let _ = writeln!(w, "| {label} | {} | {} | {} | {} |", num(&v.0, 2), num(&v.1, 3), calls(v), diff(&v.0));
        }
        let _ = writeln!(w);
    }

    // --- actor graph ----------------------------------------------------------------
    let _ = writeln!(w, "## Actor graph (issue 14)\n");
    let ids: Vec<(&str, Option<&Bench>)> =
        ACTORS.iter().map(|a| (*a, r.get(&format!("actor_graph/1KB/{a}")))).collect();
    if ids.iter().all(|(_, b)| b.is_none()) {
        let _ = writeln!(w, "Not measured (the `actor_graph` group did not run).\n");
    } else {
        let _ = writeln!(
            w,
            "`benches/actor_graph.rs`: the actor graph of `examples/actors_async.rs`, 1 KB messages, passing a \
             `RingPtr` against `Arc<[u8]>` and `Vec<u8>` through the same actor library. Messages per second; \
             `RingPtr / row` is the ringptr median over the row's.\n"
        );
        let _ = writeln!(w, "| message | median | 95% CI | MAD | RingPtr / row |\n|---|---|---|---|---|");
        let ours = r.rate("actor_graph/1KB/ringptr");
        for (id, b) in &ids {
            match b {
                Some(b) => rate_row(w, id, b, ours),
                None => {
                    let _ = writeln!(w, "| {id} | not measured | | | |");
                }
            }
        }
        let _ = writeln!(w);
    }
    match r.extra("actor_graph") {
        None => {
            let _ = writeln!(w, "Interleaved rounds: not measured (no `slotcast-extra/actor_graph.json`).\n");
        }
        Some(ag) => {
            let list =
                |k: &str| -> Vec<f64> { ag[k].as_array().into_iter().flatten().filter_map(Value::as_f64).collect() };
            let _ = writeln!(
                w,
                "Interleaved rounds, the figure to go by: {} rounds of {} messages, the variants in a different order \
                 each round. `ringptr under credits` is diagnostic: the ringptr graph bounded by the same credits as \
                 `arc` and `vec`, with a pool that never runs out, so against `ringptr` it shows what waiting for a \
                 free slot costs.\n",
                list("ringptr").len(),
                ag["messages_per_round"]
            );
            let _ = writeln!(w, "| ratio | median | rounds |\n|---|---|---|");
            // Per-round ratios: as the bench wrote them, or (for the
            // diagnostic row, which it gives only as medians) from its
            // per-round rates.
            let per_round =
                |a: &str, b: &str| -> Vec<f64> { list(a).iter().zip(list(b)).map(|(x, y)| x / y).collect() };
            for (label, median_key, rounds) in [
                ("ringptr / arc", "median_ringptr_over_arc", list("ringptr_over_arc")),
                ("ringptr / vec", "median_ringptr_over_vec", list("ringptr_over_vec")),
                ("ringptr under credits / arc", "median_ringptr_credits_over_arc", per_round("ringptr_credits", "arc")),
                ("ringptr under credits / vec", "median_ringptr_credits_over_vec", per_round("ringptr_credits", "vec")),
            ] {
                let rounds: Vec<String> = rounds.into_iter().map(|x| ratio(Some(x))).collect();
                let _ = writeln!(w, "| {label} | {} | {} |", ratio(ag[median_key].as_f64()), rounds.join(", "));
            }
            let _ = writeln!(w);
            let _ = writeln!(w, "| variant | median messages/s over the rounds |\n|---|---|");
            for k in ["ringptr", "arc", "vec", "ringptr_credits"] {
                let v = list(k);
                let _ = writeln!(w, "| {k} | {} |", if v.is_empty() { "–".into() } else { mps(median(&v)) });
            }
            let _ = writeln!(w);
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Results;
    use serde_json::json;

    fn bench(elements: f64, median_ns: f64) -> Bench {
        Bench { elements: Some(elements), median: median_ns, low: median_ns * 0.9, high: median_ns * 1.1, mad: 1.0 }
    }

    /// A report over `results` whose extra results are in `dir`.
    fn report(results: Results, dir: &Path) -> Report {
        Report { results, extra: dir.to_path_buf() }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("slotcast-async-report-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    #[test]
    fn groups_that_did_not_run_are_named_not_measured() {
        let dir = scratch("empty");
        let r = report(Results::new(), &dir);
        let md = sections(&r, &dir.join("BENCHMARKS.md"), None);
        for line in [
            "Criterion figures: not measured (the `async_fanout` group did not run).",
            "Interleaved rounds: not measured",
            "## Wake-up latency of an idle task (issue 14)\n\nNot measured",
            "## Publishing with no task waiting (issue 14)\n\nNot measured",
            "## Actor graph (issue 14)\n\nNot measured (the `actor_graph` group did not run).",
        ] {
            assert!(md.contains(line), "missing {line:?} in:\n{md}");
        }
        let table = targets_table(&r, None);
        assert_eq!(table.matches("**not measured**").count(), targets(&r, None).len(), "{table}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ratios_and_verdicts_come_from_the_measurements() {
        let dir = scratch("full");
        let mut results = Results::new();
        // 1000 messages per iteration: 1 ms, 2 ms and 4 ms.
        results.insert("actor_graph/1KB/ringptr".into(), bench(1000.0, 1e6));
        results.insert("actor_graph/1KB/arc".into(), bench(1000.0, 2e6));
        results.insert("actor_graph/1KB/vec".into(), bench(1000.0, 4e6));
        results.insert("async_fanout/slotcast/64B/2r".into(), bench(8192.0, 1e6));
        results.insert("async_fanout/tokio/64B/2r".into(), bench(8192.0, 6e6));
        let fanout = json!({
            "rounds": 3, "warm_up_bursts": 2, "burst": 8192,
            "fanout": [
                {"scenario": "64B/2r", "ratios": [5.5, 6.0, 4.0], "median_ratio": 5.5, "slotcast_median": 1.1e7,
                 "tokio_median": 2e6, "polls": [{"slotcast": {"reads_per_event": 0.002, "pending_reads_per_event": 0.002},
                 "tokio": {"reads_per_event": 1.0, "pending_reads_per_event": 0.01}}]},
                {"scenario": "64B/4r", "ratios": [4.0, 4.5, 4.9], "median_ratio": 4.5, "slotcast_median": 9e6,
                 "tokio_median": 2e6, "polls": []},
            ],
            "wake": {"spacing_us": [50, 200], "samples_per_round": 10, "rounds": [{}, {}, {}],
                     "slotcast": {"samples": 30, "p50_ns": 15000, "p90_ns": 20000, "p99_ns": 40000, "p999_ns": 50000, "max_ns": 60000},
                     "tokio": {"samples": 30, "p50_ns": 16000, "p90_ns": 21000, "p99_ns": 41000, "p999_ns": 51000, "max_ns": 61000}},
        });
        std::fs::write(dir.join("async_fanout.json"), fanout.to_string()).expect("write");
        let p = |name: &str, instructions: f64, atomics: f64| {
            json!({"name": name, "phase": "writer", "instructions_per_event": instructions, "atomics_per_event": atomics,
                   "syscalls_in_long_run": 0, "long_events": 1000})
        };
        let cg = json!({"budget": {"phases": [p("slotcast_1r", 50.0, 0.004), p("slotcast_async_1r", 50.5, 0.004)]}});
        std::fs::write(dir.join("callgrind.json"), cg.to_string()).expect("write");
        let base = json!({"budget": {"phases": [p("slotcast_1r", 49.0, 0.004)]}});
        let r = report(results.clone(), &dir);
        // Without the interleaved rounds, the targets read criterion's medians.
        let t = targets(&r, Some(&base));
        let value = |what: &str| t.iter().find(|t| t.what.contains(what)).and_then(|t| t.value);
        assert!((value("RingPtr / Arc").expect("measured") - 2.0).abs() < 1e-9);
        assert!((value("RingPtr / Vec").expect("measured") - 4.0).abs() < 1e-9);
        let ag = json!({"messages_per_round": 100, "ringptr": [3.0e5, 3.2e5], "arc": [1.0e5, 2.0e5], "vec": [1.0e5, 1.0e5],
                        "ringptr_credits": [3.1e5, 3.3e5], "ringptr_over_arc": [3.0, 1.6], "ringptr_over_vec": [3.0, 3.2],
                        "median_ringptr_over_arc": 2.3, "median_ringptr_over_vec": 3.1,
                        "median_ringptr_credits_over_arc": 2.4, "median_ringptr_credits_over_vec": 3.2});
        std::fs::write(dir.join("actor_graph.json"), ag.to_string()).expect("write");

        let t = targets(&r, Some(&base));
        let value = |what: &str| t.iter().find(|t| t.what.contains(what)).and_then(|t| t.value);
        let verdict = |what: &str| t.iter().find(|t| t.what.contains(what)).map(Target::verdict);
        assert_eq!(value("64 B, 2 readers"), Some(5.5));
        assert_eq!(verdict("64 B, 2 readers"), Some("met"));
        assert_eq!(verdict("64 B, 4 readers"), Some("missed"));
        assert_eq!(value("RingPtr / Arc"), Some(2.3), "the interleaved median when the rounds ran");
        assert_eq!(value("RingPtr / Vec"), Some(3.1));
        assert!((value("async reader − plain reader").expect("measured") - 0.5).abs() < 1e-9);
        assert!((value("at 137af2b").expect("measured") - 1.5).abs() < 1e-9);
        assert_eq!(verdict("at 137af2b"), Some("missed"));
        assert_eq!(value("atomic RMWs"), Some(0.0));

        let md = sections(&r, &dir.join("BENCHMARKS.md"), Some(&base));
        assert!(md.contains("| 64B/2r | 5.50× | 5.50×, 6.00×, 4.00× |"), "{md}");
        assert!(md.contains("| slotcast | 15.00 µs |"), "{md}");
        assert!(md.contains("| ringptr | 1.00 M/s |"), "{md}");
        assert!(md.contains("| ringptr / arc | 2.30× | 3.00×, 1.60× |"), "{md}");
        assert!(md.contains("| ringptr_credits | 320 k/s |"), "{md}");
        assert!(md.contains("| ringptr under credits / arc | 2.40× | 3.10×, 1.65× |"), "{md}");
        assert!(
            md.contains("| slotcast_async_1r (async reader, not waiting) | 50.50 | 0.004 | 0 in 1000 events |"),
            "{md}"
        );
        assert!(dir.join("docs/bench/async_fanout.svg").exists(), "the chart is drawn");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
