//! `slotcast bench`: fan-out across processes. This process creates a shared
//! runtime, starts N reader processes and one writer process (this same
//! executable, with hidden subcommands), and reports what each reader
//! measured; every reader verifies the sequence and checksum of every event.

#[path = "../../examples/common/pattern.rs"]
mod pattern;

use serde::Serialize;
use slotcast::{Runtime, SizeClass, WaitStrategy};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Reader processes.
    #[arg(long, default_value_t = 2)]
    readers: usize,
    /// Events to publish.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Payload bytes per event (16..=16384), or "mixed" (90% 64 B, 9% 1 KB, 1% 16 KB).
    #[arg(long, default_value = "256")]
    payload: String,
    /// Events per published-cursor store.
    #[arg(long, default_value_t = 32)]
    batch: u64,
    /// How readers wait: spin (a core each), yield, or blocking.
    #[arg(long, default_value = "blocking")]
    wait: String,
    /// Where to create the runtime's file (default: under /dev/shm).
    #[arg(long)]
    path: Option<PathBuf>,
}

/// What the parent tells a reader or writer process.
#[derive(clap::Args, Debug)]
pub(crate) struct RoleArgs {
    #[arg(long)]
    path: PathBuf,
    #[arg(long)]
    events: u64,
    #[arg(long)]
    payload: String,
    #[arg(long)]
    batch: u64,
}

/// Payload length of event `seq`.
fn payload_len(payload: &str, seq: u64) -> Result<usize, String> {
    if payload == "mixed" {
        return Ok(pattern::mixed_len(seq));
    }
    match payload.parse::<usize>() {
        Ok(n) if (pattern::MIN_LEN..=SizeClass::MAX_PAYLOAD).contains(&n) => Ok(n),
        _ => Err(format!("--payload must be \"mixed\" or {}..={} bytes", pattern::MIN_LEN, SizeClass::MAX_PAYLOAD)),
    }
}

#[derive(Serialize)]
struct Measured {
    role: String,
    events: u64,
    seconds: f64,
    events_per_second: f64,
    bytes_per_second: f64,
    verified: bool,
}

/// A child's report: `RESULT events seconds bytes verified`.
fn parse_result(role: String, line: &str) -> Result<Measured, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 5 || f[0] != "RESULT" {
        return Err(format!("{role}: unexpected report {line:?}"));
    }
    let num = |s: &str| s.parse::<f64>().map_err(|_| format!("{role}: bad number {s:?}"));
    let (events, seconds, bytes) = (num(f[1])?, num(f[2])?, num(f[3])?);
    Ok(Measured {
        role,
        events: events as u64,
        seconds,
        events_per_second: events / seconds,
        bytes_per_second: bytes / seconds,
        verified: f[4] == "verified",
    })
}

struct ChildProc {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl ChildProc {
    fn spawn(subcommand: &str, role: &RoleArgs) -> crate::Result<ChildProc> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(subcommand)
            .arg("--path")
            .arg(&role.path)
            .args([
                "--events",
                &role.events.to_string(),
                "--payload",
                &role.payload,
                "--batch",
                &role.batch.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()?;
        let lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        Ok(ChildProc { child, lines })
    }

    fn line(&mut self) -> crate::Result<String> {
        Ok(self.lines.next().ok_or("a child process exited early")??)
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        // Reaps a finished child, or stops one left behind by an error.
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

pub(crate) fn run(args: &Args, json: bool) -> crate::Result {
    let wait = match args.wait.as_str() {
        "spin" => WaitStrategy::BusySpin,
        "yield" => WaitStrategy::Yield,
        "blocking" => WaitStrategy::Blocking,
        other => return Err(format!("--wait {other:?}: expected spin, yield or blocking").into()),
    };
    if args.readers == 0 || args.batch == 0 {
        return Err("--readers and --batch must be at least 1".into());
    }
    payload_len(&args.payload, 0)?;
    let path = args.path.clone().unwrap_or_else(|| {
        let dir =
            if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        dir.join(format!("slotcast-bench-{}", std::process::id()))
    });
    // Slots: a ring's worth of the class in use, so pools never bound the
    // run (XS events take none: they are carried in the ring).
    let mut builder = Runtime::builder()
        .shared(&path)
        .wait_strategy(wait)
        .ring_capacity(1024)
        .max_readers(args.readers)
        .max_processes(args.readers + 2);
    for class in SizeClass::ALL {
        builder = builder.slots(class, 0);
    }
    if args.payload == "mixed" {
        builder = builder.slots(SizeClass::XS, 1).slots(SizeClass::M, 1024).slots(SizeClass::XL, 64);
    } else {
        let class = SizeClass::for_len(payload_len(&args.payload, 0)?).ok_or("payload too large")?;
        builder = builder.slots(class, 1024);
    }
    let rt = builder.build()?;
    let role = RoleArgs { path: path.clone(), events: args.events, payload: args.payload.clone(), batch: args.batch };
    let mut readers = Vec::new();
    for _ in 0..args.readers {
        let mut child = ChildProc::spawn("bench-reader", &role)?;
        if child.line()? != "JOINED" {
            return Err("a reader failed to join".into());
        }
        readers.push(child);
    }
    let mut writer = ChildProc::spawn("bench-writer", &role)?;
    let mut results = vec![parse_result("writer".into(), &writer.line()?)?];
    for (i, r) in readers.iter_mut().enumerate() {
        results.push(parse_result(format!("reader {i}"), &r.line()?)?);
    }
    drop((readers, writer, rt));
    let all_verified = results.iter().skip(1).all(|m| m.verified && m.events == args.events);
    if json {
        crate::print_json(&results)?;
    } else {
        println!(
            "slotcast bench: 1 writer process -> {} reader processes, {} events, payload {}, wait {}, batch {}",
            args.readers, args.events, args.payload, args.wait, args.batch
        );
        for m in &results {
            println!(
                "  {:<9} {:>9} events in {:.3} s: {:>7.2} M events/s, {:>8.1} MB/s{}",
                m.role,
                m.events,
                m.seconds,
                m.events_per_second / 1e6,
                m.bytes_per_second / 1e6,
                if m.role == "writer" {
                    ""
                } else if m.verified {
                    ", verified"
                } else {
                    ", FAILED"
                }
            );
        }
    }
    if all_verified { Ok(()) } else { Err("a reader lost, reordered or found a corrupted event".into()) }
}

/// The `bench-reader` process.
pub(crate) fn reader(args: &RoleArgs) -> crate::Result {
    let rt = Runtime::open(&args.path)?;
    let mut reader = rt.reader()?;
    println!("JOINED");
    let mut next = reader.cursor();
    let (mut bytes, mut verified) = (0u64, true);
    let mut start = None;
    while next < args.events {
        let n = reader.read_timeout(Duration::from_secs(30), |ev, _| {
            start.get_or_insert_with(Instant::now);
            let ok = pattern::check(ev.data()) == Ok(next) && payload_len(&args.payload, next) == Ok(ev.len());
            verified &= ok;
            bytes += ev.len() as u64;
            next += 1;
        })?;
        if n == 0 {
            return Err(format!("no event for 30 s after {next}").into());
        }
    }
    let secs = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    println!("RESULT {next} {secs} {bytes} {}", if verified { "verified" } else { "corrupted" });
    Ok(())
}

/// The `bench-writer` process.
pub(crate) fn writer(args: &RoleArgs) -> crate::Result {
    let rt = Runtime::open(&args.path)?;
    let mut w = rt.writer()?;
    let (mut seq, mut bytes) = (w.published(), 0u64);
    let start = Instant::now();
    // One store of the published cursor per `batch` events.
    w.set_flush_every(u32::try_from(args.batch).unwrap_or(u32::MAX));
    while seq < args.events {
        let len = payload_len(&args.payload, seq)?;
        let class = SizeClass::for_len(len).ok_or("payload too large")?;
        // `move`: a boxed error must own what it holds, the closure too.
        w.publish_with(class, 0, move |buf| {
            pattern::fill(seq, &mut buf[..len]);
            len
        })?;
        bytes += len as u64;
        seq += 1;
    }
    w.flush();
    println!("RESULT {seq} {} {bytes} written", start.elapsed().as_secs_f64());
    Ok(())
}
