//! `slotcast`: look into, follow, measure and clean shared slotcast
//! runtimes.
//!
//! ```text
//! slotcast stat  /dev/shm/quotes          # config, policies, cursors, lags, losses, liveness, occupancy
//! slotcast tail  /dev/shm/quotes          # follow the events as a lossy reader, like tail -f
//! slotcast tail --from oldest --gating /dev/shm/quotes   # replay the window, never lose an event
//! slotcast hz    /dev/shm/quotes          # event rate, once a second
//! slotcast bench --readers 2              # fan-out benchmark across processes
//! slotcast clean /dev/shm/quotes          # remove a stale file
//! ```
//!
//! Every command takes `--json` for output a script can parse.

mod bench;
mod clean;
mod hz;
mod stat;
mod tail;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "slotcast", version, about = "Inspect, follow, measure and clean shared slotcast runtimes")]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Configuration, published sequence, each reader's policy, cursor,
    /// lag, lost events and liveness, each process, and per-class
    /// occupancy.
    Stat(stat::Args),
    /// Attach as a reader (lossy unless `--gating`) and print events as
    /// they are published; ends when the stream is closed.
    ///
    /// Lines starting with `--` are about the stream: a lap of the writer
    /// (how many events were lost), the end of the stream (the final line;
    /// status 0), the writer's process dying (the tail waits for a new
    /// writer) and a new writer taking over. With `--json` they are objects
    /// with a `status` field (`lagged`, `closed`, `writer_dead`,
    /// `writer_back`), `events` shown and `lost` so far, and `missed` for a
    /// lap.
    Tail(tail::Args),
    /// Event rate, sampled at an interval.
    Hz(hz::Args),
    /// Fan-out benchmark across processes: one writer process, N reader
    /// processes, every event verified.
    Bench(bench::Args),
    /// Remove a file no live process uses.
    Clean(clean::Args),
    /// (internal) A reader process of `bench`.
    #[command(hide = true)]
    BenchReader(bench::RoleArgs),
    /// (internal) The writer process of `bench`.
    #[command(hide = true)]
    BenchWriter(bench::RoleArgs),
}

fn main() -> ExitCode {
    #[cfg(unix)]
    // SAFETY: called before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Stat(args) => stat::run(&args, cli.json),
        Command::Tail(args) => tail::run(&args, cli.json),
        Command::Hz(args) => hz::run(&args, cli.json),
        Command::Bench(args) => bench::run(&args, cli.json),
        Command::Clean(args) => clean::run(&args, cli.json),
        Command::BenchReader(args) => bench::reader(&args),
        Command::BenchWriter(args) => bench::writer(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slotcast: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors of any command, printed as one line.
type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Prints `value` as one line of JSON.
fn print_json(value: &impl serde::Serialize) -> Result {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
