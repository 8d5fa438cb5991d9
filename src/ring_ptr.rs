//! [`RingPtr<T>`]: an `Arc`-like pointer into pool memory, and [`Handle`]s.

use crate::error::{UpgradeError, ViewError};
use crate::event::SizeClass;
use crate::holders;
use crate::layout::{header_word, meta};
use crate::lifetime::{ArenaCtl, Shared, SharedHold, SlotHold};
use crate::pool;
use crate::sync::{AtomicU32, AtomicU64, Ordering::*, PayloadRef};
use bytemuck::{Pod, Zeroable};
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;

/// A shared pointer to one event in a pool slot, like `Arc<T>`.
///
/// Made by [`EventRef::retain`](crate::EventRef::retain) (keep an event past
/// the reader's cursor), by the standalone [`Allocator`](crate::Allocator),
/// or by [`Runtime::upgrade`](crate::Runtime::upgrade) from a [`Handle`].
/// While any `RingPtr` to a slot lives, the slot is not reused and its bytes
/// do not change. Cloning costs one atomic increment of the slot's refcount,
/// dropping one decrement, nothing else; the last drop returns the slot to
/// its pool. A `RingPtr` keeps the arena alive: the runtime and every other
/// handle may be dropped first.
///
/// `RingPtr<[u8]>` (the default) derefs to the payload bytes
/// (`data[..len]`); `RingPtr<T>` for a [`Pod`] `T` derefs to a `&T`, made by
/// [`cast`](RingPtr::cast), which checks size and alignment.
///
/// ```
/// use slotcast::{Runtime, RingPtr};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new()?;
/// let mut reader = rt.reader()?;
/// let mut writer = rt.writer()?;
/// writer.try_publish_pod(1, &[1u32, 2, 3, 4])?;
/// let kept: RingPtr = reader.try_recv()?.expect("an event").retain()?;
/// drop(reader); // the retained event outlives the reader's cursor
/// let typed: RingPtr<[u32; 4]> = kept.clone().cast()?;
/// assert_eq!(*typed, [1, 2, 3, 4]);
/// assert_eq!(kept.len(), 16);
/// # Ok(())
/// # }
/// ```
///
/// A `RingPtr<T>` is `Send` and `Sync` only if `T` is:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<slotcast::RingPtr<*const u8>>();
/// ```
pub struct RingPtr<T: ?Sized = [u8]> {
    /// The hold of the slot, which keeps the arena alive.
    hold: SlotHold,
    payload: ManuallyDrop<PayloadRef>,
    id: Identity,
    _type: PhantomData<T>,
}

// SAFETY: like `Arc<T>`: the pointee is only read, shared between threads,
// and the refcount is atomic, so moving a `RingPtr` needs `T: Send + Sync`.
unsafe impl<T: ?Sized + Send + Sync> Send for RingPtr<T> {}
// SAFETY: as for `Send`: `&RingPtr<T>` gives `&T` and allows cloning.
unsafe impl<T: ?Sized + Send + Sync> Sync for RingPtr<T> {}

/// What names one event in an arena: its slot, the slot's generation, and
/// the event's length and type. A [`RingPtr`] carries one, and a [`Handle`]
/// is its plain-data form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) class: SizeClass,
    pub(crate) slot: u32,
    pub(crate) generation: u32,
    pub(crate) len: u32,
    pub(crate) event_type: u32,
}

impl Identity {
    /// The identity as plain data.
    #[inline]
    pub(crate) fn handle(self) -> Handle {
        Handle::of(self.class, self.slot, self.generation, self.len, self.event_type)
    }
}

impl RingPtr<[u8]> {
    /// A pointer that owns a reference the caller holds.
    ///
    /// # Safety
    ///
    /// `ctl` is alive; `slot` is a slot of `class` in it, holding
    /// `generation`, `len <= class.capacity()`; and either `local` is `None`
    /// and the slot's refcount includes one reference that this pointer now
    /// owns (in process), or `local` is this process's local word for the
    /// slot, whose count includes this pointer (shared, see `holders.rs`).
    pub(crate) unsafe fn from_reference(
        ctl: NonNull<ArenaCtl>,
        class: SizeClass,
        slot: u32,
        generation: u32,
        len: u32,
        event_type: u32,
        local: Option<NonNull<AtomicU32>>,
    ) -> Self {
        // SAFETY: alive per the contract.
        let arena = &unsafe { ctl.as_ref() }.arena;
        let meta = &arena.metas(class)[slot as usize];
        // SAFETY: `slot` is in range, and the reference we own keeps every
        // writer off the slot until it is released.
        let payload = unsafe { arena.payload(class, slot as usize) };
        debug_assert!(len as usize <= class.capacity());
        // SAFETY: the contract above is `SlotHold::adopt`'s.
        let hold = unsafe { SlotHold::adopt(ctl, meta, local) };
        RingPtr {
            hold,
            payload: ManuallyDrop::new(payload),
            id: Identity { class, slot, generation, len, event_type },
            _type: PhantomData,
        }
    }

    /// Upgrades a handle (see [`Runtime::upgrade`](crate::Runtime::upgrade)).
    /// The length and type come from the slot, not from the handle.
    pub(crate) fn upgrade(shared: &Shared, handle: Handle) -> Result<Self, UpgradeError> {
        if shared.forked() {
            return Err(UpgradeError::Forked);
        }
        let class = SizeClass::from_index(handle.class as usize).ok_or(UpgradeError::Invalid)?;
        let (slot, generation) = (handle.slot, handle.generation);
        let word = shared.arena.meta(class, slot as usize).ok_or(UpgradeError::Invalid)?;
        let how = SharedHold {
            // The process holds the slot, so its generation cannot change.
            // ORDERING: Acquire; ordered after the local word's Acquire load.
            held: |m: &AtomicU64, _: &[AtomicU64], _| {
                let m = m.load(Acquire);
                meta::generation(m) == generation && !meta::is_filling(m)
            },
            take: |m: &AtomicU64, bits: &[AtomicU64], entry| holders::hold(m, bits, entry, generation, true),
        };
        let local = match shared.hold_shared(class, slot, how) {
            Some(Ok(local)) => Some(local),
            Some(Err(())) => return Err(UpgradeError::Stale),
            None if pool::upgrade(word, generation) => None,
            None => return Err(UpgradeError::Stale),
        };
        // ORDERING: Relaxed; ordered after the Acquire that took the
        // reference, which pairs with the Release that published the header
        // with the event (`EventRef::retain`, the allocator).
        let header = shared.arena.slot_headers(class)[slot as usize].load(Relaxed);
        let (len, event_type) = header_word::unpack(header);
        // SAFETY: the arena is alive (`shared`), the slot is in range, and
        // the reference taken above (refcount or local word) is ours, for
        // `generation`. `len` is checked just below, before any use.
        let mut ptr = unsafe { Self::from_reference(shared.ctl_ptr(), class, slot, generation, 0, event_type, local) };
        if len as usize > class.capacity() {
            // Only a damaged shared file holds such a header; dropping the
            // pointer gives the reference back.
            return Err(UpgradeError::Invalid);
        }
        ptr.id.len = len;
        Ok(ptr)
    }

    /// Views the event as a `T`, if its length is `size_of::<T>()` and `T`
    /// needs no more than a slot's 64-byte alignment. On failure the pointer
    /// is dropped.
    ///
    /// # Errors
    ///
    /// [`ViewError::Size`] or [`ViewError::Align`].
    pub fn cast<T: Pod>(self) -> Result<RingPtr<T>, ViewError> {
        check_view::<T>(self.id.len as usize)?;
        Ok(self.retype())
    }
}

impl<T: Pod> RingPtr<T> {
    /// The same event, as bytes.
    pub fn into_bytes(self) -> RingPtr<[u8]> {
        self.retype()
    }
}

/// Checks that a `len`-byte event can be viewed as a `T`.
pub(crate) fn check_view<T: Pod>(len: usize) -> Result<(), ViewError> {
    if align_of::<T>() > align_of::<crate::event::PooledEvent<64>>() {
        return Err(ViewError::Align { required: align_of::<T>() });
    }
    if len != size_of::<T>() {
        return Err(ViewError::Size { expected: size_of::<T>(), actual: len });
    }
    Ok(())
}

impl<T: ?Sized> RingPtr<T> {
    /// The event's type tag, as published.
    pub fn event_type(&self) -> u32 {
        self.id.event_type
    }

    /// The size class of the event's slot.
    pub fn class(&self) -> SizeClass {
        self.id.class
    }

    /// The payload bytes, `data[..len]`.
    pub fn as_bytes(&self) -> &[u8] {
        self.payload.bytes(self.id.len as usize)
    }

    /// Plain-data identity of this event, for crossing threads, processes or
    /// an FFI boundary; see [`Runtime::upgrade`](crate::Runtime::upgrade).
    pub fn handle(&self) -> Handle {
        self.id.handle()
    }

    /// Whether two pointers refer to the same event in the same slot (two
    /// retains of one XS event are two copies, not the same).
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.hold.same_slot(&b.hold) && a.id.generation == b.id.generation
    }

    /// The same pointer, viewing the event as a `U` (the caller checked that
    /// it may).
    fn retype<U: ?Sized>(self) -> RingPtr<U> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; the hold and the
        // payload guard are each read exactly once, moving ownership of the
        // reference into the new pointer.
        let hold = unsafe { std::ptr::read(&this.hold) };
        // SAFETY: as above.
        let payload = unsafe { std::ptr::read(&this.payload) };
        RingPtr { hold, payload, id: this.id, _type: PhantomData }
    }
}

impl Deref for RingPtr<[u8]> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<T: Pod> Deref for RingPtr<T> {
    type Target = T;

    fn deref(&self) -> &T {
        let ptr = self.payload.as_ptr().cast::<T>();
        // SAFETY: `cast` checked `len == size_of::<T>()` (so the bytes lie in
        // the slot) and `align_of::<T>() <= 64` (slots are 64-aligned); every
        // bit pattern is a valid `T` (`Pod`); the slot does not change while
        // our reference lives.
        unsafe { ptr.as_ref() }
    }
}

impl<T: ?Sized> Clone for RingPtr<T> {
    fn clone(&self) -> Self {
        let hold = self.hold.retain();
        // SAFETY: the slot is in range (it was when `self` was made) and the
        // hold just added keeps writers off it.
        let payload = unsafe { hold.ctl().arena.payload(self.id.class, self.id.slot as usize) };
        RingPtr { hold, payload: ManuallyDrop::new(payload), id: self.id, _type: PhantomData }
    }
}

impl<T: ?Sized> Drop for RingPtr<T> {
    #[inline]
    fn drop(&mut self) {
        // End the read access first: once the count drops, the slot may be
        // rewritten (under loom the guard's drop is the end of a tracked read).
        // SAFETY: `payload` is not used again.
        unsafe { ManuallyDrop::drop(&mut self.payload) };
        // SAFETY: the hold is of this slot, not used again, and the payload
        // access ended just above.
        unsafe { self.hold.release(self.id.class, self.id.slot) };
    }
}

impl<T: ?Sized> fmt::Debug for RingPtr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = &self.id;
        f.debug_struct("RingPtr")
            .field("class", &id.class)
            .field("slot", &id.slot)
            .field("generation", &id.generation)
            .field("len", &id.len)
            .field("event_type", &id.event_type)
            .finish()
    }
}

/// Plain-data identity of a retained event: `(class, slot, generation, len,
/// event_type)`.
///
/// A handle can be copied anywhere (another thread, another process mapping
/// the same arena, a C host) and turned back into a [`RingPtr`] with
/// [`Runtime::upgrade`](crate::Runtime::upgrade), which succeeds only while
/// some `RingPtr` still holds that generation of the slot: a recycled slot
/// refuses old handles. A handle holds no reference by itself. It needs no
/// synchronisation with the event's writer: a handle that arrives by any
/// route, or is made up, either fails to upgrade or yields a pointer that
/// sees the whole event (a slot is upgradable only once its bytes are
/// published with Release, and the upgrade acquires them; see `pool.rs`).
/// Only `class`, `slot` and `generation` identify the event: the pointer an
/// upgrade returns has the length and type recorded in the slot, whatever
/// the handle says.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct Handle {
    /// Index of the size class in [`SizeClass::ALL`].
    pub class: u32,
    /// Slot index within the class's pool.
    pub slot: u32,
    /// Generation of the slot when the handle was made.
    pub generation: u32,
    /// Payload length (for the holder's information; an upgrade takes the
    /// slot's).
    pub len: u32,
    /// Event type tag (likewise).
    pub event_type: u32,
}

impl Handle {
    /// The one place a handle is made from an event's identity (a
    /// [`RingPtr`]'s, or a borrowed event's).
    #[inline]
    pub(crate) fn of(class: SizeClass, slot: u32, generation: u32, len: u32, event_type: u32) -> Handle {
        Handle { class: class.index() as u32, slot, generation, len, event_type }
    }

    /// The size class, if the index names one.
    pub fn size_class(&self) -> Option<SizeClass> {
        SizeClass::from_index(self.class as usize)
    }
}
