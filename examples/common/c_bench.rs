//! Builds the C library and `examples/c/bench.c` against it: shared by
//! `examples/ffi_ingest.rs` and the `ingest` bench group
//! (`benches/ingest.rs`), which include this file with `#[path]`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the C library (`slotcast-capi`) into `target` (a target directory
/// of its own: the one of the running program may be locked by the cargo
/// that runs it), then compiles `examples/c/bench.c` against it with `$CC`
/// (default `cc`). `root` is the repository's root. Returns the library's
/// directory and the C bench. Panics, saying what failed, if either build
/// fails.
pub(crate) fn build_c_bench(root: &Path, target: &Path) -> (PathBuf, PathBuf) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--package", "slotcast-capi", "--target-dir"])
        .arg(target)
        .current_dir(root)
        .status()
        .expect("run cargo to build the C library");
    assert!(status.success(), "building slotcast-capi failed: {status}");
    let lib = target.join("release");
    let exe = lib.join("bench_c");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-D_DEFAULT_SOURCE", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(root.join("examples/c/bench.c"))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-L")
        .arg(&lib)
        .arg("-lslotcast")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lpthread")
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(status.success(), "compiling examples/c/bench.c failed: {status}");
    (lib, exe)
}
