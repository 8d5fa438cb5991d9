//! The writer half of a two-process demo: creates a shared runtime in a file
//! and publishes self-checking events into it; run `ipc_reader` (several, if
//! you like) in other terminals.
//!
//! ```text
//! cargo run --release --example ipc_writer -- /dev/shm/slotcast-demo --count 5000000
//! cargo run --release --example ipc_reader -- /dev/shm/slotcast-demo     # another terminal
//! ```
//!
//! The writer waits for `--readers` readers to join before it starts, and
//! ends the stream with an event of type 1 so readers know to stop.
#![allow(clippy::disallowed_methods)] // the example paces its own publishing with std::thread::sleep

#[path = "common/pattern.rs"]
mod pattern;

use clap::Parser;
use slotcast::{Runtime, SizeClass};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// File to create (must not exist).
    #[arg(default_value = "/dev/shm/slotcast-demo")]
    path: PathBuf,
    /// Events to publish.
    #[arg(long, default_value_t = 5_000_000)]
    count: u64,
    /// Payload bytes per event.
    #[arg(long, default_value_t = 256)]
    payload: usize,
    /// Readers to wait for before publishing.
    #[arg(long, default_value_t = 1)]
    readers: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if !(pattern::MIN_LEN..=SizeClass::MAX_PAYLOAD).contains(&args.payload) {
        return Err(format!("--payload must be {}..={}", pattern::MIN_LEN, SizeClass::MAX_PAYLOAD).into());
    }
    let class = SizeClass::for_len(args.payload).ok_or("payload too large")?;
    let rt = Runtime::builder().shared(&args.path).slots(class, 1024).build()?;
    println!("created {}; waiting for {} reader(s) (run ipc_reader)", args.path.display(), args.readers);
    while rt.stats().readers.len() < args.readers {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut w = rt.writer()?;
    let start = Instant::now();
    // One store of the published cursor per 32 events.
    w.set_flush_every(32);
    let len = args.payload;
    for seq in 0..args.count {
        w.publish_with(class, 0, move |buf| {
            pattern::fill(seq, &mut buf[..len]);
            len
        })?;
    }
    // Back to one store per event: stores the rest, and the end marker
    // below is visible at once.
    w.set_flush_every(1);
    w.publish_bytes(1, b"end")?;
    let secs = start.elapsed().as_secs_f64();
    println!("published {} events in {secs:.2} s ({:.2} M events/s)", args.count, args.count as f64 / secs / 1e6);
    // Stay until every reader has read the end marker: the last process out
    // removes the file.
    while rt.stats().max_lag() > 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
