//! `slotcast bridge out|in PATH`: carry a ring's events over NATS.
//!
//! `out` joins the runtime at PATH as a reader and sends its events to a
//! subject; `in` publishes a subject's events into the runtime at PATH
//! (creating it if it does not exist), where local readers read them as if
//! the writer were local. Both run [`slotcast_bridge`]'s halves on a thread
//! of their own and print its counters once per `--interval`.
//!
//! Progress goes to stdout, in text or (`--json`) one object per line, as
//! `hz` prints its samples: it is the command's output, for a terminal or a
//! script; errors go to stderr. Ctrl-C or SIGTERM stops the bridge cleanly
//! (what was read is sent, the reader or writer role is left) and the
//! command ends with status 0 after a final line; a second one leaves at
//! once.

use serde::Serialize;
use slotcast::{Policy, Runtime, SizeClass, StartAt};
use slotcast_bridge::{Delivery, InOptions, Link, OutOptions, Running, Snapshot};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(subcommand)]
    direction: Direction,
}

#[derive(clap::Subcommand, Debug)]
enum Direction {
    /// Send the events of the runtime at PATH to a NATS subject.
    ///
    /// Joins the runtime as a reader (gating unless `--lossy`) once
    /// connected. Ends (status 0, `ended`) when the source's stream is
    /// closed, after telling the receiving side.
    Out(OutArgs),
    /// Publish a NATS subject's events into the runtime at PATH.
    ///
    /// Takes the runtime's writer role; PATH is created (`--ring-capacity`, `--slots`) if it does not
    /// exist, and taken over if every process that used it died. Ends
    /// (status 0, `ended`) when the source's stream ends, and closes the
    /// local stream then; on an error it leaves the local stream open for
    /// the next bridge (local readers see the writer dead). A runtime this
    /// command created is removed when the last process using it closes
    /// it, as any runtime (the resume record of a removed ring names that
    /// ring's file, and the next ring's bridge ignores it).
    In(InArgs),
}

/// What both directions take.
#[derive(clap::Args, Debug)]
struct LinkArgs {
    /// The runtime's file.
    path: PathBuf,
    /// The NATS server's URL (`nats://host:4222`; several, comma-separated,
    /// for a cluster).
    #[arg(long, value_name = "URL")]
    nats: String,
    /// The subject the frames travel on.
    #[arg(long, value_name = "S")]
    subject: String,
    /// Deliver through JetStream (stored, every event arrives, a restart
    /// resumes) instead of core NATS (at most once, losses counted).
    #[arg(long)]
    jetstream: bool,
    /// The JetStream stream's name (default `SLOTCAST_<subject>`, created
    /// if it does not exist).
    #[arg(long, value_name = "NAME", requires = "jetstream")]
    stream: Option<String>,
    /// Seconds between progress lines.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    interval: f64,
    /// Give up (status 1) if the server cannot be reached within this many
    /// seconds of starting; 0 waits for it forever. Once connected, a lost
    /// connection is retried forever (the progress shows it).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    connect_timeout: f64,
}

#[derive(clap::Args, Debug)]
struct OutArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// Join as a lossy reader: the source's writer never waits for the
    /// bridge; the events it laps the bridge past are counted as lost (here
    /// and on the receiving side). Without it the writer waits for the
    /// bridge and nothing is lost before the network.
    #[arg(long)]
    lossy: bool,
    /// Where to start: `now` (the events published after joining) or
    /// `oldest` (the events the ring still holds first). A JetStream bridge
    /// restarted on the same file resumes after the last frame the stream
    /// holds instead.
    #[arg(long, value_enum, default_value_t = From::Now)]
    from: From,
    /// The most bytes in one NATS message (the server's maximum payload
    /// caps it).
    #[arg(long, value_name = "N", default_value_t = OutOptions::DEFAULT_MAX_FRAME_BYTES)]
    max_frame_bytes: usize,
}

#[derive(clap::Args, Debug)]
struct InArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// Where to record which source event the ring continues, so that a
    /// restart neither repeats nor skips one (default `PATH.bridge-in`).
    #[arg(long, value_name = "F")]
    resume_file: Option<PathBuf>,
    /// Ring capacity of a runtime this command creates (a power of two).
    /// Ignored when PATH exists.
    #[arg(long, value_name = "N")]
    ring_capacity: Option<usize>,
    /// Slots of one size class in a runtime this command creates, as
    /// CLASS=N (xs, s, m, l, xl; repeatable), for example `--slots l=5000`
    /// when the source sends many 4 KB events. Every class the source uses
    /// needs slots. Ignored when PATH exists.
    #[arg(long, value_name = "CLASS=N", value_parser = parse_slots)]
    slots: Vec<(SizeClass, usize)>,
}

/// `--from`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum From {
    /// The next event published.
    Now,
    /// The oldest event the ring still holds.
    Oldest,
}

fn parse_slots(text: &str) -> Result<(SizeClass, usize), String> {
    let (class, count) = text.split_once('=').ok_or("expected CLASS=N, for example l=5000")?;
    let class = SizeClass::ALL
        .into_iter()
        .find(|c| c.name().eq_ignore_ascii_case(class.trim()))
        .ok_or_else(|| format!("unknown size class {class:?} (xs, s, m, l or xl)"))?;
    let count = count.trim().parse().map_err(|e| format!("slot count {count:?}: {e}"))?;
    Ok((class, count))
}

/// One line of `--json` output: a progress sample (`status: "progress"`)
/// or the final totals (`status: "stopped"`, `"ended"` or `"failed"`).
#[derive(Serialize)]
struct Line {
    status: &'static str,
    /// `out` or `in`.
    direction: &'static str,
    events: u64,
    bytes: u64,
    messages: u64,
    lost: u64,
    lag: u64,
    malformed: u64,
    duplicates: u64,
    rejected: u64,
    sources: u64,
    disconnects: u64,
    slow_consumer: u64,
    next_sequence: u64,
    connected: bool,
    ended: bool,
    /// Over the sample's interval (progress) or the whole run (final).
    events_per_second: f64,
    bytes_per_second: f64,
    seconds: f64,
}

impl Line {
    fn new(status: &'static str, direction: &'static str, now: &Snapshot, before: &Snapshot, seconds: f64) -> Line {
        let per_second = |n: u64| if seconds > 0.0 { n as f64 / seconds } else { 0.0 };
        Line {
            status,
            direction,
            events: now.events,
            bytes: now.bytes,
            messages: now.messages,
            lost: now.lost,
            lag: now.lag,
            malformed: now.malformed,
            duplicates: now.duplicates,
            rejected: now.rejected,
            sources: now.sources,
            disconnects: now.disconnects,
            slow_consumer: now.slow_consumer,
            next_sequence: now.next_sequence,
            connected: now.connected,
            ended: now.ended,
            events_per_second: per_second(now.events.saturating_sub(before.events)),
            bytes_per_second: per_second(now.bytes.saturating_sub(before.bytes)),
            seconds,
        }
    }

    fn print(&self, json: bool) -> crate::Result {
        if json {
            return crate::print_json(self);
        }
        // Malformed messages, duplicates and rejected events exist on the
        // receiving side only; rejected ones are shown once there are any.
        let in_only = if self.direction == "in" {
            let rejected = if self.rejected > 0 { format!("   rejected {}", self.rejected) } else { String::new() };
            format!("   malformed {}   duplicates {}{rejected}", self.malformed, self.duplicates)
        } else {
            String::new()
        };
        let link = if self.connected { "connected" } else { "disconnected" };
        if self.status == "progress" {
            println!(
                "{:>12.0} events/s {:>12}   lag {}   lost {}{in_only}   {link}   (events {})",
                self.events_per_second,
                per_second(self.bytes_per_second),
                self.lag,
                self.lost,
                self.events
            );
        } else {
            println!(
                "-- {}: {} events, {}, {} messages in {:.1} s   lost {}{in_only}",
                self.status,
                self.events,
                human(self.bytes as f64),
                self.messages,
                self.seconds,
                self.lost
            );
        }
        Ok(())
    }
}

/// `n` bytes in binary units: `512 B`, `1.5 KiB`, `3.2 MiB`.
fn human(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{value:.0} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn per_second(bytes: f64) -> String {
    format!("{}/s", human(bytes))
}

pub(crate) fn run(args: &Args, json: bool) -> crate::Result {
    match &args.direction {
        Direction::Out(out) => run_out(out, json),
        Direction::In(args_in) => run_in(args_in, json),
    }
}

/// The link the arguments name: JetStream's default names for the subject
/// unless `--stream` names another (`--stream` implies JetStream).
fn link(args: &LinkArgs) -> Link {
    let delivery = match (&args.stream, args.jetstream) {
        (Some(stream), _) => Delivery::JetStream { stream: stream.clone() },
        (None, true) => Delivery::jetstream_for(&args.subject),
        (None, false) => Delivery::Core,
    };
    let mut link = Link::new(args.nats.clone(), args.subject.clone(), delivery);
    link.connect_timeout = (args.connect_timeout > 0.0).then(|| Duration::from_secs_f64(args.connect_timeout));
    link
}

fn check(args: &LinkArgs) -> crate::Result {
    if !(args.interval.is_finite() && args.interval > 0.0) {
        return Err("--interval must be a positive number of seconds".into());
    }
    if !(args.connect_timeout.is_finite() && args.connect_timeout >= 0.0) {
        return Err("--connect-timeout must be a number of seconds, 0 or more".into());
    }
    Ok(())
}

fn open(path: &Path) -> crate::Result<Runtime> {
    Runtime::open(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn run_out(args: &OutArgs, json: bool) -> crate::Result {
    check(&args.link)?;
    let runtime = open(&args.link.path)?;
    let mut options = OutOptions::new(link(&args.link));
    options.policy = if args.lossy { Policy::Lossy } else { Policy::Gating };
    options.start_at = match args.from {
        From::Now => StartAt::Now,
        From::Oldest => StartAt::Oldest,
    };
    options.max_frame_bytes = args.max_frame_bytes;
    let signals = on_signals()?;
    let running = slotcast_bridge::spawn_out(runtime, options)?;
    supervise(running, "out", &args.link, &signals, json)
}

fn run_in(args: &InArgs, json: bool) -> crate::Result {
    check(&args.link)?;
    let runtime = open_or_create(args)?;
    let mut options = InOptions::new(link(&args.link));
    // `spawn_in` names `PATH.bridge-in` when this is `None`.
    options.resume_file.clone_from(&args.resume_file);
    let signals = on_signals()?;
    let running = slotcast_bridge::spawn_in(runtime, options)?;
    supervise(running, "in", &args.link, &signals, json)
}

/// The runtime at PATH, created with the command's sizes if there is none,
/// so that a fresh host needs no other step.
///
/// A file every user of which died (a receiving bridge killed) is taken
/// over, events and all: this bridge is its writer, and its resume record
/// still describes its ring. (A record left by an earlier ring at the same
/// path names that ring's file, and the bridge ignores it.)
fn open_or_create(args: &InArgs) -> crate::Result<Runtime> {
    let path = &args.link.path;
    match slotcast::OpenOptions::new().recover_stale(true).open(path) {
        Err(slotcast::OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => return other.map_err(|e| format!("{}: {e}", path.display()).into()),
    }
    let mut builder = Runtime::builder().shared(path);
    if let Some(capacity) = args.ring_capacity {
        builder = builder.ring_capacity(capacity);
    }
    for &(class, count) in &args.slots {
        builder = builder.slots(class, count);
    }
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        // Another process created it between the two calls: use theirs.
        Err(_) if path.exists() => return open(path),
        Err(e) => return Err(format!("{}: {e}", path.display()).into()),
    };
    Ok(runtime)
}

/// Ctrl-C and SIGTERM, counted: the first stops the bridge cleanly, a
/// second leaves without waiting for it.
fn on_signals() -> crate::Result<Arc<AtomicU32>> {
    let signals = Arc::new(AtomicU32::new(0));
    let count = Arc::clone(&signals);
    ctrlc::set_handler(move || {
        count.fetch_add(1, Ordering::Relaxed);
    })?;
    Ok(signals)
}

/// Prints the bridge's progress every interval until it stops by itself
/// (the source's end, an error) or a signal stops it; then its totals.
fn supervise(
    running: Running,
    direction: &'static str,
    args: &LinkArgs,
    signals: &AtomicU32,
    json: bool,
) -> crate::Result {
    let interval = Duration::from_secs_f64(args.interval);
    let started = Instant::now();
    let (mut before, mut at) = (running.progress(), started);
    // Short naps, so that a signal or the bridge's end is acted on at once
    // whatever the interval.
    let nap = Duration::from_millis(20);
    let signalled = || signals.load(Ordering::Relaxed) > 0;
    loop {
        let due = at + interval;
        while Instant::now() < due && !signalled() && !running.is_finished() {
            std::thread::sleep(nap.min(due.saturating_duration_since(Instant::now())));
        }
        if signalled() || running.is_finished() {
            break;
        }
        let now = running.progress();
        let t = Instant::now();
        Line::new("progress", direction, &now, &before, t.duration_since(at).as_secs_f64()).print(json)?;
        (before, at) = (now, t);
    }
    let zero = Snapshot::default();
    let seconds = || started.elapsed().as_secs_f64();
    if !running.is_finished() {
        running.stop();
        // A JetStream sending half waits for the server's acknowledgements
        // of what it sent: a second signal does not wait for them.
        while !running.is_finished() {
            if signals.load(Ordering::Relaxed) > 1 {
                let last = running.progress();
                return Err(format!(
                    "interrupted again: left before the bridge finished ({} events bridged, {} lost)",
                    last.events, last.lost
                )
                .into());
            }
            std::thread::sleep(nap);
        }
    }
    let before_join = running.progress();
    let last = match running.join() {
        Ok(last) => last,
        Err(e) => {
            // A script reading `--json` gets a final object too; the error
            // itself goes to stderr as for every command.
            if json {
                Line::new("failed", direction, &before_join, &zero, seconds()).print(json)?;
            }
            return Err(e.into());
        }
    };
    let status = if last.ended { "ended" } else { "stopped" };
    Line::new(status, direction, &last, &zero, seconds()).print(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_counts_parse_as_class_equals_count() {
        assert_eq!(parse_slots("l=5000"), Ok((SizeClass::L, 5000)));
        assert_eq!(parse_slots("XS = 0"), Ok((SizeClass::XS, 0)));
        assert!(parse_slots("l").unwrap_err().contains("CLASS=N"));
        assert!(parse_slots("xxl=1").unwrap_err().contains("unknown size class"));
        assert!(parse_slots("m=-1").unwrap_err().contains("slot count"));
    }

    #[test]
    fn byte_counts_print_in_binary_units() {
        assert_eq!(human(0.0), "0 B");
        assert_eq!(human(1023.0), "1023 B");
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(human(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(human(5.0 * 1024f64.powi(5)), "5120.0 TiB");
    }
}
