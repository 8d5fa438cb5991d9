//! A task or thread waiting for a free slot retries `claim` on every pause.
//! In a runtime with no writer (the actor case: an allocator only), each
//! failed attempt went through `return_ring_slots`, which took the writer
//! role and so built a whole `WriterCore` (heap allocations sized by the
//! pools and the ring) and dropped it again: about 114,000 instructions per
//! failed attempt under callgrind in `benches/actor_graph.rs`, 14% of the
//! `ringptr` graph's instructions. It now does so once per writer and
//! process, and never when no writer ever existed. A counting global
//! allocator on this thread watches failed attempts on a full pool.
#![allow(clippy::disallowed_types)] // the counter is the test's own, not the crate's

use slotcast::{AllocError, Runtime, SizeClass};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
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

#[test]
fn a_failed_allocation_on_a_full_pool_with_no_writer_allocates_nothing() {
    let rt = Runtime::builder().slots(SizeClass::S, 1).build().unwrap();
    let alloc = rt.allocator();
    let held = alloc.try_alloc_bytes(0, &[1; 200]).unwrap();
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..100 {
        assert!(matches!(alloc.try_alloc_bytes(0, &[2; 200]), Err(AllocError::Full(_))));
    }
    let allocations = ALLOCATIONS.with(Cell::get) - before;
    assert_eq!(allocations, 0, "100 failed attempts on a full pool allocated {allocations} times");
    drop(held);
    assert!(alloc.try_alloc_bytes(0, &[3; 200]).is_ok(), "the freed slot is found");
}
