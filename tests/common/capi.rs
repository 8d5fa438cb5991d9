//! The C library for the C and Python client tests: built here, once per
//! test binary, into a target directory of its own, so the tests always run
//! against the library of the sources under test (a nested `cargo build` in
//! the test's own target directory would wait for the lock `cargo test`
//! holds). Also the system C compiler, and the event pattern the clients
//! publish (`examples/c/pattern.h`, `examples/python/pattern.py`).

use slotcast::{Reader, Runtime, WaitStrategy};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the built library lives: `libslotcast.so` and `libslotcast.a`.
pub fn lib_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capi");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--package", "slotcast-capi", "--target-dir"])
            .arg(&target)
            .current_dir(root())
            .status()
            .expect("run cargo to build the C library");
        assert!(status.success(), "building the C library (slotcast-capi) failed: {status}");
        let dir = target.join("release");
        for lib in ["libslotcast.so", "libslotcast.a"] {
            assert!(dir.join(lib).is_file(), "{lib} was not built in {}", dir.display());
        }
        dir
    })
}

/// The C compiler: `$CC`, else `cc`. Panics (the test fails loudly) if
/// there is none: the C client tests need one.
pub fn cc() -> PathBuf {
    let cc = PathBuf::from(std::env::var_os("CC").unwrap_or_else(|| "cc".into()));
    match Command::new(&cc).arg("--version").output() {
        Ok(out) if out.status.success() => cc,
        _ => panic!("no C compiler: `{}` does not run (install gcc, e.g. `apt-get install gcc`)", cc.display()),
    }
}

/// How a C program links the library.
#[derive(Clone, Copy, Debug)]
pub enum Link {
    /// `libslotcast.so`, found at run time through an rpath.
    Shared,
    /// `libslotcast.a`, with the system libraries Rust's std needs.
    Static,
}

/// Compiles `sources` (relative to the repository root) into `out` with
/// warnings as errors, against `include/slotcast.h` and the library.
pub fn compile(sources: &[&str], out: &Path, link: Link) {
    let lib = lib_dir();
    let mut cmd = Command::new(cc());
    cmd.args(["-std=c11", "-D_DEFAULT_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(out)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("examples/c"));
    for s in sources {
        cmd.arg(root().join(s));
    }
    match link {
        Link::Shared => {
            cmd.arg("-L").arg(lib).arg("-lslotcast").arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            cmd.arg(lib.join("libslotcast.a")).args(["-lpthread", "-ldl", "-lm", "-lrt"]);
        }
    }
    cmd.arg("-lpthread");
    let output = cmd.output().expect("run the C compiler");
    assert!(
        output.status.success(),
        "compiling {sources:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Length of event `i` of the clients' pattern.
pub fn pattern_len(i: u64) -> usize {
    if i % 10 == 0 { 1000 } else { 8 + (i % 57) as usize }
}

/// Type of event `i` of the clients' pattern.
pub fn pattern_type(i: u64) -> u32 {
    ((i / 32) % 7 + 1) as u32
}

/// The payload of event `i`.
pub fn pattern_bytes(i: u64) -> Vec<u8> {
    let len = pattern_len(i);
    let mut buf = vec![0u8; len];
    buf[..8].copy_from_slice(&i.to_le_bytes());
    for (k, b) in buf.iter_mut().enumerate().skip(8) {
        *b = (i.wrapping_mul(131).wrapping_add(k as u64) & 0xff) as u8;
    }
    buf
}

/// Checks that `(event_type, data)` is event `i` of the pattern.
pub fn check_pattern(i: u64, event_type: u32, data: &[u8]) -> Result<(), String> {
    if event_type != pattern_type(i) {
        return Err(format!("event {i}: type {event_type}, expected {}", pattern_type(i)));
    }
    if data != pattern_bytes(i).as_slice() {
        return Err(format!(
            "event {i}: {} bytes that differ from the pattern ({} expected)",
            data.len(),
            pattern_len(i)
        ));
    }
    Ok(())
}

/// A scratch directory under the test target directory, empty.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Reads `events` events of the clients' pattern, published by `child`, and
/// checks each (sequence, type, bytes); fails the test if none comes for
/// 30 s. Returns the payload bytes read.
pub fn read_pattern(reader: &mut Reader, events: u64, child: &mut Child, who: &str) -> usize {
    let mut next = 0u64;
    let mut bytes = 0usize;
    while next < events {
        let n = reader
            .read_timeout(std::time::Duration::from_secs(30), |ev, _| {
                assert_eq!(ev.sequence(), next, "sequences are contiguous");
                if let Err(e) = check_pattern(next, ev.event_type(), ev.data()) {
                    panic!("{e}");
                }
                bytes += ev.len();
                next += 1;
            })
            .unwrap();
        if n == 0 {
            panic!("no event for 30 s after {next} ({who}: {:?})", child.try_wait().unwrap());
        }
    }
    bytes
}

/// A client process of the policy tests (`tests/c/policies.c`,
/// `tests/python/policies.py`) and its stdout, line by line.
pub struct Client {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Client {
    pub fn spawn(cmd: &mut Command) -> Client {
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Client { child, lines }
    }

    /// The next line, which must start with `word`; fails the test if none
    /// comes within 30 s (a hang, not a slow machine).
    pub fn expect(&mut self, word: &str) -> String {
        let line = self.lines.recv_timeout(std::time::Duration::from_secs(30)).unwrap_or_else(|_| {
            panic!("no line from {:?} for 30 s (exit: {:?})", self.child.id(), self.child.try_wait())
        });
        assert!(line.starts_with(word), "expected {word}, got {line:?}");
        line
    }

    pub fn numbers(line: &str) -> Vec<u64> {
        line.split(' ').skip(1).map(|n| n.parse().unwrap()).collect()
    }

    pub fn succeeds(mut self) {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the C client failed: {status}");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // A failed test leaves no process behind.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A shared runtime in a new file, for a client process to open.
pub fn shared_runtime(tag: &str) -> (std::path::PathBuf, Runtime) {
    let path = super::temp_path(tag);
    let rt =
        Runtime::builder().shared(&path).ring_capacity(1024).wait_strategy(WaitStrategy::Blocking).build().unwrap();
    (path, rt)
}

/// Publishes events `range` of the clients' pattern, waiting for room.
pub fn publish_pattern(writer: &mut slotcast::Writer, range: std::ops::Range<u64>) {
    for i in range {
        writer.publish_bytes(pattern_type(i), &pattern_bytes(i)).unwrap();
    }
}

/// The policy scenarios, the same for every client language: `client`
/// builds the command of a client process (`tests/c/policies.c`,
/// `tests/python/policies.py`) from its mode and arguments, and `who`
/// names it in messages. Each returns what it measured, for the test to
/// print.
pub mod scenarios {
    use super::{Client, pattern_bytes, pattern_type, publish_pattern, shared_runtime};
    use std::io::Write;
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// A client's command from its mode and arguments.
    pub type Spawn<'a> = &'a dyn Fn(&[&str]) -> Command;

    /// A lossy client reader that stops reading does not stop a Rust
    /// writer; once it reads again, received + lost = published. Returns
    /// its `TAP` line and how long the publishing took.
    pub fn stalled_lossy_tap(client: Spawn<'_>, who: &str, tag: &str) -> (String, Duration) {
        const EVENTS: u64 = 20_000; // about 20 rings
        let (path, rt) = shared_runtime(tag);
        let mut tap = Client::spawn(&mut client(&["tap", path.to_str().unwrap()]));
        tap.expect("JOINED");
        let mut writer = rt.writer().unwrap();
        publish_pattern(&mut writer, 0..10);
        tap.expect("STALLED");
        // The client reader holds no pin between calls: the writer never waits.
        let start = Instant::now();
        for i in 10..EVENTS {
            if let Err(e) = writer.try_publish_bytes(pattern_type(i), &pattern_bytes(i)) {
                panic!("event {i}: the stalled lossy {who} reader stopped the writer: {e}");
            }
        }
        let publishing = start.elapsed();
        tap.child.stdin.take().unwrap().write_all(b"GO\n").unwrap();
        let line = tap.expect("TAP");
        let [received, lost, lagged] = Client::numbers(&line)[..] else { panic!("{line}") };
        assert!(lagged >= 1, "the tap was lapped: {line}");
        assert_eq!(received + lost, EVENTS, "received + lost = published: {line}");
        tap.succeeds();
        (line, publishing)
    }

    /// A client reader drains `events`, then learns of the Rust writer's
    /// close. Returns the time from `close()` to its `CLOSED` line.
    pub fn drain_then_closed(client: Spawn<'_>, tag: &str, events: u64) -> Duration {
        let (path, rt) = shared_runtime(tag);
        let mut reader = Client::spawn(&mut client(&["drain", path.to_str().unwrap()]));
        reader.expect("JOINED");
        let mut writer = rt.writer().unwrap();
        publish_pattern(&mut writer, 0..events);
        let closed = Instant::now();
        writer.close();
        let line = reader.expect("CLOSED");
        let after = closed.elapsed();
        assert_eq!(Client::numbers(&line), [events], "every event, then the close: {line}");
        reader.succeeds();
        after
    }

    /// A client reader waiting in a read call learns that its writer
    /// process was killed (after reading its `first` events), then reads a
    /// new writer process's `then` events up to its close. Returns the time
    /// from the SIGKILL to the reader's `DEAD` line.
    pub fn writer_killed_then_taken_over(client: Spawn<'_>, tag: &str, first: u64, then: u64) -> Duration {
        let (path, rt) = shared_runtime(tag);
        let p = path.to_str().unwrap();
        let mut reader = Client::spawn(&mut client(&["dead", p]));
        reader.expect("JOINED");
        let (first_s, then_s, total) = (first.to_string(), then.to_string(), first + then);
        let mut killed_writer = Client::spawn(&mut client(&["write", p, "0", &first_s, "hang"]));
        killed_writer.expect("PUBLISHED");
        // The reader has read everything (or will) and waits in a read call.
        #[allow(clippy::disallowed_methods)] // the test paces its own processes
        std::thread::sleep(Duration::from_millis(100));
        let killed = Instant::now();
        killed_writer.child.kill().unwrap(); // SIGKILL
        let line = reader.expect("DEAD");
        let after = killed.elapsed();
        assert_eq!(Client::numbers(&line), [first], "every event of the dead writer: {line}");
        let _ = killed_writer.child.wait();
        let second = Client::spawn(&mut client(&["write", p, &first_s, &then_s, "close"]));
        let line = reader.expect("CLOSED");
        assert_eq!(Client::numbers(&line), [total], "the new writer's events, then its close: {line}");
        second.succeeds();
        reader.succeeds();
        assert_eq!(rt.published(), total);
        after
    }

    /// A client reader joining from the oldest event replays the whole
    /// window, once gating and once lossy.
    pub fn oldest_replays_the_window(client: Spawn<'_>, tag: &str) {
        const EVENTS: u64 = 300;
        let (path, rt) = shared_runtime(tag);
        // A gating reader that read nothing keeps every event's slot.
        let _holder = rt.reader().unwrap();
        let mut writer = rt.writer().unwrap();
        publish_pattern(&mut writer, 0..EVENTS);
        let mut late = Client::spawn(&mut client(&["oldest", path.to_str().unwrap()]));
        for _ in ["gating", "lossy"] {
            let line = late.expect("REPLAYED");
            assert_eq!(Client::numbers(&line), [0, EVENTS], "the whole window, in order: {line}");
        }
        late.succeeds();
    }
}
