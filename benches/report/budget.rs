//! "Where the nanoseconds go": the per-event budget of issue 12, slotcast
//! before and after the issue beside disruptor 4, with the targets.
//!
//! A module of the report generator (`generate.rs`): `mod budget;` and
//! `budget::section(after, before)`, where `after` is this run's
//! `slotcast-extra/callgrind.json` (written by `benches/callgrind.rs`) and
//! `before` the same file measured on the library as it was before the issue
//! (`benches/report/budget-before.json`). Both have the shape the callgrind
//! bench writes; this module reads only their `budget` object:
//!
//! * `budget.phases[]`: `{name, phase, instructions_per_event,
//!   atomics_per_event, ...}`, one per budget workload (`slotcast_1r`,
//!   `disruptor_batch32_1r`, ...) and phase (`writer`, `readers`);
//! * `budget.lines[]`: `{id, system, shared, shared_best, writer_private,
//!   how}`, cache lines per event counted from the layout, per case
//!   (`48B/1`, `64B/1`, `64B/32`, `4KB/1`, `retain`);
//! * `budget.method`, `budget.commit`, `budget.src_modified`, `budget.lines_note`.
//!
//! Nothing here is a figure of its own: every number printed is read from
//! one of the two files, or is a difference, sum or ratio of such numbers.

use serde_json::Value;
use std::fmt::Write as _;

/// The `budget` object of a callgrind result, if it has one.
fn budget(doc: Option<&Value>) -> Option<&Value> {
    doc.map(|d| &d["budget"]).filter(|b| b.is_object())
}

/// A field of one phase measurement (`workload`, `phase`) of `doc`.
fn phase_field(doc: Option<&Value>, workload: &str, phase: &str, field: &str) -> Option<f64> {
    budget(doc)?["phases"].as_array()?.iter().find(|p| p["name"] == workload && p["phase"] == phase)?[field].as_f64()
}

fn instructions(doc: Option<&Value>, workload: &str, phase: &str) -> Option<f64> {
    phase_field(doc, workload, phase, "instructions_per_event")
}

fn atomics(doc: Option<&Value>, workload: &str, phase: &str) -> Option<f64> {
    phase_field(doc, workload, phase, "atomics_per_event")
}

/// One cache-line row (`system`, case `id`) of `doc`.
fn lines(doc: Option<&Value>, system: &str, id: &str) -> Option<Value> {
    budget(doc)?["lines"].as_array()?.iter().find(|l| l["system"] == system && l["id"] == id).cloned()
}

/// What a row is held to.
#[derive(Clone, Copy)]
enum Target {
    /// slotcast after / disruptor at most this.
    Ratio(f64),
    /// slotcast after at most this, in the row's unit.
    AtMost(f64),
    /// No target: context for the others.
    Info,
}

/// How a row's figures are printed.
#[derive(Clone, Copy)]
enum Unit {
    Instructions,
    Atomics,
    Lines,
}

impl Unit {
    fn show(self, v: f64) -> String {
        match self {
            Unit::Instructions => format!("{v:.1}"),
            Unit::Atomics | Unit::Lines => {
                let s = format!("{v:.3}");
                let s = s.trim_end_matches('0').trim_end_matches('.');
                if s == "-0" { "0".into() } else { s.to_string() }
            }
        }
    }
}

/// One value of a row for one system and one document.
type Measure = fn(Option<&Value>) -> Option<f64>;

struct Row {
    label: &'static str,
    unit: Unit,
    slotcast: Measure,
    /// `None`: disruptor has no such thing (printed "n/a").
    disruptor: Option<Measure>,
    /// slotcast's best case, printed beside its figure when it differs.
    best: Option<Measure>,
    target: Target,
}

fn sum(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? + b?)
}

/// (readers' phase with 4 readers − with 1) / 3.
fn extra_reader(doc: Option<&Value>, system: &str) -> Option<f64> {
    let four = instructions(doc, &format!("{system}_4r"), "readers")?;
    let one = instructions(doc, &format!("{system}_1r"), "readers")?;
    Some((four - one) / 3.0)
}

fn shared(doc: Option<&Value>, system: &str, id: &str) -> Option<f64> {
    lines(doc, system, id)?["shared"].as_f64()
}

fn shared_best(doc: Option<&Value>, system: &str, id: &str) -> Option<f64> {
    lines(doc, system, id)?["shared_best"].as_f64()
}

/// The table's rows, in order. The targets are issue 12's: writer and each
/// reader ≤ 1.2× disruptor's share; batches of 32 ≤ 1.2× disruptor's
/// `batch_publish` per event; retain + drop ≤ 2 atomic RMWs and ≤ 60
/// instructions over a plain read; ≤ 2 shared lines per event up to 48 B,
/// the payload's lines plus at most one above.
fn rows() -> Vec<Row> {
    vec![
        Row {
            label: "writer, one event per publish (instructions)",
            unit: Unit::Instructions,
            slotcast: |d| instructions(d, "slotcast_1r", "writer"),
            disruptor: Some(|d| instructions(d, "disruptor_1r", "writer")),
            best: None,
            target: Target::Ratio(1.2),
        },
        Row {
            label: "writer, batches of 32 (disruptor: `batch_publish`)",
            unit: Unit::Instructions,
            slotcast: |d| instructions(d, "slotcast_batch32_1r", "writer"),
            disruptor: Some(|d| instructions(d, "disruptor_batch32_1r", "writer")),
            best: None,
            target: Target::Info,
        },
        Row {
            label: "each reader (1 reader)",
            unit: Unit::Instructions,
            slotcast: |d| instructions(d, "slotcast_1r", "readers"),
            disruptor: Some(|d| instructions(d, "disruptor_1r", "readers")),
            best: None,
            target: Target::Ratio(1.2),
        },
        Row {
            label: "per extra reader ((4 readers − 1) / 3)",
            unit: Unit::Instructions,
            slotcast: |d| extra_reader(d, "slotcast"),
            disruptor: Some(|d| extra_reader(d, "disruptor")),
            best: None,
            target: Target::Ratio(1.2),
        },
        Row {
            label: "each reader, through `as_pod::<[u8; 64]>()`",
            unit: Unit::Instructions,
            slotcast: |d| instructions(d, "slotcast_pod_1r", "readers"),
            disruptor: Some(|d| instructions(d, "disruptor_1r", "readers")),
            best: None,
            target: Target::Info,
        },
        Row {
            label: "writer + 1 reader, one event per publish",
            unit: Unit::Instructions,
            slotcast: |d| sum(instructions(d, "slotcast_1r", "writer"), instructions(d, "slotcast_1r", "readers")),
            disruptor: Some(|d| {
                sum(instructions(d, "disruptor_1r", "writer"), instructions(d, "disruptor_1r", "readers"))
            }),
            best: None,
            target: Target::Info,
        },
        Row {
            label: "writer + 4 readers, one event per publish",
            unit: Unit::Instructions,
            slotcast: |d| sum(instructions(d, "slotcast_4r", "writer"), instructions(d, "slotcast_4r", "readers")),
            disruptor: Some(|d| {
                sum(instructions(d, "disruptor_4r", "writer"), instructions(d, "disruptor_4r", "readers"))
            }),
            best: None,
            target: Target::Info,
        },
        Row {
            label: "writer + 1 reader, batches of 32",
            unit: Unit::Instructions,
            // The readers' phase is the same whatever the writer's batch:
            // the readers drain the same 512 published events.
            slotcast: |d| {
                sum(instructions(d, "slotcast_batch32_1r", "writer"), instructions(d, "slotcast_1r", "readers"))
            },
            disruptor: Some(|d| {
                sum(instructions(d, "disruptor_batch32_1r", "writer"), instructions(d, "disruptor_1r", "readers"))
            }),
            best: None,
            target: Target::Ratio(1.2),
        },
        Row {
            label: "retain + drop, instructions over a plain read",
            unit: Unit::Instructions,
            slotcast: |d| {
                Some(instructions(d, "slotcast_retain_1r", "readers")? - instructions(d, "slotcast_1r", "readers")?)
            },
            disruptor: None,
            best: None,
            target: Target::AtMost(60.0),
        },
        Row {
            label: "retain + drop, atomic read-modify-writes",
            unit: Unit::Atomics,
            slotcast: |d| Some(atomics(d, "slotcast_retain_1r", "readers")? - atomics(d, "slotcast_1r", "readers")?),
            disruptor: None,
            best: None,
            target: Target::AtMost(2.0),
        },
        Row {
            label: "atomic read-modify-writes, writer + 1 reader (no retain)",
            unit: Unit::Atomics,
            slotcast: |d| sum(atomics(d, "slotcast_1r", "writer"), atomics(d, "slotcast_1r", "readers")),
            disruptor: Some(|d| sum(atomics(d, "disruptor_1r", "writer"), atomics(d, "disruptor_1r", "readers"))),
            best: None,
            target: Target::Info,
        },
        Row {
            label: "shared cache lines, 48 B, one event per publish",
            unit: Unit::Lines,
            slotcast: |d| shared(d, "slotcast", "48B/1"),
            disruptor: Some(|d| shared(d, "disruptor", "48B/1")),
            best: Some(|d| shared_best(d, "slotcast", "48B/1")),
            target: Target::AtMost(2.0),
        },
        Row {
            label: "shared cache lines, 64 B, one event per publish",
            unit: Unit::Lines,
            slotcast: |d| shared(d, "slotcast", "64B/1"),
            disruptor: Some(|d| shared(d, "disruptor", "64B/1")),
            // The payload's one line plus at most one.
            best: Some(|d| shared_best(d, "slotcast", "64B/1")),
            target: Target::AtMost(2.0),
        },
        Row {
            label: "shared cache lines, 64 B, batches of 32",
            unit: Unit::Lines,
            slotcast: |d| shared(d, "slotcast", "64B/32"),
            disruptor: Some(|d| shared(d, "disruptor", "64B/32")),
            best: Some(|d| shared_best(d, "slotcast", "64B/32")),
            target: Target::AtMost(2.0),
        },
        Row {
            label: "shared cache lines, 4 KB, one event per publish",
            unit: Unit::Lines,
            slotcast: |d| shared(d, "slotcast", "4KB/1"),
            disruptor: Some(|d| shared(d, "disruptor", "4KB/1")),
            // The payload's 64 lines plus at most one.
            best: Some(|d| shared_best(d, "slotcast", "4KB/1")),
            target: Target::AtMost(65.0),
        },
        Row {
            label: "writer-private lines written, 64 B",
            unit: Unit::Lines,
            slotcast: |d| lines(d, "slotcast", "64B/1")?["writer_private"].as_f64(),
            disruptor: Some(|d| lines(d, "disruptor", "64B/1")?["writer_private"].as_f64()),
            best: None,
            target: Target::Info,
        },
        Row {
            label: "retain + drop, more shared lines",
            unit: Unit::Lines,
            slotcast: |d| shared(d, "slotcast", "retain"),
            disruptor: None,
            best: None,
            target: Target::Info,
        },
    ]
}

/// A slotcast figure, with its best case beside it when that differs.
fn with_best(row: &Row, doc: Option<&Value>, v: f64) -> String {
    let shown = row.unit.show(v);
    match row.best.and_then(|f| f(doc)) {
        Some(best) if (best - v).abs() > 1e-9 => format!("{shown} ({} at best)", row.unit.show(best)),
        _ => shown,
    }
}

/// The markdown section "## Where the nanoseconds go", from this run's
/// callgrind results (`after`) and those measured before issue 12
/// (`before`); either may be missing.
#[allow(unreachable_pub)] // `pub` as the generator calls it; the module is private to the binary.
pub(crate) fn section(after: Option<&Value>, before: Option<&Value>) -> String {
    let (after, before) = (after.filter(|d| budget(Some(d)).is_some()), before.filter(|d| budget(Some(d)).is_some()));
    let mut w = String::new();
    let _ = writeln!(w, "## Where the nanoseconds go\n");
    let Some(any) = after.or(before) else {
        let _ = writeln!(
            w,
            "Not measured: no callgrind budget in this run (valgrind not installed?) nor a recorded one before \
             issue 12.\n"
        );
        return w;
    };
    let b = &any["budget"];
    let _ = writeln!(
        w,
        "Per 64-byte event, one thread, counted by callgrind (instructions and atomic read-modify-writes do not \
         depend on the machine's load): {}. The writer's phase and the readers' are separate functions, each \
         counted alone; atomic read-modify-writes are callgrind's global bus events (`lock`-prefixed \
         instructions and `xchg`). Both sides fill every payload byte and each reader checksums every byte. \
         Cache lines are not measured but counted from each system's layout and code (how: below the table): \
         a shared line is one the writer writes that a reader must then fetch from the writer's core, per event.\n",
        b["method"].as_str().unwrap_or("see benches/callgrind.rs")
    );
    let commit = |d: Option<&Value>| {
        budget(d).map_or("not measured".to_string(), |b| {
            let short = |c: &str| if c.is_empty() { "unknown".to_string() } else { c[..c.len().min(12)].to_string() };
            let c = short(b["commit"].as_str().unwrap_or_default());
            let mut s = format!("commit `{c}`");
            if let Some(lib) = b["src_commit"].as_str().map(short).filter(|l| *l != c) {
                let _ = write!(s, " (library last changed in `{lib}`)");
            }
            if b["src_modified"].as_bool() == Some(true) {
                s.push_str(" with uncommitted library changes");
            }
            s
        })
    };
    let _ = writeln!(w, "slotcast before: {}; slotcast after: {}.\n", commit(before), commit(after));
    let _ = writeln!(
        w,
        "| per event (64 B unless the row says) | slotcast before | slotcast after | disruptor 4 | after / disruptor | target | verdict \
         |\n|---|---:|---:|---:|---:|---|---|"
    );
    for row in rows() {
        let (sb, sa) = ((row.slotcast)(before), (row.slotcast)(after));
        // disruptor does not change with the issue: this run's figure, else the recorded one.
        let d = row.disruptor.map(|f| f(after).or_else(|| f(before)));
        let cell = |doc: Option<&Value>, v: Option<f64>| v.map_or("–".into(), |v| with_best(&row, doc, v));
        let disruptor = match d {
            None => "n/a".to_string(),
            Some(v) => v.map_or("–".into(), |v| row.unit.show(v)),
        };
        let ratio = match (sa, d.flatten()) {
            (Some(a), Some(d)) if d > 0.0 => Some(a / d),
            _ => None,
        };
        let ratio_cell = ratio.map_or("–".into(), |r| format!("{r:.2}×"));
        let (target, met) = match row.target {
            Target::Ratio(t) => (format!("≤ {t:.1}× disruptor"), ratio.map(|r| r <= t)),
            // Targets are whole numbers of instructions, atomics or lines.
            Target::AtMost(t) => (format!("≤ {}", Unit::Lines.show(t)), sa.map(|a| a <= t + 1e-9)),
            Target::Info => (String::new(), None),
        };
        let verdict = match (row.target, met) {
            (Target::Info, _) => "",
            (_, Some(true)) => "**met**",
            (_, Some(false)) => "**missed**",
            (_, None) => "not measured",
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {disruptor} | {ratio_cell} | {target} | {verdict} |",
            row.label,
            cell(before, sb),
            cell(after, sa),
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "How the cache lines are counted (64-byte lines; per event):\n");
    for id in ["48B/1", "64B/1", "64B/32", "4KB/1", "retain"] {
        let how =
            |d: Option<&Value>, system: &str| lines(d, system, id).and_then(|l| l["how"].as_str().map(String::from));
        let (hb, ha) = (how(before, "slotcast"), how(after, "slotcast"));
        match (&hb, &ha) {
            (Some(b), Some(a)) if a != b => {
                let _ = writeln!(w, "- {id}, slotcast before: {b}");
                let _ = writeln!(w, "- {id}, slotcast after: {a}");
            }
            _ => {
                if let Some(h) = ha.or(hb) {
                    let _ = writeln!(w, "- {id}, slotcast: {h}");
                }
            }
        }
        if let Some(h) = how(after, "disruptor").or_else(|| how(before, "disruptor")) {
            let _ = writeln!(w, "- {id}, disruptor: {h}");
        }
    }
    if let Some(note) = budget(after).or(budget(before)).and_then(|b| b["lines_note"].as_str()) {
        let _ = writeln!(w, "\n{note}");
    }
    let _ = writeln!(w);
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A callgrind result with the phases and line rows the table reads.
    fn doc(commit: &str, writer: f64, reader: f64, retain: f64, descriptor_lines: f64) -> Value {
        let p = |name: &str, phase: &str, instructions: f64, atomics: f64| json!({"name": name, "phase": phase, "instructions_per_event": instructions, "atomics_per_event": atomics});
        let l = |system: &str, id: &str, shared: f64, best: f64| {
            json!({"system": system, "id": id, "shared": shared, "shared_best": best, "writer_private": 0.0,
                   "how": format!("{system} {id} {shared}")})
        };
        json!({"valgrind": "valgrind-3.19.0", "workloads": [], "budget": {
            "commit": commit, "src_modified": false, "method": "the method",
            "lines_note": "the note",
            "phases": [
                p("slotcast_1r", "writer", writer, 0.001), p("slotcast_1r", "readers", reader, 0.0),
                p("slotcast_4r", "writer", writer, 0.001), p("slotcast_4r", "readers", reader * 4.0, 0.0),
                p("slotcast_batch32_1r", "writer", writer - 10.0, 0.0),
                p("slotcast_retain_1r", "readers", reader + retain, 2.0),
                p("slotcast_pod_1r", "readers", reader - 30.0, 0.0),
                p("disruptor_1r", "writer", 26.0, 0.0), p("disruptor_1r", "readers", 30.0, 0.0),
                p("disruptor_4r", "writer", 26.0, 0.0), p("disruptor_4r", "readers", 120.0, 0.0),
                p("disruptor_batch32_1r", "writer", 17.7, 0.0),
            ],
            "lines": [
                l("slotcast", "48B/1", 2.0 + descriptor_lines, 2.25), l("disruptor", "48B/1", 2.0, 2.0),
                l("slotcast", "64B/1", 2.0 + descriptor_lines, 2.25), l("disruptor", "64B/1", 2.0, 2.0),
                l("slotcast", "64B/32", 1.28125, 1.28125), l("disruptor", "64B/32", 1.03125, 1.03125),
                l("slotcast", "4KB/1", 66.0, 65.25), l("disruptor", "4KB/1", 65.0, 65.0),
                l("slotcast", "retain", 2.0, 2.0),
            ],
        }})
    }

    fn row<'a>(md: &'a str, label: &str) -> &'a str {
        md.lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap_or_else(|| panic!("no row {label:?} in\n{md}"))
    }

    #[test]
    fn before_and_after_side_by_side_with_ratios_and_verdicts() {
        let before = doc("1111111111111111", 108.3, 119.1, 142.0, 1.0);
        let after = doc("2222222222222222", 30.0, 33.0, 50.0, 0.0);
        let md = section(Some(&after), Some(&before));
        assert!(md.starts_with("## Where the nanoseconds go\n"));
        assert!(md.contains("slotcast before: commit `111111111111`; slotcast after: commit `222222222222`."));
        // Writer: 30 / 26 = 1.15× ≤ 1.2×.
        assert_eq!(
            row(&md, "writer, one event per publish (instructions)"),
            "| writer, one event per publish (instructions) | 108.3 | 30.0 | 26.0 | 1.15× | ≤ 1.2× disruptor | **met** |"
        );
        // Per extra reader: (4r − 1r) / 3 = the 1-reader figure here; 33 / 30 = 1.10×.
        assert!(row(&md, "per extra reader ((4 readers − 1) / 3)").contains("| 119.1 | 33.0 | 30.0 | 1.10× |"));
        // Batches: (20 + 33) / (17.7 + 30) = 1.11× after; 98.3 + 119.1 before.
        assert!(row(&md, "writer + 1 reader, batches of 32").contains("| 217.4 | 53.0 | 47.7 | 1.11× |"));
        // Retain has no disruptor figure and an absolute target.
        assert_eq!(
            row(&md, "retain + drop, instructions over a plain read"),
            "| retain + drop, instructions over a plain read | 142.0 | 50.0 | n/a | – | ≤ 60 | **met** |"
        );
        assert!(row(&md, "retain + drop, atomic read-modify-writes").contains("| 2 | 2 | n/a | – | ≤ 2 | **met** |"));
        // Lines: 3 before (2.25 at best), 2 after; the target is two lines.
        assert_eq!(
            row(&md, "shared cache lines, 64 B, one event per publish"),
            "| shared cache lines, 64 B, one event per publish | 3 (2.25 at best) | 2 (2.25 at best) | 2 | 1.00× | ≤ 2 | **met** |"
        );
        assert!(row(&md, "shared cache lines, 4 KB, one event per publish").contains("| 66 (65.25 at best) |"));
        // The derivations differ before and after, so both are printed.
        assert!(md.contains("- 64B/1, slotcast before: slotcast 64B/1 3\n- 64B/1, slotcast after: slotcast 64B/1 2\n"));
        assert!(md.contains("- 64B/1, disruptor: disruptor 64B/1 2\n"));
        assert!(md.contains("\nthe note\n"));
    }

    #[test]
    fn a_missing_side_is_not_measured_never_a_number() {
        let before = doc("1111111111111111", 108.3, 119.1, 142.0, 1.0);
        let md = section(None, Some(&before));
        // Writer: 108.3 / 26 before, but no after: no ratio, no verdict.
        assert_eq!(
            row(&md, "writer, one event per publish (instructions)"),
            "| writer, one event per publish (instructions) | 108.3 | – | 26.0 | – | ≤ 1.2× disruptor | not measured |"
        );
        assert!(md.contains("slotcast after: not measured."));
        // A result without a budget (an older bench) counts as missing.
        let old = json!({"valgrind": "valgrind-3.19.0", "workloads": []});
        assert!(section(Some(&old), None).contains("Not measured"));
        assert!(section(None, None).contains("Not measured"));
    }
}
