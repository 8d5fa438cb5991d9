//! The reader half of the two-process demo (see `ipc_writer`): opens the
//! shared runtime, verifies the order and checksum of every event, prints
//! the rate once a second, and stops at the writer's end marker.
//!
//! ```text
//! cargo run --release --example ipc_reader -- /dev/shm/slotcast-demo
//! ```

#[path = "common/pattern.rs"]
mod pattern;

use clap::Parser;
use slotcast::Runtime;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// File the writer created.
    #[arg(default_value = "/dev/shm/slotcast-demo")]
    path: PathBuf,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let rt = Runtime::open(&args.path)?;
    let mut reader = rt.reader()?;
    println!("joined {} at sequence {}", args.path.display(), reader.cursor());
    let (mut events, mut bad, mut done) = (0u64, 0u64, false);
    let (mut tick, mut at_tick) = (Instant::now(), 0u64);
    while !done {
        reader.read_timeout(Duration::from_secs(1), |ev, _| {
            if ev.event_type() == 1 {
                done = true;
                return;
            }
            if pattern::check(ev.data()) != Ok(ev.sequence()) {
                bad += 1;
            }
            events += 1;
        })?;
        if tick.elapsed() >= Duration::from_secs(1) {
            println!(
                "{:.2} M events/s, {events} so far",
                (events - at_tick) as f64 / tick.elapsed().as_secs_f64() / 1e6
            );
            (tick, at_tick) = (Instant::now(), events);
        }
    }
    println!("end of stream: {events} events, {bad} corrupted or out of order");
    if bad > 0 { Err("corrupted events".into()) } else { Ok(()) }
}
