//! The C ABI's Python client (`examples/python/slotcast_ctypes.py`, ctypes over the C
//! library) run with the system `python3`: a Python writer process verified
//! by a Rust reader, a Rust writer verified by a Python reader process, the
//! Python bad-input tests (`tests/python/test_errors.py`), and reader
//! policies and the stream's life across processes
//! (`tests/python/policies.py`, the same cases as `tests/c/policies.c`).
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use common::capi::{self, scenarios};
use slotcast::{ReadError, Runtime, WaitStrategy};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Events each way: Python publishes or verifies a few µs per event.
const EVENTS: u64 = 30_000;

/// `python3` with the library and `examples/python` on its paths. Panics
/// (the test fails loudly) if there is no `python3`.
fn python() -> Command {
    let python = std::env::var_os("PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    match Command::new(&python).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => panic!("no Python: `{}` does not run (install python3 >= 3.8)", python.display()),
    }
    let mut cmd = Command::new(python);
    cmd.env("SLOTCAST_LIB", capi::lib_dir().join("libslotcast.so"))
        .env("PYTHONPATH", capi::root().join("examples/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(capi::root());
    cmd
}

fn shared(tag: &str) -> (PathBuf, Runtime) {
    let path = common::temp_path(tag);
    let rt =
        Runtime::builder().shared(&path).ring_capacity(1024).wait_strategy(WaitStrategy::Blocking).build().unwrap();
    (path, rt)
}

#[test]
fn a_python_writer_process_feeds_a_rust_reader() {
    let (path, rt) = shared("py-writer");
    let mut reader = rt.reader().unwrap();
    let mut child = python()
        .arg("examples/python/ingest.py")
        .arg(&path)
        .arg(EVENTS.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    capi::read_pattern(&mut reader, EVENTS, &mut child, "python");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the Python writer failed: {}", out.status);
    assert!(stdout.starts_with(&format!("DONE {EVENTS} ")), "unexpected output {stdout:?}");
    // The Python writer's close closed the stream: nothing beyond the events.
    assert_eq!(reader.try_recv().map(|e| e.is_some()), Err(ReadError::Closed));
    println!("python writer: {stdout}rust reader verified {EVENTS} events");
}

#[test]
fn a_rust_writer_feeds_a_python_reader_process() {
    let (path, rt) = shared("py-reader");
    let mut child = python()
        .arg("examples/python/consume.py")
        .arg(&path)
        .arg(EVENTS.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let joined = lines.next().expect("python said nothing").unwrap();
    assert_eq!(joined, "JOINED");
    let mut writer = rt.writer().unwrap();
    let mut i = 0u64;
    while i < EVENTS {
        // Blocks of 16 in a batch, the rest one by one.
        if (i / 16) % 2 == 0 {
            writer.set_flush_every(16);
            for k in i..(i + 16).min(EVENTS) {
                writer.publish_bytes(capi::pattern_type(k), &capi::pattern_bytes(k)).unwrap();
            }
            writer.flush();
            writer.set_flush_every(1);
            i = (i + 16).min(EVENTS);
        } else {
            writer.publish_bytes(capi::pattern_type(i), &capi::pattern_bytes(i)).unwrap();
            i += 1;
        }
    }
    let done = lines.next().expect("python exited early").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the Python reader failed: {status} after {done:?}");
    assert!(done.starts_with(&format!("OK {EVENTS} ")), "unexpected output {done:?}");
    println!("rust writer, python reader: {done}");
}

#[test]
fn every_status_code_is_provoked_from_python() {
    let out = python()
        .args(["-m", "unittest", "-v", "test_errors"])
        .env(
            "PYTHONPATH",
            format!(
                "{}:{}",
                capi::root().join("examples/python").display(),
                capi::root().join("tests/python").display()
            ),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{}{stderr}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "the Python tests failed: {}", out.status);
    let ran: usize = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Ran ").and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()))
        .expect("unittest's summary");
    assert!(ran >= 21, "only {ran} Python tests ran");
}

#[test]
fn the_python_bad_input_tests_cover_every_error_code() {
    let test = std::fs::read_to_string(capi::root().join("tests/python/test_errors.py")).unwrap();
    let header = std::fs::read_to_string(capi::root().join("include/slotcast.h")).unwrap();
    let mut checked = 0;
    for name in
        header.lines().filter_map(|l| l.strip_prefix("#define SLOTCAST_ERR_")).filter_map(|l| l.split(' ').next())
    {
        if ["UNSUPPORTED", "PANIC"].contains(&name) {
            continue; // not reachable on Linux (see tests/c_client.rs)
        }
        let code = format!("slotcast_ctypes.ERR_{name}");
        assert!(test.contains(&code), "tests/python/test_errors.py never provokes {code}");
        checked += 1;
    }
    assert_eq!(checked, 22);
    // The Python constants match the header's.
    let module = std::fs::read_to_string(capi::root().join("examples/python/slotcast_ctypes.py")).unwrap();
    for line in header.lines().filter_map(|l| l.strip_prefix("#define SLOTCAST_ERR_")) {
        let (name, value) = line.split_once(' ').unwrap();
        assert!(module.contains(&format!("\nERR_{name} = {value}\n")), "slotcast_ctypes.py: ERR_{name} is not {value}");
    }
}

/// `python3 tests/python/policies.py MODE PATH ARGS...` (see its docs).
fn policies(args: &[&str]) -> Command {
    let mut cmd = python();
    cmd.arg("tests/python/policies.py").args(args);
    cmd
}

#[test]
fn a_lossy_python_reader_that_stops_reading_does_not_stop_a_rust_writer() {
    let (line, _) = scenarios::stalled_lossy_tap(&policies, "Python", "py-tap");
    println!("python tap: {line}");
}

#[test]
fn a_python_reader_drains_then_its_iteration_ends_at_the_close_of_a_rust_writer_process() {
    let after = scenarios::drain_then_closed(&policies, "py-drain", 3_000);
    println!("the Python reader read 3000 events and the close, {after:?} after close()");
}

#[test]
fn a_waiting_python_reader_learns_its_writer_process_was_killed_and_reads_on_with_the_next() {
    let after = scenarios::writer_killed_then_taken_over(&policies, "py-dead", 500, 300);
    println!("the waiting Python reader raised WriterDead {after:?} after SIGKILL (seen from here)");
}

#[test]
fn a_python_reader_joining_from_the_oldest_event_replays_the_window() {
    scenarios::oldest_replays_the_window(&policies, "py-oldest");
}
