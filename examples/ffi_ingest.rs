//! Ingest throughput through the C ABI, from C and from Python, next to the
//! Rust API in the same run.
//!
//! ```sh
//! cargo run --release --features capi --example ffi_ingest            # 5 rounds of 0.3 s
//! cargo run --release --features capi --example ffi_ingest -- 0.5 7   # seconds per round, rounds
//! ```
//!
//! Every case publishes into an in-process runtime with the default
//! configuration and no reader, so what is measured is the cost of getting
//! an event in (the call, the checks, the writer's lock, the copy into the
//! slot and the cursor store), not a reader's. The rounds interleave every
//! case (Rust, C, Python, then again), so a neighbour's load hits them
//! alike; each figure is the best of its rounds. It builds the C library (`slotcast-capi`) into
//! `target/tmp/capi`, compiles `examples/c/bench.c` with the system C
//! compiler and runs `examples/python/bench.py` with `python3` over the C
//! ABI's ctypes client (`examples/python/slotcast_ctypes.py`; the native
//! package's figures, beside these, are the `ingest` bench group's:
//! `cargo bench -p slotcast-benches --bench ingest`).
//!
//! The Rust rows: `publish_bytes` on a `Writer`; the same deferred, one
//! cursor store per 32 events (`set_flush_every`); the same single publish behind a `std::sync::Mutex` (the
//! serialisation the C writer handle adds, alone); and the C function
//! `slotcast_writer_publish` called from Rust (the whole C ABI layer without
//! a foreign caller).
#![allow(clippy::disallowed_types)] // the example shares a writer between its own threads with std's Mutex

#[path = "common/c_bench.rs"]
mod c_bench;

use slotcast::Runtime;
use slotcast::ffi;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SIZES: [usize; 2] = [64, 1024];
const BATCH: usize = 32;

/// Events per second of one round of `seconds`.
fn round_rate(seconds: f64, mut round: impl FnMut(Instant) -> u64) -> f64 {
    let start = Instant::now();
    let n = round(start + Duration::from_secs_f64(seconds));
    n as f64 / start.elapsed().as_secs_f64()
}

fn rust_cases(size: usize, seconds: f64) -> Vec<(String, f64)> {
    let data = vec![0xabu8; size];
    let mut out = Vec::new();

    let rate = round_rate(seconds, |until| {
        let rt = Runtime::new().unwrap();
        let mut w = rt.writer().unwrap();
        let mut n = 0;
        while Instant::now() < until {
            for _ in 0..1024 {
                w.publish_bytes(1, &data).unwrap();
            }
            n += 1024;
        }
        n
    });
    out.push(("rust-publish_bytes".to_owned(), rate));

    let rate = round_rate(seconds, |until| {
        let rt = Runtime::new().unwrap();
        let mut w = rt.writer().unwrap();
        let mut n = 0;
        while Instant::now() < until {
            w.set_flush_every(BATCH as u32);
            for _ in 0..32 * BATCH {
                w.publish_bytes(1, &data).unwrap();
            }
            n += 32 * BATCH as u64;
        }
        n
    });
    out.push(("rust-batch".to_owned(), rate));

    let rate = round_rate(seconds, |until| {
        let rt = Runtime::new().unwrap();
        let w = Mutex::new(rt.writer().unwrap());
        let mut n = 0;
        while Instant::now() < until {
            for _ in 0..1024 {
                w.lock().unwrap().publish_bytes(1, &data).unwrap();
            }
            n += 1024;
        }
        n
    });
    out.push(("rust-publish_bytes+mutex".to_owned(), rate));

    let rate = round_rate(seconds, |until| {
        let mut rt = std::ptr::null_mut();
        let mut w = std::ptr::null_mut();
        // SAFETY: null config (defaults) and a valid out pointer.
        assert_eq!(unsafe { ffi::slotcast_runtime_new(std::ptr::null(), &mut rt) }, 0);
        // SAFETY: `rt` is a live runtime handle, `w` a valid out pointer.
        assert_eq!(unsafe { ffi::slotcast_runtime_writer(rt, &mut w) }, 0);
        let mut n = 0;
        while Instant::now() < until {
            for _ in 0..1024 {
                // SAFETY: `w` is a live writer handle; `data` is readable
                // for `size` bytes; no sequence wanted.
                let rc = unsafe {
                    ffi::slotcast_writer_publish(
                        w,
                        1,
                        data.as_ptr().cast(),
                        size,
                        ffi::SLOTCAST_WAIT_FOREVER,
                        std::ptr::null_mut(),
                    )
                };
                assert_eq!(rc, 0);
            }
            n += 1024;
        }
        // SAFETY: live handles, not used afterwards.
        assert_eq!(unsafe { ffi::slotcast_writer_free(w) }, 0);
        // SAFETY: as above.
        assert_eq!(unsafe { ffi::slotcast_runtime_free(rt) }, 0);
        n
    });
    out.push(("rust-calls-c-abi".to_owned(), rate));
    out
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a bench program and returns its "<case> <size> <events/s>" lines.
fn collect(cmd: &mut Command) -> Vec<(String, usize, f64)> {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
            [case, size, rate] => Some((case.to_owned(), size.parse().ok()?, rate.parse().ok()?)),
            _ => None,
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map_or(0.3, |s| s.parse().expect("seconds per round"));
    let rounds: usize = args.next().map_or(5, |s| s.parse().expect("rounds"));
    let (lib, exe) = c_bench::build_c_bench(root(), &root().join("target/tmp/capi"));

    let mut best: BTreeMap<(String, usize), f64> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut record = |case: String, size: usize, rate: f64| {
        if !order.contains(&case) {
            order.push(case.clone());
        }
        let slot = best.entry((case, size)).or_insert(0.0);
        *slot = slot.max(rate);
    };
    for _ in 0..rounds {
        for size in SIZES {
            for (case, rate) in rust_cases(size, seconds) {
                record(case, size, rate);
            }
            let mut c = Command::new(&exe);
            c.arg(size.to_string()).arg(seconds.to_string()).arg("1");
            let mut py = Command::new("python3");
            py.arg(root().join("examples/python/bench.py"))
                .arg(size.to_string())
                .arg(seconds.to_string())
                .arg("1")
                .env("SLOTCAST_LIB", lib.join("libslotcast.so"))
                .env("PYTHONPATH", root().join("examples/python"))
                .env("PYTHONDONTWRITEBYTECODE", "1");
            for cmd in [&mut c, &mut py] {
                for (case, size, rate) in collect(cmd) {
                    record(case, size, rate);
                }
            }
        }
    }

    println!(
        "ingest into an in-process runtime, no reader; events/s, best of {rounds} interleaved rounds of {seconds} s"
    );
    println!("{:<26} {:>9} {:>8} {:>9} {:>8}", "case", "64 B", "vs rust", "1 KB", "vs rust");
    for case in &order {
        print!("{case:<26}");
        for size in SIZES {
            let base = best[&("rust-publish_bytes".to_owned(), size)];
            match best.get(&(case.clone(), size)) {
                Some(r) => print!(" {:>9} {:>7.2}x", format!("{:.2}M", r / 1e6), r / base),
                None => print!(" {:>9} {:>8}", "-", ""),
            }
        }
        println!();
    }
}
