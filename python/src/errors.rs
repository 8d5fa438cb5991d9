//! The exceptions of the module and the mapping of every Rust error onto
//! them: one base class, [`SlotcastError`], and a subclass per kind a
//! Python caller acts on differently. Bad arguments are Python's own
//! `TypeError`, `ValueError` and `OverflowError`; failed system calls are
//! `OSError` (`FileExistsError`, `FileNotFoundError`, …, from the
//! `io::Error`'s kind).

use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use slotcast_core::{BuildError, Full as FullWhat, JoinError, OpenError, PublishError, ReadError, WriterError};

pyo3::create_exception!(slotcast, SlotcastError, PyException, "Base class of every error slotcast raises.");
pyo3::create_exception!(
    slotcast,
    Full,
    SlotcastError,
    "A non-waiting publish found the ring full or the size class's pool empty (`what`); `published`: events of a batch call published before it."
);
pyo3::create_exception!(
    slotcast,
    Timeout,
    SlotcastError,
    "The call's timeout passed; `published`: events of a batch call published before it."
);
pyo3::create_exception!(
    slotcast,
    Closed,
    SlotcastError,
    "The stream was closed by its writer and every event read, or this object was closed."
);
pyo3::create_exception!(
    slotcast,
    Lagged,
    SlotcastError,
    "A lossy reader was lapped: `missed` events are lost; reading goes on from the oldest event still available."
);
pyo3::create_exception!(
    slotcast,
    WriterDead,
    SlotcastError,
    "The writer's process died and every event it published was read; a new writer may take over."
);
pyo3::create_exception!(
    slotcast,
    TooLarge,
    SlotcastError,
    "The payload is larger than every size class with slots can hold."
);
pyo3::create_exception!(slotcast, WriterTaken, SlotcastError, "Another writer holds the writer role.");
pyo3::create_exception!(slotcast, TooManyReaders, SlotcastError, "The runtime has max_readers readers already.");
pyo3::create_exception!(slotcast, BadFile, SlotcastError, "The file is not a usable slotcast runtime.");
pyo3::create_exception!(slotcast, Released, SlotcastError, "The event was used after its release().");

/// Adds every exception class to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SlotcastError", py.get_type::<SlotcastError>())?;
    m.add("Full", py.get_type::<Full>())?;
    m.add("Timeout", py.get_type::<Timeout>())?;
    m.add("Closed", py.get_type::<Closed>())?;
    m.add("Lagged", py.get_type::<Lagged>())?;
    m.add("WriterDead", py.get_type::<WriterDead>())?;
    m.add("TooLarge", py.get_type::<TooLarge>())?;
    m.add("WriterTaken", py.get_type::<WriterTaken>())?;
    m.add("TooManyReaders", py.get_type::<TooManyReaders>())?;
    m.add("BadFile", py.get_type::<BadFile>())?;
    m.add("Released", py.get_type::<Released>())?;
    Ok(())
}

/// `err` with attribute `name` set to `value` (the exception instance is
/// made now, to carry it).
fn with_attr<'py>(py: Python<'py>, err: PyErr, name: &str, value: impl IntoPyObject<'py>) -> PyErr {
    match err.value(py).setattr(name, value) {
        Ok(()) => err,
        Err(failed) => failed,
    }
}

/// `err` carrying `published` (a batch call's events published before it),
/// whatever its class.
pub(crate) fn with_published(py: Python<'_>, err: PyErr, published: usize) -> PyErr {
    with_attr(py, err, "published", published)
}

/// Another thread's call kept the writer past this call's wait: `Full` for
/// a call that does not wait (`waited` false), else `Timeout`.
pub(crate) fn busy(py: Python<'_>, waited: bool) -> PyErr {
    let why = "another thread's call is using this writer (waiting for room)";
    let err = if waited {
        with_attr(py, Timeout::new_err(format!("timed out: {why}")), "what", "writer")
    } else {
        with_attr(py, Full::new_err(why), "what", "writer")
    };
    with_attr(py, err, "published", 0usize)
}

/// A publish that did not happen. `waited`: the call had a timeout other
/// than 0, so a full ring or pool means the timeout passed. `published`:
/// events of the same batch call published before it.
pub(crate) fn publish(py: Python<'_>, e: PublishError, waited: bool, published: usize) -> PyErr {
    match e {
        PublishError::Full(what) => {
            let name = match what {
                FullWhat::Ring => "ring".to_owned(),
                FullWhat::Pool(class) => format!("{class:?}"),
            };
            let err = if waited {
                Timeout::new_err(format!("timed out waiting for room: {what}"))
            } else {
                Full::new_err(what.to_string())
            };
            let err = with_attr(py, err, "what", name);
            with_attr(py, err, "published", published)
        }
        PublishError::TooLarge { .. } | PublishError::NoSlots(_) => TooLarge::new_err(e.to_string()),
        _ => SlotcastError::new_err(e.to_string()),
    }
}

/// A payload of `len` bytes that no size class with slots holds (checked
/// before a batch publishes anything), item `index` of the call.
pub(crate) fn too_large(len: usize, index: usize) -> PyErr {
    if len > slotcast_core::SizeClass::MAX_PAYLOAD {
        TooLarge::new_err(format!(
            "event {index}: a {len}-byte payload exceeds the {}-byte maximum",
            slotcast_core::SizeClass::MAX_PAYLOAD
        ))
    } else {
        TooLarge::new_err(format!("event {index}: no size class with slots in this runtime holds a {len}-byte payload"))
    }
}

/// A read that returned no event.
pub(crate) fn read(py: Python<'_>, e: ReadError) -> PyErr {
    match e {
        ReadError::Lagged { missed } => {
            let msg = format!("this lossy reader was lapped: {missed} events are lost");
            with_attr(py, Lagged::new_err(msg), "missed", missed)
        }
        ReadError::Closed => Closed::new_err("the writer closed the stream and every event was read"),
        ReadError::WriterDead => WriterDead::new_err(e.to_string()),
        ReadError::Corrupt { .. } => BadFile::new_err(e.to_string()),
        _ => SlotcastError::new_err(e.to_string()),
    }
}

/// The `timeout` of a read that passed with nothing to read.
pub(crate) fn read_timeout(py: Python<'_>) -> PyErr {
    let err = with_attr(py, Timeout::new_err("timed out waiting for an event"), "what", "event");
    with_attr(py, err, "published", 0usize)
}

/// A writer that could not be made.
pub(crate) fn writer(e: WriterError) -> PyErr {
    match e {
        WriterError::Taken { .. } => WriterTaken::new_err(e.to_string()),
        WriterError::Corrupt { .. } => BadFile::new_err(e.to_string()),
        _ => SlotcastError::new_err(e.to_string()),
    }
}

/// A reader that could not join.
pub(crate) fn join(e: JoinError) -> PyErr {
    match e {
        JoinError::TooManyReaders { .. } => TooManyReaders::new_err(e.to_string()),
        JoinError::Corrupt { .. } => BadFile::new_err(e.to_string()),
        _ => SlotcastError::new_err(e.to_string()),
    }
}

/// A runtime that could not be built: a bad setting is a `ValueError`, a
/// failed system call an `OSError` of its kind.
pub(crate) fn build(e: BuildError) -> PyErr {
    match e {
        BuildError::Map(io) | BuildError::Create(io) => io.into(),
        BuildError::Unsupported => SlotcastError::new_err(e.to_string()),
        BuildError::NoSpace { .. } => pyo3::exceptions::PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// A shared runtime that could not be opened: the file's own faults are
/// `BadFile`, a failed system call an `OSError` of its kind.
pub(crate) fn open(e: OpenError) -> PyErr {
    match e {
        OpenError::Io(io) => io.into(),
        OpenError::Unsupported | OpenError::TooManyProcesses { .. } => SlotcastError::new_err(e.to_string()),
        _ => BadFile::new_err(e.to_string()),
    }
}

/// The object was closed with its own `close()`.
pub(crate) fn closed(what: &str) -> PyErr {
    Closed::new_err(format!("this {what} was closed"))
}
