//! `alloc`: the standalone allocator against the heap, one thread.
//!
//! | id | what |
//! |---|---|
//! | `slotcast/alloc_fill_drop_256B` | `Allocator::try_alloc_with` a 256-byte slot, copy 256 bytes in, drop the `RingPtr` |
//! | `box/alloc_fill_drop_256B` | `Box::new([u8; 256])` from the same bytes, drop |
//! | `arc/alloc_fill_drop_256B` | `Arc::<[u8]>::from` the same bytes, drop |
//! | `slotcast/clone_drop` | clone a `RingPtr`, drop the clone |
//! | `arc/clone_drop` | clone an `Arc<[u8]>`, drop the clone |

// Peers use std's `Arc`, which `clippy.toml` reserves for the library's
// `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use slotcast::{Runtime, SizeClass};
use std::hint::black_box;
use std::sync::Arc;

fn alloc(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc");
    group.throughput(Throughput::Elements(1));
    let rt = Runtime::new().expect("build the runtime");
    let allocator = rt.allocator();
    let mut src = [0u8; 256];
    common::fill(7, &mut src);

    group.bench_function(BenchmarkId::new("slotcast", "alloc_fill_drop_256B"), |b| {
        b.iter(|| {
            let ptr = allocator
                .try_alloc_with(SizeClass::S, 1, |buf| {
                    buf[..256].copy_from_slice(black_box(&src));
                    256
                })
                .expect("a free slot");
            black_box(&ptr);
        })
    });
    group.bench_function(BenchmarkId::new("box", "alloc_fill_drop_256B"), |b| {
        b.iter(|| {
            let boxed: Box<[u8; 256]> = Box::new(*black_box(&src));
            black_box(&boxed);
        })
    });
    group.bench_function(BenchmarkId::new("arc", "alloc_fill_drop_256B"), |b| {
        b.iter(|| {
            let arc: Arc<[u8]> = Arc::from(&black_box(&src)[..]);
            black_box(&arc);
        })
    });

    let ptr = allocator.try_alloc_bytes(1, &src).expect("a free slot");
    group.bench_function(BenchmarkId::new("slotcast", "clone_drop"), |b| {
        b.iter(|| {
            let clone = black_box(&ptr).clone();
            black_box(&clone);
        })
    });
    let arc: Arc<[u8]> = Arc::from(&src[..]);
    group.bench_function(BenchmarkId::new("arc", "clone_drop"), |b| {
        b.iter(|| {
            let clone = Arc::clone(black_box(&arc));
            black_box(&clone);
        })
    });
    group.finish();
    assert_eq!(&ptr[..], &src[..], "the retained bytes did not change");
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = alloc
}
criterion_main!(benches);
