//! Runtimes: configuration, creating and opening, roles, statistics.

use super::{
    Failure, Handle, READER, RUNTIME, Res, SLOTCAST_ERR_INVALID_ARGUMENT, SLOTCAST_ERR_INVALID_CONFIG,
    SLOTCAST_ERR_NULL, SLOTCAST_SIZE_CLASSES, WRITER, call, put,
};
use super::{reader::ReaderState, slotcast_reader, slotcast_writer};
use crate::builder::Builder;
use crate::config::{Config, RawConfig};
use crate::error::BuildError;
use crate::policy::{Policy, ReaderOptions, StartAt};
use crate::runtime::Runtime;
use crate::shm::OpenOptions;
use crate::wait::WaitStrategy;
use crate::writer::Writer;
use std::ffi::{CStr, c_char, c_int};
use std::path::PathBuf;

/// A runtime handle (opaque). Made by `slotcast_runtime_new`,
/// `slotcast_runtime_create_shared` or `slotcast_runtime_open`; released by
/// `slotcast_runtime_close` and `slotcast_runtime_free`.
pub struct slotcast_runtime {
    _opaque: [u8; 0],
}

/// Wait strategy: spin on the cursor (one busy core per waiting thread).
pub const SLOTCAST_WAIT_BUSY_SPIN: u32 = 0;
/// Wait strategy: spin briefly, then yield the CPU between checks.
pub const SLOTCAST_WAIT_YIELD: u32 = 1;
/// Wait strategy: spin, yield, then sleep on a futex word in the arena (the
/// default; an idle reader uses no CPU).
pub const SLOTCAST_WAIT_BLOCKING: u32 = 2;

/// `slotcast_runtime_open` flag: open a file even if every process that
/// used it is dead, releasing what they held.
pub const SLOTCAST_OPEN_RECOVER_STALE: u32 = 1;

/// `slotcast_runtime_reader_with` flag: a lossy reader. The writer never
/// waits for it between its reads; when the writer laps it, its next read
/// returns `SLOTCAST_ERR_LAGGED` (the count in `slotcast_last_error`, the
/// total in `slotcast_reader_lost`) and reading goes on from the oldest
/// event still available. Without it, the reader gates the writer: it never
/// loses an event, and a reader that stops reading stops the writer when
/// the ring is full.
pub const SLOTCAST_READER_LOSSY: u32 = 1;
/// `slotcast_runtime_reader_with` flag: start at the oldest event the ring
/// still holds (a late joiner replays the window; events in pool slots are
/// replayed only from the oldest one whose slot still holds it). Without
/// it, the reader starts at the next event to be published.
pub const SLOTCAST_READER_FROM_OLDEST: u32 = 2;

/// The configuration of a new runtime. Fill it with
/// `slotcast_config_default`, then change what you need.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct slotcast_config {
    /// Slots per size class, XS (64 B), S (256 B), M (1 KB), L (4 KB), XL
    /// (16 KB); 0 removes a class (XS events are carried in the ring all
    /// the same). Default 2000, 1000, 300, 60, 15. XS
    /// events are carried in the ring and take no slot; the XS pool serves
    /// Rust readers that retain them and the allocator.
    pub slots: [u32; SLOTCAST_SIZE_CLASSES],
    /// Capacity of the descriptor ring: a power of two from 2 to 2^30; how
    /// far the slowest reader may fall behind. Default 4096.
    pub ring_capacity: u32,
    /// Readers joined at once, 1 to 4096. Default 16.
    pub max_readers: u32,
    /// Processes using a shared runtime at once, 1 to 1024. Default 16.
    pub max_processes: u32,
    /// `SLOTCAST_WAIT_BUSY_SPIN`, `SLOTCAST_WAIT_YIELD` or
    /// `SLOTCAST_WAIT_BLOCKING` (the default).
    pub wait_strategy: u32,
    /// Permission bits of a shared runtime's file, at most 0777; 0 means
    /// 0600 (only the creating user). Ignored in process.
    pub file_mode: u32,
}

/// Statistics of one size class's pool.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct slotcast_pool_stats {
    /// Slots in the pool.
    pub slots: u64,
    /// Slots holding an event some reader has not read yet (0 for XS, whose
    /// events are carried in the ring entry).
    pub in_ring: u64,
    /// Slots held by retained pointers.
    pub retained: u64,
    /// Slots in use: in the ring, retained, or both.
    pub in_use: u64,
}

/// A snapshot of a runtime's cursors and pools (consistent only while the
/// writer and readers are quiet).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct slotcast_stats {
    /// Events published so far (the next sequence number).
    pub published: u64,
    /// Process id of the writer's process; 0 if no writer holds the role.
    pub writer_pid: u64,
    /// Readers joined.
    pub readers: u64,
    /// The largest lag of any reader, in events.
    pub max_lag: u64,
    /// Processes using the runtime (1 in process).
    pub processes: u64,
    /// One entry per size class, XS to XL.
    pub pools: [slotcast_pool_stats; SLOTCAST_SIZE_CLASSES],
}

type RuntimeHandle = Handle<Runtime>;

fn config_in(config: &slotcast_config) -> Res<Builder> {
    let wait = match config.wait_strategy {
        SLOTCAST_WAIT_BUSY_SPIN => WaitStrategy::BusySpin,
        SLOTCAST_WAIT_YIELD => WaitStrategy::Yield,
        SLOTCAST_WAIT_BLOCKING => WaitStrategy::Blocking,
        other => {
            return Err(Failure::with(SLOTCAST_ERR_INVALID_CONFIG, format!("unknown wait strategy {other}")));
        }
    };
    if config.file_mode > 0o777 {
        return Err(Failure::with(
            SLOTCAST_ERR_INVALID_CONFIG,
            format!("file mode {:#o} has bits beyond 0777", config.file_mode),
        ));
    }
    // The crate's one validator names the field out of range.
    let checked = Config::check(&RawConfig {
        slots: config.slots.map(u64::from),
        ring_capacity: u64::from(config.ring_capacity),
        max_readers: u64::from(config.max_readers),
        max_processes: u64::from(config.max_processes),
        wait,
        shared: false,
    })
    .map_err(BuildError::from)?;
    Ok(Builder::with_config(&checked))
}

/// Reads `*config`, or the defaults if `config` is null.
///
/// # Safety
///
/// `config` is null or valid for a read of a `slotcast_config`.
unsafe fn read_config(config: *const slotcast_config) -> slotcast_config {
    if config.is_null() {
        return default_config();
    }
    // SAFETY: non-null (checked), readable (contract); any bit pattern is a
    // valid `slotcast_config` (integers only).
    unsafe { config.read_unaligned() }
}

fn default_config() -> slotcast_config {
    let c = Config::default();
    slotcast_config {
        slots: Config::DEFAULT_SLOTS,
        ring_capacity: c.ring_capacity() as u32,
        max_readers: c.max_readers() as u32,
        max_processes: Config::DEFAULT_MAX_PROCESSES,
        wait_strategy: match c.wait_strategy() {
            WaitStrategy::BusySpin => SLOTCAST_WAIT_BUSY_SPIN,
            WaitStrategy::Yield => SLOTCAST_WAIT_YIELD,
            WaitStrategy::Blocking => SLOTCAST_WAIT_BLOCKING,
        },
        file_mode: 0,
    }
}

/// The path a C string names (any bytes but NUL, on Unix).
///
/// # Safety
///
/// `path` is null or a NUL-terminated string that stays unchanged during
/// the call.
unsafe fn path_in(path: *const c_char) -> Res<PathBuf> {
    if path.is_null() {
        return Err(Failure::with(SLOTCAST_ERR_NULL, "the path is null"));
    }
    // SAFETY: non-null (checked), NUL-terminated and unchanged (contract).
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(PathBuf::from)
            .map_err(|_| Failure::with(SLOTCAST_ERR_INVALID_ARGUMENT, "the path is not UTF-8"))
    }
}

/// Stores a new runtime handle in `*out` (null on failure).
///
/// # Safety
///
/// `out` is valid for a write of a pointer (checked non-null by callers).
unsafe fn made(out: *mut *mut slotcast_runtime, result: Res<Runtime>) -> Res {
    let rt = result?;
    // SAFETY: `out` is writable (contract).
    unsafe { put(out, Handle::create(RUNTIME, rt).cast::<slotcast_runtime>()) }
}

/// Clears `*out` first, so that it is null after any failure.
///
/// # Safety
///
/// `out` is null or valid for a write of a `T`.
unsafe fn clear_out<T>(out: *mut *mut T) -> Res {
    // SAFETY: as the contract says.
    unsafe { put(out, std::ptr::null_mut()) }
}

/// Fills `*config` with the default configuration.
///
/// Thread safety: any thread, at any time.
///
/// # Safety
///
/// * `config` is valid for a write of a `slotcast_config` (null is
///   reported as `SLOTCAST_ERR_NULL`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_config_default(config: *mut slotcast_config) -> c_int {
    // SAFETY: `config` is null or writable (contract).
    call(|| unsafe { put(config, default_config()) })
}

/// Creates an in-process runtime with `*config` (null: the defaults) and
/// stores its handle in `*out`.
///
/// Errors: `SLOTCAST_ERR_NULL` (`out`), `SLOTCAST_ERR_INVALID_CONFIG`,
/// `SLOTCAST_ERR_IO` (the arena cannot be mapped).
///
/// Thread safety: any thread, at any time.
///
/// # Safety
///
/// * `config` is null or valid for a read of a `slotcast_config`.
/// * `out` is valid for a write of a pointer (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_runtime_new(
    config: *const slotcast_config,
    out: *mut *mut slotcast_runtime,
) -> c_int {
    call(|| {
        // SAFETY: `out` is null or writable (contract).
        unsafe { clear_out(out) }?;
        // SAFETY: `config` is null or readable (contract).
        let config = unsafe { read_config(config) };
        let result = config_in(&config).and_then(|b| Ok(b.build()?));
        // SAFETY: `out` is writable (checked non-null above).
        unsafe { made(out, result) }
    })
}

/// Creates a shared runtime in a new file at `path` (it must not exist; a
/// path under `/dev/shm` keeps it in memory) with `*config` (null: the
/// defaults), and stores its handle in `*out`. Other processes open it with
/// `slotcast_runtime_open`; the last process to close it removes the file.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_INVALID_CONFIG`,
/// `SLOTCAST_ERR_IO` (the file exists, the directory is missing, ...),
/// `SLOTCAST_ERR_UNSUPPORTED` (not Linux).
///
/// Thread safety: any thread, at any time.
///
/// # Safety
///
/// * `path` is a NUL-terminated string (null is reported).
/// * `config` is null or valid for a read of a `slotcast_config`.
/// * `out` is valid for a write of a pointer (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_runtime_create_shared(
    path: *const c_char,
    config: *const slotcast_config,
    out: *mut *mut slotcast_runtime,
) -> c_int {
    call(|| {
        // SAFETY: `out` is null or writable (contract).
        unsafe { clear_out(out) }?;
        // SAFETY: `path` is null or a C string (contract).
        let path = unsafe { path_in(path) }?;
        // SAFETY: `config` is null or readable (contract).
        let config = unsafe { read_config(config) };
        let mode = if config.file_mode == 0 { 0o600 } else { config.file_mode };
        let result = config_in(&config).and_then(|b| Ok(b.shared(path).mode(mode).build()?));
        // SAFETY: `out` is writable (checked non-null above).
        unsafe { made(out, result) }
    })
}

/// Opens the shared runtime another process created at `path` and stores
/// its handle in `*out`. `flags`: 0 or `SLOTCAST_OPEN_RECOVER_STALE`. Waits
/// up to a second for a creator still initialising the file.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_INVALID_ARGUMENT` (unknown
/// flags), `SLOTCAST_ERR_IO`, `SLOTCAST_ERR_BAD_FILE`, `SLOTCAST_ERR_STALE`,
/// `SLOTCAST_ERR_TOO_MANY_PROCESSES`, `SLOTCAST_ERR_UNSUPPORTED`.
///
/// Thread safety: any thread, at any time.
///
/// # Safety
///
/// * `path` is a NUL-terminated string (null is reported).
/// * `out` is valid for a write of a pointer (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_runtime_open(
    path: *const c_char,
    flags: u32,
    out: *mut *mut slotcast_runtime,
) -> c_int {
    call(|| {
        // SAFETY: `out` is null or writable (contract).
        unsafe { clear_out(out) }?;
        // SAFETY: `path` is null or a C string (contract).
        let path = unsafe { path_in(path) }?;
        if flags & !SLOTCAST_OPEN_RECOVER_STALE != 0 {
            return Err(Failure::with(SLOTCAST_ERR_INVALID_ARGUMENT, format!("unknown open flags {flags:#x}")));
        }
        let options = OpenOptions::new().recover_stale(flags & SLOTCAST_OPEN_RECOVER_STALE != 0);
        let result = options.open(path).map_err(Failure::from);
        // SAFETY: `out` is writable (checked non-null above).
        unsafe { made(out, result) }
    })
}

/// Takes the runtime's writer role and stores the writer handle in `*out`.
/// The role is held until the writer is closed or freed.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
/// `SLOTCAST_ERR_CLOSED`, `SLOTCAST_ERR_WRITER_TAKEN`, `SLOTCAST_ERR_CORRUPT`
/// (the file's published cursor is impossible; the role stays free).
///
/// Thread safety: any thread, concurrently with other calls.
///
/// # Safety
///
/// * `runtime` is null or a handle from this library that was not freed.
/// * `out` is valid for a write of a pointer (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_runtime_writer(
    runtime: *mut slotcast_runtime,
    out: *mut *mut slotcast_writer,
) -> c_int {
    call(|| {
        // SAFETY: `out` is null or writable (contract).
        unsafe { clear_out(out) }?;
        // SAFETY: `runtime` is null or a live handle (contract).
        let handle = unsafe { RuntimeHandle::get(runtime.cast(), RUNTIME) }?;
        let writer: Writer = handle.with(|rt| Ok(rt.writer()?))?;
        // SAFETY: `out` is writable (checked non-null above).
        unsafe { put(out, Handle::create(WRITER, writer).cast::<slotcast_writer>()) }
    })
}

/// Joins the runtime as a gating reader, starting at the current published
/// sequence, and stores the reader handle in `*out`. The reader entry is
/// held (and gates the writer) until the reader is closed or freed.
/// `slotcast_runtime_reader_with` chooses another policy or start.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
/// `SLOTCAST_ERR_CLOSED`, `SLOTCAST_ERR_TOO_MANY_READERS` (every entry is
/// held by a live reader: entries of dead processes are reaped first),
/// `SLOTCAST_ERR_CORRUPT` (the file's cursors are impossible).
///
/// Thread safety: any thread, concurrently with other calls.
///
/// # Safety
///
/// * `runtime` is null or a handle from this library that was not freed.
/// * `out` is valid for a write of a pointer (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_runtime_reader(
    runtime: *mut slotcast_runtime,
    out: *mut *mut slotcast_reader,
) -> c_int {
    call(|| {
        // SAFETY: `out` is null or writable (contract).
        unsafe { clear_out(out) }?;
        // SAFETY: `runtime` is null or a live handle (contract).
        let handle = unsafe { RuntimeHandle::get(runtime.cast(), RUNTIME) }?;
        let reader = handle.with(|rt| Ok(rt.reader()?))?;
        let state = ReaderState::new(reader);
        // SAFETY: `out` is writable (checked non-null above).
        unsafe { put(out, Handle::create(READER, state).cast::<slotcast_reader>()) }
    })
}

/// Joins the runtime as a reader with the policy and start `flags` chooses
/// (0, or `SLOTCAST_READER_LOSSY` and `SLOTCAST_READER_FROM_OLDEST` or-ed),
/// and stores the reader handle in `*out`. `flags` 0 is
/// `slotcast_runtime_reader`: a gating reader starting at the next event.
/// A lossy reader holds the writer back only inside a read call, never
/// between calls.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_INVALID_ARGUMENT` (unknown
/// flag bits), `SLOTCAST_ERR_BAD_HANDLE`, `SLOTCAST_ERR_CLOSED`,
/// `SLOTCAST_ERR_TOO_MANY_READERS`, `SLOTCAST_ERR_CORRUPT`, as
/// `slotcast_runtime_reader`.
///
/// Thread safety: any thread, concurrently with other calls.
///
/// # Safety
///
/// * `runtime` is null or a handle from this library that was not freed.
/// * `out` is valid for a write of a pointer (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_runtime_reader_with(
    runtime: *mut slotcast_runtime,
    flags: u32,
    out: *mut *mut slotcast_reader,
) -> c_int {
    call(|| {
        // SAFETY: `out` is null or writable (contract).
        unsafe { clear_out(out) }?;
        // SAFETY: `runtime` is null or a live handle (contract).
        let handle = unsafe { RuntimeHandle::get(runtime.cast(), RUNTIME) }?;
        let known = SLOTCAST_READER_LOSSY | SLOTCAST_READER_FROM_OLDEST;
        if flags & !known != 0 {
            return Err(Failure::with(SLOTCAST_ERR_INVALID_ARGUMENT, format!("unknown reader flags {flags:#x}")));
        }
        let policy = if flags & SLOTCAST_READER_LOSSY != 0 { Policy::Lossy } else { Policy::Gating };
        let start = if flags & SLOTCAST_READER_FROM_OLDEST != 0 { StartAt::Oldest } else { StartAt::Now };
        let options = ReaderOptions::new().policy(policy).start_at(start);
        let reader = handle.with(|rt| Ok(rt.reader_with(options)?))?;
        let state = ReaderState::new(reader);
        // SAFETY: `out` is writable (checked non-null above).
        unsafe { put(out, Handle::create(READER, state).cast::<slotcast_reader>()) }
    })
}

/// Stores a snapshot of the runtime's statistics in `*stats`.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
/// `SLOTCAST_ERR_CLOSED`.
///
/// Thread safety: any thread, concurrently with other calls. It only loads
/// from the arena: it costs the writer and readers nothing.
///
/// # Safety
///
/// * `runtime` is null or a handle from this library that was not freed.
/// * `stats` is valid for a write of a `slotcast_stats` (null is reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_runtime_stats(runtime: *mut slotcast_runtime, stats: *mut slotcast_stats) -> c_int {
    call(|| {
        if stats.is_null() {
            return Err(Failure::with(SLOTCAST_ERR_NULL, "the stats pointer is null"));
        }
        // SAFETY: `runtime` is null or a live handle (contract).
        let handle = unsafe { RuntimeHandle::get(runtime.cast(), RUNTIME) }?;
        let s = handle.with(|rt| Ok(rt.stats()))?;
        let mut out = slotcast_stats {
            published: s.published,
            writer_pid: s.writer_pid.unwrap_or(0),
            readers: s.readers.len() as u64,
            max_lag: s.max_lag(),
            processes: s.processes.len() as u64,
            pools: Default::default(),
        };
        for (o, p) in out.pools.iter_mut().zip(&s.pools) {
            *o = slotcast_pool_stats {
                slots: p.slots as u64,
                in_ring: p.in_ring as u64,
                retained: p.retained as u64,
                in_use: p.in_use as u64,
            };
        }
        // SAFETY: `stats` is non-null (checked) and writable (contract).
        unsafe { put(stats, out) }
    })
}

/// Closes the runtime handle: the process lets go of the runtime once its
/// writer and readers are closed too (for a shared runtime, the last
/// process removes the file). Later calls on the handle return
/// `SLOTCAST_ERR_CLOSED`; free it with `slotcast_runtime_free`.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`,
/// `SLOTCAST_ERR_CLOSED` (already closed).
///
/// Thread safety: any thread, concurrently with other calls on the handle
/// (it waits for the call in progress).
///
/// # Safety
///
/// * `runtime` is null or a handle from this library that was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_runtime_close(runtime: *mut slotcast_runtime) -> c_int {
    // SAFETY: `runtime` is null or a live handle (contract).
    call(|| unsafe { RuntimeHandle::close(runtime.cast(), RUNTIME) })
}

/// Closes the runtime handle if it is open, and frees it. The pointer is
/// invalid afterwards.
///
/// Errors: `SLOTCAST_ERR_NULL`, `SLOTCAST_ERR_BAD_HANDLE`.
///
/// Thread safety: the last call on the handle; not concurrent with any
/// other call on it.
///
/// # Safety
///
/// * `runtime` is null or a handle from this library that was not freed,
///   and no other call on it is in progress or follows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn slotcast_runtime_free(runtime: *mut slotcast_runtime) -> c_int {
    // SAFETY: `runtime` is null or a live handle used by nobody else (contract).
    call(|| unsafe { RuntimeHandle::free(runtime.cast(), RUNTIME) })
}
