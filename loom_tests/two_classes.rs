//! Gating with two size classes: the ring is shared, the slot FIFOs are per
//! class, so a class's oldest slot can be past every reader while the ring
//! is full of the other class's events. The writer must still wait for the
//! ring.
//!
//! A ring of 2, one S slot and two M slots, one reader; the writer
//! publishes S, M, M, S (events 0 to 3): two pooled classes (XS events are
//! carried in the ring, with no slot: `inline_wrap`). Event 3 finds the S slot free as
//! soon as the reader has passed event 0, but its ring position is event 1's,
//! which it may take only once the reader has passed event 1 too. With one
//! class only, the writer never holds more slots than the ring has
//! positions (it reuses its oldest slot as soon as the ring lets it, and
//! takes a free one only when that slot is still read), so its oldest slot
//! is always at least as recent as the ring position it would overwrite, and
//! the slot check implies the ring check: no single-class model can tell
//! whether the ring check is there (every other model passes with the
//! mutant below, checked). Strict alternation (S, M, S, M) would not tell
//! either: each class's oldest slot then holds the event two back, exactly
//! the ring position the next event of that class overwrites; the second M
//! in a row is what leaves the S slot older than the ring position.
//!
//! Catches: the ring check of the fast path, `self.next - self.gate_min >=
//! self.cap` in `WriterCore::try_claim_fast`, removed (mutant
//! `fast_no_ring_check`: event 3 reuses the S slot by the cached gate and
//! overwrites event 1's descriptor before the reader reads it; the reader
//! sees event 3's descriptor at sequence 1). The same check removed from
//! `claim_slot_once` fails here the same way, but `gating_wrap` (three
//! slots of one class) catches that one as well; and the FIFO head check
//! `held_until <= gate_min` loosened by one fails here and in most
//! single-class models (both checked by hand), so neither is a mutant of
//! this model.

use crate::common::*;
use slotcast::{SizeClass, WaitStrategy};

const CLASSES: [SizeClass; 4] = [SizeClass::S, SizeClass::M, SizeClass::M, SizeClass::S];

pub(crate) const BOUND: usize = 2;

/// The bytes of event `seq`, in its class: `payload(seq)`, padded into the
/// class (S: more than 64 bytes; M: more than 256) with bytes that are event
/// `seq`'s too.
fn bytes(seq: u64) -> Vec<u8> {
    let mut bytes = payload(seq).to_vec();
    let below = match CLASSES[seq as usize] {
        SizeClass::S => SizeClass::XS,
        _ => SizeClass::S,
    };
    bytes.resize(below.capacity() + 1, seq as u8 + 1);
    bytes
}

pub(crate) fn model() {
    let rt = runtime_with(&[(SizeClass::S, 1), (SizeClass::M, 2)], 1, WaitStrategy::BusySpin);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let w = spawn(move || {
        for seq in 0..CLASSES.len() as u64 {
            assert_eq!(writer.publish_bytes(seq as u32, &bytes(seq)).unwrap(), seq);
        }
    });
    for seq in 0..CLASSES.len() as u64 {
        let event = reader.recv().unwrap();
        assert_eq!(event.sequence(), seq, "events arrive in order");
        assert_eq!(event.event_type(), seq as u32, "the descriptor is event {seq}'s");
        assert_eq!(event.data(), bytes(seq), "the payload is event {seq}'s, complete");
    }
    w.join().unwrap();
}

#[test]
fn ring_gates_a_class_whose_oldest_slot_is_free() {
    check(BOUND, model);
}
