//! `slotcast tail PATH`: follow events as a reader.

use serde::Serialize;
use slotcast::Runtime;
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
}

#[derive(Serialize)]
struct Line<'a> {
    sequence: u64,
    event_type: u32,
    len: usize,
    class: &'static str,
    data_hex: &'a str,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn printable(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b.is_ascii_graphic() || b == b' ')
}

pub(crate) fn run(args: &Args, json: bool) -> crate::Result {
    let rt = Runtime::open(&args.path)?;
    let mut reader = rt.reader()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Leave the reader table cleanly on Ctrl-C instead of dying in it.
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))?;
    let mut seen = 0u64;
    while !stop.load(Ordering::Relaxed) && args.count.is_none_or(|n| seen < n) {
        let Some(event) = reader.recv_timeout(Duration::from_millis(100))? else { continue };
        let shown = &event.data()[..event.len().min(args.width)];
        let more = if event.len() > shown.len() { "…" } else { "" };
        if json {
            let data_hex = hex(shown);
            crate::print_json(&Line {
                sequence: event.sequence(),
                event_type: event.event_type(),
                len: event.len(),
                class: event.class().name(),
                data_hex: &data_hex,
            })?;
        } else if !args.hex && printable(shown) {
            println!(
                "{:>10} type {:<5} {:>5} B  {}{more}",
                event.sequence(),
                event.event_type(),
                event.len(),
                String::from_utf8_lossy(shown)
            );
        } else {
            println!(
                "{:>10} type {:<5} {:>5} B  {}{more}",
                event.sequence(),
                event.event_type(),
                event.len(),
                hex(shown)
            );
        }
        seen += 1;
    }
    Ok(())
}
