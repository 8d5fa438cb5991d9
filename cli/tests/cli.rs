//! The `slotcast` command against real shared runtimes.
#![cfg(target_os = "linux")]

use slotcast::Runtime;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn slotcast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slotcast")).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn temp_path(tag: &str) -> PathBuf {
    PathBuf::from(format!("/dev/shm/slotcast-cli-{tag}-{}", std::process::id()))
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn stat_shows_config_cursors_lag_and_occupancy() {
    let path = temp_path("stat");
    let rt = Runtime::builder().shared(&path).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    // Events of class S, in pool slots (XS events are carried in the ring).
    for i in 0..10u8 {
        w.try_publish_bytes(0, &[i; 100]).unwrap();
    }
    drop(reader.try_recv().unwrap());
    // Retains event 1 and moves past it: cursor 2.
    let kept = reader.try_recv().unwrap().unwrap().retain().unwrap();
    let p = path.to_str().unwrap();
    let out = slotcast(&["stat", p]);
    assert!(out.status.success(), "{out:?}");
    let t = text(&out);
    assert!(t.contains("published 10"), "{t}");
    assert!(t.contains(&format!("writer pid {}", std::process::id())), "{t}");
    assert!(t.contains("alive"), "{t}");
    let out = slotcast(&["stat", "--json", p]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["published"], 10);
    assert_eq!(v["readers"][0]["cursor"], 2);
    assert_eq!(v["readers"][0]["lag"], 8);
    assert_eq!(v["readers"][0]["alive"], true);
    assert_eq!(v["pools"][1]["retained"], 1);
    assert_eq!(v["pools"][1]["in_ring"], 8);
    assert_eq!(v["pools"][1]["in_use"], 9);
    drop((kept, w, reader, rt));
    let out = slotcast(&["stat", p]);
    assert!(!out.status.success(), "the file is gone");
}

#[test]
fn tail_follows_new_events() {
    let path = temp_path("tail");
    let rt = Runtime::builder().shared(&path).build().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_slotcast"))
        .args(["tail", "-n", "3", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("tail to join", || rt.stats().readers.len() == 1);
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(7, b"hello").unwrap();
    w.try_publish_bytes(8, &[0, 1, 2]).unwrap();
    w.try_publish_bytes(9, b"bye").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<String> = text(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].contains("type 7") && lines[0].ends_with("hello"), "{lines:?}");
    assert!(lines[1].ends_with("000102"), "binary payloads in hex: {lines:?}");
    assert!(lines[2].ends_with("bye"));
    wait_for("tail to leave", || rt.stats().readers.is_empty());
}

#[test]
fn hz_reports_the_rate() {
    let path = temp_path("hz");
    let rt = Runtime::builder().shared(&path).build().unwrap();
    let out = slotcast(&["hz", "--json", "-n", "2", "--interval", "0.05", path.to_str().unwrap()]);
    assert!(out.status.success());
    let samples: Vec<serde_json::Value> = text(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0]["events_per_second"], 0.0, "nothing published");
    assert!(!slotcast(&["hz", "--interval", "-1", path.to_str().unwrap()]).status.success());
    drop(rt);
}

#[test]
fn clean_removes_only_stale_files() {
    let path = temp_path("clean");
    let rt = Runtime::builder().shared(&path).build().unwrap();
    let p = path.to_str().unwrap();
    let out = slotcast(&["clean", p]);
    assert!(!out.status.success() && text(&out).contains("kept"), "in use: {out:?}");
    // A copy nobody has open is stale.
    let copy = temp_path("clean-copy");
    std::fs::copy(&path, &copy).unwrap();
    drop(rt);
    let out = slotcast(&["clean", copy.to_str().unwrap()]);
    assert!(out.status.success() && text(&out).contains("removed"), "{out:?}");
    assert!(!copy.exists());
    // Not a slotcast file: refused unless forced.
    std::fs::write(&copy, b"not an arena").unwrap();
    let out = slotcast(&["clean", copy.to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert!(copy.exists());
    assert!(slotcast(&["clean", "--force", copy.to_str().unwrap()]).status.success());
    assert!(!copy.exists());
}

/// `stat`, `hz` and `clean` read values from files that may be damaged:
/// whatever word of the file is wrong, they print or fail with a message,
/// never panic or die of a signal. Every 8-byte word of a small file (with
/// a reader, a writer and retained events; the identity line aside, which
/// `open` refuses) is set in turn to `u64::MAX` and to one less than it
/// was, values that overflow arithmetic done on them.
#[test]
fn stat_hz_and_clean_on_damaged_files_fail_with_messages() {
    use slotcast::SizeClass;
    let path = temp_path("damaged");
    let rt = Runtime::builder()
        .shared(&path)
        .ring_capacity(8)
        .max_readers(2)
        .max_processes(2)
        .slots(SizeClass::XS, 6)
        .slots(SizeClass::S, 0)
        .slots(SizeClass::M, 0)
        .slots(SizeClass::L, 0)
        .slots(SizeClass::XL, 0)
        .build()
        .unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    for i in 0..12u64 {
        w.try_publish_pod(0, &i).unwrap();
        if i < 10 {
            drop(reader.try_recv().unwrap());
        }
    }
    let kept = reader.try_recv().unwrap().unwrap().retain().unwrap();
    let good = std::fs::read(&path).unwrap();
    drop((kept, w, reader, rt));
    let copy = temp_path("damaged-copy");
    let c = copy.to_str().unwrap();
    let mut runs = 0;
    for at in (128..good.len()).step_by(8) {
        let old = u64::from_le_bytes(good[at..at + 8].try_into().unwrap());
        for value in [u64::MAX, old.wrapping_sub(1)] {
            let mut bytes = good.clone();
            bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
            std::fs::write(&copy, &bytes).unwrap();
            let (stat, json) = (["stat", c], ["stat", "--json", c]);
            let hz = ["hz", "-n", "1", "--interval", "0.001", c];
            // `hz` reads the published count only (line 2 of the header).
            let commands: Vec<&[&str]> = if at == 256 { vec![&stat, &json, &hz] } else { vec![&stat, &json] };
            for args in commands {
                let out = slotcast(args);
                let stderr = String::from_utf8_lossy(&out.stderr);
                let code = out.status.code();
                assert!(
                    code == Some(0) || (code == Some(1) && stderr.starts_with("slotcast: ")),
                    "{args:?} with the word at {at} set to {value:#x}: {:?} {stderr}",
                    out.status
                );
                runs += 1;
            }
        }
    }
    let out = slotcast(&["clean", c]);
    assert!(out.status.code().is_some(), "{out:?}");
    let _ = std::fs::remove_file(&copy);
    assert!(runs > 1500, "{runs} runs");
}

#[test]
fn bench_runs_processes_and_verifies_every_event() {
    let out = slotcast(&["bench", "--json", "--readers", "2", "--events", "20000", "--payload", "mixed"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 3);
    for r in &rows[1..] {
        assert_eq!((r["events"].as_u64(), r["verified"].as_bool()), (Some(20000), Some(true)), "{r}");
    }
    assert!(!slotcast(&["bench", "--payload", "8"]).status.success(), "payload too small for a checksum");
}
