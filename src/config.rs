//! Runtime configuration and its builder.

use crate::error::{AllocError, BuildError, FullKind, PublishError};
use crate::event::SizeClass;
use crate::layout::{ArenaLayout, MAX_SLOTS_PER_CLASS};
use crate::runtime::Runtime;
use crate::wait::WaitStrategy;

/// Why no class with slots holds a payload (see [`Config::pick_class`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unfit {
    /// Over [`SizeClass::MAX_PAYLOAD`]: its length.
    TooLarge(usize),
    /// Neither this class, the smallest that fits, nor any larger one has
    /// slots.
    NoSlots(SizeClass),
}

impl From<Unfit> for AllocError {
    fn from(unfit: Unfit) -> Self {
        match unfit {
            Unfit::TooLarge(len) => AllocError::TooLarge { len },
            Unfit::NoSlots(class) => AllocError::NoSlots(class),
        }
    }
}

impl From<Unfit> for PublishError {
    fn from(unfit: Unfit) -> Self {
        match unfit {
            Unfit::TooLarge(len) => PublishError::TooLarge { len },
            Unfit::NoSlots(class) => PublishError::Full(FullKind::NoSlots(class)),
        }
    }
}

/// Where an in-process runtime keeps its arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backing {
    /// An anonymous memory mapping (the default, except under Miri).
    #[cfg_attr(not(miri), default)]
    Anonymous,
    /// Heap memory from the global allocator (the default under Miri, which
    /// cannot map memory).
    #[cfg_attr(miri, default)]
    Heap,
}

/// A validated runtime configuration. Build one with [`Runtime::builder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) slots: [u32; SizeClass::COUNT],
    pub(crate) ring_capacity: u32,
    pub(crate) max_readers: u32,
    pub(crate) max_processes: u32,
    pub(crate) wait: WaitStrategy,
    pub(crate) backing: Backing,
    pub(crate) shared: bool,
}

impl Config {
    /// Default slot counts per class: 2000 XS, 1000 S, 300 M, 60 L, 15 XL.
    pub const DEFAULT_SLOTS: [u32; SizeClass::COUNT] = [2000, 1000, 300, 60, 15];
    /// Default descriptor ring capacity.
    pub const DEFAULT_RING_CAPACITY: u32 = 4096;
    /// Default maximum number of readers joined at once.
    pub const DEFAULT_MAX_READERS: u32 = 16;
    /// Default maximum number of processes using a shared runtime at once.
    pub const DEFAULT_MAX_PROCESSES: u32 = 16;
    /// Largest accepted number of process entries.
    pub const MAX_PROCESSES: u32 = 1024;
    /// Largest accepted ring capacity.
    pub const MAX_RING_CAPACITY: u32 = 1 << 30;
    /// Largest accepted number of reader entries.
    pub const MAX_READERS: u32 = 4096;
    /// Largest accepted number of slots in one class.
    pub const MAX_SLOTS_PER_CLASS: u32 = MAX_SLOTS_PER_CLASS;

    /// Slots in the pool of `class`.
    pub fn slots(&self, class: SizeClass) -> usize {
        self.slots[class.index()] as usize
    }

    /// The class whose pool serves events of `class`: `class` itself if it
    /// has slots, else the next larger class that has; `None` if neither it
    /// nor any larger class has slots (such an event can never be published).
    ///
    /// ```
    /// use slotcast::{Runtime, SizeClass};
    /// let config = Runtime::builder().slots(SizeClass::XS, 0).slots(SizeClass::XL, 0).config().unwrap();
    /// assert_eq!(config.class_for(SizeClass::XS), Some(SizeClass::S));
    /// assert_eq!(config.class_for(SizeClass::L), Some(SizeClass::L));
    /// assert_eq!(config.class_for(SizeClass::XL), None);
    /// ```
    pub fn class_for(&self, class: SizeClass) -> Option<SizeClass> {
        SizeClass::ALL[class.index()..].iter().copied().find(|c| self.slots[c.index()] > 0)
    }

    /// The smallest class with slots that holds `len` payload bytes: what
    /// [`publish_bytes`](crate::Publish::publish_bytes) and
    /// [`try_alloc_bytes`](crate::Allocator::try_alloc_bytes) use. `None`
    /// over [`SizeClass::MAX_PAYLOAD`] or if no class that holds `len` bytes
    /// has slots.
    pub fn class_for_len(&self, len: usize) -> Option<SizeClass> {
        self.class_for(SizeClass::for_len(len)?)
    }

    /// As [`class_for_len`](Config::class_for_len), saying why there is none.
    pub(crate) fn pick_class(&self, len: usize) -> Result<SizeClass, Unfit> {
        let class = SizeClass::for_len(len).ok_or(Unfit::TooLarge(len))?;
        self.class_for(class).ok_or(Unfit::NoSlots(class))
    }

    /// Capacity of the descriptor ring (a power of two).
    pub fn ring_capacity(&self) -> usize {
        self.ring_capacity as usize
    }

    /// Maximum number of readers joined at once.
    pub fn max_readers(&self) -> usize {
        self.max_readers as usize
    }

    /// Maximum number of processes using the runtime at once (1 for an
    /// in-process runtime).
    pub fn max_processes(&self) -> usize {
        if self.shared { self.max_processes as usize } else { 1 }
    }

    /// Whether the runtime lives in a file shared by processes.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// How readers wait for events and the writer for room.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// Where the arena lives.
    pub fn backing(&self) -> Backing {
        self.backing
    }

    /// Bytes of memory the arena of this configuration occupies, all of it
    /// fixed at creation.
    ///
    /// ```
    /// // 2000 x 64 B + 1000 x 256 B + 300 x 1 KB + 60 x 4 KB + 15 x 16 KB of
    /// // slots, their metadata and header words, a 4096-entry ring and 16
    /// // reader lines.
    /// let config = slotcast::Runtime::builder().config().unwrap();
    /// assert_eq!(config.arena_len(), 1_306_624);
    /// ```
    pub fn arena_len(&self) -> usize {
        self.layout().len
    }

    pub(crate) fn layout(&self) -> ArenaLayout {
        self.try_layout().expect("a validated Config always has a layout")
    }

    fn try_layout(&self) -> Result<ArenaLayout, crate::layout::LayoutOverflow> {
        ArenaLayout::new(
            self.ring_capacity(),
            self.max_readers(),
            self.max_processes(),
            self.slots.map(|n| n as usize),
            self.shared,
        )
    }

    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        let cap = self.ring_capacity;
        if !cap.is_power_of_two() || !(2..=Self::MAX_RING_CAPACITY).contains(&cap) {
            return Err(BuildError::RingCapacity { requested: cap as usize });
        }
        if !(1..=Self::MAX_READERS).contains(&self.max_readers) {
            return Err(BuildError::MaxReaders { requested: self.max_readers as usize });
        }
        if !(1..=Self::MAX_PROCESSES).contains(&self.max_processes) {
            return Err(BuildError::MaxProcesses { requested: self.max_processes as usize });
        }
        for class in SizeClass::ALL {
            let n = self.slots[class.index()];
            if n > Self::MAX_SLOTS_PER_CLASS {
                return Err(BuildError::TooManySlots { class, requested: n as usize });
            }
        }
        if self.slots.iter().all(|&n| n == 0) {
            return Err(BuildError::NoSlots);
        }
        self.try_layout().map_err(|_| BuildError::ArenaTooLarge)?;
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            slots: Self::DEFAULT_SLOTS,
            ring_capacity: Self::DEFAULT_RING_CAPACITY,
            max_readers: Self::DEFAULT_MAX_READERS,
            max_processes: Self::DEFAULT_MAX_PROCESSES,
            wait: WaitStrategy::default(),
            backing: Backing::default(),
            shared: false,
        }
    }
}

/// Builds a [`Runtime`]: slot counts, ring capacity, reader limit, wait
/// strategy, backing memory.
///
/// ```
/// use slotcast::{Runtime, SizeClass, WaitStrategy};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::builder()
///     .slots(SizeClass::XS, 4096)
///     .slots(SizeClass::XL, 0)
///     .ring_capacity(8192)
///     .max_readers(4)
///     .wait_strategy(WaitStrategy::Yield)
///     .build()?;
/// assert_eq!(rt.config().slots(SizeClass::XS), 4096);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    config: Config,
    slots_overflow: Option<(SizeClass, usize)>,
    shared: Option<SharedFile>,
}

/// Where and how to create the file of a shared runtime.
#[derive(Clone, Debug)]
pub(crate) struct SharedFile {
    #[cfg_attr(
        any(loom, miri, not(target_os = "linux")),
        allow(
            dead_code,
            reason = "read by the Linux shared mapping (shm/linux.rs) only, which loom and Miri builds leave out"
        )
    )]
    pub(crate) path: std::path::PathBuf,
    pub(crate) mode: u32,
}

impl Builder {
    /// Number of slots in the pool of `class` (0 removes the class).
    pub fn slots(mut self, class: SizeClass, count: usize) -> Self {
        match u32::try_from(count) {
            Ok(n) => self.config.slots[class.index()] = n,
            Err(_) => self.slots_overflow = Some((class, count)),
        }
        self
    }

    /// Capacity of the descriptor ring: a power of two, at least 2. It bounds
    /// how far the slowest reader may fall behind the writer.
    pub fn ring_capacity(mut self, capacity: usize) -> Self {
        self.config.ring_capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        self
    }

    /// Maximum number of readers joined at once.
    pub fn max_readers(mut self, readers: usize) -> Self {
        self.config.max_readers = u32::try_from(readers).unwrap_or(u32::MAX);
        self
    }

    /// How readers wait for events and the writer waits for room.
    pub fn wait_strategy(mut self, wait: WaitStrategy) -> Self {
        self.config.wait = wait;
        self
    }

    /// Where the arena of an in-process runtime lives.
    pub fn backing(mut self, backing: Backing) -> Self {
        self.config.backing = backing;
        self
    }

    /// Creates the runtime in a new file at `path` that other processes can
    /// [`open`](Runtime::open) (on Linux, a path under `/dev/shm` keeps it in
    /// memory). The file is created with mode `0o600` (see
    /// [`mode`](Builder::mode)) and must not exist yet. The last process to
    /// close the runtime removes it.
    pub fn shared(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        let mode = self.shared.as_ref().map_or(0o600, |s| s.mode);
        self.shared = Some(SharedFile { path: path.into(), mode });
        self.config.shared = true;
        self
    }

    /// Permission bits of the shared file (default `0o600`: only the
    /// creating user can open it). Applied exactly, regardless of the umask.
    pub fn mode(mut self, mode: u32) -> Self {
        match &mut self.shared {
            Some(s) => s.mode = mode & 0o777,
            None => self.shared = Some(SharedFile { path: Default::default(), mode: mode & 0o777 }),
        }
        self
    }

    /// Maximum number of processes using a shared runtime at once (default
    /// 16). Each costs a line in the file, and every 64 of them a word of
    /// holder bits per slot.
    pub fn max_processes(mut self, processes: usize) -> Self {
        self.config.max_processes = u32::try_from(processes).unwrap_or(u32::MAX);
        self
    }

    /// Validates the configuration.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the first setting out of range.
    pub fn config(self) -> Result<Config, BuildError> {
        if let Some((class, requested)) = self.slots_overflow {
            return Err(BuildError::TooManySlots { class, requested });
        }
        self.config.validate()?;
        Ok(self.config)
    }

    /// Validates the configuration and creates the runtime's arena (and,
    /// with [`shared`](Builder::shared), its file).
    ///
    /// # Errors
    ///
    /// A [`BuildError`] for a setting out of range, if the memory cannot be
    /// mapped, or if the shared file cannot be created.
    pub fn build(self) -> Result<Runtime, BuildError> {
        let shared = self.shared.clone();
        let config = self.config()?;
        match shared {
            Some(file) if config.shared => Runtime::create_shared(config, &file),
            _ => Runtime::with_config(config),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_named() {
        let b = Builder::default;
        // Each case: the builder and the error it must produce.
        assert!(matches!(b().ring_capacity(1000).config(), Err(BuildError::RingCapacity { requested: 1000 })));
        assert!(matches!(b().ring_capacity(1).config(), Err(BuildError::RingCapacity { .. })));
        assert!(matches!(b().ring_capacity(1 << 31).config(), Err(BuildError::RingCapacity { .. })));
        assert!(matches!(b().max_readers(0).config(), Err(BuildError::MaxReaders { requested: 0 })));
        assert!(matches!(b().max_readers(5000).config(), Err(BuildError::MaxReaders { .. })));
        assert!(matches!(b().max_processes(0).config(), Err(BuildError::MaxProcesses { requested: 0 })));
        assert!(matches!(b().max_processes(1025).config(), Err(BuildError::MaxProcesses { .. })));
        assert!(matches!(
            b().slots(SizeClass::M, 1 << 28).config(),
            Err(BuildError::TooManySlots { class: SizeClass::M, .. })
        ));
        assert!(matches!(
            b().slots(SizeClass::L, usize::MAX).config(),
            Err(BuildError::TooManySlots { class: SizeClass::L, .. })
        ));
        let none = SizeClass::ALL.iter().fold(b(), |b, &c| b.slots(c, 0));
        assert!(matches!(none.config(), Err(BuildError::NoSlots)));
    }

    #[test]
    fn defaults_are_the_classic_table() {
        let c = Builder::default().config().unwrap();
        assert_eq!(c.slots, [2000, 1000, 300, 60, 15]);
        assert_eq!(c.ring_capacity(), 4096);
    }
}
