//! Sets `cfg(slotcast_mutant = "...")` from the `SLOTCAST_MUTANT`
//! environment variable, in `--cfg loom` builds only.
//!
//! A mutant weakens one ordering or check in `src/` (see `sync::mutant!`)
//! so that `.ci/loom` can prove that the loom model naming it fails.
//! Setting the cfg here rather than in `RUSTFLAGS` rebuilds only this crate
//! for each mutant, not every dependency. A normal build never reads the
//! variable's value: mutants exist only under loom.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=SLOTCAST_MUTANT");
    // Cargo passes the target's cfgs, `RUSTFLAGS` ones included.
    if std::env::var_os("CARGO_CFG_LOOM").is_none() {
        return;
    }
    if let Ok(mutant) = std::env::var("SLOTCAST_MUTANT") {
        if !mutant.is_empty() {
            println!("cargo::rustc-cfg=slotcast_mutant=\"{mutant}\"");
        }
    }
}
