//! Errors, one enum per operation.

use crate::event::SizeClass;
use std::{error::Error, fmt, io};

/// What every `Forked` variant says.
const FORKED: &str = "this process is a fork of the one that opened the shared runtime: its handles stay the parent's; open the file again";

/// Why a runtime could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// The ring capacity must be a power of two between 2 and 2^30.
    RingCapacity {
        /// The capacity asked for.
        requested: usize,
    },
    /// The reader limit must be between 1 and 4096.
    MaxReaders {
        /// The limit asked for.
        requested: usize,
    },
    /// The process limit must be between 1 and 1024.
    MaxProcesses {
        /// The limit asked for.
        requested: usize,
    },
    /// A class may have at most 2^28 − 1 slots.
    TooManySlots {
        /// The class.
        class: SizeClass,
        /// The count asked for.
        requested: usize,
    },
    /// Every class has 0 slots: no event over 64 bytes could ever be
    /// published, nothing retained or allocated.
    NoSlots,
    /// The arena would not fit in the address space.
    ArenaTooLarge,
    /// The memory for the arena could not be mapped or allocated.
    Map(io::Error),
    /// The shared file could not be created (it exists, the directory is
    /// missing or not writable, ...).
    Create(io::Error),
    /// The file system of the shared file has less free space than the
    /// arena needs. The space is reserved when the file is created, so a
    /// full file system is reported here instead of killing processes with
    /// `SIGBUS` when they first touch a page; nothing is left behind.
    NoSpace {
        /// The bytes the arena needs.
        needed: u64,
        /// The bytes the file system had free for us.
        available: u64,
    },
    /// Shared runtimes need Linux (futexes and open file description locks).
    Unsupported,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RingCapacity { requested } => {
                write!(f, "ring capacity {requested} is not a power of two between 2 and 2^30")
            }
            Self::MaxReaders { requested } => write!(f, "max readers {requested} is not between 1 and 4096"),
            Self::MaxProcesses { requested } => write!(f, "max processes {requested} is not between 1 and 1024"),
            Self::TooManySlots { class, requested } => {
                write!(f, "{requested} slots of class {class} exceed the limit of 2^28 - 1")
            }
            Self::NoSlots => f.write_str("every size class has 0 slots"),
            Self::ArenaTooLarge => f.write_str("the arena for this configuration does not fit in memory"),
            Self::Map(e) => write!(f, "cannot map the arena: {e}"),
            Self::Create(e) => write!(f, "cannot create the shared file: {e}"),
            Self::NoSpace { needed, available } => {
                write!(f, "the arena needs {needed} bytes but its file system has only {available} bytes free")
            }
            Self::Unsupported => f.write_str("shared runtimes need Linux"),
        }
    }
}

impl Error for BuildError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Map(e) | Self::Create(e) => Some(e),
            _ => None,
        }
    }
}

/// Why the writer role could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriterError {
    /// Another writer holds the role.
    Taken {
        /// Process id of the holder.
        owner: u64,
    },
    /// The runtime's cursors are impossible (only a corrupted shared
    /// mapping holds such values): taking the role over would overflow the
    /// sequence arithmetic. The role stays free.
    Corrupt {
        /// What is wrong.
        what: &'static str,
    },
    /// This process is a `fork` of the one that opened the shared runtime:
    /// the handles it inherited are the parent's (open the file again).
    Forked,
}

impl fmt::Display for WriterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Taken { owner } => write!(f, "the writer role is held by process {owner}"),
            Self::Corrupt { what } => write!(f, "the shared mapping is corrupted: {what}"),
            Self::Forked => f.write_str(FORKED),
        }
    }
}

impl Error for WriterError {}

/// Why a reader could not join.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// Every reader entry is in use.
    TooManyReaders {
        /// The runtime's reader limit.
        max: usize,
    },
    /// The cursors a reader would start from are impossible (only a
    /// corrupted shared mapping holds such values). No entry is taken.
    Corrupt {
        /// What is wrong.
        what: &'static str,
    },
    /// This process is a `fork` of the one that opened the shared runtime
    /// (see [`WriterError::Forked`]).
    Forked,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyReaders { max } => write!(f, "all {max} reader entries are in use"),
            Self::Corrupt { what } => write!(f, "the shared mapping is corrupted: {what}"),
            Self::Forked => f.write_str(FORKED),
        }
    }
}

impl Error for JoinError {}

/// What was full: the ring or one class's pool. The one "full" of the crate:
/// the writer reports it in [`PublishError::Full`] and
/// [`TryPublishError::Full`], the allocator in [`AllocError::Full`].
///
/// Full is temporary: readers moving on and pointers being dropped make room
/// again, which is what the waiting forms of the writer wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Full {
    /// The slowest reader is a whole ring behind.
    Ring,
    /// Every slot of this class is in the ring or retained.
    Pool(SizeClass),
}

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ring => f.write_str("the ring is full (the slowest reader is a whole ring behind)"),
            Self::Pool(c) => write!(f, "every slot of the {c} pool is in use"),
        }
    }
}

impl Error for Full {}

/// What every `NoSlots` variant says.
fn no_slots(f: &mut fmt::Formatter<'_>, class: SizeClass) -> fmt::Result {
    write!(f, "no pool of class {class} or larger has slots in this runtime")
}

/// What every `OverCapacity` variant says.
fn over_capacity(f: &mut fmt::Formatter<'_>, len: usize, capacity: usize) -> fmt::Result {
    write!(f, "a fill of {len} bytes does not fit the slot's {capacity} bytes")
}

/// Why an event was not published. Nothing was published and nothing is
/// lost: the caller still has the payload, and a claimed slot went back to
/// the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// The payload exceeds [`SizeClass::MAX_PAYLOAD`] bytes.
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// A fill closure or [`Claim::publish`](crate::Claim::publish) gave a
    /// length beyond the slot's capacity. The slot is given back.
    OverCapacity {
        /// The length given.
        len: usize,
        /// What the slot holds.
        capacity: usize,
    },
    /// The ring or the class's pool was full (and stayed full until the
    /// deadline, for the waiting forms).
    Full(Full),
    /// Neither this class nor any larger one has slots: the runtime was
    /// built without them (0 slots removes a class), so nothing needing this
    /// class can ever be published (never XS, which the ring carries).
    /// Returned at once by every form: there is nothing to wait for.
    NoSlots(SizeClass),
    /// This process is a `fork` of the one that opened the shared runtime
    /// (see [`WriterError::Forked`]): the writer it inherited is the
    /// parent's. Returned at once.
    Forked,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len } => {
                write!(f, "a {len}-byte payload exceeds the {}-byte maximum", SizeClass::MAX_PAYLOAD)
            }
            Self::OverCapacity { len, capacity } => over_capacity(f, *len, *capacity),
            Self::Full(full) => full.fmt(f),
            Self::NoSlots(class) => no_slots(f, *class),
            Self::Forked => f.write_str(FORKED),
        }
    }
}

impl Error for PublishError {}

impl From<Full> for PublishError {
    fn from(full: Full) -> Self {
        Self::Full(full)
    }
}

/// Why a closure form of publishing (`publish_with` and its siblings) did
/// not publish. When the closure was never called it comes back, as
/// crossbeam's `TrySendError::Full(T)` returns the message: retry with it
/// later, or drop it.
///
/// `?` turns it into a [`PublishError`] (dropping the closure), and it is an
/// [`Error`] of its own, so both `Result<_, PublishError>` and
/// `Result<_, Box<dyn Error>>` functions can use `?` on it directly. A boxed
/// error owns what it holds: into a `Box<dyn Error>` (which is `'static`),
/// `?` takes a closure that borrows nothing, such as a `move` closure over
/// copied values; one that borrows locals goes through `PublishError`.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryPublishError<F> {
    /// The ring or the pool was full (until the deadline, for the waiting
    /// forms): the closure, uncalled.
    Full(Full, F),
    /// Neither the class nor any larger one has slots (see
    /// [`PublishError::NoSlots`]): the closure, uncalled.
    NoSlots(SizeClass, F),
    /// This process is a fork (see [`PublishError::Forked`]): the closure,
    /// uncalled.
    Forked(F),
    /// The closure ran and returned a length beyond the slot's capacity.
    /// Nothing was published and the slot is given back.
    OverCapacity {
        /// The length returned.
        len: usize,
        /// What the slot holds.
        capacity: usize,
    },
}

impl<F> TryPublishError<F> {
    /// The closure, if it was never called.
    pub fn into_inner(self) -> Option<F> {
        match self {
            Self::Full(_, fill) | Self::NoSlots(_, fill) | Self::Forked(fill) => Some(fill),
            Self::OverCapacity { .. } => None,
        }
    }

    /// Whether the ring or a pool was full: the one failure that waiting or
    /// retrying can cure.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(..))
    }

    /// The error without the closure.
    pub fn error(&self) -> PublishError {
        match *self {
            Self::Full(full, _) => PublishError::Full(full),
            Self::NoSlots(class, _) => PublishError::NoSlots(class),
            Self::Forked(_) => PublishError::Forked,
            Self::OverCapacity { len, capacity } => PublishError::OverCapacity { len, capacity },
        }
    }

    /// The closure handed back with why no slot was claimed for it.
    pub(crate) fn refused(why: Refused, fill: F) -> Self {
        match why {
            Refused::Full(full) => Self::Full(full, fill),
            Refused::NoSlots(class) => Self::NoSlots(class, fill),
            Refused::Forked => Self::Forked(fill),
        }
    }
}

/// Why the writer claimed no slot: the failures before any payload is
/// touched, shared by every publishing form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Full(Full),
    NoSlots(SizeClass),
    Forked,
}

impl From<Refused> for PublishError {
    fn from(why: Refused) -> Self {
        match why {
            Refused::Full(full) => Self::Full(full),
            Refused::NoSlots(class) => Self::NoSlots(class),
            Refused::Forked => Self::Forked,
        }
    }
}

// By hand: a closure is not `Debug`.
impl<F> fmt::Debug for TryPublishError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(full, _) => f.debug_tuple("Full").field(full).finish_non_exhaustive(),
            Self::NoSlots(class, _) => f.debug_tuple("NoSlots").field(class).finish_non_exhaustive(),
            Self::Forked(_) => f.debug_tuple("Forked").finish_non_exhaustive(),
            Self::OverCapacity { len, capacity } => {
                f.debug_struct("OverCapacity").field("len", len).field("capacity", capacity).finish()
            }
        }
    }
}

impl<F> fmt::Display for TryPublishError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error().fmt(f)
    }
}

impl<F> Error for TryPublishError<F> {}

impl<F> From<TryPublishError<F>> for PublishError {
    fn from(e: TryPublishError<F>) -> Self {
        e.error()
    }
}

/// Why a read or a retain failed.
///
/// Three say what became of the stream, and are for the caller to act on:
/// [`Lagged`](ReadError::Lagged) (a lossy reader was lapped; the next read
/// goes on from the oldest event still available), [`Closed`](ReadError::Closed)
/// (everything published has been read and the writer closed the stream)
/// and [`WriterDead`](ReadError::WriterDead) (everything published has been
/// read and the writer's process died). The others are failures: a
/// descriptor or cursor that cannot be valid (only a corrupted shared
/// mapping produces one; the reader's cursor stays on the offending
/// sequence), a forked child, and a retain that finds no free slot to copy
/// an XS event into ([`ReadError::NoFreeSlot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadError {
    /// The event at `sequence` is malformed.
    Corrupt {
        /// Sequence of the bad event.
        sequence: u64,
        /// What is wrong with it.
        what: &'static str,
    },
    /// This process is a `fork` of the one that opened the shared runtime
    /// (see [`WriterError::Forked`]): the reader it inherited is the
    /// parent's, and its cursor is left alone.
    Forked,
    /// [`EventRef::retain`](crate::EventRef::retain) of an XS event, which
    /// is read in its ring entry and must be copied into a pool slot to
    /// outlive it, found no free slot of `class` (XS, or the next larger
    /// class with slots if XS has none; `XS` if no class has slots).
    NoFreeSlot {
        /// The class searched.
        class: SizeClass,
    },
    /// A lossy reader ([`Policy::Lossy`](crate::Policy::Lossy)) was lapped:
    /// the writer reused the entries of `missed` events it had not read.
    /// Its cursor has moved past them, to the oldest event still available,
    /// where the next read goes on (as tokio's
    /// `broadcast::error::RecvError::Lagged`).
    Lagged {
        /// The events this reader will never see, exactly.
        missed: u64,
    },
    /// The stream is closed ([`Writer::close`](crate::Writer::close), or the
    /// writer was dropped) and this reader has read every event published
    /// before. A new writer reopens the stream: reads then see its events.
    Closed,
    /// The writer's process died holding the role (a shared runtime) and
    /// this reader has read every event it published. Not a close: another
    /// writer may take the role over. Each reader is told once per dead
    /// writer; its next reads wait (or find nothing) as they do before any
    /// writer has come, and see the events of the writer that takes over.
    WriterDead,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt { sequence, what } => write!(f, "corrupted event at sequence {sequence}: {what}"),
            Self::Forked => f.write_str(FORKED),
            Self::NoFreeSlot { class } => {
                write!(f, "no free {class:?} slot to keep a small event in (every slot is retained)")
            }
            Self::Lagged { missed } => {
                write!(f, "the writer lapped this lossy reader: {missed} events were lost")
            }
            Self::Closed => f.write_str("the stream is closed and every event was read"),
            Self::WriterDead => f.write_str(
                "the writer's process died and every event it published was read (a new writer may take over)",
            ),
        }
    }
}

impl Error for ReadError {}

/// Why a handle could not be upgraded to a `RingPtr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpgradeError {
    /// The handle names no slot of this runtime, or a length beyond its
    /// class.
    Invalid,
    /// The slot was freed or recycled since the handle was made.
    Stale,
    /// This process is a `fork` of the one that opened the shared runtime
    /// (see [`WriterError::Forked`]).
    Forked,
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid => f.write_str("the handle names no slot of this runtime"),
            Self::Stale => f.write_str("the handle's event is gone (its slot was freed or recycled)"),
            Self::Forked => f.write_str(FORKED),
        }
    }
}

impl Error for UpgradeError {}

/// Why an event cannot be viewed as a typed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViewError {
    /// The event's length is not the type's size.
    Size {
        /// `size_of` the type.
        expected: usize,
        /// The event's length.
        actual: usize,
    },
    /// The type needs more alignment than a slot's 64 bytes.
    Align {
        /// `align_of` the type.
        required: usize,
    },
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Size { expected, actual } => {
                write!(f, "a {actual}-byte event cannot be viewed as a {expected}-byte type")
            }
            Self::Align { required } => write!(f, "slots are 64-byte aligned; the type needs {required}"),
        }
    }
}

impl Error for ViewError {}

/// Why the standalone allocator could not hand out a slot. Nothing was
/// allocated: a slot claimed for a fill that failed went back to its pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocError {
    /// The payload exceeds [`SizeClass::MAX_PAYLOAD`] bytes.
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// The fill closure returned a length beyond the slot's capacity. The
    /// slot went back to its pool.
    OverCapacity {
        /// The length returned.
        len: usize,
        /// What the slot holds.
        capacity: usize,
    },
    /// The type needs more alignment than a slot's 64 bytes
    /// ([`Allocator::try_alloc_pod`](crate::Allocator::try_alloc_pod)).
    Align {
        /// `align_of` the type.
        required: usize,
    },
    /// Every slot of the pool is in use: always [`Full::Pool`] (the
    /// allocator does not use the ring).
    Full(Full),
    /// Neither this class nor any larger one has slots (the runtime was
    /// built without them): no payload needing this class can be allocated.
    NoSlots(SizeClass),
    /// This process is a `fork` of the one that opened the shared runtime
    /// (see [`WriterError::Forked`]).
    Forked,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Forked => f.write_str(FORKED),
            Self::TooLarge { len } => {
                write!(f, "a {len}-byte payload exceeds the {}-byte maximum", SizeClass::MAX_PAYLOAD)
            }
            Self::OverCapacity { len, capacity } => over_capacity(f, *len, *capacity),
            Self::Align { required } => write!(f, "slots are 64-byte aligned; the type needs {required}"),
            Self::Full(full) => full.fmt(f),
            Self::NoSlots(class) => no_slots(f, *class),
        }
    }
}

impl Error for AllocError {}

/// Why a shared runtime could not be opened. Each way a file can be wrong
/// has its own variant; none of them is ever a crash.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The file could not be opened, read or mapped.
    Io(io::Error),
    /// Shared runtimes need Linux (futexes and open file description locks).
    Unsupported,
    /// The file is shorter than its header or than the layout it describes.
    Truncated {
        /// The file's length.
        len: u64,
        /// The length needed.
        required: u64,
    },
    /// The file does not start with slotcast's magic number.
    Foreign {
        /// The first eight bytes, as a little-endian u64.
        magic: u64,
    },
    /// The magic number never appeared: the creator died while initialising
    /// the file (or is still at it after a second).
    Uninitialized,
    /// Written by a different format version.
    Version {
        /// The file's version.
        found: u64,
        /// This library's version.
        expected: u64,
    },
    /// Written by a build that lays out memory differently (type sizes,
    /// field offsets, line size, class sizes).
    Layout {
        /// The file's layout hash.
        found: u64,
        /// This build's layout hash.
        expected: u64,
    },
    /// A configuration field in the header is out of range.
    Config {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// The header's arena length disagrees with the layout of its
    /// configuration.
    Length {
        /// The length the header records.
        recorded: u64,
        /// The length the configuration lays out.
        computed: u64,
    },
    /// Every process that used the file is dead: it holds a stale runtime.
    /// Open it with [`OpenOptions::recover_stale`](crate::OpenOptions::recover_stale)
    /// to take it over, or remove it ([`remove_stale`](crate::remove_stale)).
    Stale,
    /// All process entries are in use by live processes.
    TooManyProcesses {
        /// The file's process limit.
        max: usize,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "cannot open the shared file: {e}"),
            Self::Unsupported => f.write_str("shared runtimes need Linux"),
            Self::Truncated { len, required } => {
                write!(f, "the file is truncated: {len} bytes, at least {required} needed")
            }
            Self::Foreign { magic } => write!(f, "not a slotcast file (first word {magic:#018x})"),
            Self::Uninitialized => f.write_str("the file was never initialised (its creator died while creating it?)"),
            Self::Version { found, expected } => {
                write!(f, "format version {found}, this library reads version {expected}")
            }
            Self::Layout { found, expected } => write!(
                f,
                "memory layout hash {found:#018x} differs from this build's {expected:#018x} (built by an incompatible version)"
            ),
            Self::Config { field, value } => write!(f, "header field {field} has an invalid value {value}"),
            Self::Length { recorded, computed } => {
                write!(f, "the header records {recorded} bytes but its configuration lays out {computed}")
            }
            Self::Stale => f.write_str("every process that used this file is dead (a stale runtime)"),
            Self::TooManyProcesses { max } => write!(f, "all {max} process entries are in use"),
        }
    }
}

impl Error for OpenError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}
