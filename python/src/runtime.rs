//! `slotcast.Runtime`: a ring and its pools, in this process or shared
//! through a file, and the writer and readers made from it.

use crate::errors;
use crate::reader::Reader;
use crate::writer::Writer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use slotcast_core::{Builder, OpenOptions, Policy, ReaderOptions, SizeClass, StartAt, WaitStrategy};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// A slotcast runtime: a ring of events and pools of slots, in this
/// process (`Runtime()`) or shared through a file (`Runtime.create_shared`,
/// `Runtime.open`).
#[pyclass(module = "slotcast", frozen, weakref)]
pub(crate) struct Runtime {
    rt: slotcast_core::Runtime,
}

/// The size class named `name` ("XS" … "XL", any case).
fn size_class(name: &str) -> PyResult<SizeClass> {
    SizeClass::ALL
        .into_iter()
        .find(|c| format!("{c:?}").eq_ignore_ascii_case(name))
        .ok_or_else(|| PyValueError::new_err(format!("unknown size class {name:?}: expected one of XS, S, M, L, XL")))
}

/// The wait strategy named `name`.
fn wait_strategy(name: &str) -> PyResult<WaitStrategy> {
    match name {
        "blocking" => Ok(WaitStrategy::Blocking),
        "yield" => Ok(WaitStrategy::Yield),
        "busy_spin" => Ok(WaitStrategy::BusySpin),
        _ => Err(PyValueError::new_err(format!(
            "unknown wait strategy {name:?}: expected \"blocking\", \"yield\" or \"busy_spin\""
        ))),
    }
}

/// The settings every runtime takes, applied to `builder`.
fn configure(
    mut builder: Builder,
    ring_capacity: Option<usize>,
    slots: Option<HashMap<String, usize>>,
    max_readers: Option<usize>,
    wait: &str,
) -> PyResult<Builder> {
    if let Some(capacity) = ring_capacity {
        builder = builder.ring_capacity(capacity);
    }
    for (name, count) in slots.unwrap_or_default() {
        builder = builder.slots(size_class(&name)?, count);
    }
    if let Some(readers) = max_readers {
        builder = builder.max_readers(readers);
    }
    Ok(builder.wait_strategy(wait_strategy(wait)?))
}

#[pymethods]
impl Runtime {
    /// An in-process runtime. `slots` maps size-class names to their slot
    /// counts (0 removes a class); `ring_capacity` is a power of two.
    #[new]
    #[pyo3(signature = (*, ring_capacity = None, slots = None, max_readers = None, wait = "blocking"))]
    fn new(
        ring_capacity: Option<usize>,
        slots: Option<HashMap<String, usize>>,
        max_readers: Option<usize>,
        wait: &str,
    ) -> PyResult<Self> {
        let builder = configure(slotcast_core::Runtime::builder(), ring_capacity, slots, max_readers, wait)?;
        Ok(Self { rt: builder.build().map_err(errors::build)? })
    }

    /// Creates a runtime in a new file at `path` (`FileExistsError` if it
    /// exists) that other processes open with `Runtime.open`.
    #[staticmethod]
    #[pyo3(signature = (path, *, ring_capacity = None, slots = None, max_readers = None, max_processes = None, wait = "blocking", mode = 0o600))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn create_shared(
        py: Python<'_>,
        path: PathBuf,
        ring_capacity: Option<usize>,
        slots: Option<HashMap<String, usize>>,
        max_readers: Option<usize>,
        max_processes: Option<usize>,
        wait: &str,
        mode: u32,
    ) -> PyResult<Self> {
        let mut builder = configure(slotcast_core::Runtime::builder(), ring_capacity, slots, max_readers, wait)?;
        if let Some(processes) = max_processes {
            builder = builder.max_processes(processes);
        }
        let builder = builder.shared(path).mode(mode);
        // Creating maps and zeroes the file: no GIL needed.
        let rt = py.detach(|| builder.build()).map_err(errors::build)?;
        Ok(Self { rt })
    }

    /// Opens the shared runtime another process created at `path`,
    /// waiting up to `wait_for_creator` seconds for its creator to finish
    /// setting it up. `recover_stale` takes over a file whose processes
    /// all died.
    #[staticmethod]
    #[pyo3(signature = (path, *, recover_stale = false, wait_for_creator = 1.0))]
    fn open(py: Python<'_>, path: PathBuf, recover_stale: bool, wait_for_creator: f64) -> PyResult<Self> {
        if wait_for_creator.is_nan() || wait_for_creator < 0.0 {
            return Err(PyValueError::new_err(format!(
                "wait_for_creator must be a number of seconds >= 0, not {wait_for_creator}"
            )));
        }
        // Beyond what a `Duration` holds (`inf` among others): as long as it
        // takes.
        let wait = Duration::try_from_secs_f64(wait_for_creator).unwrap_or(Duration::MAX);
        let options = OpenOptions::new().recover_stale(recover_stale).wait_for_creator(wait);
        let rt = py.detach(|| options.open(&path)).map_err(errors::open)?;
        Ok(Self { rt })
    }

    /// The file of a shared runtime; `None` in process.
    #[getter]
    fn path(&self) -> Option<&std::ffi::OsStr> {
        // As `os.fsdecode` would make it: a `str`, as the stub says.
        self.rt.path().map(std::path::Path::as_os_str)
    }

    /// Events published so far.
    #[getter]
    fn published(&self) -> u64 {
        self.rt.published()
    }

    /// Takes the writer role. Raises `WriterTaken`.
    fn writer(&self) -> PyResult<Writer> {
        let writer = self.rt.writer().map_err(errors::writer)?;
        Ok(Writer::new(writer, self.rt.config().clone()))
    }

    /// Joins a reader: gating (the default) or `lossy`; from the next event
    /// published, or `from_oldest` the ring still holds.
    #[pyo3(signature = (*, lossy = false, from_oldest = false))]
    fn reader(&self, lossy: bool, from_oldest: bool) -> PyResult<Reader> {
        let options = ReaderOptions::new()
            .policy(if lossy { Policy::Lossy } else { Policy::Gating })
            .start_at(if from_oldest { StartAt::Oldest } else { StartAt::Now });
        let reader = self.rt.reader_with(options).map_err(errors::join)?;
        Ok(Reader::new(reader, lossy, self.rt.clone()))
    }

    /// A snapshot of the runtime: see the type stub for its keys.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.rt.stats();
        let out = PyDict::new(py);
        out.set_item("published", stats.published)?;
        out.set_item("writer_pid", stats.writer_pid)?;
        let readers = PyList::empty(py);
        for r in &stats.readers {
            let d = PyDict::new(py);
            d.set_item("pid", r.pid)?;
            d.set_item("cursor", r.cursor)?;
            d.set_item("lag", r.lag)?;
            d.set_item("lossy", r.policy == Policy::Lossy)?;
            d.set_item("lost", r.lost)?;
            d.set_item("alive", r.alive)?;
            readers.append(d)?;
        }
        out.set_item("readers", readers)?;
        let processes = PyList::empty(py);
        for p in &stats.processes {
            let d = PyDict::new(py);
            d.set_item("pid", p.pid)?;
            d.set_item("alive", p.alive)?;
            d.set_item("writer", p.writer)?;
            d.set_item("retained", p.retained)?;
            processes.append(d)?;
        }
        out.set_item("processes", processes)?;
        let pools = PyDict::new(py);
        for pool in &stats.pools {
            let d = PyDict::new(py);
            d.set_item("slots", pool.slots)?;
            d.set_item("in_ring", pool.in_ring)?;
            d.set_item("retained", pool.retained)?;
            d.set_item("in_use", pool.in_use)?;
            pools.set_item(format!("{:?}", pool.class), d)?;
        }
        out.set_item("pools", pools)?;
        Ok(out)
    }

    fn __repr__(&self) -> String {
        match self.rt.path() {
            Some(path) => format!("<slotcast.Runtime shared {} published={}>", path.display(), self.rt.published()),
            None => format!("<slotcast.Runtime in process published={}>", self.rt.published()),
        }
    }
}
