//! A process killed at any step of retain, drop, allocate or publish loses
//! nothing: once it is reaped, every slot it held or was filling goes back
//! to its pool.
//!
//! Each scenario creates a small shared runtime, starts a child process
//! (this executable again, with `SLOTCAST_KILL_ROLE` set) that plays a
//! reader, an allocator or a writer, and has it killed with `SIGKILL` at one
//! named kill point of the library (`SLOTCAST_KILL_AT`, see
//! `src/failpoint.rs`). The parent then reaps it (a fresh open of the file
//! releases what dead processes held) and checks that every slot of every
//! class can be allocated again and that, those dropped, no slot is in use.
//! A child that finishes without reaching its point fails the scenario: a
//! renamed or removed point cannot pass silently.
//!
//! Needs the kill points compiled in:
//! `cargo test --release --features failpoints --test kill_points`.
#![allow(clippy::disallowed_methods)] // the test paces its own processes

use slotcast::{Handle, Runtime, SizeClass, WaitStrategy};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const ROLE: &str = "SLOTCAST_KILL_ROLE";
const KILL_AT: &str = "SLOTCAST_KILL_AT";

/// The kill points of each role, in the order the child reaches them. A
/// point `name#n` is its n-th hit (a second retain, say).
const SCENARIOS: &[(&str, &[&str])] = &[
    (
        // Retain an S event (the process's first pointer to the slot), clone
        // it, upgrade its handle (a second pointer), drop all three.
        "reader",
        &["hold.bit_set", "hold.counted", "unhold.bit_cleared", "unhold.freed"],
    ),
    (
        // The same with an XS event, read in its ring entry: the retain
        // copies it into a slot of its own (filled as an allocation is).
        "xs_reader",
        &["alloc.filled", "alloc.bit_set", "alloc.finished", "unhold.bit_cleared", "unhold.freed"],
    ),
    (
        // Allocate and fill a slot, clone the pointer, drop both.
        "allocator",
        &["alloc.claimed", "alloc.filled", "alloc.bit_set", "alloc.finished", "unhold.bit_cleared", "unhold.freed"],
    ),
    (
        // Upgrade the handle of an event another process allocated, drop it.
        "upgrader",
        &["hold.bit_set", "hold.counted", "unhold.bit_cleared", "unhold.freed"],
    ),
    (
        // Take the writer role and publish three S events (slots of its
        // own; XS events would take none).
        "writer",
        &["publish.claimed", "publish.committed", "publish.flushed", "publish.claimed#3", "publish.committed#3"],
    ),
];

const SLOTS: [usize; SizeClass::COUNT] = [4, 2, 2, 1, 1];

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let path = PathBuf::from(std::env::var("SLOTCAST_KILL_PATH").expect("path"));
        child(&role, &path);
        println!("END");
        return;
    }
    let (mut passed, mut failed) = (0, 0);
    for &(role, points) in SCENARIOS {
        for &point in points {
            match scenario(role, point) {
                Ok(()) => {
                    println!("kill {role} at {point}: ok");
                    passed += 1;
                }
                Err(why) => {
                    println!("kill {role} at {point}: FAILED: {why}");
                    failed += 1;
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

/// A fresh path under `/dev/shm` (or the temp dir).
fn temp_path(tag: &str) -> PathBuf {
    let dir = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    dir.join(format!("slotcast-kill-{tag}-{}", std::process::id()))
}

fn scenario(role: &str, point: &str) -> Result<(), String> {
    let path = temp_path(&format!("{role}-{}", point.replace('#', "-")));
    let _ = std::fs::remove_file(&path);
    let mut builder = Runtime::builder()
        .shared(&path)
        .ring_capacity(8)
        .max_readers(2)
        .max_processes(4)
        .wait_strategy(WaitStrategy::Yield);
    for class in SizeClass::ALL {
        builder = builder.slots(class, SLOTS[class.index()]);
    }
    let rt = builder.build().map_err(|e| format!("create: {e}"))?;
    let result = run_child(&rt, role, point, &path).and_then(|()| check_recovered(&rt, &path));
    drop(rt);
    let _ = std::fs::remove_file(&path);
    result
}

/// Runs the child until it is killed at `point`.
fn run_child(rt: &Runtime, role: &str, point: &str, path: &Path) -> Result<(), String> {
    // For the upgrader: an event of ours whose handle it upgrades.
    let shared_event = rt.allocator().try_alloc_bytes(5, b"upgrade me").map_err(|e| format!("alloc: {e}"))?;
    let [class, slot, generation, ..] = handle_fields(shared_event.handle());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("SLOTCAST_KILL_HANDLE", format!("{class} {slot} {generation}"))
        .env(ROLE, role)
        .env(KILL_AT, point)
        .env("SLOTCAST_KILL_PATH", path)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    if role == "reader" || role == "xs_reader" {
        match lines.next() {
            Some(Ok(line)) if line == "JOINED" => {}
            other => return Err(format!("the reader did not join: {other:?}")),
        }
        let mut w = rt.writer().map_err(|e| format!("writer: {e}"))?;
        // 100 bytes: class S, in a slot; 10 bytes: XS, in the ring entry.
        let len = if role == "reader" { 100 } else { 10 };
        for i in 0..2u8 {
            w.publish_bytes(1, &vec![i; len]).map_err(|e| format!("publish: {e}"))?;
        }
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    drop(shared_event);
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    match status.signal() {
        Some(9) => Ok(()),
        _ => Err(format!("the child was not killed at its point (status {status}, output {rest:?})")),
    }
}

/// Reaps the dead child and checks that every slot of every class can be
/// allocated again (the allocator returns the ring's idle slots itself when
/// no writer runs), then that none is in use once those are dropped.
fn check_recovered(rt: &Runtime, path: &Path) -> Result<(), String> {
    // Opening the file reaps every process found dead.
    drop(Runtime::open(path).map_err(|e| format!("reopen: {e}"))?);
    let alloc = rt.allocator();
    let mut held = Vec::new();
    for class in SizeClass::ALL {
        for n in 0..SLOTS[class.index()] {
            match alloc.try_alloc_with(class, 0, |_| 0) {
                Ok(p) => held.push(p),
                Err(e) => {
                    return Err(format!("class {class}: only {n} of {} slots allocatable: {e}", SLOTS[class.index()]));
                }
            }
        }
    }
    drop(held);
    let stats = rt.stats();
    for class in SizeClass::ALL {
        let pool = stats.pool(class);
        if pool.in_use != 0 || pool.writer_owned != 0 {
            return Err(format!(
                "class {class}: {} in use, {} writer-owned at the end ({pool:?})",
                pool.in_use, pool.writer_owned
            ));
        }
    }
    Ok(())
}

/// A handle's fields.
fn handle_fields(h: Handle) -> [u32; 5] {
    [h.class, h.slot, h.generation, h.len, h.event_type]
}

/// The child's part: runs its role through every kill point it has.
fn child(role: &str, path: &Path) {
    let rt = Runtime::open(path).unwrap();
    match role {
        "reader" | "xs_reader" => {
            let mut reader = rt.reader().unwrap();
            println!("JOINED");
            let mut kept = None;
            while kept.is_none() {
                reader
                    .read_timeout(Duration::from_secs(10), |ev, _| {
                        if kept.is_none() {
                            kept = Some(ev.retain().unwrap());
                        }
                    })
                    .unwrap();
            }
            let first = kept.unwrap();
            let copy = first.clone();
            let again = rt.upgrade(first.handle()).unwrap();
            drop(copy);
            drop(again);
            drop(first);
        }
        "upgrader" => {
            let spec = std::env::var("SLOTCAST_KILL_HANDLE").unwrap();
            let [class, slot, generation]: [u32; 3] =
                spec.split(' ').map(|n| n.parse().unwrap()).collect::<Vec<_>>().try_into().unwrap();
            let handle = Handle { class, slot, generation, len: 0, event_type: 0 };
            let p = rt.upgrade(handle).unwrap();
            assert_eq!(&*p, b"upgrade me");
            drop(p);
        }
        "allocator" => {
            let alloc = rt.allocator();
            let p = alloc.try_alloc_bytes(1, &[7; 10]).unwrap();
            let q = p.clone();
            drop(q);
            drop(p);
        }
        "writer" => {
            let mut w = rt.writer().unwrap();
            for i in 0..3u8 {
                w.publish_bytes(1, &[i; 100]).unwrap();
            }
        }
        other => panic!("unknown role {other}"),
    }
}
