//! The bytes of any Python object with the buffer protocol, without a
//! copy: `bytes` directly, everything else (`bytearray`, `memoryview`,
//! `array.array`, NumPy arrays, …) through `PyObject_GetBuffer` with
//! `PyBUF_SIMPLE`, which asks for one C-contiguous run of bytes whatever the
//! item format (a NumPy array of floats publishes its raw bytes; a
//! non-contiguous one is refused by its exporter with `BufferError`).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::mem::MaybeUninit;

/// The bytes of one Python object, held for as long as this lives: a
/// `bytes` object (immutable), or a buffer export, which keeps the
/// exporter from resizing or freeing its memory until released (on drop).
pub(crate) enum Held<'py> {
    Bytes(Bound<'py, PyBytes>),
    Export(Export),
}

/// A `Py_buffer` filled in by `PyObject_GetBuffer`, released on drop.
/// Boxed: the struct stays where the exporter filled it in and is released
/// from that same address, as the buffer protocol expects.
pub(crate) struct Export {
    view: Box<ffi::Py_buffer>,
}

impl Drop for Export {
    fn drop(&mut self) {
        // SAFETY: `view` was filled in by a successful `PyObject_GetBuffer`
        // and is released once, here. A `Held` is only made and dropped
        // with the GIL held (it contains a `Bound`, or is created from
        // one, and is neither `Send` nor moved into a GIL-free closure),
        // which `PyBuffer_Release` needs.
        unsafe { ffi::PyBuffer_Release(&mut *self.view) };
    }
}

impl<'py> Held<'py> {
    /// The bytes of `obj`. A `TypeError` from Python ("a bytes-like object
    /// is required, not 'int'") if it has no buffer protocol, a
    /// `BufferError` if its buffer is not contiguous.
    pub(crate) fn of(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(Held::Bytes(bytes.clone()));
        }
        let mut view = Box::new(MaybeUninit::<ffi::Py_buffer>::uninit());
        // SAFETY: `obj` is a live object (we hold a reference) and `view`
        // is writable storage for a `Py_buffer`; the GIL is held.
        if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_SIMPLE) } != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        // SAFETY: `PyObject_GetBuffer` succeeded, so it filled `view` in.
        let view = unsafe { view.assume_init() };
        Ok(Held::Export(Export { view }))
    }

    /// The bytes: valid while `self` lives.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Held::Bytes(bytes) => bytes.as_bytes(),
            Held::Export(export) => {
                let view = &export.view;
                if view.len <= 0 || view.buf.is_null() {
                    return &[];
                }
                // SAFETY: a `PyBUF_SIMPLE` export is `len` contiguous
                // readable bytes at `buf`, valid until it is released,
                // which happens when `self` drops (the slice borrows
                // `self`). `len` is positive (checked above).
                unsafe { std::slice::from_raw_parts(view.buf.cast::<u8>(), view.len as usize) }
            }
        }
    }
}
