//! `slotcast tail PATH`: follow events as a reader.
//!
//! A lossy reader by default: a tap must never slow the writer it watches.
//! When the writer laps it, it prints how many events it lost and goes on.
//! It ends (status 0, a final line) when the stream is closed; when the
//! writer's process dies it says so and waits for a new writer.

use serde::Serialize;
use slotcast::{Policy, ReadError, ReaderOptions, Runtime, StartAt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The shared runtime's file.
    path: PathBuf,
    /// Stop after this many events.
    #[arg(short = 'n', long)]
    count: Option<u64>,
    /// Show payloads in hex even when they are printable text.
    #[arg(long)]
    hex: bool,
    /// Bytes of each payload to show.
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Where to start: `now` (the events published after joining) or
    /// `oldest` (replay the events the ring still holds first).
    #[arg(long, value_enum, default_value_t = From::Now)]
    from: From,
    /// Join as a gating reader: the writer waits for this tail instead of
    /// lapping it, so no event is lost and a slow terminal slows the
    /// writer. Without it the tail is lossy and never slows the writer.
    #[arg(long)]
    gating: bool,
}

/// `--from`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum From {
    /// The next event published.
    Now,
    /// The oldest event the ring still holds.
    Oldest,
}

#[derive(Serialize)]
struct Line<'a> {
    sequence: u64,
    event_type: u32,
    len: usize,
    class: &'static str,
    data_hex: &'a str,
}

/// An event as printed: what `--width` shows of it, copied out of the ring.
struct Shown {
    sequence: u64,
    event_type: u32,
    len: usize,
    class: &'static str,
    data: Vec<u8>,
}

/// A line about the stream rather than an event (`--json`).
#[derive(Serialize)]
struct Status {
    /// `lagged`, `closed`, `writer_dead` or `writer_back`.
    status: &'static str,
    /// Events lost in this lap (`lagged`).
    #[serde(skip_serializing_if = "Option::is_none")]
    missed: Option<u64>,
    /// Events printed so far.
    events: u64,
    /// Events lost so far, in all.
    lost: u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn printable(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b.is_ascii_graphic() || b == b' ')
}

pub(crate) fn run(args: &Args, json: bool) -> crate::Result {
    let rt = Runtime::open(&args.path)?;
    let policy = if args.gating { Policy::Gating } else { Policy::Lossy };
    let start = match args.from {
        From::Now => StartAt::Now,
        From::Oldest => StartAt::Oldest,
    };
    let mut reader = rt.reader_with(ReaderOptions::new().policy(policy).start_at(start))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Leave the reader table cleanly on Ctrl-C instead of dying in it.
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))?;
    let mut seen = 0u64;
    // The sum of the `Lagged` counts: `Reader::lost`, kept here because
    // the reader is borrowed by the read that reports them.
    let mut lost = 0u64;
    let mut writer_dead = false;
    let status = |status: &'static str, missed: Option<u64>, seen: u64, lost: u64| -> crate::Result {
        if json {
            return crate::print_json(&Status { status, missed, events: seen, lost });
        }
        match status {
            "lagged" => println!("-- lapped by the writer: {} events lost ({lost} in all)", missed.unwrap_or_default()),
            "closed" => println!("-- stream closed: {seen} events shown, {lost} lost"),
            "writer_dead" => println!("-- the writer's process died; waiting for a new writer"),
            _ => println!("-- a new writer took over"),
        }
        Ok(())
    };
    while !stop.load(Ordering::Relaxed) && args.count.is_none_or(|n| seen < n) {
        let shown = match reader.recv_timeout(Duration::from_millis(100)) {
            Ok(event) => {
                // A dead writer is reported once; reads then wait as before
                // any writer came. A new one shows as its first event, or,
                // between empty waits, as the role taken.
                if writer_dead && (event.is_some() || rt.stats().writer_pid.is_some()) {
                    writer_dead = false;
                    status("writer_back", None, seen, lost)?;
                }
                // Copied out so that the read ends (and a lossy reader's pin
                // is released) before printing: a terminal or pipe that
                // blocks must not hold the writer back.
                event.map(|e| Shown {
                    sequence: e.sequence(),
                    event_type: e.event_type(),
                    len: e.len(),
                    class: e.class().name(),
                    data: e.data()[..e.len().min(args.width)].to_vec(),
                })
            }
            Err(ReadError::Lagged { missed }) => {
                lost += missed;
                status("lagged", Some(missed), seen, lost)?;
                continue;
            }
            Err(ReadError::Closed) => return status("closed", None, seen, lost),
            Err(ReadError::WriterDead) => {
                writer_dead = true;
                status("writer_dead", None, seen, lost)?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let Some(e) = shown else { continue };
        let more = if e.len > e.data.len() { "…" } else { "" };
        if json {
            let data_hex = hex(&e.data);
            crate::print_json(&Line {
                sequence: e.sequence,
                event_type: e.event_type,
                len: e.len,
                class: e.class,
                data_hex: &data_hex,
            })?;
        } else {
            let data = if !args.hex && printable(&e.data) {
                String::from_utf8_lossy(&e.data).into_owned()
            } else {
                hex(&e.data)
            };
            println!("{:>10} type {:<5} {:>5} B  {data}{more}", e.sequence, e.event_type, e.len);
        }
        seen += 1;
    }
    Ok(())
}
