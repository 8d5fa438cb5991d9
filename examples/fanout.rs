//! The main job: one writer fans a stream of events out to N readers, each
//! reader verifies the order and checksum of every payload, and the run
//! prints the throughput each reader saw.
//!
//! ```text
//! cargo run --release --example fanout -- --readers 2 --events 10000000 --payload 64 --wait blocking
//! ```
//!
//! Exits with status 1 if any reader lost, duplicated, reordered or found a
//! corrupted event, or stalled for 10 s.

#[path = "common/pattern.rs"]
mod pattern;

use clap::{Parser, ValueEnum};
use slotcast::{Runtime, SizeClass, WaitStrategy};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "One writer, N readers: verified fan-out throughput")]
struct Args {
    /// Number of readers.
    #[arg(long, default_value_t = 2)]
    readers: usize,
    /// Number of events to publish.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Payload bytes per event (16..=16384), or "mixed" (90% 64 B, 9% 1 KB, 1% 16 KB).
    #[arg(long, default_value = "64")]
    payload: Payload,
    /// How idle readers wait. `blocking` sleeps on a futex and leaves idle
    /// cores free; `spin` needs a core per thread.
    #[arg(long, value_enum, default_value_t = Wait::Blocking)]
    wait: Wait,
    /// Events per published-cursor store (1 = publish each event on its own).
    #[arg(long, default_value_t = 32)]
    batch: u64,
}

#[derive(Clone, Copy, Debug)]
enum Payload {
    Fixed(usize),
    Mixed,
}

impl std::str::FromStr for Payload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "mixed" {
            return Ok(Payload::Mixed);
        }
        let n: usize = s.parse().map_err(|_| format!("{s:?} is neither a byte count nor \"mixed\""))?;
        if !(pattern::MIN_LEN..=SizeClass::MAX_PAYLOAD).contains(&n) {
            return Err(format!("payload must be between {} and {} bytes", pattern::MIN_LEN, SizeClass::MAX_PAYLOAD));
        }
        Ok(Payload::Fixed(n))
    }
}

impl Payload {
    fn len(self, seq: u64) -> usize {
        match self {
            Payload::Fixed(n) => n,
            Payload::Mixed => pattern::mixed_len(seq),
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Wait {
    Spin,
    Yield,
    Blocking,
}

struct Report {
    events: u64,
    bytes: u64,
    elapsed: Duration,
    problems: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.readers == 0 || args.batch == 0 {
        eprintln!("--readers and --batch must be at least 1");
        return ExitCode::FAILURE;
    }
    let wait = match args.wait {
        Wait::Spin => WaitStrategy::BusySpin,
        Wait::Yield => WaitStrategy::Yield,
        Wait::Blocking => WaitStrategy::Blocking,
    };
    let mut builder = Runtime::builder().wait_strategy(wait).max_readers(args.readers.max(1));
    if let Payload::Mixed = args.payload {
        // Enough 16 KB slots for a ring's worth of the 1% that need them.
        builder = builder.slots(SizeClass::XL, 64);
    }
    let rt = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot build the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "slotcast fanout: 1 writer -> {} readers, {} events, payload {}, wait {:?}, batch {}",
        args.readers,
        args.events,
        match args.payload {
            Payload::Fixed(n) => format!("{n} B"),
            Payload::Mixed => "mixed (90% 64 B, 9% 1 KB, 1% 16 KB)".into(),
        },
        args.wait,
        args.batch
    );

    // Join every reader before the first publish, so each sees every event.
    let readers: Vec<_> = (0..args.readers).map(|_| rt.reader().expect("max_readers fits")).collect();
    let start = Instant::now();
    let threads: Vec<_> = readers
        .into_iter()
        .map(|mut reader| {
            let (events, payload) = (args.events, args.payload);
            std::thread::spawn(move || {
                let mut report = Report { events: 0, bytes: 0, elapsed: Duration::ZERO, problems: Vec::new() };
                while report.events < events {
                    let before = report.events;
                    let result = reader.read_timeout(Duration::from_secs(10), |ev, _| {
                        let expected = report.events;
                        match pattern::check(ev.data()) {
                            Ok(seq) if seq != expected => {
                                report.problems.push(format!("expected sequence {expected}, got {seq}"))
                            }
                            Ok(_) if ev.len() != payload.len(expected) => report.problems.push(format!(
                                "event {expected}: length {} instead of {}",
                                ev.len(),
                                payload.len(expected)
                            )),
                            Ok(_) => {}
                            Err(bad) => report.problems.push(format!("event {expected}: {bad:?}")),
                        }
                        report.events += 1;
                        report.bytes += ev.len() as u64;
                    });
                    if let Err(e) = result {
                        report.problems.push(e.to_string());
                        break;
                    }
                    if report.events == before {
                        report.problems.push(format!("stalled for 10 s after {} events", report.events));
                        break;
                    }
                    if report.problems.len() > 10 {
                        break;
                    }
                }
                report.elapsed = start.elapsed();
                report
            })
        })
        .collect();

    let mut writer = rt.writer().expect("the only writer");
    // Readers see the events `--batch` at a time: one store of the
    // published cursor each (and the rest when the writer is dropped).
    writer.set_flush_every(u32::try_from(args.batch).unwrap_or(u32::MAX));
    for seq in 0..args.events {
        let len = args.payload.len(seq);
        let class = SizeClass::for_len(len).expect("payload sizes are validated");
        writer
            .publish_with(class, 1, |buf| {
                pattern::fill(seq, &mut buf[..len]);
                len
            })
            .expect("the class has slots");
    }
    let writer_elapsed = start.elapsed();
    drop(writer);

    let mut failed = false;
    let mut total = 0.0;
    for (i, t) in threads.into_iter().enumerate() {
        let r = t.join().expect("reader thread panicked");
        let secs = r.elapsed.as_secs_f64();
        let rate = r.events as f64 / secs;
        total += rate;
        let verdict = if r.problems.is_empty() && r.events == args.events {
            "verified".to_string()
        } else {
            failed = true;
            format!("FAILED: {}", r.problems.join("; "))
        };
        println!(
            "reader {i}: {} events in {:.3} s: {:.2} M events/s, {:.1} MB/s, {verdict}",
            r.events,
            secs,
            rate / 1e6,
            r.bytes as f64 / secs / 1e6,
        );
    }
    println!(
        "writer: {:.3} s; all readers: {:.2} M events/s delivered in total",
        writer_elapsed.as_secs_f64(),
        total / 1e6
    );
    if failed {
        println!("FAILED: some reader lost, duplicated, reordered or found a corrupted event");
        ExitCode::FAILURE
    } else {
        println!("OK: every reader saw all {} events in order with intact checksums", args.events);
        ExitCode::SUCCESS
    }
}
