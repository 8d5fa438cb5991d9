//! Slots and size classes.
//!
//! A slot is pure payload: [`PooledEvent<N>`] is `N` bytes, 64-byte aligned,
//! nothing else. The event header (`len`, `event_type`) travels in the
//! ring's descriptor, and is copied into a [`RingPtr`](crate::RingPtr) or a
//! [`Handle`](crate::Handle) when an event is retained. That is why a full
//! 64-byte event occupies exactly one cache line, and why the type can be
//! [`Pod`] soundly: there is no padding byte anywhere in it.

use bytemuck::{Pod, Zeroable};
use std::fmt;

/// One cache-aligned slot of `N` payload bytes.
///
/// Slots live in the runtime's pools; users reach their bytes through views
/// that know the event's length ([`EventRef`](crate::EventRef),
/// [`RingPtr`](crate::RingPtr), [`Claim`](crate::Claim)), and those views
/// only ever expose `data[..len]`. The type exists for the five class sizes
/// only (see [`SizeClass`]), which are all multiples of 64: `size_of` equals
/// `N` and there is no padding, which the `Pod` implementations below rely on
/// and the layout assertions check. Internal: no public signature takes or
/// returns one (users see `EventRef`, `RingPtr` and `Claim`).
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub(crate) struct PooledEvent<const N: usize> {
    data: [u8; N],
}

impl<const N: usize> PooledEvent<N> {
    /// Payload bytes of this slot size.
    pub(crate) const CAPACITY: usize = N;
}

impl<const N: usize> fmt::Debug for PooledEvent<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledEvent").field("capacity", &N).finish_non_exhaustive()
    }
}

macro_rules! pod_slot {
    ($($n:literal),*) => {$(
        const _: () = {
            assert!(std::mem::size_of::<PooledEvent<$n>>() == $n);
            assert!(std::mem::align_of::<PooledEvent<$n>>() == 64);
        };
        // SAFETY: `repr(C)` struct whose only field is `[u8; N]`; `N` is a
        // multiple of the 64-byte alignment, so `size_of == N` (asserted just
        // above) and there are no padding bytes. Every bit pattern is a valid
        // `[u8; N]`, and the type is `Copy + 'static`.
        unsafe impl Zeroable for PooledEvent<$n> {}
        // SAFETY: see the `Zeroable` impl: no padding, no invalid patterns,
        // no interior mutability, no pointers.
        unsafe impl Pod for PooledEvent<$n> {}
    )*};
}
pod_slot!(64, 256, 1024, 4096, 16384);

/// The five slot sizes: XS 64 B, S 256 B, M 1 KB, L 4 KB, XL 16 KB.
///
/// ```
/// use slotcast::SizeClass;
/// assert_eq!(SizeClass::for_len(0), Some(SizeClass::XS));
/// assert_eq!(SizeClass::for_len(64), Some(SizeClass::XS));
/// assert_eq!(SizeClass::for_len(65), Some(SizeClass::S));
/// assert_eq!(SizeClass::for_len(16 * 1024), Some(SizeClass::XL));
/// assert_eq!(SizeClass::for_len(16 * 1024 + 1), None);
/// ```
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SizeClass {
    /// 64-byte payloads: one cache line.
    XS = 0,
    /// 256-byte payloads.
    S = 1,
    /// 1 KB payloads.
    M = 2,
    /// 4 KB payloads.
    L = 3,
    /// 16 KB payloads.
    XL = 4,
}

impl SizeClass {
    /// Every class, smallest first.
    pub const ALL: [SizeClass; 5] = [Self::XS, Self::S, Self::M, Self::L, Self::XL];

    /// Number of classes.
    pub const COUNT: usize = 5;

    /// Largest payload any event can carry (the XL capacity).
    pub const MAX_PAYLOAD: usize = Self::XL.capacity();

    /// Payload bytes of a slot of this class.
    #[inline]
    pub const fn capacity(self) -> usize {
        64 << (2 * self as usize)
    }

    /// The smallest class whose slots hold `len` bytes, or `None` if `len`
    /// exceeds [`SizeClass::MAX_PAYLOAD`].
    #[inline]
    pub const fn for_len(len: usize) -> Option<SizeClass> {
        match len {
            0..=64 => Some(Self::XS),
            65..=256 => Some(Self::S),
            257..=1024 => Some(Self::M),
            1025..=4096 => Some(Self::L),
            4097..=16384 => Some(Self::XL),
            _ => None,
        }
    }

    /// Position of this class in [`SizeClass::ALL`].
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The class at position `index` of [`SizeClass::ALL`].
    #[inline]
    pub const fn from_index(index: usize) -> Option<SizeClass> {
        match index {
            0 => Some(Self::XS),
            1 => Some(Self::S),
            2 => Some(Self::M),
            3 => Some(Self::L),
            4 => Some(Self::XL),
            _ => None,
        }
    }

    /// Short name: `"XS"`, `"S"`, `"M"`, `"L"` or `"XL"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::XS => "XS",
            Self::S => "S",
            Self::M => "M",
            Self::L => "L",
            Self::XL => "XL",
        }
    }
}

impl fmt::Display for SizeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// The class capacities are the slot sizes the layout is built from.
const _: () = {
    assert!(SizeClass::XS.capacity() == PooledEvent::<64>::CAPACITY);
    assert!(SizeClass::S.capacity() == PooledEvent::<256>::CAPACITY);
    assert!(SizeClass::M.capacity() == PooledEvent::<1024>::CAPACITY);
    assert!(SizeClass::L.capacity() == PooledEvent::<4096>::CAPACITY);
    assert!(SizeClass::XL.capacity() == PooledEvent::<16384>::CAPACITY);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "arithmetic only, no unsafe code; 16K lengths take Miri half a minute")]
    fn for_len_picks_the_smallest_class_that_fits() {
        for len in 0..=SizeClass::MAX_PAYLOAD + 1 {
            let expected = SizeClass::ALL.iter().copied().find(|c| c.capacity() >= len);
            assert_eq!(SizeClass::for_len(len), expected, "len {len}");
        }
    }

    #[test]
    fn index_round_trips() {
        for (i, c) in SizeClass::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(SizeClass::from_index(i), Some(*c));
        }
        assert_eq!(SizeClass::from_index(5), None);
    }

    #[test]
    fn slots_are_pod_without_padding() {
        let ev: PooledEvent<64> = bytemuck::Zeroable::zeroed();
        assert_eq!(bytemuck::bytes_of(&ev).len(), 64);
        let ev: PooledEvent<16384> = bytemuck::Zeroable::zeroed();
        assert_eq!(bytemuck::bytes_of(&ev).len(), 16384);
    }
}
