//! C clients of the C ABI, compiled with the system C compiler against
//! `include/slotcast.h` and the built library:
//!
//! * `examples/c/ingest.c` pushes 100,000 events into a shared runtime in
//!   another process; a Rust reader here verifies every one.
//! * `examples/c/tap.c`, a lossy monitoring tap, replays a closed stream.
//! * `tests/c/bad_input.c` provokes every status code the ABI can return.
//! * `tests/c/policies.c` is the C side of reader policies and the stream's
//!   life across processes: a lossy reader that stalls, a reader that drains
//!   a closed stream, one whose writer process is killed, one that replays.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use common::capi::{self, Link, publish_pattern, scenarios, shared_runtime};
use slotcast::{ReadError, Runtime, WaitStrategy};
use std::process::{Command, Stdio};

#[test]
fn a_c_process_pushes_100_000_events_that_a_rust_reader_verifies() {
    const EVENTS: u64 = 100_000;
    let dir = capi::scratch("c-ingest");
    let exe = dir.join("ingest");
    capi::compile(&["examples/c/ingest.c"], &exe, Link::Shared);

    let path = common::temp_path("c-ingest");
    let rt =
        Runtime::builder().shared(&path).ring_capacity(1024).wait_strategy(WaitStrategy::Blocking).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut child = Command::new(&exe).arg(&path).arg(EVENTS.to_string()).stdout(Stdio::piped()).spawn().unwrap();

    let bytes = capi::read_pattern(&mut reader, EVENTS, &mut child, "the C client");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the C client failed: {}", out.status);
    assert!(stdout.starts_with(&format!("DONE {EVENTS} ")), "unexpected output {stdout:?}");
    assert_eq!(rt.published(), EVENTS);
    // Freeing the C writer closed the stream: nothing beyond the events.
    assert_eq!(reader.try_recv().map(|e| e.is_some()), Err(ReadError::Closed), "nothing beyond the {EVENTS} events");
    println!("C client: {stdout}Rust reader verified {EVENTS} events, {bytes} bytes");
    assert_eq!(rt.stats().writer_pid, None, "the C writer gave the role back");
}

#[test]
fn every_status_code_is_provoked_from_c() {
    let dir = capi::scratch("c-bad-input");
    let exe = dir.join("bad_input");
    // The static library, so that both library kinds are linked by a test.
    capi::compile(&["tests/c/bad_input.c"], &exe, Link::Static);
    let out = Command::new(&exe).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "bad_input failed: {}", out.status);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "unexpected summary {last:?}");
    let passed: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(passed > 100, "only {passed} checks ran");
}

/// Codes no test can provoke: `UNSUPPORTED` exists on other platforms only,
/// `PANIC` means a bug in slotcast (the unit tests of `src/ffi.rs` provoke
/// it through the same wrapper every function uses).
pub const UNREACHABLE_HERE: [&str; 2] = ["SLOTCAST_ERR_UNSUPPORTED", "SLOTCAST_ERR_PANIC"];

#[test]
fn the_c_bad_input_test_expects_every_error_code_of_the_header() {
    let header = std::fs::read_to_string(capi::root().join("include/slotcast.h")).unwrap();
    let test = std::fs::read_to_string(capi::root().join("tests/c/bad_input.c")).unwrap();
    let codes: Vec<&str> = header
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split(' ').next())
        .filter(|name| name.starts_with("SLOTCAST_ERR_"))
        .collect();
    assert_eq!(codes.len(), 24, "the header's error codes: {codes:?}");
    for code in codes.iter().filter(|c| !UNREACHABLE_HERE.contains(c)) {
        assert!(test.contains(&format!(", {code});")), "tests/c/bad_input.c never expects {code}");
    }
}

/// `tests/c/policies.c`, compiled once per test binary.
fn policies() -> std::path::PathBuf {
    static EXE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let exe = capi::scratch("c-policies").join("policies");
        capi::compile(&["tests/c/policies.c"], &exe, Link::Shared);
        exe
    })
    .clone()
}

/// `tests/c/policies.c MODE ARGS...`, the C client of the policy scenarios.
fn c_client(args: &[&str]) -> Command {
    let mut cmd = Command::new(policies());
    cmd.args(args);
    cmd
}

#[test]
fn a_lossy_c_reader_that_stops_reading_does_not_stop_a_rust_writer() {
    let (line, publishing) = scenarios::stalled_lossy_tap(&c_client, "C", "c-tap");
    println!("19990 events published without waiting past a stalled lossy C reader in {publishing:?}; {line}");
}

#[test]
fn a_c_reader_drains_then_sees_the_stream_closed_by_a_rust_writer_process() {
    let after = scenarios::drain_then_closed(&c_client, "c-drain", 5_000);
    println!("the C reader read 5000 events and the close, {after:?} after close()");
}

#[test]
fn a_waiting_c_reader_learns_its_writer_process_was_killed_and_reads_on_with_the_next() {
    let after = scenarios::writer_killed_then_taken_over(&c_client, "c-dead", 1000, 500);
    println!("the waiting C reader returned SLOTCAST_ERR_WRITER_DEAD {after:?} after SIGKILL (seen from here)");
}

#[test]
fn a_c_reader_joining_from_the_oldest_event_replays_the_window() {
    scenarios::oldest_replays_the_window(&c_client, "c-oldest");
}

#[test]
fn the_c_tap_example_replays_the_window_and_ends_at_the_close() {
    const EVENTS: u64 = 200;
    let dir = capi::scratch("c-tap-example");
    let exe = dir.join("tap");
    capi::compile(&["examples/c/tap.c"], &exe, Link::Shared);
    let (path, rt) = shared_runtime("c-tap-example");
    let holder = rt.reader().unwrap(); // keeps every event's slot for the replay
    let mut writer = rt.writer().unwrap();
    publish_pattern(&mut writer, 0..EVENTS);
    writer.close();
    drop(holder);
    let out = Command::new(&exe).arg(&path).arg("--from-oldest").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the tap failed: {}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len() as u64, EVENTS + 1, "{stdout}");
    for (i, line) in lines[..EVENTS as usize].iter().enumerate() {
        let i = i as u64;
        assert_eq!(*line, format!("{i} type {} len {}", capi::pattern_type(i), capi::pattern_len(i)));
    }
    assert_eq!(lines[EVENTS as usize], format!("CLOSED {EVENTS} lost 0"));
}
