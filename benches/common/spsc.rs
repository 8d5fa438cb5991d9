//! The hardware floor: a minimal single-producer single-consumer ring of
//! 64-byte slots and two padded atomics (the producer's `tail`, the
//! consumer's `head`), each side caching the other's index so it touches the
//! other's line only when its cache says the ring is full or empty. Nothing
//! a real library could do with fewer cache-line transfers per event; it
//! has no fan-out, no variable sizes, no retain.

use super::Padded;
use std::cell::UnsafeCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};

/// One 64-byte event, a cache line.
#[repr(C, align(64))]
pub struct Slot(pub [u8; 64]);

struct Ring {
    /// Next position the consumer reads; written by the consumer only.
    head: Padded<AtomicUsize>,
    /// Next position the producer writes; written by the producer only.
    tail: Padded<AtomicUsize>,
    slots: Box<[UnsafeCell<Slot>]>,
    mask: usize,
}

// SAFETY: a slot is written only by the producer while it lies in
// `[tail, head + cap)` and read only by the consumer while it lies in
// `[head, tail)`; the two ranges are disjoint, and the Release/Acquire pairs
// on `tail` and `head` order each hand-over (see `push`/`pop`).
unsafe impl Sync for Ring {}

/// The writing end.
pub struct Producer {
    ring: Arc<Ring>,
    tail: usize,
    /// `head` as last loaded: the producer may write below `head_cache + cap`.
    head_cache: usize,
}

/// The reading end.
pub struct Consumer {
    ring: Arc<Ring>,
    head: usize,
    /// `tail` as last loaded: the consumer may read below it.
    tail_cache: usize,
}

/// A ring of `cap` (a power of two) 64-byte slots.
pub fn ring(cap: usize) -> (Producer, Consumer) {
    assert!(cap.is_power_of_two());
    let ring = Arc::new(Ring {
        head: Padded(AtomicUsize::new(0)),
        tail: Padded(AtomicUsize::new(0)),
        slots: (0..cap).map(|_| UnsafeCell::new(Slot([0; 64]))).collect(),
        mask: cap - 1,
    });
    (Producer { ring: Arc::clone(&ring), tail: 0, head_cache: 0 }, Consumer { ring, head: 0, tail_cache: 0 })
}

impl Producer {
    /// Writes `n` events in place, `fill(i, slot)` for `i` in `0..n`, and
    /// publishes them with one store; `false` (nothing written) if fewer than
    /// `n` slots are free.
    #[inline]
    pub fn try_push(&mut self, n: usize, mut fill: impl FnMut(usize, &mut [u8; 64])) -> bool {
        let cap = self.ring.mask + 1;
        if self.tail + n > self.head_cache + cap {
            // Acquire: pairs with the consumer's Release store of `head`, so
            // its reads of the slots below happen before we overwrite them.
            self.head_cache = self.ring.head.load(Acquire);
            if self.tail + n > self.head_cache + cap {
                return false;
            }
        }
        for i in 0..n {
            let cell = &self.ring.slots[(self.tail + i) & self.ring.mask];
            // SAFETY: position `tail + i` is below `head + cap` (checked
            // above), so the consumer is not reading it, and only this
            // producer writes slots.
            fill(i, unsafe { &mut (*cell.get()).0 });
        }
        self.tail += n;
        // Release: pairs with the consumer's Acquire load of `tail`, making
        // the slot writes above visible to it.
        self.ring.tail.store(self.tail, Release);
        true
    }
}

impl Consumer {
    /// Reads every event available, in place, then frees them with one
    /// store. Returns how many it read.
    #[inline]
    pub fn pop(&mut self, mut read: impl FnMut(&[u8; 64])) -> usize {
        if self.head == self.tail_cache {
            // Acquire: pairs with the producer's Release store of `tail`.
            self.tail_cache = self.ring.tail.load(Acquire);
            if self.head == self.tail_cache {
                return 0;
            }
        }
        let n = self.tail_cache - self.head;
        for i in 0..n {
            let cell = &self.ring.slots[(self.head + i) & self.ring.mask];
            // SAFETY: position `head + i` is below `tail`, so the producer
            // published it and will not write it before our `head` store.
            read(unsafe { &(*cell.get()).0 });
        }
        self.head += n;
        // Release: pairs with the producer's Acquire load of `head`: our reads
        // happen before it reuses the slots.
        self.ring.head.store(self.head, Release);
        n
    }
}
