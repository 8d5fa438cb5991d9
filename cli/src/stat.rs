//! `slotcast stat PATH`.

use serde::Serialize;
use slotcast::{Observer, Policy, SizeClass};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The shared runtime's file.
    path: PathBuf,
}

#[derive(Serialize)]
struct Report {
    path: String,
    ring_capacity: usize,
    max_readers: usize,
    max_processes: usize,
    wait_strategy: String,
    arena_bytes: usize,
    published: u64,
    writer_pid: Option<u64>,
    readers: Vec<Reader>,
    processes: Vec<Process>,
    pools: Vec<Pool>,
}

#[derive(Serialize)]
struct Reader {
    entry: usize,
    pid: u64,
    /// `"gating"` or `"lossy"`.
    policy: &'static str,
    cursor: u64,
    lag: u64,
    /// Events lost to the writer lapping it (always 0 for a gating reader).
    lost: u64,
    alive: bool,
}

#[derive(Serialize)]
struct Process {
    entry: usize,
    pid: u64,
    alive: bool,
    writer: bool,
    retained_slots: usize,
}

#[derive(Serialize)]
struct Pool {
    class: &'static str,
    slot_bytes: usize,
    slots: usize,
    in_ring: usize,
    retained: usize,
    in_use: usize,
    writer_owned: usize,
}

pub(crate) fn run(args: &Args, json: bool) -> crate::Result {
    let watch = Observer::open(&args.path)?;
    let config = watch.config();
    let stats = watch.stats();
    let report = Report {
        path: args.path.display().to_string(),
        ring_capacity: config.ring_capacity(),
        max_readers: config.max_readers(),
        max_processes: config.max_processes(),
        wait_strategy: format!("{:?}", config.wait_strategy()),
        arena_bytes: config.arena_len(),
        published: stats.published,
        writer_pid: stats.writer_pid,
        readers: stats
            .readers
            .iter()
            .map(|r| Reader {
                entry: r.entry,
                pid: r.pid,
                policy: policy_name(r.policy),
                cursor: r.cursor,
                lag: r.lag,
                lost: r.lost,
                alive: r.alive,
            })
            .collect(),
        processes: stats
            .processes
            .iter()
            .map(|p| Process {
                entry: p.entry,
                pid: p.pid,
                alive: p.alive,
                writer: p.writer,
                retained_slots: p.retained,
            })
            .collect(),
        pools: SizeClass::ALL
            .iter()
            .map(|&c| {
                let p = stats.pool(c);
                Pool {
                    class: c.name(),
                    slot_bytes: c.capacity(),
                    slots: p.slots,
                    in_ring: p.in_ring,
                    retained: p.retained,
                    in_use: p.in_use,
                    writer_owned: p.writer_owned,
                }
            })
            .collect(),
    };
    if json {
        return crate::print_json(&report);
    }
    print_text(&report);
    Ok(())
}

/// The policy as `stat` prints it.
fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::Gating => "gating",
        Policy::Lossy => "lossy",
        // `Policy` is non-exhaustive: one added after this command.
        _ => "other",
    }
}

fn yes_no(alive: bool) -> &'static str {
    if alive { "alive" } else { "DEAD" }
}

fn print_text(r: &Report) {
    println!("{}", r.path);
    println!(
        "  ring {} entries, up to {} readers and {} processes, {} wait, {} bytes",
        r.ring_capacity, r.max_readers, r.max_processes, r.wait_strategy, r.arena_bytes
    );
    let writer = r.writer_pid.map_or_else(|| "none".to_string(), |pid| format!("pid {pid}"));
    println!("  published {}   writer {writer}", r.published);
    println!();
    if r.readers.is_empty() {
        println!("  no readers");
    } else {
        println!("  reader      pid  policy         cursor        lag       lost  process");
        for x in &r.readers {
            // A gating reader never loses an event: no count to show.
            let lost = if x.policy == "lossy" { x.lost.to_string() } else { "-".to_string() };
            println!(
                "  {:>6} {:>8}  {:<6} {:>14} {:>10} {:>10}  {}",
                x.entry,
                x.pid,
                x.policy,
                x.cursor,
                x.lag,
                lost,
                yes_no(x.alive)
            );
        }
    }
    println!();
    println!("  process      pid          retained");
    for p in &r.processes {
        let role = if p.writer { "writer" } else { "" };
        println!("  {:>7} {:>8} {:>7} {:>9}  {}", p.entry, p.pid, role, p.retained_slots, yes_no(p.alive));
    }
    println!();
    println!("  class   bytes  slots  in ring  retained  in use");
    for p in &r.pools {
        if p.slots > 0 {
            println!(
                "  {:>5} {:>7} {:>6} {:>8} {:>9} {:>7}",
                p.class, p.slot_bytes, p.slots, p.in_ring, p.retained, p.in_use
            );
        }
    }
}
