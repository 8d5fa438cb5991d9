//! Writes `BENCHMARKS.md` from the results of one `cargo bench -p slotcast-benches` run: never
//! edit the figures by hand, run `scripts/bench-report` instead.
//!
//! Also draws the charts BENCHMARKS.md embeds, as SVG files in `docs/bench/`
//! beside it (`charts.rs`).
//!
//! Reads `new/benchmark.json` and `new/estimates.json` under criterion's
//! directory (`$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else
//! `target/criterion`), the extra results the benches write to
//! `slotcast-extra/` there (instruction counts, latency percentiles, idle
//! CPU, the run's timing and load), `Cargo.lock` for the crate versions and
//! `/proc` for the machine. Usage (`scripts/bench-report` runs it):
//! `cargo run --release -p slotcast-benches --bin bench-report -- [OUTPUT]`
//! (default `BENCHMARKS.md` at the repository root).

// A report generator, not library code: std types are fine here.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod async_report;
mod bridge_report;
mod budget;
mod charts;
mod ingest_report;

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One criterion benchmark's estimates.
#[derive(Clone, Debug)]
struct Bench {
    /// Elements per iteration, if the group declared a throughput.
    elements: Option<f64>,
    /// Nanoseconds per iteration: median, its 95% confidence interval, and
    /// the median absolute deviation of the samples.
    median: f64,
    low: f64,
    high: f64,
    mad: f64,
}

impl Bench {
    /// Events per second at the median (and at the interval's ends).
    fn rate(&self) -> Option<(f64, f64, f64)> {
        let n = self.elements?;
        Some((n / self.median * 1e9, n / self.high * 1e9, n / self.low * 1e9))
    }
}

type Results = BTreeMap<String, Bench>;

fn criterion_home(manifest: &Path) -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| manifest.join("target"), PathBuf::from).join("criterion")
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn collect(dir: &Path, out: &mut Results) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let (Some(meta), Some(est)) =
                (read_json(&path.join("benchmark.json")), read_json(&path.join("estimates.json")))
            else {
                continue;
            };
            let id = meta["full_id"].as_str().unwrap_or_default().to_string();
            let elements = meta["throughput"]["Elements"].as_f64();
            let median = &est["median"];
            out.insert(
                id,
                Bench {
                    elements,
                    median: median["point_estimate"].as_f64().unwrap_or(f64::NAN),
                    low: median["confidence_interval"]["lower_bound"].as_f64().unwrap_or(f64::NAN),
                    high: median["confidence_interval"]["upper_bound"].as_f64().unwrap_or(f64::NAN),
                    mad: est["median_abs_dev"]["point_estimate"].as_f64().unwrap_or(f64::NAN),
                },
            );
        } else {
            collect(&path, out);
        }
    }
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().trim().to_string())
        .unwrap_or_default()
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// Versions of the named packages in `Cargo.lock`.
fn lock_versions(manifest: &Path, names: &[&str]) -> Vec<(String, String)> {
    let lock = std::fs::read_to_string(manifest.join("Cargo.lock")).unwrap_or_default();
    let mut found = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if names.contains(&n.as_str()) {
                found.push((n, v.trim_matches('"').to_string()));
            }
        }
    }
    found.sort();
    found
}

fn mps(rate: f64) -> String {
    if rate >= 1e6 { format!("{:.2} M/s", rate / 1e6) } else { format!("{:.0} k/s", rate / 1e3) }
}

fn ns(t: f64) -> String {
    if t >= 1e6 {
        format!("{:.2} ms", t / 1e6)
    } else if t >= 1e3 {
        format!("{:.2} µs", t / 1e3)
    } else {
        format!("{t:.1} ns")
    }
}

/// A target: `value` compared with `threshold`.
struct Target {
    what: String,
    value: Option<f64>,
    /// `true`: met if value >= threshold; `false`: met if value <= threshold.
    at_least: bool,
    threshold: f64,
    note: String,
}

impl Target {
    fn verdict(&self) -> &'static str {
        match self.value {
            None => "not measured",
            Some(v) if v.is_nan() => "not measured",
            Some(v) if (self.at_least && v >= self.threshold) || (!self.at_least && v <= self.threshold) => "met",
            Some(_) => "missed",
        }
    }
}

struct Report {
    results: Results,
    extra: PathBuf,
}

impl Report {
    fn get(&self, id: &str) -> Option<&Bench> {
        self.results.get(id)
    }

    fn rate(&self, id: &str) -> Option<f64> {
        self.get(id)?.rate().map(|r| r.0)
    }

    /// Throughput of `a` over throughput of `b`.
    fn rate_ratio(&self, a: &str, b: &str) -> Option<f64> {
        Some(self.rate(a)? / self.rate(b)?)
    }

    /// Time of `a` over time of `b` (both per operation).
    fn time_ratio(&self, a: &str, b: &str) -> Option<f64> {
        Some(self.get(a)?.median / self.get(b)?.median)
    }

    fn extra(&self, name: &str) -> Option<Value> {
        read_json(&self.extra.join(format!("{name}.json")))
    }

    fn latency(&self, system: &str, key: &str) -> Option<f64> {
        self.extra(&format!("latency-{system}"))?[key].as_f64()
    }

    fn instructions(&self, workload: &str) -> Option<f64> {
        self.extra("callgrind")?["workloads"]
            .as_array()?
            .iter()
            .find(|w| w["name"] == workload)?["instructions_per_event"]
            .as_f64()
    }
}

fn ratio(r: Option<f64>) -> String {
    match r {
        None => "–".into(),
        Some(r) if r < 0.1 => format!("{r:.4}×"),
        Some(r) => format!("{r:.2}×"),
    }
}

/// Where the charts go, relative to BENCHMARKS.md (links in it are relative).
const CHART_DIR: &str = "docs/bench";

/// Writes `bars` as `CHART_DIR/<name>.svg` beside `output` and returns the
/// markdown that embeds it.
fn chart(output: &Path, name: &str, alt: &str, bars: &charts::Bars, size: (u32, u32)) -> String {
    let dir = output.parent().unwrap_or_else(|| Path::new(".")).join(CHART_DIR);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.join(format!("{name}.svg"));
    charts::write(&path, bars, size).unwrap_or_else(|e| panic!("cannot draw {}: {e}", path.display()));
    format!("![{alt}]({CHART_DIR}/{name}.svg)\n")
}

/// The colour of each system in every chart: slotcast's in red, its peers'
/// apart from it.
fn color(system: &str) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    match system {
        "slotcast" | "slotcast_spin" => RGBColor(214, 39, 40),
        "slotcast_blocking" => RGBColor(255, 152, 150),
        "disruptor" => RGBColor(31, 119, 180),
        "spsc_ring" => RGBColor(127, 127, 127),
        "bus" => RGBColor(44, 160, 44),
        "crossbeam_arc" => RGBColor(255, 127, 14),
        "tokio" => RGBColor(148, 103, 189),
        "tokio_blocking" => RGBColor(197, 176, 213),
        "atomic_pingpong" => RGBColor(60, 60, 60),
        _ => RGBColor(188, 189, 34),
    }
}

/// A figure of the `targets` group in its unit.
fn target_figure(metric: &str, v: f64) -> String {
    if metric.starts_with("events/s") { mps(v) } else { ns(v) }
}

/// One throughput row, `| label | median | 95% CI | MAD | ours / median |`,
/// or nothing if `b` declared no throughput. `ours` is slotcast's median
/// rate in the same scenario (its own row thus reads 1.00×).
fn rate_row(w: &mut String, label: &str, b: &Bench, ours: Option<f64>) {
    let Some((mid, lo, hi)) = b.rate() else { return };
    let _ = writeln!(
        w,
        "| {label} | {} | {} – {} | ±{:.1}% | {} |",
        mps(mid),
        mps(lo),
        mps(hi),
        b.mad / b.median * 100.0,
        ratio(ours.map(|o| o / mid))
    );
}

fn main() {
    // The repository root (this package is `benches/` in its workspace):
    // where `target/`, `Cargo.lock` and `BENCHMARKS.md` are.
    let package = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = package.parent().map_or_else(|| package.clone(), PathBuf::from);
    let output = std::env::args().nth(1).map_or_else(|| manifest.join("BENCHMARKS.md"), PathBuf::from);
    let home = criterion_home(&manifest);
    let mut results = Results::new();
    collect(&home, &mut results);
    if results.is_empty() {
        eprintln!("no criterion results under {}: run scripts/bench-report", home.display());
        std::process::exit(1);
    }
    let r = Report { results, extra: home.join("slotcast-extra") };
    let mut md = String::new();
    let w = &mut md;

    // --- header and machine --------------------------------------------------
    let run = r.extra("run");
    let _ = writeln!(w, "# slotcast benchmarks\n");
    let _ = writeln!(
        w,
        "Generated by `scripts/bench-report` from one `cargo bench -p slotcast-benches` run; every figure below was measured in \
         that run and written here by `benches/report/generate.rs`. Do not edit by hand: rerun the script.\n"
    );
    // --- where the nanoseconds go: first, before the machine -----------------
    // This run's callgrind budget beside the one recorded before issue 12
    // (`benches/report/budget-before.json`, the bench's own output then).
    let before = read_json(&package.join("report/budget-before.json"));
    w.push_str(&budget::section(r.extra("callgrind").as_ref(), before.as_ref()));

    let _ = writeln!(w, "## Machine and run\n");
    let _ = writeln!(w, "| | |\n|---|---|");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(w, "| cores | {cores} |");
    let _ = writeln!(w, "| CPU | {} |", proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()));
    let _ = writeln!(w, "| memory | {} |", proc_field("/proc/meminfo", "MemTotal").unwrap_or_else(|| "unknown".into()));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(w, "| kernel | {} |", kernel.trim());
    let _ = writeln!(w, "| rustc | {} |", first_line("rustc", &["-V"]));
    if let Some(run) = &run {
        for (key, label) in [
            ("commit", "slotcast commit"),
            ("started", "run started (UTC)"),
            ("seconds", "run took (s)"),
            ("criterion_args", "criterion arguments"),
            ("loadavg_before", "load average before"),
            ("loadavg_after", "load average after"),
        ] {
            let v = match &run[key] {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            let _ = writeln!(w, "| {label} | {} |", if v.is_empty() { "(none)".into() } else { v });
        }
    }
    let _ = writeln!(w);
    let load = |key: &str| run.as_ref().and_then(|r| r[key].as_str()?.split_whitespace().next()?.parse::<f64>().ok());
    // The load after the run counts the benchmarks' own threads; the load
    // before it says whether something else was running.
    if let Some(before) = load("loadavg_before").filter(|&l| l > 0.5 * cores as f64) {
        let _ = writeln!(
            w,
            "**Warning: the machine was busy when this run started** (1-minute load average {before:.2} on \
             {cores} cores before the benchmarks' own threads): wall-clock figures and ratios below are \
             noisy; the instruction counts are not affected. Regenerate on a quiet machine.\n"
        );
    }
    let _ = writeln!(w, "Crate versions (from `Cargo.lock`):\n");
    let _ = writeln!(w, "| crate | version |\n|---|---|");
    let _ = writeln!(w, "| slotcast | {} |", env!("CARGO_PKG_VERSION"));
    for (n, v) in lock_versions(
        &manifest,
        &[
            "disruptor",
            "bus",
            "crossbeam-channel",
            "tokio",
            "criterion",
            "hdrhistogram",
            "memmap2",
            "rustix",
            "plotters",
        ],
    ) {
        let _ = writeln!(w, "| {n} | {v} |");
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "Waiting: the machine has {cores} cores and a fan-out runs 1 writer and up to 4 readers, so every \
         system in `fanout` and `retain` waits the same way on both sides: 64 spins, then `yield_now` per \
         attempt (slotcast: `WaitStrategy::Yield`; the peers: the same loop around their `try_*` calls). \
         The one exception is `tokio_blocking`, which receives with tokio's `blocking_recv` (parks the \
         thread); `tokio` is the same channel with the common loop. `latency` runs 2 threads and spins \
         (`slotcast_blocking` uses `WaitStrategy::Blocking`); `targets` waits as `fanout` in its fan-out \
         rounds and as `latency` in its latency rounds. Capacity: 1024 events in flight for every \
         system; each `fanout` iteration publishes 8192 events and ends when every reader has the last one, \
         and every reader's order, count and payload checksum are verified after each benchmark.\n"
    );
    let _ = writeln!(
        w,
        "Spread: criterion's 95% confidence interval of the median (as a throughput range) and the median \
         absolute deviation of the samples (as a percentage of the median).\n"
    );

    // --- targets (issue 12): interleaved rounds --------------------------------
    let _ = writeln!(w, "## Targets (issue 12)\n");
    if let Some(tg) = r.extra("targets") {
        let rounds = tg["rounds"].as_u64().unwrap_or(0);
        let _ = writeln!(
            w,
            "Same-run ratios, because this machine's absolute rates swing several-fold between runs: the \
             `targets` group (`benches/targets.rs`) runs each target's two systems alternately, slotcast then \
             the peer, {rounds} rounds each; every round is a fixed amount of work on a system built for that \
             round, timed with `Instant`. A round's ratio is slotcast's figure over the peer's in that round; \
             the target's figure is the median of the rounds' ratios. Waiting is the other groups': the \
             fan-out rounds yield on both sides (64 spins, then `yield_now`; slotcast `WaitStrategy::Yield`), \
             as `fanout` does, since a writer and 1 or 2 readers share {cores} cores; the latency rounds spin \
             on both threads (slotcast `WaitStrategy::BusySpin`), as `latency` does. Every fan-out round \
             checks each reader's count, order and payload checksums; every echo of a latency round is \
             checked. The group took {:.0} s. The issue's instruction and cache-line targets are counted \
             with callgrind, not timed, and are not in this table.\n",
            tg["seconds"].as_f64().unwrap_or(f64::NAN)
        );
        let _ = writeln!(
            w,
            "| target | slotcast / peer (median) | rounds' ratios | medians: slotcast, peer | needed | verdict |\n\
             |---|---|---|---|---|---|"
        );
        for t in tg["targets"].as_array().into_iter().flatten() {
            let metric = t["metric"].as_str().unwrap_or_default();
            let at_least = t["at_least"].as_bool().unwrap_or(true);
            let target = Target {
                what: t["what"].as_str().unwrap_or_default().into(),
                value: t["median_ratio"].as_f64(),
                at_least,
                threshold: t["needed"].as_f64().unwrap_or(f64::NAN),
                note: t["work"].as_str().unwrap_or_default().into(),
            };
            let rounds: Vec<String> = t["ratios"].as_array().into_iter().flatten().map(|x| ratio(x.as_f64())).collect();
            let fig = |k: &str| t[k].as_f64().map_or("–".into(), |v| target_figure(metric, v));
            let _ = writeln!(
                w,
                "| {}: {} ({}; {}) | {} | {} | {}, {} | {} {:.1}× | **{}** |",
                target.what,
                t["ratio"].as_str().unwrap_or_default(),
                metric,
                target.note,
                ratio(target.value),
                rounds.join(", "),
                fig("slotcast_median"),
                fig("peer_median"),
                if at_least { "≥" } else { "≤" },
                target.threshold,
                target.verdict()
            );
        }
        let _ = writeln!(w);
    } else {
        let _ = writeln!(w, "Not measured: the `targets` group did not run.\n");
    }

    // --- targets -------------------------------------------------------------
    let f = |s: &str| format!("fanout/{s}");
    let mut targets = Vec::new();
    let mut t = |what: &str, value: Option<f64>, at_least: bool, threshold: f64, note: &str| {
        targets.push(Target { what: what.into(), value, at_least, threshold, note: note.into() })
    };
    for readers in [1, 2] {
        t(
            &format!("fan-out 64 B, {readers} reader(s), one event per publish: slotcast / disruptor"),
            r.rate_ratio(&f(&format!("slotcast/64B/{readers}r")), &f(&format!("disruptor/64B/{readers}r"))),
            true,
            1.0,
            "throughput ratio",
        );
    }
    t(
        "instructions per 64-byte event (publish + read, one thread): slotcast / disruptor",
        r.instructions("slotcast").zip(r.instructions("disruptor")).map(|(a, b)| a / b),
        false,
        1.2,
        "callgrind",
    );
    for readers in [1, 2] {
        t(
            &format!("fan-out 64 B, {readers} reader(s), batches of 32: slotcast / disruptor batch_publish"),
            r.rate_ratio(
                &f(&format!("slotcast/64B/{readers}r/batch32")),
                &f(&format!("disruptor/64B/{readers}r/batch32")),
            ),
            true,
            1.0,
            "throughput ratio",
        );
    }
    t(
        "fan-out 64 B, 1 reader, batches of 32: slotcast / batched two-atomic ring",
        r.rate_ratio(&f("slotcast/64B/1r/batch32"), &f("spsc_ring/64B/1r/batch32")),
        true,
        0.7,
        "throughput ratio",
    );
    t(
        "mixed sizes, 2 readers: slotcast / disruptor (16 KB events)",
        r.rate_ratio(&f("slotcast/mixed/2r"), &f("disruptor/mixed/2r")),
        true,
        1.5,
        "throughput ratio",
    );
    for readers in [2, 4] {
        for (peer, min) in [("bus", 3.0), ("crossbeam_arc", 5.0), ("tokio", 7.0)] {
            t(
                &format!("fan-out 64 B, {readers} readers: slotcast / {peer}"),
                r.rate_ratio(&f(&format!("slotcast/64B/{readers}r")), &f(&format!("{peer}/64B/{readers}r"))),
                true,
                min,
                "throughput ratio",
            );
        }
    }
    for (peer, min) in [("disruptor", 1.0), ("crossbeam_arc", 1.5)] {
        t(
            &format!("fan-out 4 KB, 2 readers: slotcast / {peer}"),
            r.rate_ratio(&f("slotcast/4KB/2r"), &f(&format!("{peer}/4KB/2r"))),
            true,
            min,
            "throughput ratio",
        );
    }
    t(
        "retain and hand off to a second thread: slotcast / crossbeam Arc<[u8]>",
        r.rate_ratio("retain/slotcast/64B/1r", "retain/crossbeam_arc/64B/1r"),
        true,
        2.0,
        "throughput ratio",
    );
    t(
        "RingPtr allocate + fill 256 B + drop: slotcast / Box<[u8; 256]>",
        r.time_ratio("alloc/slotcast/alloc_fill_drop_256B", "alloc/box/alloc_fill_drop_256B"),
        false,
        1.0,
        "time ratio",
    );
    t(
        "RingPtr clone + drop: slotcast / Arc clone + drop",
        r.time_ratio("alloc/slotcast/clone_drop", "alloc/arc/clone_drop"),
        false,
        1.0,
        "time ratio",
    );
    let p50 = |s: &str| r.latency(s, "p50");
    t(
        "one-way latency p50, spin: slotcast / disruptor",
        p50("slotcast_spin").zip(p50("disruptor")).map(|(a, b)| a / b),
        false,
        1.1,
        "latency ratio",
    );
    t(
        "one-way latency p50, spin: slotcast / bare atomic ping-pong",
        p50("slotcast_spin").zip(p50("atomic_pingpong")).map(|(a, b)| a / b),
        false,
        2.0,
        "latency ratio",
    );
    t(
        "one-way latency p50, blocking strategy (busy reader) / spin",
        p50("slotcast_blocking").zip(p50("slotcast_spin")).map(|(a, b)| a / b),
        false,
        2.0,
        "latency ratio",
    );
    let idle = r.extra("idle_cpu");
    let idle_share = idle.as_ref().and_then(|v| {
        let b = &v["blocking"];
        Some(b["cpu_ns"].as_f64()? / b["wall_ns"].as_f64()?)
    });
    t(
        "idle reader, blocking strategy: CPU time / wall time over 1 s",
        idle_share,
        false,
        0.01,
        "\"near zero\" taken as at most 1%",
    );
    let ipc = |s: &str| r.rate(&format!("ipc/{s}"));
    t(
        "across processes, 256 B, 1 reader process: slotcast / ipc_ring",
        ipc("slotcast/256B/1p").zip(ipc("ipc_ring/256B/1p")).map(|(a, b)| a / b),
        true,
        5.0,
        "throughput ratio",
    );

    let _ = writeln!(w, "## Targets (issue 6)\n");
    let _ = writeln!(
        w,
        "Ratios of criterion's medians from the sections below: each system measured in its own stretch \
         of the run, not interleaved, so on this machine a throughput ratio here can be off by the \
         several-fold swing of its absolute rates. Where a target is also in the issue 12 table above, \
         that table's interleaved figure is the one to go by.\n"
    );
    let _ = writeln!(w, "| target | measured | needed | verdict |\n|---|---|---|---|");
    for t in &targets {
        let measured = match t.value {
            Some(v) if t.what.contains("CPU time") => format!("{:.3}%", v * 100.0),
            v => ratio(v),
        };
        let needed = if t.what.contains("CPU time") {
            format!("≤ {:.0}%", t.threshold * 100.0)
        } else {
            format!("{} {:.1}×", if t.at_least { "≥" } else { "≤" }, t.threshold)
        };
        let _ = writeln!(w, "| {} ({}) | {measured} | {needed} | **{}** |", t.what, t.note, t.verdict());
    }
    let _ = writeln!(w);

    // --- targets (issue 14) ----------------------------------------------------
    // Measured at commit 137af2b, before the async forms: the callgrind
    // bench's own output then.
    let base137 = read_json(&package.join("report/budget-137af2b.json"));
    w.push_str(&async_report::targets_table(&r, base137.as_ref()));

    // --- fanout --------------------------------------------------------------
    let _ = writeln!(w, "## fanout\n");
    let _ = writeln!(
        w,
        "One writer, N readers, every reader checksums every payload; events per second delivered to each \
         reader (the writer's rate). `ratio` is slotcast's throughput over the row's, same scenario, same \
         run. `base` is the harness alone (fill and checksum on one thread).\n"
    );
    let mut scenarios: Vec<String> = Vec::new();
    for id in r.results.keys().filter(|k| k.starts_with("fanout/")) {
        let mut parts = id.splitn(3, '/');
        let (_, _, param) = (parts.next(), parts.next(), parts.next().unwrap_or_default().to_string());
        if !scenarios.contains(&param) {
            scenarios.push(param);
        }
    }
    let order = |p: &String| {
        let payload = ["64B", "4KB", "mixed"].iter().position(|x| p.starts_with(x)).unwrap_or(9);
        (payload, p.contains("batch"), p.clone())
    };
    scenarios.sort_by_key(order);
    let systems = ["slotcast", "disruptor", "spsc_ring", "bus", "crossbeam_arc", "tokio", "tokio_blocking", "base"];
    // The chart: every scenario, slotcast beside each peer (not `base`, the
    // harness alone), events/s per reader on a log scale (the rates span
    // three decades and more).
    let series: Vec<(String, plotters::style::RGBColor, Vec<Option<f64>>)> = systems
        .iter()
        .filter(|&&sys| sys != "base")
        .map(|&sys| {
            let vals: Vec<Option<f64>> = scenarios.iter().map(|sc| r.rate(&format!("fanout/{sys}/{sc}"))).collect();
            (sys.to_string(), color(sys), vals)
        })
        .filter(|(_, _, vals)| vals.iter().any(Option::is_some))
        .collect();
    if !series.is_empty() {
        let bars = charts::Bars {
            title: "fan-out throughput: events/s per reader (median), by scenario".into(),
            x_desc: "payload / readers (b32: 32 events per publish, against disruptor's batch_publish)".into(),
            y_desc: "events/s per reader (log scale)".into(),
            groups: scenarios.iter().map(|sc| sc.replace("/batch32", "/b32")).collect(),
            series,
            format: charts::per_second,
        };
        w.push_str(&chart(
            &output,
            "fanout",
            "fan-out throughput by scenario, slotcast beside each peer",
            &bars,
            (1400, 560),
        ));
        let _ = writeln!(w);
    }
    for sc in &scenarios {
        let _ = writeln!(w, "### {sc}\n");
        let _ = writeln!(w, "| system | median | 95% CI | MAD | slotcast / system |\n|---|---|---|---|---|");
        let ours = r.rate(&format!("fanout/slotcast/{sc}"));
        for sys in systems {
            if let Some(b) = r.get(&format!("fanout/{sys}/{sc}")) {
                rate_row(w, sys, b, ours);
            }
        }
        let _ = writeln!(w);
    }

    // --- retain --------------------------------------------------------------
    let _ = writeln!(w, "## retain\n");
    let _ = writeln!(
        w,
        "Writer → reader → second thread, 64 B: slotcast's reader retains each event as a `RingPtr` and \
         sends the pointer through a bounded crossbeam channel; the peer allocates an `Arc<[u8]>` per event \
         and forwards it through two bounded crossbeam channels. The second thread checksums and drops.\n"
    );
    let _ = writeln!(w, "| system | median | 95% CI | MAD | slotcast / system |\n|---|---|---|---|---|");
    let ours = r.rate("retain/slotcast/64B/1r");
    for sys in ["slotcast", "crossbeam_arc"] {
        if let Some(b) = r.get(&format!("retain/{sys}/64B/1r")) {
            rate_row(w, sys, b, ours);
        }
    }
    let _ = writeln!(w);

    // --- alloc ---------------------------------------------------------------
    let _ = writeln!(w, "## alloc\n");
    let _ =
        writeln!(w, "One thread, time per operation; `ratio` is slotcast's time over the row's (lower is better).\n");
    let _ =
        writeln!(w, "| operation | system | median | 95% CI | MAD | slotcast / system |\n|---|---|---|---|---|---|");
    for (op, peers) in
        [("alloc_fill_drop_256B", &["slotcast", "box", "arc"][..]), ("clone_drop", &["slotcast", "arc"][..])]
    {
        let ours = r.get(&format!("alloc/slotcast/{op}")).map(|b| b.median);
        for sys in peers {
            let Some(b) = r.get(&format!("alloc/{sys}/{op}")) else { continue };
            let _ = writeln!(
                w,
                "| {op} | {sys} | {} | {} – {} | ±{:.1}% | {} |",
                ns(b.median),
                ns(b.low),
                ns(b.high),
                b.mad / b.median * 100.0,
                ratio(ours.map(|o| o / b.median))
            );
        }
    }
    let _ = writeln!(w);

    // --- latency -------------------------------------------------------------
    let _ = writeln!(w, "## latency\n");
    let _ = writeln!(
        w,
        "64-byte ping-pong between two threads; one-way latency is half the round trip, every round trip \
         recorded in an HDR histogram. `round trip` is criterion's median with its 95% CI.\n"
    );
    let latency_systems = ["slotcast_spin", "slotcast_blocking", "disruptor", "spsc_ring", "atomic_pingpong"];
    let percentiles = [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9")];
    let series: Vec<(String, plotters::style::RGBColor, Vec<Option<f64>>)> = latency_systems
        .iter()
        .filter_map(|&sys| {
            let h = r.extra(&format!("latency-{sys}"))?;
            Some((sys.to_string(), color(sys), percentiles.iter().map(|(k, _)| h[*k].as_f64()).collect()))
        })
        .collect();
    if !series.is_empty() {
        let bars = charts::Bars {
            title: "one-way latency, 64 B ping-pong: percentiles per system".into(),
            x_desc: "percentile".into(),
            y_desc: "one-way latency (log scale)".into(),
            groups: percentiles.iter().map(|(_, label)| label.to_string()).collect(),
            series,
            format: charts::nanoseconds,
        };
        w.push_str(&chart(&output, "latency", "one-way latency percentiles per system", &bars, (1000, 480)));
        let _ = writeln!(w);
    }
    let _ = writeln!(
        w,
        "| system | p50 | p90 | p99 | p99.9 | samples | round trip (criterion) |\n|---|---|---|---|---|---|---|"
    );
    for sys in latency_systems {
        let Some(h) = r.extra(&format!("latency-{sys}")) else { continue };
        let q = |k: &str| h[k].as_f64().map_or("–".into(), ns);
        let rt = r
            .get(&format!("latency/{sys}/64B"))
            .map_or("–".into(), |b| format!("{} ({} – {})", ns(b.median), ns(b.low), ns(b.high)));
        let _ = writeln!(
            w,
            "| {sys} | {} | {} | {} | {} | {} | {rt} |",
            q("p50"),
            q("p90"),
            q("p99"),
            q("p999"),
            h["samples"].as_u64().unwrap_or(0)
        );
    }
    let _ = writeln!(w);
    if let Some(v) = &idle {
        let _ = writeln!(w, "A reader with nothing to read for 1 s, CPU time of its thread:\n");
        let _ = writeln!(w, "| strategy | CPU time | wall time |\n|---|---|---|");
        for s in ["blocking", "yield"] {
            let cpu = v[s]["cpu_ns"].as_f64().map_or("unknown".into(), ns);
            let wall = v[s]["wall_ns"].as_f64().map_or("–".into(), ns);
            let _ = writeln!(w, "| {s} | {cpu} | {wall} |");
        }
        let _ = writeln!(w);
    }

    // --- callgrind -----------------------------------------------------------
    let _ = writeln!(w, "## Instructions per event (callgrind)\n");
    if let Some(cg) = r.extra("callgrind") {
        let _ = writeln!(
            w,
            "{}, one thread: publish then read back, filling and checksumming 64 bytes as the fan-out \
             readers do; (instructions of a {}-event run − those of a {}-event run) / {} events. \
             Deterministic: load on the machine does not change these.\n",
            cg["valgrind"].as_str().unwrap_or("valgrind"),
            cg["workloads"][0]["long_events"],
            cg["workloads"][0]["short_events"],
            cg["workloads"][0]["long_events"].as_u64().unwrap_or(0)
                - cg["workloads"][0]["short_events"].as_u64().unwrap_or(0),
        );
        let _ = writeln!(w, "| workload | instructions per event | / peer | peer | what |\n|---|---|---|---|---|");
        for wl in cg["workloads"].as_array().into_iter().flatten() {
            let name = wl["name"].as_str().unwrap_or_default();
            let per = wl["instructions_per_event"].as_f64().unwrap_or(f64::NAN);
            let peer = if name.ends_with("_alloc") {
                "box_alloc"
            } else if wl["batch"].as_u64() == Some(32) {
                "disruptor_batch32"
            } else {
                "disruptor"
            };
            let rel = r.instructions(peer).map(|d| per / d);
            let what = wl["what"].as_str().unwrap_or_default();
            let _ = writeln!(w, "| {name} | {per:.1} | {} | {peer} | {what} |", ratio(rel));
        }
        let _ = writeln!(w);
    } else {
        let _ = writeln!(w, "Not measured: valgrind was not installed when the benches ran.\n");
    }

    // --- ipc -----------------------------------------------------------------
    let _ = writeln!(w, "## ipc\n");
    let _ = writeln!(
        w,
        "One writer process, 1 or 2 reader processes, 256-byte messages through a file under `/dev/shm`; \
         every reader process checksums every message. Messages per second delivered to each reader, timed \
         from the first message until every reader has its last; reader processes are started (untimed) \
         for each sample. `spsc_shm` is the hand-written two-atomic ring in a mapped file (the hardware \
         floor; one reader). No iceoryx2 row: it was not added (heavy to build); the 2-process figure \
         stands beside `spsc_shm` instead. `ratio` is slotcast's 1-reader throughput over the row's.\n"
    );
    let _ = writeln!(w, "| system | median | 95% CI | MAD | slotcast (1p) / system |\n|---|---|---|---|---|");
    let ours = ipc("slotcast/256B/1p");
    for id in ["slotcast/256B/1p", "slotcast/256B/2p", "ipc_ring/256B/1p", "spsc_shm/256B/1p"] {
        if let Some(b) = r.get(&format!("ipc/{id}")) {
            rate_row(w, id, b, ours);
        }
    }
    let _ = writeln!(w);

    // --- issue 14: async fan-out, wake-up latency, publish cost, actor graph ----
    w.push_str(&async_report::sections(&r, &output, base137.as_ref()));

    // --- issue 15: ingest from Rust, C and Python; Python's read ----------------
    w.push_str(&ingest_report::section(&r));

    // --- issue 16: across machines, the NATS bridge -------------------------------
    w.push_str(&bridge_report::section(&r));

    std::fs::write(&output, md).unwrap_or_else(|e| panic!("cannot write {}: {e}", output.display()));
    println!("wrote {} ({} benchmarks)", output.display(), r.results.len());
}
