//! Shared runtimes on Linux: file, mapping, validation, OFD locks.

use super::OpenOptions;
use crate::arena::{Arena, Region, initialise};
use crate::config::{Backing, Config, SharedFile};
use crate::error::{BuildError, OpenError};
use crate::event::SizeClass;
use crate::layout::{FLAG_SHARED, FORMAT_VERSION, Header, IdentityLine, LAYOUT_HASH, MAGIC, process_state};
use crate::process::reap;
use crate::sync::{AtomicU64, Ordering::*};
use crate::wait::WaitStrategy;
use std::fs::{File, Permissions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
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
/// open file closes, which death does.
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

    /// Takes `byte` exclusively, waiting for its holder.
    fn lock(&self, byte: i64) -> io::Result<()> {
        self.fcntl(libc::F_OFD_SETLKW, libc::F_WRLCK, byte)
    }

    fn unlock(&self, byte: i64) {
        // Unlocking a byte we hold cannot fail on a valid descriptor.
        let _ = self.fcntl(libc::F_OFD_SETLK, libc::F_UNLCK, byte);
    }
}

/// What a process keeps for a shared runtime it has open.
pub(crate) struct SharedState {
    locks: FileLocks,
    path: PathBuf,
    /// When the last sweep for dead processes ran, in ns since `born`.
    last_sweep: AtomicU64,
    born: Instant,
}

impl SharedState {
    fn new(file: File, path: PathBuf) -> Self {
        Self { locks: FileLocks { file }, path, last_sweep: AtomicU64::new(0), born: Instant::now() }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether process entry `entry` belongs to a live process. `me` is
    /// this handle's own entry (its lock is ours, so probing it would
    /// succeed: it is alive by definition).
    pub(crate) fn is_alive(&self, arena: &Arena, me: Option<usize>, entry: usize) -> bool {
        if Some(entry) == me {
            return true;
        }
        // ORDERING: Acquire; pairs with the Release of the claimer or reaper.
        if arena.processes().get(entry).map(|e| e.state.load(Acquire)) != Some(process_state::ACTIVE) {
            return false;
        }
        match self.locks.try_lock(entry_lock(entry)) {
            Ok(true) => {
                self.locks.unlock(entry_lock(entry));
                false
            }
            // Held, or we cannot tell: never call a live process dead.
            Ok(false) | Err(_) => true,
        }
    }

    /// Looks for dead processes among the active entries other than `me`
    /// and, if `reap_dead`, releases what they held. Returns (live entries,
    /// entries reaped).
    fn census(&self, arena: &Arena, me: Option<usize>, reap_dead: bool) -> (usize, usize) {
        let (mut alive, mut reaped) = (0, 0);
        for (i, entry) in arena.processes().iter().enumerate() {
            // ORDERING: Acquire; as in `is_alive`.
            if Some(i) == me || entry.state.load(Acquire) != process_state::ACTIVE {
                continue;
            }
            match self.locks.try_lock(entry_lock(i)) {
                Ok(true) => {
                    // We hold the dead process's lock: nobody else reaps or
                    // reuses the entry until we let go.
                    if reap_dead {
                        reap(arena, i);
                        reaped += 1;
                    }
                    self.locks.unlock(entry_lock(i));
                }
                Ok(false) | Err(_) => alive += 1,
            }
        }
        (alive, reaped)
    }

    /// Releases what dead processes held, at most once per `SWEEP_EVERY`
    /// unless `force`. Returns whether anything was reaped.
    pub(crate) fn sweep(&self, arena: &Arena, me: usize, force: bool) -> bool {
        let now = self.born.elapsed().as_nanos() as u64;
        // ORDERING: Relaxed; a rate limiter, no data depends on it.
        let last = self.last_sweep.load(Relaxed);
        if !force && now.saturating_sub(last) < SWEEP_EVERY.as_nanos() as u64 {
            return false;
        }
        if self.last_sweep.compare_exchange(last, now, Relaxed, Relaxed).is_err() && !force {
            return false; // another thread of this process is sweeping
        }
        self.census(arena, Some(me), true).1 > 0
    }

    /// The clean-shutdown half: frees our entry and, if no live process uses
    /// the file any more, removes it.
    pub(crate) fn close(&self, arena: &Arena, me: Option<usize>) {
        let Some(me) = me else { return };
        let door = self.locks.lock(DOOR).is_ok();
        let entry = &arena.processes()[me];
        entry.pid.store(0, Relaxed);
        // ORDERING: Release; the next claimer (Acquire) sees the entry clean.
        entry.state.store(process_state::FREE, Release);
        self.locks.unlock(entry_lock(me));
        if door {
            let (alive, _) = self.census(arena, None, false);
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

/// Removes `path` if anything after this point fails.
struct RemoveOnError<'a>(Option<&'a Path>);

impl Drop for RemoveOnError<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Creates the file of a shared runtime and its arena; the creator holds
/// process entry 0.
pub(crate) fn create(config: &Config, file: &SharedFile) -> Result<(Arena, SharedState), BuildError> {
    let layout = config.layout();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(file.mode)
        .open(&file.path)
        .map_err(BuildError::Create)?;
    let mut guard = RemoveOnError(Some(&file.path));
    // The umask may have cleared bits the caller asked for.
    f.set_permissions(Permissions::from_mode(file.mode)).map_err(BuildError::Create)?;
    f.set_len(layout.len as u64).map_err(BuildError::Create)?;
    let map = memmap2::MmapOptions::new().len(layout.len).map_raw(&f).map_err(BuildError::Map)?;
    let (region, base) = Region::mapped(map);
    // SAFETY: a fresh mapping of `layout.len` bytes of a file just extended
    // with zeros, page-aligned.
    let arena = unsafe { Arena::over(region, base, layout, true) };
    let state = SharedState::new(f, file.path.clone());
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
    guard.0 = None;
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
    let deadline = Instant::now() + wait_for_creator;
    let magic = loop {
        // ORDERING(init): Acquire; pairs with the creator's Release store of
        // `magic`, after which every other identity word is written.
        let magic = id.magic.load(Acquire);
        if magic != 0 || Instant::now() >= deadline {
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
    let field = |field: &'static str, value: u64, ok: bool| {
        if ok {
            u32::try_from(value).map_err(|_| OpenError::Config { field, value })
        } else {
            Err(OpenError::Config { field, value })
        }
    };
    let cap = id.ring_capacity.load(Relaxed);
    let ring_capacity = field(
        "ring_capacity",
        cap,
        cap.is_power_of_two() && (2..=u64::from(Config::MAX_RING_CAPACITY)).contains(&cap),
    )?;
    let readers = id.max_readers.load(Relaxed);
    let max_readers = field("max_readers", readers, (1..=u64::from(Config::MAX_READERS)).contains(&readers))?;
    let processes = id.max_processes.load(Relaxed);
    let max_processes = field("max_processes", processes, (1..=u64::from(Config::MAX_PROCESSES)).contains(&processes))?;
    let mut slots = [0u32; SizeClass::COUNT];
    for class in SizeClass::ALL {
        let n = id.slots[class.index()].load(Relaxed);
        slots[class.index()] = field(class.name(), n, n <= u64::from(Config::MAX_SLOTS_PER_CLASS))?;
    }
    if slots.iter().all(|&n| n == 0) {
        return Err(OpenError::Config { field: "slots", value: 0 });
    }
    let word = id.wait_strategy.load(Relaxed);
    let wait = WaitStrategy::from_word(word).ok_or(OpenError::Config { field: "wait_strategy", value: word })?;
    let flags = id.flags.load(Relaxed);
    if flags != FLAG_SHARED {
        return Err(OpenError::Config { field: "flags", value: flags });
    }
    let config =
        Config { slots, ring_capacity, max_readers, max_processes, wait, backing: Backing::default(), shared: true };
    config
        .validate()
        .map_err(|_| OpenError::Config { field: "slots", value: slots.iter().map(|&n| u64::from(n)).sum() })?;
    Ok(config)
}

/// Opens and validates the file at `path`, claims a process entry (unless
/// `observer`), and releases what dead processes left behind.
pub(crate) fn open(path: &Path, options: &OpenOptions, observer: bool) -> Result<Opened, OpenError> {
    let (arena, config, file) = map_and_validate(path, options.wait_for_creator)?;
    let state = SharedState::new(file, path.to_path_buf());
    if observer {
        return Ok(Opened { arena, config, me: None, state });
    }
    state.locks.lock(DOOR)?;
    let claimed = claim_entry(&arena, &state, options);
    state.locks.unlock(DOOR);
    let me = claimed?;
    Ok(Opened { arena, config, me: Some(me), state })
}

/// With the door held: refuses a removed or stale file, reaps dead
/// processes, and claims a free entry.
fn claim_entry(arena: &Arena, state: &SharedState, options: &OpenOptions) -> Result<usize, OpenError> {
    // The last closer removes the file with the door held: if it did so
    // before we got the door, the file we opened is gone.
    if state.locks.file.metadata()?.nlink() == 0 {
        return Err(OpenError::Io(io::Error::from(io::ErrorKind::NotFound)));
    }
    let (alive, _) = state.census(arena, None, false);
    if alive == 0 && !options.recover_stale {
        return Err(OpenError::Stale);
    }
    state.census(arena, None, true);
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

/// See [`crate::remove_stale`].
pub(crate) fn remove_if_stale(path: &Path) -> Result<bool, OpenError> {
    let (arena, _config, file) = map_and_validate(path, Duration::ZERO)?;
    let state = SharedState::new(file, path.to_path_buf());
    state.locks.lock(DOOR)?;
    let (alive, _) = state.census(&arena, None, false);
    let removed = alive == 0 && state.still_our_file() && std::fs::remove_file(path).is_ok();
    state.locks.unlock(DOOR);
    Ok(removed)
}
