//! The writer's slots of one class, in publication order.

/// A slot the writer owns, and the sequence after which readers are done
/// with it (0: never published, reusable at once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Owned {
    pub(super) slot: u32,
    pub(super) held_until: u64,
}

/// A fixed-capacity FIFO (one entry per slot of the class, allocated once):
/// sorted by `held_until`, because published slots go to the back in
/// sequence order and fresh ones to the front with 0. Reusing the front slot
/// for the next event moves it to the back in place, with no shifting.
#[derive(Debug)]
pub(super) struct OwnedSlots {
    buf: Box<[Owned]>,
    head: usize,
    len: usize,
}

impl OwnedSlots {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Self { buf: vec![Owned::default(); capacity].into_boxed_slice(), head: 0, len: 0 }
    }

    #[inline]
    fn wrap(&self, i: usize) -> usize {
        if i >= self.buf.len() { i - self.buf.len() } else { i }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn front(&self) -> Option<Owned> {
        if self.len == 0 { None } else { Some(self.buf[self.head]) }
    }

    #[inline]
    pub(super) fn pop_front(&mut self) {
        if self.len > 0 {
            self.head = self.wrap(self.head + 1);
            self.len -= 1;
        }
    }

    /// Adds a slot that is reusable at once. The caller keeps
    /// `len() < capacity`: one entry per slot of the class.
    #[inline]
    pub(super) fn push_front(&mut self, owned: Owned) {
        debug_assert!(self.len < self.buf.len());
        self.head = if self.head == 0 { self.buf.len() - 1 } else { self.head - 1 };
        self.buf[self.head] = owned;
        self.len += 1;
    }

    /// Appends a slot. The caller keeps `len() < capacity`.
    pub(super) fn push_back(&mut self, owned: Owned) {
        debug_assert!(self.len < self.buf.len());
        let tail = self.wrap(self.head + self.len);
        self.buf[tail] = owned;
        self.len += 1;
    }

    /// Moves the front slot to the back, now held until `held_until`.
    #[inline]
    pub(super) fn rotate(&mut self, held_until: u64) {
        debug_assert!(self.len > 0);
        let slot = self.buf[self.head].slot;
        let tail = self.wrap(self.head + self.len);
        self.buf[tail] = Owned { slot, held_until };
        self.head = self.wrap(self.head + 1);
    }

    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
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
                    f.rotate(seq);
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
