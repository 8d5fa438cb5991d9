//! Loom models of slotcast's protocols (run with `RUSTFLAGS="--cfg loom"`).
#![cfg(loom)]
