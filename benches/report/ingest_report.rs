//! The section of issue 15: ingest from Rust, C and Python (the native
//! package beside the C ABI's ctypes client), Python's read of 4 KB events
//! in place against a copy, and the targets.
//!
//! A module of the report generator (`generate.rs`). It reads
//! `slotcast-extra/ingest.json` (`benches/ingest.rs`): `ingest[]` and
//! `read[]` (`id`, `lang`, `label`, `rates` per round, `median`, `note` when
//! not measured), `ratios[]` (`id`, `what`, `ratios` per round, `median`),
//! `rounds`, `seconds_per_case`, `seconds`, `python` (`measured`, `note`,
//! `version`) and `command`. A group that did not run leaves the section
//! with a line saying so; Python rows the run could not measure (no venv)
//! say why. Every number printed is read from that file, or is a ratio of
//! such numbers.

use super::{Report, Target, mps, ratio};
use serde_json::Value;
use std::fmt::Write as _;

/// The median rate of case `id`, if measured.
fn median_of(doc: &Value, list: &str, id: &str) -> Option<f64> {
    let case = doc[list].as_array()?.iter().find(|c| c["id"] == id)?;
    case["rates"].as_array().filter(|r| !r.is_empty())?;
    case["median"].as_f64()
}

/// The median of the same-run ratio `id`, if measured.
fn ratio_of(doc: &Value, id: &str) -> Option<f64> {
    doc["ratios"].as_array()?.iter().find(|r| r["id"] == id)?["median"].as_f64()
}

/// The targets, from what this run measured (`None`: not measured).
fn targets(doc: &Value) -> Vec<Target> {
    let rate = |what: &str, id: &str, min: f64, note: &str| Target {
        what: what.into(),
        value: median_of(doc, "ingest", id),
        at_least: true,
        threshold: min,
        note: note.into(),
    };
    let same_run = |what: &str, id: &str, min: f64| Target {
        what: what.into(),
        value: ratio_of(doc, id),
        at_least: true,
        threshold: min,
        note: "median of the rounds' ratios".into(),
    };
    vec![
        rate(
            "Python ingest, one event per call (`Writer.publish`, 64 B)",
            "py-native-publish",
            5e6,
            "events/s, median",
        ),
        rate(
            "Python ingest, batched (`Writer.publish_batch`, 32 per call, 64 B)",
            "py-native-publish_batch32",
            20e6,
            "events/s, median",
        ),
        rate(
            "Python ingest, batched (`Writer.publish_packed`, 32 per call, 64 B)",
            "py-native-publish_packed32",
            20e6,
            "events/s, median",
        ),
        same_run("native package / ctypes client, one event per call", "native_over_ctypes_single", 10.0),
        same_run("native package / ctypes client, `publish_batch` of 32", "native_over_ctypes_batch", 10.0),
        same_run("read 4 KB: memoryview (in place) / `event.data` (a copy)", "memoryview_over_copy", 3.0),
    ]
}

/// One case's row: `| language | case | median | min – max | vs |`.
fn case_row(w: &mut String, c: &Value, base: Option<f64>) {
    let rates: Vec<f64> = c["rates"].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
    let (lang, label) = (c["lang"].as_str().unwrap_or_default(), c["label"].as_str().unwrap_or_default());
    if rates.is_empty() {
        let note = c["note"].as_str().filter(|n| !n.is_empty()).unwrap_or("not measured");
        let _ = writeln!(w, "| {lang} | {label} | {note} | | |");
        return;
    }
    let med = c["median"].as_f64().unwrap_or(f64::NAN);
    let (lo, hi) = rates.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    let _ = writeln!(
        w,
        "| {lang} | {label} | {} | {} – {} | {} |",
        mps(med),
        mps(lo),
        mps(hi),
        ratio(base.map(|b| med / b))
    );
}

/// The ingest section.
pub(super) fn section(r: &Report) -> String {
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "## Ingest from Rust, C and Python (issue 15)\n");
    let Some(doc) = r.extra("ingest") else {
        let _ = writeln!(
            w,
            "Not measured: the `ingest` group did not run (`cargo bench -p slotcast-benches --bench ingest`).\n"
        );
        return md;
    };
    let rounds = doc["rounds"].as_u64().unwrap_or(0);
    let _ = writeln!(
        w,
        "`benches/ingest.rs`, run as `{}` (one of `scripts/bench-report`'s groups): {rounds} interleaved rounds, \
         each running every case once for {} s, {:.0} s in all; a case's figure is the median of its rounds, a \
         ratio's the median of the rounds' ratios. Ingest: 64-byte events into an in-process runtime with the \
         default configuration and no reader (the cost of getting an event in, not of reading it), each case \
         into a runtime of its own. The C cases are `examples/c/bench.c` over the C library; the Python ones \
         `benches/python/ingest.py` in one process per round, the native package (`import slotcast`) beside \
         the C ABI's ctypes client (`examples/python/slotcast_ctypes.py`){}.\n",
        doc["command"].as_str().unwrap_or("cargo bench -p slotcast-benches --bench ingest"),
        doc["seconds_per_case"],
        doc["seconds"].as_f64().unwrap_or(f64::NAN),
        match doc["python"]["version"].as_str() {
            Some(v) => format!(", {v}"),
            None => String::new(),
        },
    );
    if let Some(note) = doc["python"]["note"].as_str() {
        let _ = writeln!(w, "Python cases {note}.\n");
    }
    let base = median_of(&doc, "ingest", "rust-publish_bytes");
    let _ = writeln!(
        w,
        "| language | case | events/s (median) | rounds: min – max | / Rust `publish_bytes` |\n|---|---|---|---|---|"
    );
    for c in doc["ingest"].as_array().into_iter().flatten() {
        case_row(w, c, base);
    }
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "Python's read of 4 KB events (class L), touching the first and the last byte of each. The ring is \
         filled before each timed read by the same runtime's writer (`publish_packed`), so that an event is \
         ready at every read for every case alike, and what is timed is the read alone, not a live writer's \
         waits for room and wake-ups of the reader on the machine's 2 cores (`benches/python/ingest.py` says \
         more). Last column: against the copying read of the native package.\n"
    );
    let copy = median_of(&doc, "read", "py-native-read-copy");
    let _ = writeln!(
        w,
        "| language | case | events/s (median) | rounds: min – max | / native copy |\n|---|---|---|---|---|"
    );
    for c in doc["read"].as_array().into_iter().flatten() {
        case_row(w, c, copy);
    }
    let _ = writeln!(w);

    if let Some(ratios) = doc["ratios"].as_array().filter(|r| !r.is_empty()) {
        let _ = writeln!(w, "Same-run ratios (each round's pair, then the median):\n");
        let _ = writeln!(w, "| ratio | median | rounds' ratios |\n|---|---|---|");
        for q in ratios {
            let rs: Vec<String> = q["ratios"].as_array().into_iter().flatten().map(|x| ratio(x.as_f64())).collect();
            let _ = writeln!(
                w,
                "| {} | {} | {} |",
                q["what"].as_str().unwrap_or_default(),
                ratio(q["median"].as_f64()),
                rs.join(", ")
            );
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "Targets (issue 15):\n");
    let _ = writeln!(w, "| target | measured | needed | verdict |\n|---|---|---|---|");
    for t in targets(&doc) {
        let is_rate = t.threshold >= 1e3;
        let measured = match t.value {
            None => doc["python"]["note"].as_str().unwrap_or("–").to_owned(),
            Some(v) if is_rate => mps(v),
            v => ratio(v),
        };
        let needed = if is_rate { format!("≥ {}", mps(t.threshold)) } else { format!("≥ {:.1}×", t.threshold) };
        let _ = writeln!(w, "| {} ({}) | {measured} | {needed} | **{}** |", t.what, t.note, t.verdict());
    }
    let _ = writeln!(w);
    md
}
