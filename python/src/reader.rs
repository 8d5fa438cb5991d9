//! `slotcast.Reader`: reading from Python, one event at a time, in
//! batches, or by iterating. Each event comes out owned (see `event.rs`):
//! the reader's cursor moves on at once, and the event stays readable.

use crate::errors;
use crate::event::Event;
use crate::wait::{Locked, Wait};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use slotcast_core::{OwnedEvent, ReadBatch, ReadError};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A reader of a runtime. The GIL is released while it waits.
#[pyclass(module = "slotcast", frozen, weakref)]
pub(crate) struct Reader {
    inner: Locked<slotcast_core::Reader>,
    /// Whether the writer may lap it.
    #[pyo3(get)]
    lossy: bool,
    /// Its runtime, for `lag` (how far the writer is).
    runtime: slotcast_core::Runtime,
    /// The reader's cursor and lost count as its last call left them: the
    /// properties read these, so they never wait for a call that waits.
    cursor: AtomicU64,
    lost: AtomicU64,
}

impl Reader {
    pub(crate) fn new(reader: slotcast_core::Reader, lossy: bool, runtime: slotcast_core::Runtime) -> Self {
        let (cursor, lost) = (AtomicU64::new(reader.cursor()), AtomicU64::new(reader.lost()));
        Self { inner: Locked::new(reader, "reader"), lossy, runtime, cursor, lost }
    }

    /// Runs `read` on the reader in this call's turn (waiting for the turn
    /// as `wait` says: `Ok(None)` if it ran out first), then records the
    /// cursor and lost count for the properties.
    fn with_turn<R>(
        &self,
        py: Python<'_>,
        wait: Wait,
        read: impl FnOnce(&mut slotcast_core::Reader) -> PyResult<R>,
    ) -> PyResult<Option<R>> {
        let Some(mut turn) = self.inner.turn(py, wait)? else { return Ok(None) };
        let reader = turn.get()?;
        let result = read(reader);
        // ORDERING: Relaxed; statistics, read alone.
        self.cursor.store(reader.cursor(), Relaxed);
        self.lost.store(reader.lost(), Relaxed);
        result.map(Some)
    }

    /// The next event: `Ok(None)` when `wait` ran out first; the stream's
    /// ends and failures as the `ReadError` (`Closed` is the iterator's
    /// stop, an exception elsewhere); `Err` for this object being closed
    /// and for a signal's exception while waiting.
    fn next_event(&self, py: Python<'_>, wait: Wait) -> PyResult<Result<Option<OwnedEvent>, ReadError>> {
        let read = self.with_turn(py, wait, |reader| {
            match reader.try_recv() {
                Ok(Some(event)) => return Ok(event.to_owned_event().map(Some)),
                Ok(None) if wait.waits() => {}
                other => return Ok(other.map(|_| None)),
            }
            let waited = wait.run(py, &self.inner, |until| match reader.recv_deadline(until) {
                Ok(None) => None,
                Ok(Some(event)) => Some(event.to_owned_event()),
                Err(e) => Some(Err(e)),
            })?;
            Ok(waited.transpose())
        })?;
        Ok(read.unwrap_or(Ok(None)))
    }

    /// `next_event` as a `read` returns it: an `Event`, or an exception.
    fn read_event<'py>(&self, py: Python<'py>, wait: Wait) -> PyResult<Option<Bound<'py, Event>>> {
        match self.next_event(py, wait)? {
            Ok(event) => event.map(|owned| Event::bound(py, owned)).transpose(),
            Err(e) => Err(errors::read(py, e)),
        }
    }
}

/// Every event of `batch`, kept past the cursor (the batch's drop moves
/// the cursor past them).
fn keep_batch(batch: ReadBatch<'_>) -> Vec<Result<OwnedEvent, ReadError>> {
    batch.iter().map(|event| event.to_owned_event()).collect()
}

#[pymethods]
impl Reader {
    /// The next event, waiting up to `timeout` seconds (`None`: as long as
    /// it takes). Raises `Timeout`, `Closed`, `Lagged` or `WriterDead`.
    #[pyo3(signature = (timeout = None))]
    fn read<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, Event>> {
        let wait = Wait::from_timeout(timeout)?;
        self.read_event(py, wait)?.ok_or_else(|| errors::read_timeout(py))
    }

    /// The next event if there is one now, else `None`.
    fn try_read<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, Event>>> {
        self.read_event(py, Wait::Now)
    }

    /// Every event available now, up to `max_events`, waiting up to
    /// `timeout` seconds for the first. Raises as `read` when there is not
    /// even one.
    #[pyo3(signature = (max_events = 256, timeout = None))]
    fn read_batch<'py>(
        &self,
        py: Python<'py>,
        max_events: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let wait = Wait::from_timeout(timeout)?;
        let max =
            NonZeroUsize::new(max_events).ok_or_else(|| PyValueError::new_err("max_events must be at least 1"))?;
        let read = self.with_turn(py, wait, |reader| {
            // A batch holds at most `max_batch` events (`try_read` would
            // hand out everything available, step after step).
            let before = reader.max_batch();
            reader.set_max_batch(max);
            let read = match reader.try_batch().map(keep_batch) {
                Ok(kept) if kept.is_empty() && wait.waits() => {
                    wait.run(py, &self.inner, |until| match reader.batch_deadline(until).map(keep_batch) {
                        Ok(kept) if kept.is_empty() => None,
                        done => Some(done),
                    })
                }
                read => Ok(Some(read)),
            };
            reader.set_max_batch(before);
            read
        })?;
        let read = read.flatten().unwrap_or_else(|| Ok(Vec::new()));
        match read {
            Ok(kept) if kept.is_empty() => Err(errors::read_timeout(py)),
            Ok(kept) => {
                let events = kept
                    .into_iter()
                    .map(|owned| owned.map_err(|e| errors::read(py, e)).and_then(|o| Event::bound(py, o)))
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, events)
            }
            Err(e) => Err(errors::read(py, e)),
        }
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next event, waiting as long as it takes; stops when the writer
    /// closed the stream and every event was read.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, Event>>> {
        match self.next_event(py, Wait::Forever)? {
            Ok(event) => event.map(|owned| Event::bound(py, owned)).transpose(),
            Err(ReadError::Closed) => Ok(None),
            Err(e) => Err(errors::read(py, e)),
        }
    }

    /// Events published that this reader has not read yet.
    #[getter]
    fn lag(&self) -> u64 {
        // ORDERING: Relaxed; see `with_turn`.
        self.runtime.published().saturating_sub(self.cursor.load(Relaxed))
    }

    /// Events this lossy reader missed, in all.
    #[getter]
    fn lost(&self) -> u64 {
        // ORDERING: Relaxed; see `with_turn`.
        self.lost.load(Relaxed)
    }

    /// The sequence number of the next event it reads.
    #[getter]
    fn cursor(&self) -> u64 {
        // ORDERING: Relaxed; see `with_turn`.
        self.cursor.load(Relaxed)
    }

    /// Leaves the runtime: it no longer holds the writer back. Later reads
    /// raise `Closed`, and a read waiting in another thread gives up with
    /// `Closed`. Idempotent; events already read stay valid.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.close(py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the reader.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.close(py)
    }

    fn __repr__(&self) -> String {
        format!("<slotcast.Reader cursor={} lag={} lossy={}>", self.cursor(), self.lag(), self.lossy)
    }
}
