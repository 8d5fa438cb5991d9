//! Guards over slot payload memory.
//!
//! A [`PayloadRef`] grants shared read access to one slot for as long as it
//! lives, a [`PayloadMut`] exclusive write access. Creating one is `unsafe`:
//! the caller proves, from the ring and refcount protocol, that nobody holds
//! the opposite kind of access meanwhile. In a normal build they are plain
//! pointers; under loom they also hold loom's tracked cell pointer, so the
//! model checker sees every access for its whole duration.

use std::ptr::NonNull;

/// Shared access to the payload bytes of one slot.
pub(crate) struct PayloadRef {
    ptr: NonNull<u8>,
    cap: usize,
    #[cfg(loom)]
    _track: loom::cell::ConstPtr<Box<[u8]>>,
}

// SAFETY: a `PayloadRef` is a shared, read-only view of slot bytes that
// nobody writes while it lives (the slot protocols: a reader's cursor or a
// `RingPtr`'s reference keeps the writer off them), as a `&[u8]` is, which
// is `Send + Sync`: reading them from another thread is as sound. (The loom
// build's tracked pointer stays on its thread.) So an event read in place
// may cross an `.await` on a multi-threaded executor.
#[cfg(not(loom))]
unsafe impl Send for PayloadRef {}
// SAFETY: as for `Send`.
#[cfg(not(loom))]
unsafe impl Sync for PayloadRef {}

/// Exclusive access to the payload bytes of one slot.
pub(crate) struct PayloadMut {
    ptr: NonNull<u8>,
    cap: usize,
    #[cfg(loom)]
    _track: loom::cell::MutPtr<Box<[u8]>>,
}

impl PayloadRef {
    /// # Safety
    ///
    /// `ptr..ptr + cap` is slot memory that stays mapped, and that no one
    /// writes, for as long as the returned guard (or any copy of its pointer)
    /// is used.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) unsafe fn new(ptr: NonNull<u8>, cap: usize) -> Self {
        Self { ptr, cap }
    }

    /// Start of the slot.
    #[inline]
    pub(crate) fn as_ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// The first `len` bytes of the slot.
    ///
    /// `len` is clamped to the slot's capacity; callers validate it before.
    #[inline]
    pub(crate) fn bytes(&self, len: usize) -> &[u8] {
        let len = len.min(self.cap);
        // SAFETY: the constructor's contract keeps `ptr..ptr + cap` readable
        // and unwritten while `self` lives, and `len <= cap`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), len) }
    }
}

impl PayloadMut {
    /// # Safety
    ///
    /// `ptr..ptr + cap` is slot memory that stays mapped, and that no one
    /// else reads or writes, for as long as the returned guard is used.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) unsafe fn new(ptr: NonNull<u8>, cap: usize) -> Self {
        Self { ptr, cap }
    }

    /// The whole slot.
    #[inline]
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the constructor's contract gives `self` exclusive access to
        // `ptr..ptr + cap`, and the `&mut self` borrow keeps it unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.cap) }
    }
}

/// Under loom, one slot of the typed arena.
#[cfg(loom)]
pub(crate) struct SlotCell(loom::cell::UnsafeCell<Box<[u8]>>);

#[cfg(loom)]
impl SlotCell {
    pub(crate) fn new(cap: usize) -> Self {
        Self(loom::cell::UnsafeCell::new(vec![0u8; cap].into_boxed_slice()))
    }

    /// # Safety
    ///
    /// As [`PayloadRef::new`]: nobody writes the slot while the guard lives
    /// (loom checks this claim) and the cell outlives the guard.
    pub(crate) unsafe fn read(&self) -> PayloadRef {
        let track = self.0.get();
        // SAFETY: loom tracks the read access for as long as `track` lives;
        // the box inside the cell is never replaced, so its pointer is stable.
        let boxed = unsafe { track.deref() };
        let cap = boxed.len();
        let ptr = NonNull::new(boxed.as_ptr().cast_mut()).expect("boxed slice pointer is non-null");
        PayloadRef { ptr, cap, _track: track }
    }

    /// # Safety
    ///
    /// As [`PayloadMut::new`]: the caller has exclusive access (loom checks
    /// this claim) and the cell outlives the guard.
    pub(crate) unsafe fn write(&self) -> PayloadMut {
        let track = self.0.get_mut();
        // SAFETY: loom tracks the write access for as long as `track` lives.
        let boxed = unsafe { track.deref() };
        let cap = boxed.len();
        let ptr = NonNull::new(boxed.as_mut_ptr()).expect("boxed slice pointer is non-null");
        PayloadMut { ptr, cap, _track: track }
    }

    /// The slot is about to be freed: a write access, which loom checks
    /// against every earlier read and write of the slot.
    pub(crate) fn free(&mut self) {
        self.0.with_mut(|_| ());
    }
}
