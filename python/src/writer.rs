//! `slotcast.Writer`: publishing from Python, one event per call, a batch
//! of objects, or events packed back to back in one buffer. The payload's
//! bytes are copied once, from the caller's buffer straight into the slot.

use crate::buffer::Held;
use crate::errors;
use crate::wait::{Locked, Wait};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList, PyTuple};
use slotcast_core::{Config, PublishError, SizeClass};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The one writer of a runtime. Every publish is visible to readers when
/// the call returns. `timeout`: `None` waits for room as long as it takes,
/// a number of seconds at most that long (then `Timeout`), `0` not at all
/// (then `Full`). The GIL is released while waiting.
#[pyclass(module = "slotcast", frozen, weakref)]
pub(crate) struct Writer {
    inner: Locked<slotcast_core::Writer>,
    /// Which size classes have slots: a batch is checked against it before
    /// anything of it is published.
    config: Config,
    /// Events published as the writer's last call left it: the property
    /// reads this, so it never waits for a call that waits for room.
    published: AtomicU64,
}

impl Writer {
    pub(crate) fn new(writer: slotcast_core::Writer, config: Config) -> Self {
        let published = AtomicU64::new(writer.published());
        Self { inner: Locked::new(writer, "writer"), config, published }
    }

    /// Runs `publish` on the writer in this call's turn, waiting for the
    /// turn as `wait` says (`Full` or `Timeout` if another thread's call
    /// keeps it past that), then records how many events are published.
    fn with_turn<R>(
        &self,
        py: Python<'_>,
        wait: Wait,
        publish: impl FnOnce(&mut slotcast_core::Writer) -> PyResult<R>,
    ) -> PyResult<R> {
        let Some(mut turn) = self.inner.turn(py, wait)? else { return Err(errors::busy(py, wait.waits())) };
        let writer = turn.get()?;
        let result = publish(writer);
        // ORDERING: Relaxed; a statistic, read alone.
        self.published.store(writer.published(), Relaxed);
        result
    }

    /// `TooLarge` unless a `len`-byte payload has a class with slots (XS
    /// always has: the ring carries it), for event `index` of a batch.
    fn check_fits(&self, len: usize, index: usize) -> PyResult<()> {
        if len <= SizeClass::XS.capacity() || self.config.class_for_len(len).is_some() {
            Ok(())
        } else {
            Err(errors::too_large(len, index))
        }
    }

    /// Publishes `events` as one batch (see `publish_batch`) in this
    /// call's turn. Whatever exception ends it carries `published`, the
    /// events of the call published before it (`KeyboardInterrupt` and
    /// `Closed` too).
    fn publish_all<'a>(
        &self,
        py: Python<'_>,
        events: impl Iterator<Item = &'a [u8]>,
        event_type: u32,
        wait: Wait,
    ) -> PyResult<usize> {
        let mut published = 0;
        self.with_turn(py, wait, |writer| self.publish_batch_in(py, writer, events, event_type, wait, &mut published))
            .map_err(|e| errors::with_published(py, e, published))
    }

    /// `publish_all` in its turn; `published` counts the events it
    /// published.
    fn publish_batch_in<'a>(
        &self,
        py: Python<'_>,
        writer: &mut slotcast_core::Writer,
        events: impl Iterator<Item = &'a [u8]>,
        event_type: u32,
        wait: Wait,
        published: &mut usize,
    ) -> PyResult<usize> {
        // One store of the published cursor for the whole call: deferred
        // until the flush below (the writer still flushes before it waits
        // for room, so readers can make it).
        let every = writer.flush_every();
        writer.set_flush_every(u32::MAX);
        let mut result = Ok(());
        for bytes in events {
            if let Err(e) = publish_one(py, &self.inner, writer, event_type, bytes, wait, *published) {
                result = Err(e);
                break;
            }
            *published += 1;
        }
        writer.flush();
        writer.set_flush_every(every);
        result.map(|()| *published)
    }
}

/// Publishes one event: at once if there is room (with the GIL held, the
/// common case), else waiting with the GIL released as `wait` says.
/// `before`: events of the same call published already, for the error.
/// `owner`: the `Locked` whose turn `writer` came with; its `close()`
/// ends a wait.
fn publish_one(
    py: Python<'_>,
    owner: &Locked<slotcast_core::Writer>,
    writer: &mut slotcast_core::Writer,
    event_type: u32,
    bytes: &[u8],
    wait: Wait,
    before: usize,
) -> PyResult<u64> {
    match writer.try_publish_bytes(event_type, bytes) {
        Ok(sequence) => Ok(sequence),
        Err(PublishError::Full(first)) if wait.waits() => {
            let mut full = first;
            let done = wait.run(py, owner, |until| match writer.publish_bytes_deadline(event_type, bytes, until) {
                Err(PublishError::Full(still)) => {
                    full = still;
                    None
                }
                done => Some(done),
            })?;
            match done {
                Some(Ok(sequence)) => Ok(sequence),
                Some(Err(e)) => Err(errors::publish(py, e, true, before)),
                None => Err(errors::publish(py, PublishError::Full(full), true, before)),
            }
        }
        Err(e) => Err(errors::publish(py, e, false, before)),
    }
}

/// The bytes of every item of `items`, held for the call. A list or a
/// tuple (the common case) is walked by index into a vector of its size;
/// any other iterable through the iterator protocol.
fn hold_all<'py>(items: &Bound<'py, PyAny>) -> PyResult<Vec<Held<'py>>> {
    if let Ok(list) = items.cast::<PyList>() {
        let mut held = Vec::with_capacity(list.len());
        for item in list.iter() {
            held.push(Held::of(&item)?);
        }
        return Ok(held);
    }
    if let Ok(tuple) = items.cast::<PyTuple>() {
        return tuple.iter().map(|item| Held::of(&item)).collect();
    }
    items.try_iter()?.map(|item| Held::of(&item?)).collect()
}

#[pymethods]
impl Writer {
    /// Copies `data` (any object with the buffer protocol) into a slot of
    /// the smallest size class that holds it and publishes it as one event
    /// of type `event_type`. Returns its sequence number.
    #[pyo3(signature = (data, event_type = 0, *, timeout = None))]
    fn publish(&self, py: Python<'_>, data: &Bound<'_, PyAny>, event_type: u32, timeout: Option<f64>) -> PyResult<u64> {
        let wait = Wait::from_timeout(timeout)?;
        let held = Held::of(data)?;
        self.with_turn(py, wait, |writer| publish_one(py, &self.inner, writer, event_type, held.bytes(), wait, 0))
    }

    /// `publish` that never waits: raises `Full` if there is no room now.
    #[pyo3(signature = (data, event_type = 0))]
    fn try_publish(&self, py: Python<'_>, data: &Bound<'_, PyAny>, event_type: u32) -> PyResult<u64> {
        self.publish(py, data, event_type, Some(0.0))
    }

    /// Publishes every item of `items` (each with the buffer protocol), in
    /// order, as one batch: one store of the published cursor for all.
    /// Returns how many were published. Every item is checked before any
    /// is published; if waiting for room fails partway, the events before
    /// are published and the error's `published` says how many.
    #[pyo3(signature = (items, event_type = 0, *, timeout = None))]
    fn publish_batch(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        event_type: u32,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        let wait = Wait::from_timeout(timeout)?;
        let held = hold_all(items)?;
        for (index, item) in held.iter().enumerate() {
            self.check_fits(item.bytes().len(), index)?;
        }
        self.publish_all(py, held.iter().map(Held::bytes), event_type, wait)
    }

    /// Publishes the events packed back to back in `data`, as one batch:
    /// `lengths` is every event's length in order (adding up to
    /// `len(data)`), or one length that splits `data` into equal events.
    /// Returns how many were published; errors as `publish_batch`.
    #[pyo3(signature = (data, lengths, event_type = 0, *, timeout = None))]
    fn publish_packed(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        lengths: &Bound<'_, PyAny>,
        event_type: u32,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        let wait = Wait::from_timeout(timeout)?;
        let held = Held::of(data)?;
        let bytes = held.bytes();
        if let Ok(each) = lengths.cast::<PyInt>() {
            let each: usize = each.extract().map_err(|_| {
                PyValueError::new_err(format!("a single length must be a whole number >= 1, not {each}"))
            })?;
            if each == 0 {
                return Err(PyValueError::new_err("a single length must be at least 1 (it splits the data)"));
            }
            if bytes.len() % each != 0 {
                return Err(PyValueError::new_err(format!(
                    "the data's {} bytes are not a whole number of {each}-byte events",
                    bytes.len()
                )));
            }
            self.check_fits(each, 0)?;
            return self.publish_all(py, bytes.chunks_exact(each), event_type, wait);
        }
        let lengths: Vec<usize> = lengths.extract()?;
        let mut total = 0usize;
        for (index, &len) in lengths.iter().enumerate() {
            self.check_fits(len, index)?;
            // Each length is at most MAX_PAYLOAD (checked): no overflow.
            total += len;
        }
        if total != bytes.len() {
            return Err(PyValueError::new_err(format!(
                "the lengths add up to {total} bytes, but the data has {}",
                bytes.len()
            )));
        }
        let events = lengths.iter().scan(0usize, |at, &len| {
            let start = *at;
            *at += len;
            Some(&bytes[start..start + len])
        });
        self.publish_all(py, events, event_type, wait)
    }

    /// Events published so far (the next event's sequence number).
    #[getter]
    fn published(&self) -> u64 {
        // ORDERING: Relaxed; see `with_turn`.
        self.published.load(Relaxed)
    }

    /// Closes the stream: readers read what is left, then see `Closed`.
    /// Later calls on this writer raise `Closed`, and a call waiting for
    /// room in another thread gives up with `Closed`. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.close(py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the writer.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.close(py)
    }

    fn __repr__(&self) -> String {
        format!("<slotcast.Writer published={}>", self.published())
    }
}
