//! The opaque handles given to the host: a tag naming the kind and state
//! first, checked on every call, then the state behind the handle's lock.

use super::failure::{Failure, Res};
use super::status::{SLOTCAST_ERR_BAD_HANDLE, SLOTCAST_ERR_CLOSED, SLOTCAST_ERR_NULL, SLOTCAST_ERR_PANIC};
use crate::sync::{AtomicU64, Ordering::*};

/// The first word of every handle: its kind while open, its kind's closed
/// tag once closed, 0 once freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tag {
    open: u64,
    name: &'static str,
}

impl Tag {
    /// The tag a closed handle of this kind keeps.
    const fn closed(self) -> u64 {
        self.open ^ 0xFF
    }
}

/// The handles' lock. std's `Mutex`, not the `crate::sync` shim's: the C ABI
/// is not built under loom (it serialises host threads in front of the
/// protocol and is no part of it), and a panic under the lock must poison
/// that handle only (see `a_panic_under_a_handle_lock_poisons_only_that_handle`).
#[allow(clippy::disallowed_types, reason = "see the comment above: the C ABI is outside the loom models")]
type HandleLock<T> = std::sync::Mutex<T>;

pub(crate) const RUNTIME: Tag = Tag { open: u64::from_le_bytes(*b"slcRtm\x01\x00"), name: "runtime" };
pub(crate) const WRITER: Tag = Tag { open: u64::from_le_bytes(*b"slcWrt\x01\x00"), name: "writer" };
pub(crate) const READER: Tag = Tag { open: u64::from_le_bytes(*b"slcRdr\x01\x00"), name: "reader" };

/// A handle as allocated: the tag first (every kind has it at offset 0, so
/// reading it through a pointer to another kind of handle is sound), then
/// the state behind the handle's lock.
#[repr(C)]
pub(crate) struct Handle<T> {
    tag: AtomicU64,
    state: HandleLock<Option<T>>,
}

impl<T: Send> Handle<T> {
    /// A new handle of kind `tag`, owned by the caller until `free`.
    pub(crate) fn create(tag: Tag, value: T) -> *mut Handle<T> {
        Box::into_raw(Box::new(Handle { tag: AtomicU64::new(tag.open), state: HandleLock::new(Some(value)) }))
    }

    /// Checks that `ptr` is an open handle of kind `tag`.
    ///
    /// # Safety
    ///
    /// `ptr` is null, or points to at least 8 bytes, aligned to 8, that stay
    /// allocated during the call: a handle of any kind that was not freed.
    pub(crate) unsafe fn get<'a>(ptr: *const Handle<T>, tag: Tag) -> Res<&'a Handle<T>> {
        let word = Self::tag_word(ptr, tag)?;
        // ORDERING: Acquire; pairs with the Release CAS in `close`, so a
        // call that sees the open tag sees the state as it was before it.
        let found = word.load(Acquire);
        if found == tag.open {
            // SAFETY: the open tag of this kind is only ever stored at the
            // start of a `Handle<T>` made by `create`, which lives until
            // `free` (contract).
            Ok(unsafe { &*ptr })
        } else if found == tag.closed() {
            Err(Failure::with(SLOTCAST_ERR_CLOSED, format!("the {} handle was closed", tag.name)))
        } else {
            Err(Failure::with(SLOTCAST_ERR_BAD_HANDLE, format!("not a slotcast {} handle", tag.name)))
        }
    }

    fn tag_word<'a>(ptr: *const Handle<T>, tag: Tag) -> Res<&'a AtomicU64> {
        if ptr.is_null() {
            return Err(Failure::with(SLOTCAST_ERR_NULL, format!("the {} handle is null", tag.name)));
        }
        let word = ptr.cast::<AtomicU64>();
        if !word.is_aligned() {
            return Err(Failure::with(SLOTCAST_ERR_BAD_HANDLE, format!("misaligned {} handle", tag.name)));
        }
        // SAFETY: non-null and aligned (checked), and 8 bytes of a live
        // handle (the caller's contract): every handle starts with its tag
        // (`repr(C)`), an atomic that handles only ever access atomically.
        Ok(unsafe { &*word })
    }

    /// Runs `f` on the state, under the handle's lock; `CLOSED` if it was
    /// closed meanwhile, `PANIC` if a call on this handle panicked before.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> Res<R>) -> Res<R> {
        let mut guard = self.state.lock().map_err(|_| {
            Failure::with(SLOTCAST_ERR_PANIC, "an earlier call on this handle panicked; close and free it")
        })?;
        match guard.as_mut() {
            Some(state) => f(state),
            None => Err(Failure::new(SLOTCAST_ERR_CLOSED)),
        }
    }

    /// Closes an open handle: later calls get `CLOSED`, then drops its state
    /// once the call in progress (if any) is done.
    ///
    /// # Safety
    ///
    /// As for [`get`](Handle::get).
    pub(crate) unsafe fn close(ptr: *const Handle<T>, tag: Tag) -> Res {
        // SAFETY: the caller's contract is `get`'s.
        let handle = unsafe { Self::get(ptr, tag) }?;
        // ORDERING: AcqRel; one closer wins, and calls that load the closed
        // tag (Acquire) see the handle as closed.
        if handle.tag.compare_exchange(tag.open, tag.closed(), AcqRel, Acquire).is_err() {
            return Err(Failure::with(SLOTCAST_ERR_CLOSED, format!("the {} handle was closed", tag.name)));
        }
        let value = match handle.state.lock() {
            Ok(mut guard) => guard.take(),
            // A poisoned state is dropped all the same: close must release
            // the writer role or the reader entry.
            Err(poisoned) => poisoned.into_inner().take(),
        };
        drop(value);
        Ok(())
    }

    /// Closes the handle if it is open and frees it.
    ///
    /// # Safety
    ///
    /// As for [`get`](Handle::get), and no other call on the handle is in
    /// progress or follows: `ptr` is dangling afterwards.
    pub(crate) unsafe fn free(ptr: *mut Handle<T>, tag: Tag) -> Res {
        let word = Self::tag_word(ptr, tag)?;
        // ORDERING: Acquire; as in `get`.
        let found = word.load(Acquire);
        if found == tag.open {
            // SAFETY: the caller's contract is `get`'s.
            match unsafe { Self::close(ptr, tag) } {
                Ok(()) => {}
                // Closed by another thread in between: free it all the same.
                Err(f) if f.code == SLOTCAST_ERR_CLOSED => {}
                Err(f) => return Err(f),
            }
        } else if found != tag.closed() {
            return Err(Failure::with(SLOTCAST_ERR_BAD_HANDLE, format!("not a slotcast {} handle", tag.name)));
        }
        // ORDERING: Relaxed; the memory is freed just below. A stale copy of
        // the pointer that is used before the allocator reuses the memory
        // then reads 0, not a live tag (a help for debugging, not a promise).
        word.store(0, Relaxed);
        // SAFETY: `ptr` carries this kind's tag, so `create` made it with
        // `Box::into_raw`; the caller guarantees nobody uses it any more.
        drop(unsafe { Box::from_raw(ptr) });
        Ok(())
    }
}
