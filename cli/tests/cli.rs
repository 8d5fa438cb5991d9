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

/// `stat` shows each reader's policy, its lag and, for a lossy reader, the
/// events it lost, in text and in JSON.
#[test]
fn stat_shows_each_readers_policy_lag_and_losses() {
    use slotcast::{Policy, ReadError, ReaderOptions};
    let path = temp_path("stat-policy");
    let rt = Runtime::builder().shared(&path).ring_capacity(16).build().unwrap();
    let mut gating = rt.reader().unwrap();
    let mut tap = rt.reader_with(ReaderOptions::new().policy(Policy::Lossy)).unwrap();
    let mut w = rt.writer().unwrap();
    // The gating reader keeps up with 40 events, then lags 5 behind; the
    // tap, which never read, was lapped.
    for i in 0..45u64 {
        w.try_publish_pod(0, &i).unwrap();
        if i < 40 {
            assert_eq!(gating.try_read(|_, _| ()), Ok(1));
        }
    }
    let missed = match tap.try_read(|_, _| ()) {
        Err(ReadError::Lagged { missed }) => missed,
        other => panic!("45 events in a ring of 16: {other:?}"),
    };
    assert!(missed > 0);
    let p = path.to_str().unwrap();
    let out = slotcast(&["stat", "--json", p]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let readers = v["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 2);
    let by_policy = |policy: &str| readers.iter().find(|r| r["policy"] == policy).unwrap_or_else(|| panic!("{v}"));
    let (g, l) = (by_policy("gating"), by_policy("lossy"));
    assert_eq!((g["cursor"].as_u64(), g["lag"].as_u64(), g["lost"].as_u64()), (Some(40), Some(5), Some(0)), "{g}");
    assert_eq!(l["cursor"].as_u64(), Some(tap.cursor()), "{l}");
    assert_eq!(l["lag"].as_u64(), Some(45 - tap.cursor()), "{l}");
    assert_eq!(l["lost"].as_u64(), Some(missed), "{l}");
    let t = text(&slotcast(&["stat", p]));
    let line = |policy: &str| {
        t.lines().find(|l| l.split_whitespace().nth(2) == Some(policy)).unwrap_or_else(|| panic!("{t}")).to_owned()
    };
    assert!(t.contains("policy") && t.contains("lost"), "a header names the columns: {t}");
    let fields: Vec<String> = line("gating").split_whitespace().map(str::to_owned).collect();
    assert_eq!(fields[3..6], ["40", "5", "-"], "cursor, lag, no loss count for a gating reader: {t}");
    let fields: Vec<String> = line("lossy").split_whitespace().map(str::to_owned).collect();
    assert_eq!(fields[3..6], [tap.cursor().to_string(), (45 - tap.cursor()).to_string(), missed.to_string()], "{t}");
    drop((tap, gating, w, rt));
}

/// A `slotcast tail` child process whose output lines arrive on a channel.
struct Tail {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Tail {
    fn spawn(args: &[&str]) -> Tail {
        use std::io::BufRead;
        let mut child =
            Command::new(env!("CARGO_BIN_EXE_slotcast")).arg("tail").args(args).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Tail { child, lines }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// The next line of output.
    fn line(&self) -> String {
        self.lines.recv_timeout(Duration::from_secs(20)).expect("tail printed no line in 20 s")
    }

    /// The next line, as JSON.
    fn json(&self) -> serde_json::Value {
        let line = self.line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Its exit status, once it has printed everything.
    fn wait(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let rest: Vec<String> = self.lines.iter().collect();
        (self.child.wait().unwrap(), rest)
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` to `pid`.
fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) with a child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid}, {signal})");
}

/// Waits until process `pid` is stopped (state `T` in /proc).
fn wait_stopped(pid: i32) {
    wait_for("the process to stop", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the command name, which is in parentheses.
        stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('T'))
    });
}

/// Waits until the runtime's only reader has joined with `policy`.
fn joined_as(rt: &Runtime, policy: slotcast::Policy) {
    wait_for("tail to join", || rt.stats().readers.iter().map(|r| r.policy).eq([policy]));
}

/// `tail` joins as a lossy reader unless `--gating`: stopped, a lossy tail
/// never holds the writer, a gating one fills the ring.
#[test]
fn tail_is_lossy_by_default_and_gates_with_the_flag() {
    use slotcast::{Full, Policy, PublishError};
    for (args, policy) in [(&[][..], Policy::Lossy), (&["--gating"][..], Policy::Gating)] {
        let path = temp_path(&format!("tail-policy-{policy:?}"));
        let rt = Runtime::builder().shared(&path).ring_capacity(16).build().unwrap();
        let p = path.to_str().unwrap();
        let tail = Tail::spawn(&[args, &[p]].concat());
        // A lossy joiner shows as gating until its cursor is final: it
        // must turn lossy (or the wait times out).
        joined_as(&rt, policy);
        // Stopped while it waits for an event, so it holds no read open.
        signal(tail.pid(), libc::SIGSTOP);
        wait_stopped(tail.pid());
        let mut w = rt.writer().unwrap();
        let published = (0..64u64).take_while(|i| w.try_publish_pod(0, i).is_ok()).count();
        match policy {
            Policy::Lossy => assert_eq!(published, 64, "a stopped lossy tail never holds the writer"),
            _ => {
                assert_eq!(published, 16, "a stopped gating tail holds the writer a ring ahead");
                assert_eq!(w.try_publish_pod(0, &0u64).map(|_| ()), Err(PublishError::Full(Full::Ring)));
            }
        }
        signal(tail.pid(), libc::SIGCONT);
        drop(tail);
        drop((w, rt));
    }
}

/// A lapped tail prints how many events it lost, then goes on; once the
/// stream is closed it prints a final line and exits with status 0, and
/// every published event was either shown or counted lost.
#[test]
fn tail_reports_laps_and_ends_when_the_stream_closes() {
    let path = temp_path("tail-lapped");
    let rt = Runtime::builder().shared(&path).ring_capacity(16).build().unwrap();
    let p = path.to_str().unwrap();
    let tail = Tail::spawn(&["--json", p]);
    joined_as(&rt, slotcast::Policy::Lossy);
    signal(tail.pid(), libc::SIGSTOP);
    wait_stopped(tail.pid());
    let mut w = rt.writer().unwrap();
    let published = 100u64;
    for i in 0..published {
        w.try_publish_pod(0, &i).unwrap();
    }
    signal(tail.pid(), libc::SIGCONT);
    let first = tail.json();
    assert_eq!(first["status"], "lagged", "the first read after the laps reports them: {first}");
    let missed = first["missed"].as_u64().unwrap();
    assert!(missed > 0 && missed < published, "{first}");
    assert_eq!(first["lost"].as_u64(), Some(missed));
    w.close();
    let (status, rest) = tail.wait();
    assert!(status.success(), "a closed stream ends the tail cleanly: {status:?}");
    let rows: Vec<serde_json::Value> = rest.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (last, events) = rows.split_last().unwrap();
    assert_eq!(last["status"], "closed", "{rest:?}");
    let sequences: Vec<u64> = events.iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
    assert_eq!(sequences, (missed..published).collect::<Vec<_>>(), "in order after the lost ones");
    assert_eq!(last["events"].as_u64(), Some(published - missed));
    assert_eq!(last["lost"].as_u64(), Some(missed), "shown + lost = published");
}

/// Text form: the end of the stream is a final line, status 0; `--from
/// oldest` replays what was published before the tail joined.
#[test]
fn tail_from_oldest_replays_then_ends_with_a_line() {
    let path = temp_path("tail-oldest");
    let rt = Runtime::builder().shared(&path).build().unwrap();
    let mut w = rt.writer().unwrap();
    for word in ["one", "two", "three"] {
        w.try_publish_bytes(1, word.as_bytes()).unwrap();
    }
    let p = path.to_str().unwrap();
    let now = Tail::spawn(&[p]);
    let oldest = Tail::spawn(&["--from", "oldest", p]);
    wait_for("both tails to join", || rt.stats().readers.len() == 2);
    w.try_publish_bytes(2, b"four").unwrap();
    w.close();
    let (status, lines) = oldest.wait();
    assert!(status.success(), "{status:?}");
    assert_eq!(lines.len(), 5, "{lines:?}");
    for (line, word) in lines.iter().zip(["one", "two", "three", "four"]) {
        assert!(line.ends_with(word), "{lines:?}");
    }
    assert_eq!(lines[4], "-- stream closed: 4 events shown, 0 lost");
    let (status, lines) = now.wait();
    assert!(status.success(), "{status:?}");
    assert_eq!(lines.len(), 2, "only what came after it joined: {lines:?}");
    assert!(lines[0].ends_with("four") && lines[0].contains("type 2"), "{lines:?}");
    assert_eq!(lines[1], "-- stream closed: 1 events shown, 0 lost");
    assert!(!slotcast(&["tail", "--from", "yesterday", p]).status.success());
}

/// The writer of [`tail_says_when_the_writer_dies_and_waits_for_a_new_one`],
/// run as a child process (this test binary run again with
/// `SLOTCAST_CLI_WRITER` set): takes the role, publishes one event, says
/// `writer-ready` and waits to be killed.
#[test]
fn writer_process() {
    let Ok(path) = std::env::var("SLOTCAST_CLI_WRITER") else { return };
    let rt = Runtime::open(&path).unwrap();
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(1, b"before").unwrap();
    println!("writer-ready");
    std::thread::sleep(Duration::from_secs(60));
    unreachable!("killed before");
}

/// When the writer's process is killed, `tail` says so and keeps waiting;
/// a new writer's events are shown as before.
#[test]
fn tail_says_when_the_writer_dies_and_waits_for_a_new_one() {
    use std::io::BufRead;
    let path = temp_path("tail-dead");
    let rt = Runtime::builder().shared(&path).build().unwrap();
    let p = path.to_str().unwrap();
    let tail = Tail::spawn(&[p]);
    wait_for("tail to join", || rt.stats().readers.len() == 1);
    let mut writer = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_process", "--nocapture", "--test-threads", "1"])
        .env("SLOTCAST_CLI_WRITER", p)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = std::io::BufReader::new(writer.stdout.take().unwrap());
    let mut line = String::new();
    // libtest's own words may share the line.
    while !line.contains("writer-ready") {
        line.clear();
        assert!(ready.read_line(&mut line).unwrap() > 0, "the writer process ended early");
    }
    assert!(tail.line().ends_with("before"));
    writer.kill().unwrap();
    writer.wait().unwrap();
    assert_eq!(tail.line(), "-- the writer's process died; waiting for a new writer");
    // Still there, still waiting, and quiet: one line per death.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rt.stats().readers.len(), 1);
    assert_eq!(tail.lines.try_recv().ok(), None);
    let mut w = rt.writer().unwrap();
    w.try_publish_bytes(1, b"after").unwrap();
    assert_eq!(tail.line(), "-- a new writer took over");
    assert!(tail.line().ends_with("after"));
    w.close();
    let (status, rest) = tail.wait();
    assert!(status.success(), "{status:?}");
    assert_eq!(rest, ["-- stream closed: 2 events shown, 0 lost"]);
}
