//! Loom models of slotcast's protocols (run with `RUSTFLAGS="--cfg loom"`;
//! `.ci/loom` runs them, and the mutants).
//!
//! Each model drives the shipped code through its public API, with a
//! runtime as small as the property allows (a ring of 2, one to three slots,
//! at most three threads), and names in its docs the ordering or check whose
//! weakening it catches. Under loom, `src/sync.rs` swaps in loom's atomics,
//! a loom `UnsafeCell` per slot (so a read racing a write of a payload is
//! reported) and a mutex/condvar futex.
#![cfg(loom)]

mod common;

mod alloc_distinct;
mod arena_lifetime;
mod gating_wrap;
mod handoff;
mod join_during_publish;
mod leave;
mod mutants;
mod publish_consume;
mod rejoin;
mod retain_release;
mod two_readers;
mod upgrade_guess;
mod upgrade_reuse;
mod wake;
mod writer_alloc;
