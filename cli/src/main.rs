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
//! slotcast bridge out /dev/shm/quotes --nats nats://10.0.0.1:4222 --subject quotes   # send the ring's events over NATS
//! slotcast bridge in  /dev/shm/quotes --nats nats://10.0.0.1:4222 --subject quotes   # and publish them into a ring here
//! ```
//!
//! Every command takes `--json` for output a script can parse.
//!
//! `bridge out` joins a runtime as a reader (gating unless `--lossy`) and
//! sends its events to a NATS subject; `bridge in`, on another machine,
//! publishes them into a runtime there (created if missing), where local
//! readers read them as if the writer were local. Core NATS by default (at
//! most once, every loss counted exactly), `--jetstream` for stored
//! delivery that resumes across restarts. Both print a progress line to
//! stdout every `--interval` (events/s, bytes/s, lag, lost, connection) and
//! a final line with the totals; Ctrl-C or SIGTERM stops them cleanly
//! (status 0). The subcommand is the default feature `bridge`.

mod bench;
#[cfg(feature = "bridge")]
mod bridge;
mod clean;
mod hz;
mod stat;
mod tail;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "slotcast", version, about = "Inspect, follow, measure, clean and bridge shared slotcast runtimes")]
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
    /// Carry a ring's events to other machines over NATS: `out` sends a
    /// runtime's events to a subject, `in` publishes them into a runtime.
    ///
    /// Progress goes to stdout once per `--interval`, like `hz`: events/s,
    /// bytes/s, lag, lost (and, for `in`, malformed messages and
    /// duplicates), and the connection's state; the final line (starting
    /// with `--`) has the totals. With `--json`, one object per line:
    /// `status` is `progress`, then `stopped` (by Ctrl-C or SIGTERM),
    /// `ended` (the source's stream ended) or `failed` (the error itself on
    /// stderr, status 1), with the bridge's counters (`events`, `bytes`,
    /// `messages`, `lost`, `lag`, `malformed`, `duplicates`, `rejected`,
    /// `sources`, `disconnects`, `slow_consumer`, `next_sequence`,
    /// `connected`, `ended`) and `events_per_second`, `bytes_per_second`
    /// over the interval (the whole run in the final line). Errors go to
    /// stderr, status 1. Ctrl-C or SIGTERM stops the bridge cleanly
    /// (status 0); a second one leaves without waiting for it.
    #[cfg(feature = "bridge")]
    Bridge(bridge::Args),
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
        #[cfg(feature = "bridge")]
        Command::Bridge(args) => bridge::run(&args, cli.json),
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
