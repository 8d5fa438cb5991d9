//! `slotcast.Event`: one event read, in place. It owns the event as
//! Rust's `OwnedEvent` does: a retained slot for events of class S and up
//! (the bytes the writer wrote, where it wrote them: one refcount, no
//! copy), a copy of the at most 64 bytes of an XS event (which lives in a
//! ring entry the writer reuses).
//!
//! Why owned and not lent until the reader's next read: a `memoryview`,
//! once made, reads its memory directly, and the buffer protocol has no
//! way for the exporter to revoke it. A view lent until the next read
//! would either dangle into a slot the writer reuses or hold the reader
//! back. Owning makes a view's validity its own lifetime: the event (and
//! so its slot) lives at least as long as every memoryview of it, because
//! each view holds a reference to the event. `release()` ends it early,
//! and refuses (`BufferError`) while a view is open, as `mmap.close()`
//! does; every use after it raises `Released`.

use crate::errors::Released;
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use slotcast_core::{OwnedEvent, SizeClass};
use std::os::raw::c_int;

/// One event, read in place; supports the buffer protocol (read-only).
#[pyclass(module = "slotcast", weakref)]
pub(crate) struct Event {
    /// `None` once released (and every view of it gone).
    owned: Option<OwnedEvent>,
    /// `release()` or the end of a `with` block: the event is released for
    /// its own methods; `owned` goes with the last open view.
    released: bool,
    /// Its sequence number.
    #[pyo3(get)]
    sequence: u64,
    /// The type tag the writer gave it.
    #[pyo3(get)]
    event_type: u32,
    class: SizeClass,
    /// Buffer exports open (memoryviews and the like).
    exports: usize,
}

impl Event {
    /// The Python object of `owned`, left out of the cyclic garbage
    /// collector's lists. PyO3 makes every class collectable, but an event
    /// holds no Python object, so it can never be part of a cycle; tracked,
    /// every event a program keeps alive (a reader's backlog, a cache of
    /// events) would be walked by each collection, and each read would add
    /// to the young generation's walk.
    pub(crate) fn bound(py: Python<'_>, owned: OwnedEvent) -> PyResult<Bound<'_, Event>> {
        let event = Bound::new(
            py,
            Self {
                sequence: owned.sequence(),
                event_type: owned.event_type(),
                class: owned.class(),
                owned: Some(owned),
                released: false,
                exports: 0,
            },
        )?;
        // SAFETY: `event` is a live object of a GC type (PyO3's classes all
        // are) and the GIL is held. Untracking an object that references
        // no other object is what CPython does itself for such tuples and
        // dicts; the deallocator's own untrack tolerates an untracked one.
        unsafe { ffi::PyObject_GC_UnTrack(event.as_ptr().cast()) };
        Ok(event)
    }

    /// The payload, or `Released`.
    fn bytes(&self) -> PyResult<&[u8]> {
        match &self.owned {
            Some(owned) if !self.released => Ok(owned.data()),
            _ => Err(Released::new_err(format!("event {} was released", self.sequence))),
        }
    }
}

#[pymethods]
impl Event {
    /// The size class it was published in ("XS" … "XL").
    #[getter]
    fn size_class(&self) -> String {
        format!("{:?}", self.class)
    }

    /// A copy of the payload, as `bytes`.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, self.bytes()?))
    }

    /// A read-only memoryview of the payload in place (no copy); the same
    /// as `memoryview(event)`.
    fn view<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: `slf` is a live object and the GIL is held.
        let view = unsafe { ffi::PyMemoryView_FromObject(slf.as_ptr()) };
        // SAFETY: `view` is a new reference or null with an exception set,
        // which this turns into the error.
        unsafe { Bound::from_owned_ptr_or_err(slf.py(), view) }
    }

    /// Gives the event's slot back now (idempotent). Later uses raise
    /// `Released`; raises `BufferError` while a memoryview of it is open.
    fn release(&mut self) -> PyResult<()> {
        if self.released {
            // Idempotent, also after a `with` block that left the slot to
            // views still open.
            return Ok(());
        }
        if self.exports > 0 {
            return Err(PyBufferError::new_err(format!(
                "cannot release event {}: {} memoryview(s) of it are open; release them first",
                self.sequence, self.exports
            )));
        }
        self.released = true;
        self.owned = None;
        Ok(())
    }

    /// Whether `release()` was called (or its `with` block ended).
    #[getter]
    fn released(&self) -> bool {
        self.released
    }

    /// Always true, even for an empty payload: an event is not a container
    /// to test for emptiness (`while (event := reader.try_read()):` must not
    /// stop at an empty event).
    fn __bool__(&self) -> bool {
        true
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.bytes()?.len())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Releases the event. With memoryviews of it still open, the event is
    /// released for its own methods at once and its slot goes back when
    /// the last view is released, so that the block's own exception (or
    /// none) is what propagates.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&mut self, _exc: &Bound<'_, pyo3::types::PyTuple>) {
        self.released = true;
        if self.exports == 0 {
            self.owned = None;
        }
    }

    fn __repr__(&self) -> String {
        match &self.owned {
            Some(owned) if !self.released => format!(
                "<slotcast.Event sequence={} event_type={} len={} size_class={:?}>",
                self.sequence,
                self.event_type,
                owned.data().len(),
                self.class
            ),
            _ => format!("<slotcast.Event sequence={} released>", self.sequence),
        }
    }

    /// The buffer protocol: the payload in place, read-only. Counts the
    /// export, so `release()` can refuse while it is open.
    ///
    /// # Safety
    ///
    /// `view` is a `Py_buffer` to fill in, as CPython passes it.
    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        let mut this = slf.try_borrow_mut()?;
        let bytes = this.bytes()?;
        let (ptr, len) = (bytes.as_ptr(), bytes.len());
        let len = ffi::Py_ssize_t::try_from(len).map_err(|_| PyBufferError::new_err("payload too large"))?;
        // SAFETY: `view` is CPython's to fill in (contract). The memory is
        // the event's payload: a retained slot or the copy inside this
        // object, neither of which moves or is freed while the event lives
        // with its `owned` in place, and `release()` refuses while an
        // export is counted. `PyBuffer_FillInfo` takes a new reference to
        // `slf` into `view.obj`, which keeps the event alive as long as the
        // export; with `readonly` 1 it refuses a writable request with
        // `BufferError`.
        let filled = unsafe { ffi::PyBuffer_FillInfo(view, slf.as_ptr(), ptr.cast_mut().cast(), len, 1, flags) };
        if filled != 0 {
            return Err(PyErr::fetch(slf.py()));
        }
        this.exports += 1;
        Ok(())
    }

    /// The end of an export made by `__getbuffer__`.
    ///
    /// # Safety
    ///
    /// `_view` is a buffer this object exported, as CPython passes it.
    unsafe fn __releasebuffer__(&mut self, _view: *mut ffi::Py_buffer) {
        self.exports -= 1;
        if self.released && self.exports == 0 {
            // A `with` block ended while views were open: the last one
            // gives the slot back.
            self.owned = None;
        }
    }
}
