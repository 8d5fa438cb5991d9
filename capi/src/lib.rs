//! The C library of slotcast: re-exports the C ABI of `slotcast::ffi` so that
//! this crate's `cdylib` and `staticlib` outputs (`libslotcast.so`,
//! `libslotcast.a`) export every `slotcast_*` symbol declared in
//! `include/slotcast.h`. The functions themselves, and their documentation,
//! live in `src/ffi.rs` and `src/ffi/` of the `slotcast` crate, behind its
//! `capi` feature, which this package's dependency turns on.

pub use slotcast_core::ffi::*;
