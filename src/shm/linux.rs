//! Shared runtimes on Linux: file, mapping, validation, OFD locks.

use super::OpenOptions;
use crate::arena::{Arena, Region, initialise};
use crate::config::Config;
use crate::error::{BuildError, OpenError};
use crate::layout::{FORMAT_VERSION, Header, IdentityLine, LAYOUT_HASH, MAGIC, process_state};
use crate::process::reap;
use crate::sync::{AtomicU64, Ordering::*};
use std::ffi::CString;
use std::fs::{File, Permissions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// First lock byte: far beyond the end of any arena (locks need not lie
/// inside the file, and must not be confused with data).
const LOCK_BASE: i64 = 1 << 40;
/// Held while a process opens the file (claims an entry) or closes it
/// (decides whether it is the last and removes the file).
const DOOR: i64 = LOCK_BASE;

/// The lock byte of process entry `entry`.
fn entry_lock(entry: usize) -> i64 {
    LOCK_BASE + 1 + entry as i64
}

/// Minimum time between two sweeps for dead processes triggered by a full
/// ring or pool: bounds the `fcntl` calls a blocked writer makes, and is the
/// bound on how long a dead reader can gate it (plus one sweep).
const SWEEP_EVERY: Duration = Duration::from_millis(1);

/// Byte locks owned by one open file description of the arena file.
///
/// Open-file-description locks (`F_OFD_*`) belong to the open file, not the
/// process: two opens in one process exclude each other like two
/// processes, and the kernel releases them when the last descriptor of the
/// open file closes, which death does. Inside one open file they exclude
/// nothing: every thread of the process (and a forked child, which shares
/// the description) takes a byte already held without waiting, and an
/// unlock from any of them releases it. [`SharedState`] serialises its
/// threads itself and keeps forked children away.
struct FileLocks {
    file: File,
}

impl FileLocks {
    fn fcntl(&self, cmd: libc::c_int, kind: libc::c_int, byte: i64) -> io::Result<()> {
        let mut lock = libc::flock {
            l_type: kind as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: byte,
            l_len: 1,
            // Must be 0 for OFD locks.
            l_pid: 0,
        };
        loop {
            // SAFETY: `file` is an open descriptor and `lock` a valid, fully
            // initialised `struct flock` that outlives the call.
            let r = unsafe { libc::fcntl(self.file.as_raw_fd(), cmd, &mut lock) };
            if r != -1 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Takes `byte` exclusively if nobody else holds it.
    fn try_lock(&self, byte: i64) -> io::Result<bool> {
        match self.fcntl(libc::F_OFD_SETLK, libc::F_WRLCK, byte) {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether another open file description holds `byte`, without taking
    /// it (`F_OFD_GETLK`): a probe that never makes a third party, probing
    /// at the same moment, take a dead process for a live one.
    fn is_held(&self, byte: i64) -> io::Result<bool> {
        let mut lock = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: byte,
            l_len: 1,
            // Must be 0 for OFD locks.
            l_pid: 0,
        };
        loop {
            // SAFETY: `file` is an open descriptor and `lock` a valid, fully
            // initialised `struct flock` that outlives the call.
            let r = unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
            if r != -1 {
                return Ok(lock.l_type != libc::F_UNLCK as libc::c_short);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Takes `byte` exclusively, waiting for its holder.
    fn lock(&self, byte: i64) -> io::Result<()> {
        self.fcntl(libc::F_OFD_SETLKW, libc::F_WRLCK, byte)
    }

    fn unlock(&self, byte: i64) {
        // Unlocking a byte we hold cannot fail on a valid descriptor.
        let _ = self.fcntl(libc::F_OFD_SETLK, libc::F_UNLCK, byte);
    }
}

/// Bumped in the child of every `fork` of this process (see [`fork_epoch`]).
static FORK_EPOCH: AtomicU64 = AtomicU64::new(0);

/// The `pthread_atfork` child handler: runs in the child, in its only
/// thread, before `fork` returns there.
extern "C" fn forked_child() {
    // ORDERING: Relaxed; the child's only thread reads it later in program
    // order, and no other process or thread ever sees this copy.
    FORK_EPOCH.fetch_add(1, Relaxed);
}

/// This process's fork epoch: 0 in the process that opened nothing before
/// forking, one more in each generation of forked children. Registers the
/// handler that counts forks, once per process (children inherit it).
fn fork_epoch() -> u64 {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `forked_child` is a valid `extern "C" fn()` that lives as
        // long as the program and only does an atomic increment, which is
        // async-signal-safe, as a handler run after `fork` must be.
        let r = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
        // Fails only without memory for the handler list (ENOMEM): then a
        // forked child cannot be told from its parent, as before.
        debug_assert_eq!(r, 0, "pthread_atfork");
    });
    // ORDERING: Relaxed; see `forked_child`.
    FORK_EPOCH.load(Relaxed)
}

/// How many `fork`s separate this process from the first process of its
/// line that used slotcast: a state made at a lower epoch was made by an
/// ancestor. One relaxed load: handles compare it on their paths.
#[inline]
pub(crate) fn current_fork_epoch() -> u64 {
    // ORDERING: Relaxed; see `forked_child`.
    FORK_EPOCH.load(Relaxed)
}

/// What a process keeps for a shared runtime it has open.
pub(crate) struct SharedState {
    locks: FileLocks,
    /// The file's path, resolved (absolute, no symlinks) at create or open,
    /// so the last closer removes the real file whatever the working
    /// directory or symlinks it was named through.
    path: PathBuf,
    /// When the last sweep for dead processes ran, in ns since `born`.
    last_sweep: AtomicU64,
    born: Instant,
    /// Held around every probe, lock, census, reap and close through
    /// `locks`: the byte locks exclude other open file descriptions, not
    /// the threads of this one (see [`FileLocks`]).
    serial: SerialMutex,
    /// [`fork_epoch`] when the file was created or opened: another value
    /// means this is a forked child's copy (see [`SharedState::forked`]).
    epoch: u64,
    /// Called by `census` with an entry's lock taken, before reaping it: a
    /// test pauses there to probe what another thread can do meanwhile.
    #[cfg(test)]
    reap_hook: std::sync::OnceLock<Box<dyn Fn(usize) + Send + Sync>>,
}

/// Proof that the caller holds [`SharedState::serial`].
type Serial<'a> = MutexGuard<'a, ()>;

/// A std mutex, not the `sync` shim's: this module is never built under
/// loom (it needs files, locks and processes loom cannot model).
#[allow(clippy::disallowed_types)]
type SerialMutex = std::sync::Mutex<()>;

impl SharedState {
    fn new(file: File, path: PathBuf) -> Self {
        Self {
            locks: FileLocks { file },
            path,
            last_sweep: AtomicU64::new(0),
            born: Instant::now(),
            serial: SerialMutex::new(()),
            epoch: fork_epoch(),
            #[cfg(test)]
            reap_hook: std::sync::OnceLock::new(),
        }
    }

    /// The file's resolved path (see the field).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this process is a `fork` of the one that created or opened
    /// the file. A forked child shares its parent's open file description,
    /// so its parent's locks, and its copy of the parent's process entry:
    /// it must neither probe, reap nor close through this state (it would
    /// release locks its parent holds, free its parent's entry or remove
    /// the file under it). [`close`](Self::close), [`sweep`](Self::sweep)
    /// and [`is_alive`](Self::is_alive) do nothing in a forked child; the
    /// handles refuse to be used there. A relaxed load and a compare.
    pub(crate) fn forked(&self) -> bool {
        // ORDERING: Relaxed; see `forked_child`.
        FORK_EPOCH.load(Relaxed) != self.epoch
    }

    /// The fork epoch this state was made in (see [`current_fork_epoch`]).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Serialises this process's threads around the byte locks.
    fn serial(&self) -> Serial<'_> {
        // Poisoned only by a panic in a census or close; the locks and the
        // entries are as consistent as they were before it.
        self.serial.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether process entry `entry` belongs to a live process. `me` is
    /// this handle's own entry (its lock is ours, so probing it would
    /// succeed: it is alive by definition). Waits for a census or close
    /// running on another thread of this process (the probe takes and
    /// releases the entry's lock, which would release theirs). In a forked
    /// child: true (it cannot tell, and must not probe).
    pub(crate) fn is_alive(&self, arena: &Arena, me: Option<usize>, entry: usize) -> bool {
        if Some(entry) == me || self.forked() {
            return true;
        }
        let _serial = self.serial();
        // ORDERING: Acquire; pairs with the Release of the claimer or reaper.
        if arena.processes().get(entry).map(|e| e.state.load(Acquire)) != Some(process_state::ACTIVE) {
            return false;
        }
        // Held, or we cannot tell: never call a live process dead.
        self.locks.is_held(entry_lock(entry)).unwrap_or(true)
    }

    /// Looks for dead processes among the active entries other than `me`
    /// and, if `reap_dead`, releases what they held. Returns (live entries,
    /// entries reaped). The caller holds `serial`, so no other thread of
    /// this process takes or releases an entry's lock meanwhile.
    fn census(&self, _serial: &Serial<'_>, arena: &Arena, me: Option<usize>, reap_dead: bool) -> (usize, usize) {
        let (mut alive, mut reaped) = (0, 0);
        for (i, entry) in arena.processes().iter().enumerate() {
            // ORDERING: Acquire; as in `is_alive`.
            if Some(i) == me || entry.state.load(Acquire) != process_state::ACTIVE {
                continue;
            }
            if !reap_dead {
                // Counting only: probe without taking the lock.
                match self.locks.is_held(entry_lock(i)) {
                    Ok(false) => {}
                    Ok(true) | Err(_) => alive += 1,
                }
                continue;
            }
            match self.locks.try_lock(entry_lock(i)) {
                Ok(true) => {
                    // We hold the dead process's lock: no other process
                    // (lock) and no other thread of ours (`serial`) reaps or
                    // reuses the entry until we let go.
                    #[cfg(test)]
                    if let Some(hook) = self.reap_hook.get() {
                        hook(i);
                    }
                    reap(arena, i);
                    reaped += 1;
                    self.locks.unlock(entry_lock(i));
                }
                Ok(false) | Err(_) => alive += 1,
            }
        }
        (alive, reaped)
    }

    /// Releases what dead processes held, at most once per `SWEEP_EVERY`
    /// unless `force`. Returns whether anything was reaped. Nothing in a
    /// forked child.
    pub(crate) fn sweep(&self, arena: &Arena, me: usize, force: bool) -> bool {
        if self.forked() {
            return false;
        }
        let now = self.born.elapsed().as_nanos() as u64;
        // ORDERING: Relaxed; a rate limiter, no data depends on it.
        let last = self.last_sweep.load(Relaxed);
        if !force && now.saturating_sub(last) < SWEEP_EVERY.as_nanos() as u64 {
            return false;
        }
        if self.last_sweep.compare_exchange(last, now, Relaxed, Relaxed).is_err() && !force {
            return false; // another thread of this process is sweeping
        }
        let serial = self.serial();
        self.census(&serial, arena, Some(me), true).1 > 0
    }

    /// The clean-shutdown half: frees our entry and, if no live process uses
    /// the file any more, removes it. Nothing in a forked child: the entry,
    /// its lock and the file are its parent's.
    pub(crate) fn close(&self, arena: &Arena, me: Option<usize>) {
        let Some(me) = me else { return };
        if self.forked() {
            return;
        }
        let serial = self.serial();
        let door = self.locks.lock(DOOR).is_ok();
        let entry = &arena.processes()[me];
        entry.pid.store(0, Relaxed);
        // ORDERING: Release; the next claimer (Acquire) sees the entry clean.
        entry.state.store(process_state::FREE, Release);
        self.locks.unlock(entry_lock(me));
        if door {
            let (alive, _) = self.census(&serial, arena, None, false);
            if alive == 0 && self.still_our_file() {
                let _ = std::fs::remove_file(&self.path);
            }
            self.locks.unlock(DOOR);
        }
    }

    /// Whether `path` still names the file we have open (not a newer file
    /// created at the same path after ours was removed).
    fn still_our_file(&self) -> bool {
        match (std::fs::metadata(&self.path), self.locks.file.metadata()) {
            (Ok(at_path), Ok(ours)) => at_path.dev() == ours.dev() && at_path.ino() == ours.ino(),
            _ => false,
        }
    }
}

/// Removes `path` when dropped (unless disarmed).
struct RemoveOnDrop<'a>(Option<&'a Path>);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `path` with its directory resolved (absolute, no symlinks): where a new
/// file named by `path` will be, whatever the working directory later.
fn resolve_new(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the shared file's path names no file"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Ok(std::fs::canonicalize(dir)?.join(name))
}

/// Bytes an unprivileged process may still allocate on the file system
/// holding `dir`.
fn free_space(dir: &Path) -> io::Result<u64> {
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `statvfs` is plain old data; all zeros is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated string and `st` a valid out-pointer,
    // both alive for the call.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::useless_conversion)] // `fsblkcnt_t` and `c_ulong` are 32 bits on some targets
    Ok(u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// Allocates every block of the first `len` bytes of `f` (extending it with
/// zeros), so no page fault on the mapping can find the file system full.
fn reserve(f: &File, len: u64, dir: &Path) -> Result<(), BuildError> {
    let off = libc::off_t::try_from(len).map_err(|_| BuildError::ArenaTooLarge)?;
    loop {
        // SAFETY: `f` is an open descriptor, opened for writing.
        let r = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, off) };
        match r {
            0 => return Ok(()),
            libc::EINTR => continue,
            libc::ENOSPC => {
                return Err(BuildError::NoSpace { needed: len, available: free_space(dir).unwrap_or(0) });
            }
            errno => return Err(BuildError::Create(io::Error::from_raw_os_error(errno))),
        }
    }
}

/// A fresh name beside `path` for the file being made.
fn temp_name(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // ORDERING: Relaxed; only uniqueness matters.
    let n = NEXT.fetch_add(1, Relaxed);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.{n}.slotcast-new", std::process::id()))
}

/// Creates the file of a shared runtime and its arena; the creator holds
/// process entry 0.
///
/// The file is made complete under a temporary name in the same directory
/// (space reserved, arena initialised, entry 0 locked) and only then linked
/// at `path`, so an opener never sees it half-made; the link fails if
/// the path exists (`AlreadyExists`, symlinks included). The temporary name
/// is removed in every case (locks belong to the file, not the name).
pub(crate) fn create(config: &Config, path: &Path, mode: u32) -> Result<(Arena, SharedState), BuildError> {
    let layout = config.layout();
    let needed = layout.len as u64;
    let path = resolve_new(path).map_err(BuildError::Create)?;
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    // Refuse at once what cannot fit, rather than filling a memory-backed
    // file system page by page.
    let available = free_space(&dir).map_err(BuildError::Create)?;
    if needed > available {
        return Err(BuildError::NoSpace { needed, available });
    }
    let temp = temp_name(&path);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(BuildError::Create)?;
    let _temp = RemoveOnDrop(Some(&temp));
    // The umask may have cleared bits the caller asked for.
    f.set_permissions(Permissions::from_mode(mode)).map_err(BuildError::Create)?;
    reserve(&f, needed, &dir)?;
    let map = memmap2::MmapOptions::new().len(layout.len).map_raw(&f).map_err(BuildError::Map)?;
    let (region, base) = Region::mapped(map);
    // SAFETY: a fresh mapping of `layout.len` bytes of a file just extended
    // with zeros (every block allocated), page-aligned.
    let arena = unsafe { Arena::over(region, base, layout, true) };
    let state = SharedState::new(f, path.clone());
    state.locks.lock(DOOR).map_err(BuildError::Create)?;
    let claimed = state.locks.try_lock(entry_lock(0));
    if claimed.as_ref().is_ok_and(|&ok| ok) {
        initialise(arena.header(), arena.processes(), arena.layout(), config);
    }
    state.locks.unlock(DOOR);
    match claimed {
        Ok(true) => {}
        Ok(false) => return Err(BuildError::Create(io::Error::other("the new file's first entry lock is taken"))),
        Err(e) => return Err(BuildError::Create(e)),
    }
    // Complete: publish it under its name (never replacing anything).
    std::fs::hard_link(&temp, &path).map_err(BuildError::Create)?;
    Ok((arena, state))
}

/// A validated, opened shared arena.
pub(crate) struct Opened {
    pub(crate) arena: Arena,
    pub(crate) config: Config,
    /// Our process entry (`None` for an observer).
    pub(crate) me: Option<usize>,
    pub(crate) state: SharedState,
}

/// Maps `path` and validates it (see the module docs of `shm`).
fn map_and_validate(path: &Path, wait_for_creator: Duration) -> Result<(Arena, Config, File), OpenError> {
    let f = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
    let len = f.metadata()?.len();
    let header_len = size_of::<Header>() as u64;
    if len < header_len {
        return Err(OpenError::Truncated { len, required: header_len });
    }
    let len_usize = usize::try_from(len).map_err(|_| OpenError::Truncated { len, required: header_len })?;
    let map = memmap2::MmapOptions::new().len(len_usize).map_raw(&f)?;
    let (region, base) = Region::mapped(map);
    // SAFETY: the mapping is at least a header long and page-aligned; the
    // header holds only atomics, valid for any bits. The reference does not
    // outlive this function, and `region` (which owns the mapping) lives
    // until then: it moves into the arena below, and the mapping does not
    // move with it.
    let header: &Header = unsafe { base.cast::<Header>().as_ref() };
    let config = validate_identity(&header.identity, wait_for_creator)?;
    let layout = config.layout();
    // ORDERING: Relaxed; ordered after the Acquire load of `magic`.
    let recorded = header.identity.arena_len.load(Relaxed);
    if recorded != layout.len as u64 {
        return Err(OpenError::Length { recorded, computed: layout.len as u64 });
    }
    if layout.len as u64 > len {
        return Err(OpenError::Truncated { len, required: layout.len as u64 });
    }
    // SAFETY: the region maps the whole file, at least `layout.len` bytes
    // (checked), page-aligned, holding an arena of this layout (checked
    // identity); the arena reads it only through atomics and the payload
    // protocol, and bounds-checks everything it reads.
    let arena = unsafe { Arena::over(region, base, layout, true) };
    Ok((arena, config, f))
}

/// Reads and checks the identity line; returns the configuration it
/// describes.
fn validate_identity(id: &IdentityLine, wait_for_creator: Duration) -> Result<Config, OpenError> {
    // `None`: a wait too long for an `Instant` (`Duration::MAX`, say) waits
    // as long as it takes, rather than overflow.
    let deadline = Instant::now().checked_add(wait_for_creator);
    let magic = loop {
        // ORDERING(init): Acquire; pairs with the creator's Release store of
        // `magic`, after which every other identity word is written.
        let magic = id.magic.load(Acquire);
        if magic != 0 || deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            break magic;
        }
        crate::sync::sleep(Duration::from_millis(1));
    };
    match magic {
        MAGIC => {}
        0 => return Err(OpenError::Uninitialized),
        other => return Err(OpenError::Foreign { magic: other }),
    }
    // ORDERING: Relaxed for the rest; ordered after the Acquire above.
    let version = id.version.load(Relaxed);
    if version != FORMAT_VERSION {
        return Err(OpenError::Version { found: version, expected: FORMAT_VERSION });
    }
    let hash = id.layout_hash.load(Relaxed);
    if hash != LAYOUT_HASH {
        return Err(OpenError::Layout { found: hash, expected: LAYOUT_HASH });
    }
    let config = Config::read_header(id)?;
    if !config.is_shared() {
        // ORDERING: Relaxed; as above.
        return Err(OpenError::Config { field: "flags", value: id.flags.load(Relaxed) });
    }
    Ok(config)
}

/// Opens and validates the file at `path`, claims a process entry (unless
/// `observer`), and releases what dead processes left behind.
/// The path is resolved first (absolute, no symlinks), so the last closer
/// removes the real file.
pub(crate) fn open(path: &Path, options: &OpenOptions, observer: bool) -> Result<Opened, OpenError> {
    let path = std::fs::canonicalize(path)?;
    let (arena, config, file) = map_and_validate(&path, options.wait_for_creator)?;
    let state = SharedState::new(file, path);
    if observer {
        return Ok(Opened { arena, config, me: None, state });
    }
    let serial = state.serial();
    state.locks.lock(DOOR)?;
    let claimed = claim_entry(&serial, &arena, &state, options);
    state.locks.unlock(DOOR);
    drop(serial);
    let me = claimed?;
    Ok(Opened { arena, config, me: Some(me), state })
}

/// With the door held: refuses a removed or stale file, reaps dead
/// processes, and claims a free entry.
fn claim_entry(
    serial: &Serial<'_>,
    arena: &Arena,
    state: &SharedState,
    options: &OpenOptions,
) -> Result<usize, OpenError> {
    // The last closer removes the file with the door held: if it did so
    // before we got the door, the file we opened is gone.
    if state.locks.file.metadata()?.nlink() == 0 {
        return Err(OpenError::Io(io::Error::from(io::ErrorKind::NotFound)));
    }
    let (alive, _) = state.census(serial, arena, None, false);
    if alive == 0 && !options.recover_stale {
        return Err(OpenError::Stale);
    }
    state.census(serial, arena, None, true);
    for (i, entry) in arena.processes().iter().enumerate() {
        if state.locks.try_lock(entry_lock(i))? {
            // ORDERING: Acquire; pairs with the Release of the last reaper.
            if entry.state.load(Acquire) != process_state::FREE {
                // Its owner died after our census: ours to clean.
                reap(arena, i);
            }
            entry.pid.store(u64::from(std::process::id()), Relaxed);
            entry.epoch.fetch_add(1, Relaxed);
            // ORDERING: Release; pairs with the Acquire of other processes
            // reading the entry (census, stats).
            entry.state.store(process_state::ACTIVE, Release);
            return Ok(i);
        }
    }
    Err(OpenError::TooManyProcesses { max: arena.processes().len() })
}

/// See [`crate::remove_stale`]. Removes the real file (the path is
/// resolved first), not a symlink to it.
pub(crate) fn remove_if_stale(path: &Path) -> Result<bool, OpenError> {
    let path = std::fs::canonicalize(path)?;
    let (arena, _config, file) = map_and_validate(&path, Duration::ZERO)?;
    let state = SharedState::new(file, path);
    let serial = state.serial();
    state.locks.lock(DOOR)?;
    let (alive, _) = state.census(&serial, &arena, None, false);
    let removed = alive == 0 && state.still_our_file() && std::fs::remove_file(&state.path).is_ok();
    state.locks.unlock(DOOR);
    Ok(removed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_types)] // the tests coordinate their own threads with std types
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicBool, AtomicI32};

    fn temp_path(tag: &str) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Relaxed);
        PathBuf::from("/dev/shm").join(format!("slotcast-unit-{tag}-{}-{n}", std::process::id()))
    }

    /// The scheduler state of thread `tid` of this process ('R', 'S', ...).
    fn thread_state(tid: i32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        stat[stat.rfind(')')? + 1..].trim_start().chars().next()
    }

    /// Creates a file, opens it a second time and lets that open die (its
    /// description closes without `close`: entry 1 stays active, its lock
    /// free). Then a forced sweep reaps entry 1 and pauses with its lock
    /// held, while another thread runs `probe`. Returns whether entry 1's
    /// lock was still held (seen from a third open file description) once
    /// the probe finished or blocked, and what the sweep and the probe
    /// returned.
    fn probe_while_reaping(probe: impl Fn(&Arena, &SharedState) -> bool + Sync) -> (bool, bool, bool) {
        let path = temp_path("reap-lock");
        let config = crate::Runtime::builder().shared(&path).config().unwrap();
        let (arena, state) = create(&config, &path, 0o600).unwrap();
        let dead = open(&path, &OpenOptions::new(), false).unwrap();
        assert_eq!(dead.me, Some(1));
        drop(dead);
        let paused = crate::sync::Arc::new(Barrier::new(2));
        let resume = crate::sync::Arc::new(Barrier::new(2));
        let (p, r) = (paused.clone(), resume.clone());
        let first = AtomicBool::new(true);
        let hook: Box<dyn Fn(usize) + Send + Sync> = Box::new(move |entry| {
            // Only the first reap pauses (a second one is the defect).
            if entry == 1 && first.swap(false, Relaxed) {
                p.wait();
                r.wait();
            }
        });
        assert!(state.reap_hook.set(hook).is_ok());
        let tid = AtomicI32::new(0);
        let done = AtomicBool::new(false);
        let result = std::thread::scope(|s| {
            let reaper = s.spawn(|| state.sweep(&arena, 0, true));
            paused.wait(); // the reaper holds entry 1's lock, about to reap
            let prober = s.spawn(|| {
                // SAFETY: gettid has no preconditions.
                tid.store(unsafe { libc::gettid() }, Relaxed);
                let r = probe(&arena, &state);
                done.store(true, Release);
                r
            });
            // Until the probe has finished, or is asleep (blocked: the only
            // thing it can sleep on is the reaper).
            while !done.load(Acquire) {
                let t = tid.load(Relaxed);
                if t != 0 && thread_state(t) == Some('S') {
                    break;
                }
                crate::sync::yield_now();
            }
            // Write access: a write lock needs it. Whatever happens, resume
            // the reaper, or the scope would wait for it forever.
            let other = std::fs::OpenOptions::new().read(true).write(true).open(&path);
            let held = other.map(|file| FileLocks { file }.try_lock(entry_lock(1)).map(|free| !free));
            resume.wait();
            let held = held.unwrap().unwrap();
            (held, reaper.join().unwrap(), prober.join().unwrap())
        });
        state.close(&arena, Some(0));
        assert!(!path.exists());
        result
    }

    #[test]
    fn probing_liveness_does_not_release_a_lock_another_thread_reaps_under() {
        let (held, swept, alive) = probe_while_reaping(|arena, state| state.is_alive(arena, Some(0), 1));
        assert!(held, "a liveness probe on another thread released the reaper's lock");
        assert!(swept, "the sweep reaped the dead entry");
        assert!(!alive, "the reaped entry is not alive");
    }

    #[test]
    fn two_forced_sweeps_do_not_reap_one_entry_twice() {
        let (held, first, second) = probe_while_reaping(|arena, state| state.sweep(arena, 0, true));
        assert!(held, "a second sweep released the first one's lock");
        assert!(first, "the first sweep reaped the dead entry");
        assert!(!second, "the second sweep found nothing left to reap");
    }
}
