//! `slotcast clean PATH`: remove a stale file.

use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The shared runtime's file.
    path: PathBuf,
    /// Also remove a file that is not a valid slotcast runtime.
    #[arg(long)]
    force: bool,
}

#[derive(Serialize)]
struct Outcome {
    path: String,
    removed: bool,
    reason: String,
}

pub(crate) fn run(args: &Args, json: bool) -> crate::Result {
    let (removed, reason) = match slotcast::remove_stale(&args.path) {
        Ok(true) => (true, "no live process used it".to_string()),
        Ok(false) => (false, "a live process uses it".to_string()),
        Err(e) if args.force => {
            std::fs::remove_file(&args.path)?;
            (true, format!("forced: {e}"))
        }
        Err(e) => return Err(format!("{}: {e} (use --force to remove it anyway)", args.path.display()).into()),
    };
    let outcome = Outcome { path: args.path.display().to_string(), removed, reason };
    if json {
        crate::print_json(&outcome)?;
    } else if removed {
        println!("removed {} ({})", outcome.path, outcome.reason);
    } else {
        println!("kept {} ({})", outcome.path, outcome.reason);
    }
    if removed { Ok(()) } else { Err("not removed".into()) }
}
