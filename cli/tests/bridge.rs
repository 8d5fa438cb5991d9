//! `slotcast bridge out|in` as processes, against a real nats-server: every
//! event a writer publishes into the source arrives in the sink, the
//! `--json` totals say so, signals stop the commands cleanly, and a bad
//! file or server fails with a message instead of hanging.
#![cfg(target_os = "linux")]

#[path = "../../bridge/tests/common/nats_server.rs"]
mod nats_server;

use nats_server::NatsServer;
use slotcast::{ReadError, Runtime};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Events each delivery carries.
const N: u64 = 20_000;

fn temp_path(tag: &str) -> PathBuf {
    PathBuf::from(format!("/dev/shm/slotcast-cli-bridge-{tag}-{}", std::process::id()))
}

/// Removes the file and the receiving bridge's resume record next to it.
fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
    let mut record = path.as_os_str().to_owned();
    record.push(".bridge-in");
    let _ = std::fs::remove_file(record);
}

/// A `slotcast` process: its stdout lines as they come, its stderr kept
/// for failure messages; killed on drop so a failed test leaves none.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    /// The thread reading stderr, joined once the process has ended so
    /// that all of it is in `stderr`.
    stderr_done: Option<std::thread::JoinHandle<()>>,
}

impl Proc {
    /// `slotcast bridge DIRECTION PATH --nats URL --subject SUBJECT EXTRA...`
    fn bridge(direction: &str, path: &str, url: &str, subject: &str, extra: &[&str]) -> Proc {
        let mut args = vec!["bridge", direction, path, "--nats", url, "--subject", subject];
        args.extend_from_slice(extra);
        Proc::spawn(&args)
    }

    fn spawn(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_slotcast"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (err, keep) = (child.stderr.take().unwrap(), Arc::clone(&stderr));
        let stderr_done = std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut text = keep.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Proc { child, lines, seen: Vec::new(), stderr, stderr_done: Some(stderr_done) }
    }

    /// Waits for a stdout line that `pred` accepts; panics with every line
    /// seen if none comes within `secs`.
    fn expect(&mut self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {secs} s; stdout {:#?}; stderr {}", self.seen, self.stderr.lock().unwrap())
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the process ended ({:?}) before {what}; stdout {:#?}; stderr {}",
                    self.child.try_wait(),
                    self.seen,
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// Waits for the process to end (panics after `secs`); its status and
    /// every stdout line it printed.
    fn finish(&mut self, secs: u64) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {secs} s; stdout {:#?}; stderr {}",
                self.seen,
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        // The reading threads end with the pipes: every line is in.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        if let Some(done) = self.stderr_done.take() {
            done.join().unwrap();
        }
        (status, self.seen.clone())
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid, which it still is: the
        // child is not reaped until `finish`.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

fn is_status(line: &str, status: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["status"] == status)
}

/// Event `i`'s payload: 8 bytes (carried in the ring entry) or, one event
/// in three, 100 bytes (a slot of class S), each byte derived from `i`.
fn payload(i: u64) -> Vec<u8> {
    let len = if i % 3 == 0 { 100 } else { 8 };
    (0..len).map(|k| (i as u8).wrapping_mul(31).wrapping_add(k as u8)).collect()
}

/// Publishes the `N` events into `source` from a thread, then closes its
/// stream (the bridges then end by themselves).
fn write_all(source: Runtime) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut w = source.writer().unwrap();
        for i in 0..N {
            w.publish_bytes(i as u32, &payload(i)).unwrap();
        }
        w.close();
    })
}

/// Reads the sink until its stream closes and checks every event.
fn read_all(reader: &mut slotcast::Reader, secs: u64, state: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut got = 0u64;
    loop {
        assert!(Instant::now() < deadline, "the sink had {got} of {N} events after {secs} s; {}", state());
        match reader.recv_timeout(Duration::from_millis(100)) {
            Ok(None) => {}
            Ok(Some(e)) => {
                assert_eq!(e.sequence(), got, "the sink's events are the source's, in order");
                assert_eq!(e.event_type(), got as u32);
                assert_eq!(e.data(), &payload(got)[..], "event {got}'s payload");
                got += 1;
            }
            Err(ReadError::Closed) => break,
            Err(e) => panic!("reading the sink after {got} events: {e:?}"),
        }
    }
    assert_eq!(got, N, "every event arrived, and the stream was closed after the last");
}

/// The final `--json` line, checked: `ended`, N events, nothing lost; and
/// only progress lines before it, at least one if `progress` (a bridge
/// that ran through its events within one interval printed none).
fn check_totals(direction: &str, lines: &[String], progress: bool) {
    let last = json(lines.last().unwrap_or_else(|| panic!("{direction}: no output")));
    assert_eq!(last["status"], "ended", "{direction}: {lines:#?}");
    assert_eq!(last["direction"], direction);
    assert_eq!(last["events"], N, "{direction}: {last}");
    assert_eq!(last["lost"], 0, "{direction}: {last}");
    assert_eq!(last["malformed"], 0, "{direction}: {last}");
    assert_eq!(last["duplicates"], 0, "{direction}: {last}");
    let bytes: u64 = (0..N).map(|i| payload(i).len() as u64).sum();
    assert_eq!(last["bytes"], bytes, "{direction}: {last}");
    let samples: Vec<serde_json::Value> = lines[..lines.len() - 1].iter().map(|l| json(l)).collect();
    assert!(!progress || !samples.is_empty(), "{direction}: no progress line: {lines:#?}");
    assert!(samples.iter().all(|p| p["status"] == "progress" && p["events_per_second"].is_number()), "{lines:#?}");
}

#[test]
fn core_nats_carries_every_event_through_both_commands() {
    let server = NatsServer::start(false);
    let url = server.url();
    let (src_path, sink_path) = (temp_path("core-src"), temp_path("core-sink"));
    remove(&sink_path);
    let source = Runtime::builder().shared(&src_path).build().unwrap();
    let t = Instant::now();
    // The receiving side first, creating the sink: core NATS keeps nothing
    // for a subscriber that is not there yet.
    let sink = sink_path.to_str().unwrap();
    let mut bridge_in = Proc::bridge(
        "in",
        sink,
        &url,
        "cli.core",
        &["--json", "--interval", "0.1", "--ring-capacity", "1024", "--slots", "s=1500", "--slots", "XL=0"],
    );
    bridge_in.expect("a connected progress line from `in`", 20, |l| {
        is_status(l, "progress") && json(l)["connected"] == true
    });
    let sink_rt = Runtime::open(&sink_path).unwrap();
    assert_eq!(sink_rt.config().ring_capacity(), 1024, "--ring-capacity");
    assert_eq!(sink_rt.config().slots(slotcast::SizeClass::S), 1500, "--slots s=1500");
    let mut reader = sink_rt.reader().unwrap();
    // `in` subscribes just after it reports the connection, and core NATS
    // gives a subscriber only what is published after it subscribed: leave
    // it the time.
    std::thread::sleep(Duration::from_millis(300));
    let mut bridge_out =
        Proc::bridge("out", src_path.to_str().unwrap(), &url, "cli.core", &["--json", "--interval", "0.1"]);
    // Its first progress line after connecting: its reader joins the
    // source just after, then every event published is carried.
    bridge_out.expect("a connected progress line from `out`", 20, |l| {
        is_status(l, "progress") && json(l)["connected"] == true
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while source.stats().readers.is_empty() {
        assert!(Instant::now() < deadline, "`out` did not join the source; stderr {}", bridge_out.stderr());
        std::thread::sleep(Duration::from_millis(5));
    }
    let writer = write_all(source.clone());
    read_all(&mut reader, 60, || format!("in stderr {}; out stderr {}", bridge_in.stderr(), bridge_out.stderr()));
    writer.join().unwrap();
    let (status, lines) = bridge_out.finish(20);
    assert!(status.success(), "out: {status:?} {lines:#?} {}", bridge_out.stderr());
    check_totals("out", &lines, true);
    let (status, lines) = bridge_in.finish(20);
    assert!(status.success(), "in: {status:?} {lines:#?} {}", bridge_in.stderr());
    check_totals("in", &lines, true);
    println!("core: {N} events through both commands in {:?}", t.elapsed());
    drop((reader, sink_rt, source));
    remove(&src_path);
    remove(&sink_path);
}

#[test]
fn jetstream_carries_every_event_through_both_commands() {
    let server = NatsServer::start(true);
    let url = server.url();
    let (src_path, sink_path) = (temp_path("js-src"), temp_path("js-sink"));
    remove(&sink_path);
    let source = Runtime::builder().shared(&src_path).build().unwrap();
    let t = Instant::now();
    // The sending side runs alone to the end: the stream stores the frames.
    let mut bridge_out = Proc::bridge(
        "out",
        src_path.to_str().unwrap(),
        &url,
        "cli.js",
        &["--jetstream", "--json", "--interval", "0.1"],
    );
    // Its first progress line after connecting: its reader joins the
    // source just after, then every event published is carried.
    bridge_out.expect("a connected progress line from `out`", 20, |l| {
        is_status(l, "progress") && json(l)["connected"] == true
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while source.stats().readers.is_empty() {
        assert!(Instant::now() < deadline, "`out` did not join the source; stderr {}", bridge_out.stderr());
        std::thread::sleep(Duration::from_millis(5));
    }
    write_all(source.clone()).join().unwrap();
    let (status, lines) = bridge_out.finish(60);
    assert!(status.success(), "out: {status:?} {lines:#?} {}", bridge_out.stderr());
    check_totals("out", &lines, true);
    // Then the receiving side, into a sink that exists (with its reader
    // already there): it reads the stored frames from the start.
    let sink_rt = Runtime::builder().shared(&sink_path).build().unwrap();
    let mut reader = sink_rt.reader().unwrap();
    let mut bridge_in = Proc::bridge(
        "in",
        sink_path.to_str().unwrap(),
        &url,
        "cli.js",
        &["--jetstream", "--json", "--interval", "0.1"],
    );
    read_all(&mut reader, 60, || format!("in stderr {}", bridge_in.stderr()));
    let (status, lines) = bridge_in.finish(20);
    assert!(status.success(), "in: {status:?} {lines:#?} {}", bridge_in.stderr());
    check_totals("in", &lines, false);
    println!("jetstream: {N} events through both commands in {:?}", t.elapsed());
    drop((reader, sink_rt, source));
    remove(&src_path);
    remove(&sink_path);
}

#[test]
fn signals_stop_both_commands_cleanly_with_a_final_line() {
    let server = NatsServer::start(false);
    let url = server.url();
    let (src_path, sink_path) = (temp_path("sig-src"), temp_path("sig-sink"));
    remove(&sink_path);
    let source = Runtime::builder().shared(&src_path).build().unwrap();

    // Ctrl-C on `in`, text output.
    let mut bridge_in = Proc::bridge("in", sink_path.to_str().unwrap(), &url, "cli.sig", &["--interval", "0.1"]);
    let line = bridge_in.expect("a progress line", 20, |l| l.contains("events/s") && l.contains(" connected"));
    assert!(line.contains("lag 0") && line.contains("lost 0") && line.contains("malformed 0"), "{line}");
    let t = Instant::now();
    bridge_in.signal(libc::SIGINT);
    let (status, lines) = bridge_in.finish(10);
    println!(
        "in stopped {:?} after SIGINT; its last lines: {:#?}",
        t.elapsed(),
        &lines[lines.len().saturating_sub(2)..]
    );
    assert!(status.success(), "SIGINT: {status:?} {lines:#?} {}", bridge_in.stderr());
    let last = lines.last().unwrap();
    assert!(last.starts_with("-- stopped: 0 events"), "{lines:#?}");
    // The bridge left cleanly: the sink it created, used by nobody else,
    // was removed as the last user closed it.
    assert!(!sink_path.exists(), "the sink {} is still there", sink_path.display());

    // SIGTERM on `out`, JSON output: it leaves the source's reader table.
    let mut bridge_out =
        Proc::bridge("out", src_path.to_str().unwrap(), &url, "cli.sig", &["--lossy", "--json", "--interval", "0.1"]);
    bridge_out.expect("a connected progress line", 20, |l| is_status(l, "progress") && json(l)["connected"] == true);
    // It joins the source just after connecting, as a lossy reader here.
    let deadline = Instant::now() + Duration::from_secs(20);
    while source.stats().readers.is_empty() {
        assert!(Instant::now() < deadline, "`out` did not join the source; stderr {}", bridge_out.stderr());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(source.stats().readers[0].policy, slotcast::Policy::Lossy, "--lossy");
    bridge_out.signal(libc::SIGTERM);
    let (status, lines) = bridge_out.finish(10);
    assert!(status.success(), "SIGTERM: {status:?} {lines:#?} {}", bridge_out.stderr());
    let last = json(lines.last().unwrap());
    assert_eq!(last["status"], "stopped", "{lines:#?}");
    assert_eq!(last["events"], 0);
    assert!(source.stats().readers.is_empty(), "`out` left its reader behind");
    drop(source);
    remove(&src_path);
    remove(&sink_path);
}

#[test]
fn a_missing_file_or_an_unreachable_server_fails_with_a_message() {
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = format!("nats://127.0.0.1:{port}");
    let missing = temp_path("missing");
    remove(&missing);
    let mut out = Proc::bridge("out", missing.to_str().unwrap(), &nowhere, "x", &[]);
    let (status, _) = out.finish(10);
    assert_eq!(status.code(), Some(1), "{}", out.stderr());
    let err = out.stderr();
    assert!(err.starts_with("slotcast: ") && err.contains(missing.to_str().unwrap()), "{err}");
    assert!(!missing.exists());

    let src_path = temp_path("unreachable-src");
    let source = Runtime::builder().shared(&src_path).build().unwrap();
    let t = Instant::now();
    let mut out = Proc::bridge("out", src_path.to_str().unwrap(), &nowhere, "x", &["--connect-timeout", "1"]);
    let (status, lines) = out.finish(10);
    let took = t.elapsed();
    assert_eq!(status.code(), Some(1), "{lines:#?} {}", out.stderr());
    let err = out.stderr();
    assert!(err.starts_with("slotcast: NATS: connect: no server answered at") && err.contains(&nowhere), "{err}");
    assert!(took < Duration::from_secs(5), "gave up after {took:?}, not about 1 s");
    // Its reader had not joined yet (it joins once connected).
    assert!(source.stats().readers.is_empty());

    let sink_path = temp_path("unreachable-sink");
    remove(&sink_path);
    let mut bridge_in = Proc::bridge("in", sink_path.to_str().unwrap(), &nowhere, "x", &["--connect-timeout", "0.5"]);
    let (status, _) = bridge_in.finish(10);
    assert_eq!(status.code(), Some(1), "{}", bridge_in.stderr());
    assert!(bridge_in.stderr().starts_with("slotcast: NATS: connect: no server answered at"), "{}", bridge_in.stderr());
    // It gave up before taking the sink's writer role, and left the sink it
    // created as any last user does: removed.
    assert!(!sink_path.exists());
    // A sink whose every user died (a receiving bridge killed) is taken
    // over by the next `in` rather than refused as stale.
    let server = NatsServer::start(false);
    let in_args =
        ["bridge", "in", sink_path.to_str().unwrap(), "--nats", &server.url(), "--subject", "x", "--interval", "0.1"];
    let mut killed = Proc::spawn(&in_args);
    killed.expect("a connected progress line", 20, |l| l.contains(" connected"));
    killed.signal(libc::SIGKILL);
    let _ = killed.finish(10);
    assert!(sink_path.exists(), "a killed bridge leaves its sink behind");
    let mut again = Proc::spawn(&in_args);
    again.expect("a connected progress line on the stale sink", 20, |l| l.contains(" connected"));
    again.signal(libc::SIGINT);
    let (status, lines) = again.finish(10);
    assert!(status.success() && lines.last().unwrap().starts_with("-- stopped"), "{lines:#?} {}", again.stderr());
    assert!(!sink_path.exists(), "left cleanly this time");
    // Not a number of seconds: refused before anything starts.
    let mut bad = Proc::bridge("in", sink_path.to_str().unwrap(), &nowhere, "x", &["--interval", "0"]);
    let (status, _) = bad.finish(10);
    assert_eq!(status.code(), Some(1), "{}", bad.stderr());
    assert!(bad.stderr().contains("--interval"), "{}", bad.stderr());
    drop(source);
    remove(&src_path);
    remove(&sink_path);
}

/// A receiving bridge that created its sink and was stopped (the sink,
/// used by nobody else, is removed with it) starts again on a new sink:
/// the resume record of the removed ring must not be taken for the new
/// one's: the new ring gets every event the stream holds, from its first
/// frame, nothing lost and nothing counted twice.
#[test]
fn jetstream_in_restarted_on_a_new_sink_resumes_without_a_false_loss() {
    let server = NatsServer::start(true);
    let url = server.url();
    let (src_path, sink_path) = (temp_path("restart-src"), temp_path("restart-sink"));
    remove(&sink_path);
    let source = Runtime::builder().shared(&src_path).build().unwrap();
    let args = |sink: &str| -> Vec<String> {
        ["bridge", "in", sink, "--nats", &url, "--subject", "cli.restart", "--jetstream", "--json", "--interval", "0.1"]
            .map(String::from)
            .to_vec()
    };
    let sink = sink_path.to_str().unwrap();
    let spawn_in = || Proc::spawn(&args(sink).iter().map(String::as_str).collect::<Vec<_>>());
    let mut bridge_out = Proc::bridge(
        "out",
        src_path.to_str().unwrap(),
        &url,
        "cli.restart",
        &["--jetstream", "--json", "--interval", "0.1"],
    );
    bridge_out.expect("a connected progress line from `out`", 20, |l| {
        is_status(l, "progress") && json(l)["connected"] == true
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while source.stats().readers.is_empty() {
        assert!(Instant::now() < deadline, "`out` did not join the source; stderr {}", bridge_out.stderr());
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut w = source.writer().unwrap();
    let half = N / 2;
    for i in 0..half {
        w.publish_bytes(i as u32, &payload(i)).unwrap();
    }
    let mut first = spawn_in();
    first.expect("the first half in the sink", 30, |l| is_status(l, "progress") && json(l)["events"] == half);
    first.signal(libc::SIGINT);
    let (status, lines) = first.finish(10);
    assert!(status.success(), "{status:?} {lines:#?} {}", first.stderr());
    let last = json(lines.last().unwrap());
    assert_eq!(
        (last["status"].as_str(), last["events"].as_u64(), last["lost"].as_u64()),
        (Some("stopped"), Some(half), Some(0))
    );
    assert!(!sink_path.exists(), "the sink, used by nobody else, was removed");
    let mut record = sink_path.as_os_str().to_owned();
    record.push(".bridge-in");
    assert!(Path::new(&record).exists(), "its resume record outlives it");

    for i in half..N {
        w.publish_bytes(i as u32, &payload(i)).unwrap();
    }
    w.close();
    let (status, lines) = bridge_out.finish(60);
    assert!(status.success(), "out: {status:?} {lines:#?} {}", bridge_out.stderr());
    check_totals("out", &lines, true);

    let mut second = spawn_in();
    let (status, lines) = second.finish(60);
    assert!(status.success(), "{status:?} {lines:#?} {}", second.stderr());
    let last = json(lines.last().unwrap());
    assert_eq!(last["status"], "ended", "{lines:#?}");
    assert_eq!(last["lost"], 0, "{last}");
    assert_eq!(last["duplicates"], 0, "{last}");
    assert_eq!(last["events"], N, "the whole stream, into the new sink: {last}");
    drop(source);
    remove(&src_path);
    remove(&sink_path);
}
