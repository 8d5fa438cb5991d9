//! The one door to synchronisation: std under a normal build, loom under
//! `--cfg loom`.
//!
//! Every atomic, fence, spin or yield hint, futex wait/wake and every access
//! to slot memory in this crate goes through this module, so the loom models
//! in `loom_tests/` check the protocol code exactly as it ships. `clippy.toml`
//! forbids naming the std primitives anywhere else.
//!
//! Slot memory is the one thing that differs in shape: in a normal build the
//! arena is raw bytes and a payload is reached through a raw pointer; under
//! loom each slot is a [`loom::cell::UnsafeCell`] and every access holds one of
//! loom's tracked pointers for as long as it lives, so a writer overwriting a
//! slot that a reader or a `RingPtr` still reads is reported by the model.
//! [`PayloadRef`] and [`PayloadMut`] hide that difference.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

pub(crate) use std::sync::atomic::Ordering;

#[cfg(not(loom))]
mod imp {
    pub(crate) type AtomicU64 = std::sync::atomic::AtomicU64;
    pub(crate) type AtomicU32 = std::sync::atomic::AtomicU32;
    pub(crate) type Arc<T> = std::sync::Arc<T>;

    #[inline]
    pub(crate) fn fence(order: super::Ordering) {
        std::sync::atomic::fence(order);
    }

    #[inline]
    pub(crate) fn spin_loop() {
        std::hint::spin_loop();
    }

    #[inline]
    pub(crate) fn yield_now() {
        std::thread::yield_now();
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) type AtomicU64 = loom::sync::atomic::AtomicU64;
    pub(crate) type AtomicU32 = loom::sync::atomic::AtomicU32;
    pub(crate) type Arc<T> = loom::sync::Arc<T>;

    #[inline]
    pub(crate) fn fence(order: super::Ordering) {
        loom::sync::atomic::fence(order);
    }

    #[inline]
    pub(crate) fn spin_loop() {
        // loom's scheduler is not fair: a spinning thread must yield to let
        // the thread it waits for make progress.
        loom::thread::yield_now();
    }

    #[inline]
    pub(crate) fn yield_now() {
        loom::thread::yield_now();
    }
}

pub(crate) use imp::*;

mod payload;
#[cfg(loom)]
pub(crate) use payload::SlotCell;
pub(crate) use payload::{PayloadMut, PayloadRef};

mod futex;
pub(crate) use futex::Futex;
