//! The writer: single events and batches, copied into their slots.

use super::{
    Failure, Handle, Res, SLOTCAST_ERR_NULL, WRITER, Wait, call, check_len, host_array, payload, publish_failure, put,
    put_opt,
};
use crate::writer::Writer;
use std::ffi::{c_int, c_void};

/// A writer handle (opaque): the runtime's one writer role. Made by
/// `slotcast_runtime_writer`; released by `slotcast_writer_close` and
/// `slotcast_writer_free`.
pub struct slotcast_writer {
    _opaque: [u8; 0],
}

/// One event of `slotcast_writer_publish_batch`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct slotcast_event_in {
    /// The payload; may be null if `len` is 0.
    pub data: *const c_void,
    /// Payload length, at most `SLOTCAST_MAX_PAYLOAD`.
    pub len: usize,
    /// The event's type tag.
    pub event_type: u32,
}

type WriterHandle = Handle<Writer>;

/// Publishes one copied event through `writer`, waiting as `wait` says.
fn publish(writer: &mut Writer, event_type: u32, bytes: &[u8], wait: Wait) -> Res<u64> {
    let result = match wait {
        Wait::Try => writer.try_publish_bytes(event_type, bytes),
        Wait::Forever => writer.publish_bytes(event_type, bytes),
        Wait::Until(at) => writer.publish_bytes_deadline(event_type, bytes, at),
    };
    result.map_err(|e| publish_failure(e, wait))
}

/// Publishes `events` as one batch: every event is checked first (nothing
/// is published if one is bad), then all are published with one store of
/// the published cursor, waiting for room as `wait` says. On a full ring or
/// pool (or a timeout), the events before the one that did not fit are
/// published; `*published` counts them.
fn publish_all<'a, I>(writer: &mut Writer, events: I, wait: Wait, published: &mut usize) -> Res
where
    I: Iterator<Item = Res<(u32, &'a [u8])>> + Clone,
{
    for event in events.clone() {
        let (_, bytes) = event?;
        // A payload no class with slots holds would stop the batch halfway.
        if let Err(unfit) = writer.config().pick_class(bytes.len()) {
            return Err(publish_failure(unfit.into(), wait));
        }
    }
    // Defer the cursor store for the whole call, then flush once.
    let every = writer.flush_every();
    writer.set_flush_every(u32::MAX);
    let mut result = Ok(());
    for (i, event) in events.enumerate() {
        if let Err(e) = event.and_then(|(event_type, bytes)| publish(writer, event_type, bytes, wait)) {
            result = Err(e);
            break;
        }
        *published = i + 1;
    }
    writer.flush();
    writer.set_flush_every(every);
    result
}

/// Copies `len` bytes at `data` into a slot of the smallest size class that
/// fits and publishes them as one event of type `event_type`, visible to
/// readers at once. Stores the event's sequence number in `*sequence` (if
/// not null). `timeout_ns`: 0 does not wait, `SLOTCAST_WAIT_FOREVER` waits
/// for room as long as it takes.
///
/// A size class configured with 0 slots is skipped: the payload goes to the
/// next larger class that has slots. If none has, the call fails with
/// `SLOTCAST_ERR_TOO_LARGE` at once, whatever the timeout.
///
/// Errors: `SLOTCAST_ERR_NULL` (`writer`, or `data` with `len > 0`),
/// `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`,
/// `SLOTCAST_ERR_TOO_LARGE`, `SLOTCAST_ERR_RING_FULL` and
/// `SLOTCAST_ERR_POOL_FULL` (timeout 0), `SLOTCAST_ERR_TIMEOUT`.
///
/// Thread safety: any thread, concurrently: calls on one writer are
/// serialised by its lock.
///
/// # Safety
///
/// * `writer` is null or a handle from this library that was not freed.
/// * `data` is null or valid for reads of `len` bytes, unchanged during the
///   call.
/// * `sequence` is null or valid for a write of a `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_writer_publish(
    writer: *mut slotcast_writer,
    event_type: u32,
    data: *const c_void,
    len: usize,
    timeout_ns: u64,
    sequence: *mut u64,
) -> c_int {
    call(|| {
        // SAFETY: `writer` is null or a live handle (contract).
        let handle = unsafe { WriterHandle::get(writer.cast(), WRITER) }?;
        check_len(len)?;
        // SAFETY: `data` is null or readable for `len <= 16384` bytes (contract, checked).
        let bytes = unsafe { payload(data.cast(), len) }?;
        let wait = Wait::from_ns(timeout_ns);
        let seq = handle.with(|w| publish(w, event_type, bytes, wait))?;
        // SAFETY: `sequence` is null or writable (contract).
        unsafe { put_opt(sequence, seq) };
        Ok(())
    })
}

/// Publishes the `count` events of the array `events` (pointer, length and
/// type each) as one batch: readers see them together, after one store of
/// the published cursor. Every event is checked first: if one is bad
/// (`SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_TOO_LARGE`) nothing is published.
/// If the ring or a pool fills up (or the timeout passes), the events before
/// the one that did not fit are published and the call fails with
/// `SLOTCAST_ERR_RING_FULL`, `SLOTCAST_ERR_POOL_FULL` or
/// `SLOTCAST_ERR_TIMEOUT`; `*published` always says how many events were
/// published, so the caller can resume from there. `timeout_ns` bounds the
/// whole call.
///
/// Errors: as `slotcast_writer_publish`, and `SLOTCAST_ERR_INVALID_ARGUMENT`
/// (a misaligned `events` array, or `count` too large for memory).
///
/// Thread safety: any thread, concurrently: calls on one writer are
/// serialised by its lock, and the events of one call stay contiguous.
///
/// # Safety
///
/// * `writer` is null or a handle from this library that was not freed.
/// * `events` is null (only if `count` is 0) or valid for reads of `count`
///   `slotcast_event_in`, each of whose `data` is null or valid for reads of
///   its `len` bytes, all unchanged during the call.
/// * `published` is null or valid for a write of a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_writer_publish_batch(
    writer: *mut slotcast_writer,
    events: *const slotcast_event_in,
    count: usize,
    timeout_ns: u64,
    published: *mut usize,
) -> c_int {
    let mut done = 0usize;
    let code = call(|| {
        // SAFETY: `writer` is null or a live handle (contract).
        let handle = unsafe { WriterHandle::get(writer.cast(), WRITER) }?;
        // SAFETY: `events` is null or readable for `count` elements (contract).
        let events = unsafe { host_array(events, count, "events") }?;
        let events = events.iter().map(|ev| {
            check_len(ev.len)?;
            // SAFETY: `data` is null or readable for `len <= 16384` bytes
            // (contract, checked).
            let bytes = unsafe { payload(ev.data.cast(), ev.len) }?;
            Ok((ev.event_type, bytes))
        });
        let wait = Wait::from_ns(timeout_ns);
        handle.with(|w| publish_all(w, events, wait, &mut done))
    });
    // SAFETY: `published` is null or writable (contract).
    unsafe { put_opt(published, done) };
    code
}

/// Publishes `count` events of type `event_type` as one batch, like
/// `slotcast_writer_publish_batch`, from one contiguous buffer: event `i`
/// is the `lens[i]` bytes that follow the events before it in `data`.
///
/// Errors and `*published`: as `slotcast_writer_publish_batch`.
///
/// Thread safety: as `slotcast_writer_publish_batch`.
///
/// # Safety
///
/// * `writer` is null or a handle from this library that was not freed.
/// * `lens` is null (only if `count` is 0) or valid for reads of `count`
///   `uint32_t`; `data` is null (only if they add up to 0) or valid for
///   reads of their sum; both unchanged during the call.
/// * `published` is null or valid for a write of a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_writer_publish_packed(
    writer: *mut slotcast_writer,
    event_type: u32,
    data: *const c_void,
    lens: *const u32,
    count: usize,
    timeout_ns: u64,
    published: *mut usize,
) -> c_int {
    let mut done = 0usize;
    let code = call(|| {
        // SAFETY: `writer` is null or a live handle (contract).
        let handle = unsafe { WriterHandle::get(writer.cast(), WRITER) }?;
        // SAFETY: `lens` is null or readable for `count` elements (contract).
        let lens = unsafe { host_array(lens, count, "lengths") }?;
        let total = lens.iter().fold(0u64, |sum, &len| sum.saturating_add(u64::from(len)));
        if total > 0 && data.is_null() {
            return Err(Failure::with(SLOTCAST_ERR_NULL, "the data buffer is null"));
        }
        let base = data.cast::<u8>();
        // Event `i` starts where the events before it end. The first pass
        // checks every length before any pointer arithmetic uses it.
        let events = lens.iter().scan(0usize, move |at, &len| {
            let len = len as usize;
            if let Err(e) = check_len(len) {
                return Some(Err(e));
            }
            let start = *at;
            *at += len;
            if len == 0 {
                return Some(Ok((event_type, &[][..])));
            }
            // SAFETY: `base` is readable for the sum of the lengths
            // (contract), which covers `start + len`.
            let ptr = unsafe { base.add(start) };
            // SAFETY: `ptr` is readable for `len <= 16384` bytes (contract,
            // checked).
            Some(unsafe { payload(ptr, len) }.map(|bytes| (event_type, bytes)))
        });
        let wait = Wait::from_ns(timeout_ns);
        handle.with(|w| publish_all(w, events, wait, &mut done))
    });
    // SAFETY: `published` is null or writable (contract).
    unsafe { put_opt(published, done) };
    code
}

/// Stores the number of events published so far (the next sequence number)
/// in `*published`.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
/// `SLOTCAST_ERR_CLOSED`.
///
/// Thread safety: any thread, concurrently (serialised by the writer's lock).
///
/// # Safety
///
/// * `writer` is null or a handle from this library that was not freed.
/// * `published` is valid for a write of a `uint64_t` (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_writer_published(writer: *mut slotcast_writer, published: *mut u64) -> c_int {
    call(|| {
        // SAFETY: `writer` is null or a live handle (contract).
        let handle = unsafe { WriterHandle::get(writer.cast(), WRITER) }?;
        let n = handle.with(|w| Ok(w.published()))?;
        // SAFETY: `published` is null or writable (contract).
        unsafe { put(published, n) }
    })
}

/// Closes the writer, and with it the stream: readers read every event it
/// published, then get `SLOTCAST_ERR_STREAM_CLOSED` (a reader waiting for
/// an event wakes up to say so). Gives the writer role back (another
/// writer may take it, which opens the stream again) and returns its idle
/// slots to the pools. `slotcast_writer_free` of an open writer closes it
/// the same way. Later calls on the handle return `SLOTCAST_ERR_CLOSED`;
/// free it with `slotcast_writer_free`.
///
/// A writer whose process dies without closing does not close the stream:
/// its readers get `SLOTCAST_ERR_WRITER_DEAD` instead, once the dead
/// process is noticed (within milliseconds for a waiting reader).
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
/// `SLOTCAST_ERR_CLOSED` (already closed).
///
/// Thread safety: any thread, concurrently with other calls on the handle
/// (it waits for the call in progress).
///
/// # Safety
///
/// * `writer` is null or a handle from this library that was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_writer_close(writer: *mut slotcast_writer) -> c_int {
    // SAFETY: `writer` is null or a live handle (contract).
    call(|| unsafe { WriterHandle::close(writer.cast(), WRITER) })
}

/// Closes the writer if it is open, and frees the handle. The pointer is
/// invalid afterwards.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`.
///
/// Thread safety: the last call on the handle; not concurrent with any
/// other call on it.
///
/// # Safety
///
/// * `writer` is null or a handle from this library that was not freed,
///   and no other call on it is in progress or follows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_writer_free(writer: *mut slotcast_writer) -> c_int {
    // SAFETY: `writer` is null or a live handle used by nobody else (contract).
    call(|| unsafe { WriterHandle::free(writer.cast(), WRITER) })
}
