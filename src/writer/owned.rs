//! The writer's slots of one class, in publication order.

/// A slot the writer owns, and the sequence after which readers are done
/// with it (0: never published, reusable at once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Owned {
    pub(super) slot: u32,
    pub(super) held_until: u64,
}

/// A fixed-capacity FIFO (room for every slot of the class, allocated once):
/// sorted by `held_until`, because published slots go to the back in
/// sequence order and fresh ones to the front with 0. Reusing the front slot
/// for the next event moves it to the back.
///
/// The buffer's length is a power of two at least the slot count, and `head`
/// and `tail` run freely (wrapping) and are masked on use: the per-event
/// [`rotate`](OwnedSlots::rotate) is one masked store and two increments,
/// with no wrap-around branch (it was a fifth of the instructions of a
/// publish before).
#[derive(Debug)]
pub(super) struct OwnedSlots {
    buf: Box<[Owned]>,
    /// `buf.len() - 1`.
    mask: usize,
    /// Position of the front entry (masked on use).
    head: usize,
    /// Position after the back entry (masked on use); `tail - head` is the length.
    tail: usize,
    /// Slots of the class: the FIFO never holds more.
    capacity: usize,
}

impl OwnedSlots {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let len = capacity.max(1).next_power_of_two();
        Self { buf: vec![Owned::default(); len].into_boxed_slice(), mask: len - 1, head: 0, tail: 0, capacity }
    }

    #[inline]
    fn at(&self, i: usize) -> &Owned {
        debug_assert_eq!(self.buf.len(), self.mask + 1);
        // SAFETY: `buf.len() == mask + 1` (set in `with_capacity`, never
        // changed), so a masked index is in bounds. Per event, the bounds
        // check this skips was a tenth of the FIFO's instructions.
        unsafe { self.buf.get_unchecked(i & self.mask) }
    }

    #[inline]
    fn at_mut(&mut self, i: usize) -> &mut Owned {
        debug_assert_eq!(self.buf.len(), self.mask + 1);
        // SAFETY: as in `at`.
        unsafe { self.buf.get_unchecked_mut(i & self.mask) }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    #[inline]
    pub(super) fn front(&self) -> Option<Owned> {
        if self.head == self.tail { None } else { Some(*self.at(self.head)) }
    }

    #[inline]
    pub(super) fn pop_front(&mut self) {
        if self.head != self.tail {
            self.head = self.head.wrapping_add(1);
        }
    }

    /// Adds a slot that is reusable at once. The caller keeps
    /// `len() < capacity`: one entry per slot of the class.
    #[inline]
    pub(super) fn push_front(&mut self, owned: Owned) {
        debug_assert!(self.len() < self.capacity);
        self.head = self.head.wrapping_sub(1);
        *self.at_mut(self.head) = owned;
    }

    /// Appends a slot. The caller keeps `len() < capacity`.
    pub(super) fn push_back(&mut self, owned: Owned) {
        debug_assert!(self.len() < self.capacity);
        *self.at_mut(self.tail) = owned;
        self.tail = self.tail.wrapping_add(1);
    }

    /// Moves the front slot, `slot`, to the back, now held until
    /// `held_until`. The caller read `slot` from [`front`](Self::front).
    #[inline]
    pub(super) fn rotate(&mut self, slot: u32, held_until: u64) {
        debug_assert_eq!(self.front().map(|o| o.slot), Some(slot));
        *self.at_mut(self.tail) = Owned { slot, held_until };
        self.head = self.head.wrapping_add(1);
        self.tail = self.tail.wrapping_add(1);
    }

    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.tail = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(f: &mut OwnedSlots) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        while let Some(o) = f.front() {
            out.push((o.slot, o.held_until));
            f.pop_front();
        }
        out
    }

    #[test]
    fn rotation_keeps_publication_order_full_or_not() {
        for cap in 1..6usize {
            for filled in 1..=cap {
                let mut f = OwnedSlots::with_capacity(cap);
                for s in 0..filled as u32 {
                    f.push_back(Owned { slot: s, held_until: u64::from(s) + 1 });
                }
                // Reuse the front slot ten times, as the writer does.
                let mut model: std::collections::VecDeque<(u32, u64)> =
                    (0..filled as u32).map(|s| (s, u64::from(s) + 1)).collect();
                for seq in 100..110u64 {
                    let (slot, _) = model.pop_front().unwrap();
                    model.push_back((slot, seq));
                    f.rotate(slot, seq);
                }
                if filled < cap {
                    f.push_front(Owned { slot: 99, held_until: 0 });
                    model.push_front((99, 0));
                }
                assert_eq!(contents(&mut f), model.into_iter().collect::<Vec<_>>(), "cap {cap} filled {filled}");
            }
        }
    }
}
