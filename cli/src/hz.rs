//! `slotcast hz PATH`: the event rate.

use serde::Serialize;
use slotcast::Observer;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The shared runtime's file.
    path: PathBuf,
    /// Seconds between samples.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Stop after this many samples.
    #[arg(short = 'n', long)]
    count: Option<u64>,
}

#[derive(Serialize)]
struct Sample {
    published: u64,
    events_per_second: f64,
    seconds: f64,
}

pub(crate) fn run(args: &Args, json: bool) -> crate::Result {
    if !(args.interval.is_finite() && args.interval > 0.0) {
        return Err("--interval must be a positive number of seconds".into());
    }
    let watch = Observer::open(&args.path)?;
    let interval = Duration::from_secs_f64(args.interval);
    let (mut last, mut at) = (watch.published(), Instant::now());
    let mut samples = 0;
    while args.count.is_none_or(|n| samples < n) {
        std::thread::sleep(interval);
        let (now, t) = (watch.published(), Instant::now());
        let secs = t.duration_since(at).as_secs_f64();
        let sample =
            Sample { published: now, events_per_second: now.saturating_sub(last) as f64 / secs, seconds: secs };
        if json {
            crate::print_json(&sample)?;
        } else {
            println!("{:>14.0} events/s   (published {})", sample.events_per_second, now);
        }
        (last, at) = (now, t);
        samples += 1;
    }
    Ok(())
}
