//! `include/slotcast.h` is what cbindgen generates from `src/ffi.rs` and
//! `src/ffi/*.rs` with `cbindgen.toml`: a test fails if the checked-in header
//! differs from a fresh generation. `SLOTCAST_BLESS=1 cargo test --release
//! -p slotcast-capi --test header` rewrites it. A test of the C library's
//! package, not of `slotcast`: cbindgen (and its parser) is then built only
//! for the C ABI's checks, never for slotcast's own tests and examples.
// Parsing with cbindgen under Miri would take hours and checks no unsafe code.
#![cfg(not(miri))]

use std::path::{Path, PathBuf};

/// The repository root: the parent of this package (`capi/`).
fn root() -> &'static Path {
    let capi = Path::new(env!("CARGO_MANIFEST_DIR"));
    capi.parent().unwrap_or(capi)
}

/// Every file of the C ABI, in a fixed order.
fn sources() -> Vec<PathBuf> {
    let mut files = vec![root().join("src/ffi.rs")];
    let mut sub: Vec<PathBuf> = std::fs::read_dir(root().join("src/ffi"))
        .expect("src/ffi/")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    sub.sort();
    files.extend(sub);
    files
}

fn generate() -> String {
    let config = cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("cbindgen.toml");
    let mut builder = cbindgen::Builder::new().with_config(config);
    for file in sources() {
        builder = builder.with_src(file);
    }
    let mut out = Vec::new();
    builder.generate().expect("cbindgen generates the header").write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

#[test]
fn the_checked_in_header_is_current() {
    let fresh = generate();
    let path = root().join("include/slotcast.h");
    if std::env::var_os("SLOTCAST_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/slotcast.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != fresh {
        let line = checked_in
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| checked_in.lines().count().min(fresh.lines().count()) + 1, |i| i + 1);
        panic!(
            "include/slotcast.h is out of date (first difference at line {line}): \
             run `SLOTCAST_BLESS=1 cargo test --release -p slotcast-capi --test header` and commit the result"
        );
    }
}

#[test]
fn the_header_declares_every_exported_function() {
    // Every `#[unsafe(no_mangle)]` function of the sources appears in the
    // header: cbindgen skips items it cannot express rather than failing.
    let header = generate();
    let mut exported = 0;
    for file in sources() {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() == "#[unsafe(no_mangle)]" {
                let decl = lines.next().unwrap();
                let name = decl.split("fn ").nth(1).and_then(|r| r.split('(').next()).unwrap();
                assert!(header.contains(&format!("{name}(")), "{name} is missing from the header");
                exported += 1;
            }
        }
    }
    assert!(exported >= 20, "found only {exported} exported functions");
}
