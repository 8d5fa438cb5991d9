//! The one door to synchronisation: std under a normal build, loom under
//! `--cfg loom`.
//!
//! Every atomic, fence, spin or yield hint, sleep, futex wait/wake and every
//! access to slot memory in this crate goes through this module, so the loom models
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
    pub(crate) type Mutex<T> = std::sync::Mutex<T>;
    pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

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

    #[inline]
    pub(crate) fn sleep(duration: std::time::Duration) {
        std::thread::sleep(duration);
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) type AtomicU64 = loom::sync::atomic::AtomicU64;
    pub(crate) type AtomicU32 = loom::sync::atomic::AtomicU32;
    pub(crate) type Arc<T> = loom::sync::Arc<T>;
    pub(crate) type Mutex<T> = loom::sync::Mutex<T>;
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

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

    /// Loom has no clock: a nap is a yield, which lets the threads the
    /// sleeper waits for run.
    #[inline]
    pub(crate) fn sleep(_duration: std::time::Duration) {
        loom::thread::yield_now();
    }
}

pub(crate) use imp::*;

/// `mutant!("name", weakened, shipped)` is `shipped`, except in a build with
/// `cfg(slotcast_mutant = "name")`, where it is `weakened`.
///
/// The loom models in `loom_tests/` name the ordering or check each of them
/// catches; a mutant is that ordering or check weakened, kept in the code so
/// that `.ci/loom` can prove, on every run, that the model still fails
/// without it (a model that silently stopped checking anything would be
/// noticed). `build.rs` sets the cfg from `SLOTCAST_MUTANT`, and only in
/// `--cfg loom` builds: a normal build always gets `shipped`. Both
/// expressions are type-checked, only the chosen one is evaluated.
macro_rules! mutant {
    ($name:literal, $weakened:expr, $shipped:expr $(,)?) => {
        if cfg!(slotcast_mutant = $name) { $weakened } else { $shipped }
    };
}
pub(crate) use mutant;

mod payload;
#[cfg(loom)]
pub(crate) use payload::SlotCell;
pub(crate) use payload::{PayloadMut, PayloadRef};

mod futex;
pub(crate) use futex::Futex;

// The async forms' wake-ups: a waker list per arena (modelled by loom:
// `loom_tests/task_wake.rs`) and a timer thread (plain std; loom has no
// clock).
mod tasks;
pub(crate) use tasks::Tasks;
#[cfg(not(loom))]
pub(crate) use tasks::{Woken, deferring};
#[cfg(not(loom))]
pub(crate) mod timer;
