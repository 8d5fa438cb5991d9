//! The Python package `slotcast`: a native module over slotcast's Rust API
//! (not the C ABI), built with PyO3 and packaged by maturin. The type stub
//! `slotcast.pyi` beside this package is its reference documentation; the
//! modules here say how each part works.
//!
//! * `runtime.rs`: `Runtime`, and the writer and readers made from it.
//! * `writer.rs`: `Writer`, publishing from any buffer without a copy in
//!   between.
//! * `reader.rs`, `event.rs`: `Reader` and the owned `Event`s it hands
//!   out, read in place through the buffer protocol.
//! * `buffer.rs`: the bytes of a Python object with the buffer protocol.
//! * `wait.rs`: timeouts, waiting with the GIL released, the turns of a
//!   writer or reader shared by Python threads.
//! * `errors.rs`: the exception classes and the mapping of Rust's errors.

mod buffer;
mod errors;
mod event;
mod reader;
mod runtime;
mod wait;
mod writer;

use pyo3::prelude::*;
use slotcast_core::SizeClass;

/// One writer, many readers, every event in order, read in place.
// `gil_used`: the module relies on the GIL (an `Event` is a mutable class
// whose borrow the buffer protocol takes); on a free-threaded Python it asks
// for the GIL instead of racing.
#[pymodule(name = "slotcast", gil_used = true)]
fn slotcast_python(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<runtime::Runtime>()?;
    m.add_class::<writer::Writer>()?;
    m.add_class::<reader::Reader>()?;
    m.add_class::<event::Event>()?;
    errors::register(m)?;
    m.add("MAX_PAYLOAD", SizeClass::MAX_PAYLOAD)?;
    let names: Vec<String> = SizeClass::ALL.iter().map(|c| format!("{c:?}")).collect();
    m.add("SIZE_CLASSES", pyo3::types::PyTuple::new(m.py(), names)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
