//! Nothing is allocated per event: a counting global allocator watches the
//! writer's and the reader's threads while 100,000 events go through every
//! publish and read API, with retains, clones, handle upgrades, standalone
//! allocations and blocking waits.
#![allow(clippy::disallowed_types)] // the counter is the test's own, not the crate's

use slotcast::{RingPtr, Runtime, SizeClass, WaitStrategy};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static WATCHED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if WATCHED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const EVENTS: u64 = if cfg!(miri) { 500 } else { 100_000 };

#[test]
fn no_allocation_per_event() {
    let rt = Runtime::builder().ring_capacity(256).wait_strategy(WaitStrategy::Blocking).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let alloc = rt.allocator();
    let reader_rt = rt.clone();
    // Everything is created; from here on the two threads must not allocate.
    let consumer = std::thread::spawn(move || {
        let mut kept: [Option<RingPtr>; 4] = Default::default();
        let mut seen = 0u64;
        WATCHED.with(|w| w.set(true));
        while seen < EVENTS {
            match seen % 3 {
                0 => {
                    let ev = reader.recv().unwrap();
                    assert_eq!(ev.sequence(), seen);
                    // Retain some, replacing older ones, and round-trip a handle.
                    if seen % 7 == 0 {
                        let p = ev.retain().unwrap();
                        let again = reader_rt.upgrade(p.handle()).unwrap();
                        kept[(seen / 7 % 4) as usize] = Some(again.clone());
                    }
                    seen += 1;
                }
                1 => {
                    seen += reader
                        .read(|ev, _| {
                            assert!(ev.len() <= SizeClass::MAX_PAYLOAD);
                        })
                        .unwrap() as u64;
                }
                _ => {
                    let batch = reader.batch().unwrap();
                    for ev in &batch {
                        assert!(ev.sequence() < u64::MAX);
                        seen += 1;
                    }
                }
            }
        }
        WATCHED.with(|w| w.set(false));
        drop(kept);
    });

    let mut payload = [0u8; 3000];
    WATCHED.with(|w| w.set(true));
    let mut seq = 0u64;
    while seq < EVENTS {
        match seq % 4 {
            0 => {
                writer.publish_bytes(1, &payload[..(seq % 3000) as usize]).unwrap();
                seq += 1;
            }
            1 => {
                writer.publish_pod(2, &[seq; 8]).unwrap();
                seq += 1;
            }
            2 => {
                writer
                    .publish_with(SizeClass::S, 0, |buf| {
                        buf[..8].copy_from_slice(&seq.to_le_bytes());
                        8
                    })
                    .expect("the class has slots");
                seq += 1;
            }
            _ => {
                // Deferred: one cursor store for the five.
                writer.set_flush_every(8);
                for _ in 0..5 {
                    writer.publish_bytes(3, &payload[..100]).unwrap();
                }
                writer.flush();
                writer.set_flush_every(1);
                seq += 5;
            }
        }
        if seq % 16 == 0 {
            let p = alloc.try_alloc_bytes(9, &payload[..40]).unwrap();
            let copies = [p.clone(), p.clone()];
            drop((p, copies));
        }
        payload[(seq % 3000) as usize] ^= 1;
    }
    let writer_allocations = ALLOCATIONS.load(Ordering::Relaxed);
    WATCHED.with(|w| w.set(false));
    consumer.join().unwrap();
    assert_eq!(writer_allocations, ALLOCATIONS.load(Ordering::Relaxed), "the reader allocated");
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 0, "the writer allocated");
}
