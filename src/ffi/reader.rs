//! Readers: copy an event out, or borrow events in place until the next
//! call.
//!
//! A gating C reader hands out events by sequence number (`next`) and keeps
//! the reader's cursor at or below the oldest event it has lent, so a
//! borrowed view stays valid (the writer cannot reuse its slot) until the
//! next call. It stores the cursor once per batch of available events, when
//! it has handed out the last of them or needs to look for more: no atomic
//! read-modify-write per event, as in `Reader::try_read`.
//!
//! A lossy C reader never holds its pin across calls: a host that stops
//! calling must not hold the writer back. Each call is one read of the Rust
//! API (pin, copy out, unpin), and what it lends are those copies, owned by
//! the handle until the next call. One compare-and-swap per call and a copy
//! per event, which a tap (the lossy reader's use) can afford.

use super::{
    Failure, Handle, READER, Res, SLOTCAST_ERR_BUFFER_TOO_SMALL, SLOTCAST_ERR_INVALID_ARGUMENT, SLOTCAST_ERR_NULL,
    Wait, call, put, put_opt,
};
use crate::error::ReadError;
use crate::policy::Policy;
use crate::reader::{EventRef, ReadBatch, Reader};
use std::ffi::{c_int, c_void};

/// A reader handle (opaque): one reader of a runtime, seeing every event
/// published while it is joined, in order (a lossy reader: every event the
/// writer did not lap it past). Made by `slotcast_runtime_reader` or
/// `slotcast_runtime_reader_with`; released by `slotcast_reader_close` and
/// `slotcast_reader_free`.
pub struct slotcast_reader {
    _opaque: [u8; 0],
}

/// What `slotcast_reader_read` copied.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct slotcast_event_info {
    /// The event's sequence number.
    pub sequence: u64,
    /// Payload length (the size needed, after `SLOTCAST_ERR_BUFFER_TOO_SMALL`).
    pub len: u32,
    /// The event's type tag.
    pub event_type: u32,
}

/// An event borrowed in place: `data[0..len]` is valid until the next call
/// on the reader that lent it (and while the reader is open).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct slotcast_event_view {
    /// The payload, in place (the ring entry for an event of up to 64
    /// bytes, else its slot; for a lossy reader, the reader's own copy);
    /// never null (a zero-length event points at its empty payload).
    pub data: *const u8,
    /// The event's sequence number.
    pub sequence: u64,
    /// Payload length.
    pub len: u32,
    /// The event's type tag.
    pub event_type: u32,
}

/// The most payload bytes a lossy reader copies out in one call (at least
/// one event): bounds the handle's memory and the time the pin is held.
const LOSSY_COPY_BUDGET: usize = 256 * 1024;

/// An event a lossy reader copied out of the ring.
struct Copied {
    sequence: u64,
    event_type: u32,
    data: Vec<u8>,
}

impl Copied {
    fn info(&self) -> slotcast_event_info {
        slotcast_event_info { sequence: self.sequence, len: self.data.len() as u32, event_type: self.event_type }
    }

    fn view(&self) -> slotcast_event_view {
        slotcast_event_view {
            data: self.data.as_ptr(),
            sequence: self.sequence,
            len: self.data.len() as u32,
            event_type: self.event_type,
        }
    }
}

/// A lossy reader's copies: the event a too-small buffer refused, those
/// lent by the last call, and buffers to reuse.
#[derive(Default)]
struct Copies {
    /// Read from the ring (its cursor is past it) but not handed out yet:
    /// the next call hands it out first.
    pending: Option<Copied>,
    /// Lent by the last call: the views point into these.
    lent: Vec<Copied>,
    spare: Vec<Vec<u8>>,
}

impl Copies {
    /// Ends the loan of the last call's views.
    fn end_loan(&mut self) {
        self.spare.extend(self.lent.drain(..).map(|c| c.data));
    }

    fn copy(&mut self, ev: &EventRef<'_>) -> Copied {
        let mut data = self.spare.pop().unwrap_or_default();
        data.clear();
        data.extend_from_slice(ev.data());
        Copied { sequence: ev.sequence(), event_type: ev.event_type(), data }
    }
}

/// A reader and the next sequence it hands out.
pub(crate) struct ReaderState {
    reader: Reader,
    /// Events below `next` were handed out. The cursor is at or below the
    /// first event lent by the last call, and at or below `next`. Unused by
    /// a lossy reader, whose cursor is what it handed out (and `pending`).
    next: u64,
    /// Some for a lossy reader (`Policy::Lossy`).
    lossy: Option<Copies>,
}

impl ReaderState {
    pub(crate) fn new(reader: Reader) -> Self {
        let next = reader.cursor();
        let lossy = (reader.policy() == Policy::Lossy).then(Copies::default);
        Self { reader, next, lossy }
    }

    /// The event at `next`, waiting as `wait` says; views lent before this
    /// call end here. Gating readers only: a lossy reader reads through
    /// `lossy_take`, which pins.
    fn event(&mut self, wait: Wait) -> Res<EventRef<'_>> {
        debug_assert!(self.lossy.is_none(), "a lossy reader reads by number without its pin");
        self.reader.event_at(self.next, wait.deadline())?.ok_or_else(|| wait.nothing())
    }

    /// After handing out events up to `next`: if that was the last loaded
    /// one, store the cursor at `keep` (the first event still lent, or
    /// `next`), so an idle host does not gate the writer by a whole batch.
    fn settle(&mut self, keep: u64) {
        if self.next == self.reader.loaded() {
            self.reader.release_to(keep);
        }
    }

    /// Published events this reader has not handed out.
    fn lag(&self) -> u64 {
        match &self.lossy {
            Some(copies) => self.reader.lag() + u64::from(copies.pending.is_some()),
            None => self.reader.lag().saturating_sub(self.next - self.reader.cursor()),
        }
    }
}

/// A lossy reader's read: ends the last call's loan, then lends (in
/// `copies.lent`) the event the last call left pending, else what one read
/// of the Rust API copies out, up to `max` events, its pin held only inside
/// it. `Lagged`, `Closed` and `WriterDead` come from that read.
fn lossy_take(reader: &mut Reader, copies: &mut Copies, wait: Wait, max: usize) -> Res {
    copies.end_loan();
    if let Some(first) = copies.pending.take() {
        copies.lent.push(first);
        return Ok(());
    }
    let batch: Result<ReadBatch<'_>, ReadError> = match wait {
        Wait::Try => reader.try_batch(),
        Wait::Forever => reader.batch(),
        Wait::Until(at) => reader.batch_deadline(at),
    };
    let batch = batch?;
    let mut bytes = 0usize;
    for ev in &batch {
        bytes += ev.len();
        let copied = copies.copy(&ev);
        copies.lent.push(copied);
        if copies.lent.len() == max || bytes >= LOSSY_COPY_BUDGET {
            break;
        }
    }
    // Dropping the batch unpins, with the cursor past the events copied.
    drop(batch);
    if copies.lent.is_empty() {
        return Err(wait.nothing());
    }
    Ok(())
}

type ReaderHandle = Handle<ReaderState>;

fn view(ev: &EventRef<'_>) -> slotcast_event_view {
    slotcast_event_view {
        data: ev.data().as_ptr(),
        sequence: ev.sequence(),
        len: ev.len() as u32,
        event_type: ev.event_type(),
    }
}

/// Copies the next event's payload into `buf` (`capacity` bytes) and its
/// sequence, length and type into `*info`. `timeout_ns`: 0 does not wait,
/// `SLOTCAST_WAIT_FOREVER` waits for an event as long as it takes.
///
/// If the payload is longer than `capacity`, nothing is consumed: `*info`
/// holds the event's length and the call returns
/// `SLOTCAST_ERR_BUFFER_TOO_SMALL`, so the caller can retry with a larger
/// buffer (`SLOTCAST_MAX_PAYLOAD` bytes always suffice).
///
/// The stream's state, once every published event was read:
/// `SLOTCAST_ERR_STREAM_CLOSED` (the writer closed it) or
/// `SLOTCAST_ERR_WRITER_DEAD` (its process died), at once, whatever the
/// timeout, and a waiting call returns with it as soon as it happens. A
/// lossy reader the writer lapped gets `SLOTCAST_ERR_LAGGED` once (the
/// count is in `slotcast_last_error` and added to `slotcast_reader_lost`);
/// the next call reads on from the oldest event still available.
///
/// Errors: `SLOTCAST_ERR_NULL` (`reader`, `info`, or `buf` with
/// `capacity > 0`), `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`,
/// `SLOTCAST_ERR_BUFFER_TOO_SMALL`, `SLOTCAST_ERR_EMPTY` (timeout 0),
/// `SLOTCAST_ERR_TIMEOUT`, `SLOTCAST_ERR_CORRUPT`, `SLOTCAST_ERR_LAGGED`,
/// `SLOTCAST_ERR_STREAM_CLOSED`, `SLOTCAST_ERR_WRITER_DEAD`.
///
/// Thread safety: any thread, concurrently: calls on one reader are
/// serialised by its lock, and each event goes to one call.
///
/// # Safety
///
/// * `reader` is null or a handle from this library that was not freed.
/// * `buf` is null or valid for writes of `capacity` bytes.
/// * `info` is valid for a write of a `slotcast_event_info` (null is
///   reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_reader_read(
    reader: *mut slotcast_reader,
    buf: *mut c_void,
    capacity: usize,
    timeout_ns: u64,
    info: *mut slotcast_event_info,
) -> c_int {
    call(|| {
        // SAFETY: `reader` is null or a live handle (contract).
        let handle = unsafe { ReaderHandle::get(reader.cast(), READER) }?;
        if info.is_null() {
            return Err(Failure::with(SLOTCAST_ERR_NULL, "the info pointer is null"));
        }
        if buf.is_null() && capacity > 0 {
            return Err(Failure::with(SLOTCAST_ERR_NULL, "the buffer is null"));
        }
        let wait = Wait::from_ns(timeout_ns);
        handle.with(|state| {
            if let Some(copies) = &mut state.lossy {
                lossy_take(&mut state.reader, copies, wait, 1)?;
                let Some(ev) = copies.lent.pop() else { return Err(wait.nothing()) };
                // SAFETY: `info` is non-null (checked) and writable (contract).
                unsafe { put(info, ev.info()) }?;
                if ev.data.len() > capacity {
                    let len = ev.data.len();
                    copies.pending = Some(ev);
                    return Err(Failure::with(
                        SLOTCAST_ERR_BUFFER_TOO_SMALL,
                        format!("the event has {len} bytes, the buffer {capacity}"),
                    ));
                }
                if !ev.data.is_empty() {
                    // SAFETY: `buf` is non-null (checked: `capacity >= len >
                    // 0`) and writable for `capacity` bytes (contract); the
                    // copy is the handle's own, no memory of the caller's.
                    unsafe { std::ptr::copy_nonoverlapping(ev.data.as_ptr(), buf.cast::<u8>(), ev.data.len()) };
                }
                copies.spare.push(ev.data);
                return Ok(());
            }
            let ev = state.event(wait)?;
            let data = ev.data();
            let found =
                slotcast_event_info { sequence: ev.sequence(), len: data.len() as u32, event_type: ev.event_type() };
            // SAFETY: `info` is non-null (checked) and writable (contract).
            unsafe { put(info, found) }?;
            if data.len() > capacity {
                return Err(Failure::with(
                    SLOTCAST_ERR_BUFFER_TOO_SMALL,
                    format!("the event has {} bytes, the buffer {capacity}", data.len()),
                ));
            }
            if !data.is_empty() {
                // SAFETY: `buf` is non-null (checked: `capacity >= len > 0`)
                // and writable for `capacity` bytes (contract); the slot is
                // ours to read (the cursor is at or below it) and cannot
                // overlap the caller's buffer, which is no slot we lend.
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buf.cast::<u8>(), data.len()) };
            }
            state.next += 1;
            state.settle(state.next);
            Ok(())
        })
    })
}

/// Lends the next event in place: `*view` points at its payload in the
/// slot, valid until the next call on this reader (from any thread) and
/// while the reader is open. No copy and no atomic read-modify-write per
/// event. `timeout_ns`, and the stream's state and laps, as in
/// `slotcast_reader_read`.
///
/// A lossy reader lends a copy it owns instead: the writer must not wait
/// for a host that holds a view and stops calling, so the reader's pin
/// ends inside the call.
///
/// Errors: `SLOTCAST_ERR_NULL` (`reader`, `view`),
/// `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`, `SLOTCAST_ERR_EMPTY`
/// (timeout 0), `SLOTCAST_ERR_TIMEOUT`, `SLOTCAST_ERR_CORRUPT`,
/// `SLOTCAST_ERR_LAGGED`, `SLOTCAST_ERR_STREAM_CLOSED`,
/// `SLOTCAST_ERR_WRITER_DEAD`.
///
/// Thread safety: any thread, concurrently (serialised by the reader's
/// lock); the next call on the reader ends the loan, whichever thread
/// makes it.
///
/// # Safety
///
/// * `reader` is null or a handle from this library that was not freed.
/// * `view` is valid for a write of a `slotcast_event_view` (null is
///   reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_reader_borrow(
    reader: *mut slotcast_reader,
    timeout_ns: u64,
    view: *mut slotcast_event_view,
) -> c_int {
    call(|| {
        // SAFETY: `reader` is null or a live handle (contract).
        let handle = unsafe { ReaderHandle::get(reader.cast(), READER) }?;
        if view.is_null() {
            return Err(Failure::with(SLOTCAST_ERR_NULL, "the view pointer is null"));
        }
        let wait = Wait::from_ns(timeout_ns);
        handle.with(|state| {
            if let Some(copies) = &mut state.lossy {
                lossy_take(&mut state.reader, copies, wait, 1)?;
                let lent = copies.lent[0].view();
                // SAFETY: `view` is non-null (checked) and writable (contract).
                return unsafe { put(view, lent) };
            }
            let lent = view_of(state.event(wait)?);
            // SAFETY: `view` is non-null (checked) and writable (contract).
            unsafe { put(view, lent) }?;
            state.next += 1;
            state.settle(lent.sequence);
            Ok(())
        })
    })
}

fn view_of(ev: EventRef<'_>) -> slotcast_event_view {
    view(&ev)
}

/// Lends up to `max` events in place, in order, into `views[0..*count]`:
/// everything available now, waiting (as `timeout_ns` says) only for the
/// first. The views are valid until the next call on this reader and while
/// it is open; the reader's cursor moves past them (one store) on the next
/// call. The stream's state and laps as in `slotcast_reader_read`.
///
/// A lossy reader lends copies it owns instead, made under one pin of its
/// cursor that ends inside the call: at most a quarter of the ring's
/// events and 256 KB of payload per call (at least one event).
///
/// Errors: `SLOTCAST_ERR_NULL` (`reader`, `views`, `count`),
/// `SLOTCAST_ERR_INVALID_ARGUMENT` (`max` is 0, `views` misaligned),
/// `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`, `SLOTCAST_ERR_EMPTY`
/// (timeout 0), `SLOTCAST_ERR_TIMEOUT`, `SLOTCAST_ERR_CORRUPT` (after the
/// events before the malformed one were lent; `*count` says how many),
/// `SLOTCAST_ERR_LAGGED`, `SLOTCAST_ERR_STREAM_CLOSED`,
/// `SLOTCAST_ERR_WRITER_DEAD` (with `*count` 0).
///
/// Thread safety: as `slotcast_reader_borrow`.
///
/// # Safety
///
/// * `reader` is null or a handle from this library that was not freed.
/// * `views` is valid for writes of `max` `slotcast_event_view` (null is
///   reported).
/// * `count` is valid for a write of a `size_t` (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_reader_borrow_batch(
    reader: *mut slotcast_reader,
    views: *mut slotcast_event_view,
    max: usize,
    timeout_ns: u64,
    count: *mut usize,
) -> c_int {
    let mut lent = 0usize;
    let code = call(|| {
        // SAFETY: `reader` is null or a live handle (contract).
        let handle = unsafe { ReaderHandle::get(reader.cast(), READER) }?;
        if views.is_null() || count.is_null() {
            return Err(Failure::with(SLOTCAST_ERR_NULL, "the views or count pointer is null"));
        }
        if max == 0 {
            return Err(Failure::with(SLOTCAST_ERR_INVALID_ARGUMENT, "max is 0"));
        }
        if !views.is_aligned() {
            return Err(Failure::with(SLOTCAST_ERR_INVALID_ARGUMENT, "the views array is misaligned"));
        }
        let wait = Wait::from_ns(timeout_ns);
        handle.with(|state| {
            if let Some(copies) = &mut state.lossy {
                lossy_take(&mut state.reader, copies, wait, max)?;
                for (i, copied) in copies.lent.iter().enumerate() {
                    // SAFETY: `views` is writable for `max` elements
                    // (contract) and `lossy_take` lent at most `max`.
                    let slot = unsafe { views.add(i) };
                    // SAFETY: non-null and aligned (checked: `views` is), and
                    // writable (contract).
                    unsafe { slot.write(copied.view()) };
                }
                lent = copies.lent.len();
                return Ok(());
            }
            let first = state.next;
            // Only the first event may load `published` again (and store the
            // cursor below it); the rest are already loaded, so the cursor
            // stays at or below `first` while they are lent.
            let mut ev = state.event(wait)?;
            loop {
                let v = view(&ev);
                // SAFETY: `views` is writable for `max > lent` elements
                // (contract), so element `lent` is in bounds.
                let slot = unsafe { views.add(lent) };
                // SAFETY: non-null and aligned (checked: `views` is), and
                // writable (contract).
                unsafe { slot.write(v) };
                lent += 1;
                let next = first + lent as u64;
                if lent == max || next >= state.reader.loaded() {
                    break;
                }
                ev = match state.reader.event_at(next, Wait::Try.deadline()) {
                    Ok(Some(ev)) => ev,
                    Ok(None) => break,
                    Err(e) => {
                        state.next = next;
                        return Err(e.into());
                    }
                };
            }
            state.next = first + lent as u64;
            state.settle(first);
            Ok(())
        })
    });
    // SAFETY: `count` is null or writable (contract).
    unsafe { put_opt(count, lent) };
    code
}

/// Stores in `*lag` how many published events this reader has not handed
/// out yet.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
/// `SLOTCAST_ERR_CLOSED`.
///
/// Thread safety: any thread, concurrently (serialised by the reader's
/// lock); it ends the loan of borrowed views like any other call.
///
/// # Safety
///
/// * `reader` is null or a handle from this library that was not freed.
/// * `lag` is valid for a write of a `uint64_t` (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_reader_lag(reader: *mut slotcast_reader, lag: *mut u64) -> c_int {
    call(|| {
        // SAFETY: `reader` is null or a live handle (contract).
        let handle = unsafe { ReaderHandle::get(reader.cast(), READER) }?;
        let n = handle.with(|state| Ok(state.lag()))?;
        // SAFETY: `lag` is null or writable (contract).
        unsafe { put(lag, n) }
    })
}

/// Stores in `*lost` how many events this reader lost to the writer
/// lapping it since it joined: the sum of the counts of every
/// `SLOTCAST_ERR_LAGGED` it returned (always 0 for a gating reader).
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
/// `SLOTCAST_ERR_CLOSED`.
///
/// Thread safety: any thread, concurrently (serialised by the reader's
/// lock); it ends the loan of borrowed views like any other call.
///
/// # Safety
///
/// * `reader` is null or a handle from this library that was not freed.
/// * `lost` is valid for a write of a `uint64_t` (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_reader_lost(reader: *mut slotcast_reader, lost: *mut u64) -> c_int {
    call(|| {
        // SAFETY: `reader` is null or a live handle (contract).
        let handle = unsafe { ReaderHandle::get(reader.cast(), READER) }?;
        let n = handle.with(|state| Ok(state.reader.lost()))?;
        // SAFETY: `lost` is null or writable (contract).
        unsafe { put(lost, n) }
    })
}

/// Closes the reader: it leaves the runtime (the writer stops waiting for
/// it) and every view it lent becomes invalid. Later calls on the handle
/// return `SLOTCAST_ERR_CLOSED`; free it with `slotcast_reader_free`.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
/// `SLOTCAST_ERR_CLOSED` (already closed).
///
/// Thread safety: any thread, concurrently with other calls on the handle
/// (it waits for the call in progress).
///
/// # Safety
///
/// * `reader` is null or a handle from this library that was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_reader_close(reader: *mut slotcast_reader) -> c_int {
    // SAFETY: `reader` is null or a live handle (contract).
    call(|| unsafe { ReaderHandle::close(reader.cast(), READER) })
}

/// Closes the reader if it is open, and frees the handle. The pointer is
/// invalid afterwards.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`.
///
/// Thread safety: the last call on the handle; not concurrent with any
/// other call on it.
///
/// # Safety
///
/// * `reader` is null or a handle from this library that was not freed,
///   and no other call on it is in progress or follows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_reader_free(reader: *mut slotcast_reader) -> c_int {
    // SAFETY: `reader` is null or a live handle used by nobody else (contract).
    call(|| unsafe { ReaderHandle::free(reader.cast(), READER) })
}
