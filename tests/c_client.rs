//! C clients of the C ABI, compiled with the system C compiler against
//! `include/slotcast.h` and the built library:
//!
//! * `examples/c/ingest.c` pushes 100,000 events into a shared runtime in
//!   another process; a Rust reader here verifies every one.
//! * `tests/c/bad_input.c` provokes every status code the ABI can return.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use common::capi::{self, Link};
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
