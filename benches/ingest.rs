//! `ingest`: getting events in from Rust, from C and from Python, and
//! reading them from Python, in one run of interleaved rounds. Absolute rates
//! on a shared 2-core machine swing several-fold between runs; every round
//! runs every case once, so a neighbour's load hits the cases alike, and
//! each case's figure is the median of its rounds; a ratio's figure is the
//! median of the rounds' ratios. The results go to
//! `slotcast-extra/ingest.json` under criterion's directory, which
//! `benches/report/ingest_report.rs` renders.
//!
//! Ingest: 64-byte events (class XS) into an in-process runtime with the
//! default configuration and no reader, so what is measured is the cost of
//! getting an event in (the call, the checks, the copy into the ring, the
//! cursor store), not a reader's; each case publishes for [`SECONDS`] per
//! round into a runtime of its own.
//!
//! | case | how |
//! |---|---|
//! | `rust-publish_bytes` | `Writer::publish_bytes`, one event per call |
//! | `rust-batch32` | the same with `set_flush_every(32)`: one cursor store per 32 events |
//! | `c-single`, `c-batch-pairs`, `c-batch-packed` | `examples/c/bench.c` (one event per `slotcast_writer_publish`; 32 per `_publish_batch`; 32 per `_publish_packed`), built as `examples/ffi_ingest.rs` builds it |
//! | `py-native-*` | the native package (`import slotcast`): `Writer.publish` one per call, `publish_batch` of 32, `publish_packed` of 32 and of 1024 |
//! | `py-ctypes-*` | the C ABI's ctypes client (`examples/python/slotcast_ctypes.py`): `publish`, `publish_batch` of 32 |
//!
//! Read: 4 KB events (class L) read from Python, touching the first and the
//! last byte of each: in place through a memoryview, as a copy
//! (`event.data`), and through the ctypes client (a copy). The ring is
//! pre-filled before each timed read by the same runtime's writer, not fed
//! live by a Rust writer process: the read is what is compared (in place
//! against a copy), and a live writer on this 2-core machine shares the
//! cores with the reader and, whenever the reader is the slower, waits for
//! room and wakes it; that interplay would be timed with the read and swing
//! with the machine's load. A pre-filled ring has an event ready at every
//! read, for every case alike.
//! `benches/python/ingest.py` says more.
//!
//! The Python cases run as `benches/python/ingest.py` under the venv's
//! python: `$SLOTCAST_PY_VENV`, else `target/py-venv` (which `.ci/python`
//! makes: it builds the wheel and installs it there). Without one, the
//! Python rows read "not measured" and the rest of the group runs. Run
//! alone as `cargo bench -p slotcast-benches --bench ingest`; criterion's
//! options do not apply. Under `cargo test --benches` it runs each case
//! once on a few thousand events with a reader that checks every one
//! (sequence, type, bytes), and writes nothing.

// Harness code uses std's `Instant` and process spawning freely.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

#[path = "../examples/common/c_bench.rs"]
mod c_bench;
mod common;

use common::median;
use serde_json::{Value, json};
use slotcast::Runtime;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Rounds, each running every case once.
const ROUNDS: usize = 7;
/// Seconds each case publishes (or reads) per round.
const SECONDS: f64 = 0.25;
/// The ingest payload: class XS.
const SIZE: usize = 64;
/// Events per batch (`set_flush_every`, the C and Python batch calls).
const BATCH: usize = 32;
/// Events each Rust case publishes in a test run, every one read back.
const CHECK_EVENTS: u64 = 2048;

/// What a case is, for the report.
struct Case {
    id: &'static str,
    lang: &'static str,
    label: &'static str,
}

const INGEST: [Case; 11] = [
    Case { id: "rust-publish_bytes", lang: "Rust", label: "`Writer::publish_bytes`, one event per call" },
    Case {
        id: "rust-batch32",
        lang: "Rust",
        label: "`publish_bytes` with `set_flush_every(32)` (one cursor store per 32)",
    },
    Case { id: "c-single", lang: "C", label: "`slotcast_writer_publish`, one event per call" },
    Case { id: "c-batch-pairs", lang: "C", label: "`slotcast_writer_publish_batch`, 32 pointer/length pairs per call" },
    Case { id: "c-batch-packed", lang: "C", label: "`slotcast_writer_publish_packed`, 32 events per call" },
    Case { id: "py-native-publish", lang: "Python, native", label: "`Writer.publish`, one event per call" },
    Case {
        id: "py-native-publish_batch32",
        lang: "Python, native",
        label: "`Writer.publish_batch`, a list of 32 per call",
    },
    Case {
        id: "py-native-publish_packed32",
        lang: "Python, native",
        label: "`Writer.publish_packed`, one buffer of 32 events per call",
    },
    Case {
        id: "py-native-publish_packed1024",
        lang: "Python, native",
        label: "`Writer.publish_packed`, one buffer of 1024 events per call",
    },
    Case { id: "py-ctypes-publish", lang: "Python, ctypes", label: "`Writer.publish`, one event per call" },
    Case {
        id: "py-ctypes-publish_batch32",
        lang: "Python, ctypes",
        label: "`Writer.publish_batch`, a list of 32 per call",
    },
];

const READ: [Case; 3] = [
    Case {
        id: "py-native-read-memoryview",
        lang: "Python, native",
        label: "`read_batch`, `memoryview(event)`: first and last byte, in place",
    },
    Case {
        id: "py-native-read-copy",
        lang: "Python, native",
        label: "`read_batch`, `event.data` (a copy): first and last byte",
    },
    Case {
        id: "py-ctypes-read",
        lang: "Python, ctypes",
        label: "`reader.events()` (a copy per event): first and last byte",
    },
];

/// Same-run ratios: (id, numerator case, denominator case, what).
const RATIOS: [(&str, &str, &str, &str); 7] = [
    ("native_over_ctypes_single", "py-native-publish", "py-ctypes-publish", "Python native / ctypes, one per call"),
    (
        "native_over_ctypes_batch",
        "py-native-publish_batch32",
        "py-ctypes-publish_batch32",
        "Python native / ctypes, `publish_batch` of 32",
    ),
    ("memoryview_over_copy", "py-native-read-memoryview", "py-native-read-copy", "read 4 KB: memoryview / copy"),
    ("memoryview_over_ctypes", "py-native-read-memoryview", "py-ctypes-read", "read 4 KB: memoryview / ctypes copy"),
    ("python_over_rust_single", "py-native-publish", "rust-publish_bytes", "Python native / Rust, one per call"),
    ("python_over_c_single", "py-native-publish", "c-single", "Python native / C, one per call"),
    ("c_over_rust_single", "c-single", "rust-publish_bytes", "C / Rust, one per call"),
];

// --- Rust -------------------------------------------------------------------------------

/// One Rust case: publishes for `seconds` (or, checking, exactly
/// [`CHECK_EVENTS`] with a reader that then verifies each); returns events/s.
fn rust_case(batched: bool, seconds: f64, check: bool) -> f64 {
    // The length is a run-time value, as it is for the C and Python callers
    // (and `examples/ffi_ingest.rs`): with a `[u8; 64]` rustc inlines a
    // fixed-size copy into the loop, which no caller through the C ABI or
    // Python gets, and the Rust rows would measure that instead.
    let size = std::hint::black_box(SIZE);
    let payloads: Vec<Vec<u8>> = (0..BATCH).map(|i| (0..size).map(|j| ((i + j) % 256) as u8).collect()).collect();
    let rt = Runtime::new().expect("an in-process runtime");
    let mut reader = check.then(|| rt.reader().expect("a reader"));
    let mut w = rt.writer().expect("the writer");
    if batched {
        w.set_flush_every(BATCH as u32);
    }
    let limit = if check { CHECK_EVENTS } else { u64::MAX };
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(seconds);
    let mut n = 0u64;
    while n < limit && (check || Instant::now() < until) {
        for _ in 0..1024 / BATCH {
            for p in &payloads {
                w.publish_bytes(1, p).expect("publish");
            }
        }
        n += 1024;
    }
    w.flush();
    let took = start.elapsed().as_secs_f64();
    assert_eq!(w.published(), n, "the writer's count against the loop's");
    if let Some(reader) = reader.as_mut() {
        for seq in 0..n {
            let ev = reader.try_recv().expect("read").unwrap_or_else(|| panic!("event {seq} of {n} missing"));
            assert_eq!((ev.sequence(), ev.event_type()), (seq, 1));
            assert_eq!(ev.data(), &payloads[seq as usize % BATCH][..], "event {seq}'s bytes");
        }
        assert!(reader.try_recv().expect("read").is_none(), "more events than published");
    }
    n as f64 / took
}

// --- C ----------------------------------------------------------------------------------

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("benches/ is in the workspace")
}

/// The C library and `examples/c/bench.c`, built in this bench's own
/// temporary target directory.
fn build_c() -> (PathBuf, PathBuf) {
    c_bench::build_c_bench(root(), &Path::new(env!("CARGO_TARGET_TMPDIR")).join("capi"))
}

/// Runs a bench program; returns its stdout's lines split on whitespace.
fn run(cmd: &mut Command) -> Vec<Vec<String>> {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split_whitespace().map(str::to_owned).collect()).collect()
}

/// One round of the C cases: "<case> <size> <events/s>" lines.
fn c_round(exe: &Path, seconds: f64) -> Vec<(String, f64)> {
    let lines = run(Command::new(exe).arg(SIZE.to_string()).arg(seconds.to_string()).arg("1"));
    let mut out = Vec::new();
    for l in lines {
        if let [case, size, rate] = &l[..] {
            assert_eq!(size, &SIZE.to_string(), "bench_c measured another size");
            // The two-thread case is the C ABI's lock under contention,
            // not ingest from one host thread: not one of this group's.
            if INGEST.iter().any(|c| c.id == case) {
                out.push((case.clone(), rate.parse().unwrap_or_else(|_| panic!("bench_c printed {rate:?}"))));
            }
        }
    }
    out
}

// --- Python ------------------------------------------------------------------------------

/// The venv's python with the native package, or why the Python rows are
/// not measured.
fn python() -> Result<PathBuf, String> {
    let venv = std::env::var_os("SLOTCAST_PY_VENV").map_or_else(|| root().join("target/py-venv"), PathBuf::from);
    let python = venv.join("bin/python");
    if !python.is_file() {
        return Err("not measured: no venv (run .ci/python)".into());
    }
    let probe = Command::new(&python)
        .args(["-c", "import slotcast; slotcast.Writer.publish_packed"])
        .current_dir(root().join("benches/python"))
        .output();
    match probe {
        Ok(o) if o.status.success() => Ok(python),
        _ => {
            Err(format!("not measured: the venv at {} has no native slotcast package (run .ci/python)", venv.display()))
        }
    }
}

/// `benches/python/ingest.py ARGS` under `python`, with the ctypes client
/// on the path and the C library it loads.
fn python_cmd(python: &Path, lib: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(root().join("benches/python/ingest.py"))
        .args(args)
        .env("SLOTCAST_LIB", lib.join("libslotcast.so"))
        .env("PYTHONPATH", root().join("examples/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// "<case> <events/s>" lines of a timed run.
fn rates(lines: Vec<Vec<String>>) -> Vec<(String, f64)> {
    lines
        .into_iter()
        .map(|l| match &l[..] {
            [case, rate] => (case.clone(), rate.parse().unwrap_or_else(|_| panic!("ingest.py printed {l:?}"))),
            _ => panic!("ingest.py printed {l:?}"),
        })
        .collect()
}

// --- the run -------------------------------------------------------------------------------

/// Test mode: every case once, small and verified.
fn check(lib: &Path, exe: &Path, python: &Result<PathBuf, String>) {
    for batched in [false, true] {
        let rate = rust_case(batched, 0.0, true);
        assert!(rate > 0.0);
    }
    // bench.c checks every call's status and exits non-zero on a failure;
    // its cases must all be there.
    let c = c_round(exe, 0.01);
    for id in ["c-single", "c-batch-pairs", "c-batch-packed"] {
        assert!(c.iter().any(|(case, rate)| case == id && *rate > 0.0), "bench_c did not report {id}: {c:?}");
    }
    match python {
        Ok(python) => {
            // Events each case of ingest.py's check run publishes or reads
            // (its CHECK_EVENTS, CHECK_READS), all verified there.
            for (mode, cases, events) in [("publish", &INGEST[..], "2048"), ("read", &READ[..], "1024")] {
                let lines = run(&mut python_cmd(python, lib, &[mode, "--check"]));
                for case in cases.iter().filter(|c| c.lang.starts_with("Python")) {
                    assert!(
                        lines.iter().any(|l| l[..] == [case.id, "ok", events]),
                        "{} not checked ({events} events): {lines:?}",
                        case.id
                    );
                }
            }
            println!("ingest: every case checked (Rust, C, Python)");
        }
        Err(why) => println!("ingest: Rust and C cases checked; Python {why}"),
    }
}

fn main() {
    if !common::selected("ingest") {
        return;
    }
    let benchmarking = common::benchmarking();
    let (lib, exe) = build_c();
    let python = python();
    if !benchmarking {
        check(&lib, &exe, &python);
        return;
    }
    if let Err(why) = &python {
        println!("ingest: Python cases {why}");
    }
    let started = Instant::now();
    let secs = SECONDS.to_string();
    let mut rounds: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for round in 0..ROUNDS {
        let mut this: Vec<(String, f64)> = vec![
            ("rust-publish_bytes".into(), rust_case(false, SECONDS, false)),
            ("rust-batch32".into(), rust_case(true, SECONDS, false)),
        ];
        this.extend(c_round(&exe, SECONDS));
        if let Ok(python) = &python {
            this.extend(rates(run(&mut python_cmd(python, &lib, &["publish", &secs]))));
            this.extend(rates(run(&mut python_cmd(python, &lib, &["read", &secs]))));
        }
        let line: Vec<String> = this.iter().map(|(c, r)| format!("{c} {:.2}M", r / 1e6)).collect();
        println!("ingest round {}: {}", round + 1, line.join(", "));
        for (case, rate) in this {
            rounds.entry(case).or_default().push(rate);
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let case_json = |c: &Case| {
        let rs = rounds.get(c.id).cloned().unwrap_or_default();
        let note = match (&python, rs.is_empty()) {
            (Err(why), true) if c.lang.starts_with("Python") => why.clone(),
            (_, true) => "not measured".into(),
            _ => String::new(),
        };
        json!({"id": c.id, "lang": c.lang, "label": c.label, "rates": rs, "median": median(&rs), "note": note})
    };
    let ingest: Vec<Value> = INGEST.iter().map(case_json).collect();
    let read: Vec<Value> = READ.iter().map(case_json).collect();
    let mut ratios = Vec::new();
    for (id, num, den, what) in RATIOS {
        let (Some(a), Some(b)) = (rounds.get(num), rounds.get(den)) else { continue };
        let rs: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
        let med = median(&rs);
        println!("ingest: {what}: median {med:.3} (rounds {rs:.3?})");
        ratios.push(json!({"id": id, "num": num, "den": den, "what": what, "ratios": rs, "median": med}));
    }
    for c in INGEST.iter().chain(&READ) {
        if let Some(rs) = rounds.get(c.id) {
            println!("ingest: {:<30} median {:>8.3} M/s", c.id, median(rs) / 1e6);
        }
    }
    println!("ingest: {ROUNDS} rounds in {seconds:.1} s");
    let py_version = python.as_ref().ok().and_then(|p| {
        let out = Command::new(p).arg("--version").output().ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    let doc = json!({
        "command": "cargo bench -p slotcast-benches --bench ingest",
        "rounds": ROUNDS,
        "seconds_per_case": SECONDS,
        "size": SIZE,
        "read_size": 4096,
        "order": "Rust, C (one bench_c run), Python ingest (one process), Python read (one process), in every round",
        "python": {
            "measured": python.is_ok(),
            "note": python.as_ref().err(),
            "version": py_version,
        },
        "seconds": seconds,
        "ingest": ingest,
        "read": read,
        "ratios": ratios,
    });
    common::write_extra("ingest", &format!("{doc:#}\n"));
}
