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

use common::capi::{self, Client, Link, publish_pattern, shared_runtime};
use slotcast::{ReadError, Runtime, WaitStrategy};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

#[test]
fn a_lossy_c_reader_that_stops_reading_does_not_stop_a_rust_writer() {
    const EVENTS: u64 = 20_000; // about 20 rings
    let (path, rt) = shared_runtime("c-tap");
    let mut tap = Client::spawn(Command::new(policies()).args(["tap", path.to_str().unwrap()]));
    tap.expect("JOINED");
    let mut writer = rt.writer().unwrap();
    publish_pattern(&mut writer, 0..10);
    tap.expect("STALLED");
    // The C reader holds no pin between calls: the writer never waits.
    let start = Instant::now();
    for i in 10..EVENTS {
        if let Err(e) = writer.try_publish_bytes(capi::pattern_type(i), &capi::pattern_bytes(i)) {
            panic!("event {i}: the stalled lossy C reader stopped the writer: {e}");
        }
    }
    let publishing = start.elapsed();
    tap.child.stdin.take().unwrap().write_all(b"GO\n").unwrap();
    let line = tap.expect("TAP");
    let [received, lost, lagged] = Client::numbers(&line)[..] else { panic!("{line}") };
    assert!(lagged >= 1, "the tap was lapped: {line}");
    assert_eq!(received + lost, EVENTS, "received + lost = published: {line}");
    tap.succeeds();
    println!(
        "{} events published without waiting past a stalled lossy C reader in {publishing:?}; {line}",
        EVENTS - 10
    );
}

#[test]
fn a_c_reader_drains_then_sees_the_stream_closed_by_a_rust_writer_process() {
    const EVENTS: u64 = 5_000;
    let (path, rt) = shared_runtime("c-drain");
    let mut reader = Client::spawn(Command::new(policies()).args(["drain", path.to_str().unwrap()]));
    reader.expect("JOINED");
    let mut writer = rt.writer().unwrap();
    publish_pattern(&mut writer, 0..EVENTS);
    let closed = Instant::now();
    writer.close();
    let line = reader.expect("CLOSED");
    let after = closed.elapsed();
    assert_eq!(Client::numbers(&line), [EVENTS], "every event, then the close: {line}");
    reader.succeeds();
    println!("the C reader read {EVENTS} events and the close, {after:?} after close()");
}

#[test]
fn a_waiting_c_reader_learns_its_writer_process_was_killed_and_reads_on_with_the_next() {
    let (path, rt) = shared_runtime("c-dead");
    let p = path.to_str().unwrap();
    let mut reader = Client::spawn(Command::new(policies()).args(["dead", p]));
    reader.expect("JOINED");
    let mut first = Client::spawn(Command::new(policies()).args(["write", p, "0", "1000", "hang"]));
    first.expect("PUBLISHED");
    // The reader has read everything (or will) and waits in a read call.
    #[allow(clippy::disallowed_methods)] // the test paces its own processes
    std::thread::sleep(Duration::from_millis(50));
    let killed = Instant::now();
    first.child.kill().unwrap(); // SIGKILL
    let line = reader.expect("DEAD");
    let after = killed.elapsed();
    assert_eq!(Client::numbers(&line), [1000], "every event of the dead writer: {line}");
    let _ = first.child.wait();
    let second = Client::spawn(Command::new(policies()).args(["write", p, "1000", "500", "close"]));
    let line = reader.expect("CLOSED");
    assert_eq!(Client::numbers(&line), [1500], "the new writer's events, then its close: {line}");
    second.succeeds();
    reader.succeeds();
    assert_eq!(rt.published(), 1500);
    println!("the waiting C reader returned SLOTCAST_ERR_WRITER_DEAD {after:?} after SIGKILL (seen from here)");
}

#[test]
fn a_c_reader_joining_from_the_oldest_event_replays_the_window() {
    const EVENTS: u64 = 300;
    let (path, rt) = shared_runtime("c-oldest");
    // A gating reader that read nothing keeps every event's slot.
    let _holder = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    publish_pattern(&mut writer, 0..EVENTS);
    let mut late = Client::spawn(Command::new(policies()).args(["oldest", path.to_str().unwrap()]));
    for _ in ["gating", "lossy"] {
        let line = late.expect("REPLAYED");
        assert_eq!(Client::numbers(&line), [0, EVENTS], "the whole window, in order: {line}");
    }
    late.succeeds();
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
