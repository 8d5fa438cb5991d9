//! Publish → consume: a reader never sees a descriptor before its payload.
//!
//! The writer fills a slot, writes the descriptor, then stores `published`
//! (Release); the reader loads `published` (Acquire) and only then reads the
//! descriptor and the slot. The reader thread here runs while the writer
//! publishes, so loom tries every point at which it can look.
//!
//! Catches: `ORDERING(publish)` weakened, the writer's Release store of
//! `published` in `WriterCore::flush` made Relaxed (the reader then reads the
//! slot with no happens-before from the writer's fill: loom reports a
//! concurrent read and write of the slot cell, or the reader decodes a
//! descriptor that is not there yet). Verified by hand, and kept as the
//! permanent mutant `publish_relaxed` (`mutants.rs`).

use crate::common::*;
use slotcast::WaitStrategy;

pub(crate) const BOUND: usize = 3;

pub(crate) fn model() {
    publish_two_while_reading(WaitStrategy::BusySpin);
}

#[test]
fn reader_never_sees_a_descriptor_before_its_payload() {
    check(BOUND, model);
}
