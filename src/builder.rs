//! The builder of a [`Runtime`]: its configuration (what the header
//! records, `config.rs`) and its placement (where the arena lives, which
//! only the builder knows).

use crate::arena::Backing;
use crate::config::{Config, RawConfig};
use crate::error::BuildError;
use crate::event::SizeClass;
use crate::runtime::Runtime;
use crate::wait::WaitStrategy;
use std::path::PathBuf;

/// Where a new runtime's arena lives.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Placement {
    /// In this process only: heap memory or an anonymous mapping.
    Memory(Backing),
    /// In a new file other processes can open.
    File(PathBuf),
}

/// Builds a [`Runtime`]: slot counts, ring capacity, reader limit, wait
/// strategy, and where the arena lives (in process, or in a file shared by
/// processes).
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
///
/// # Sizing the pools
///
/// Every event of class S and up occupies a slot of its class from
/// publication until every reader has passed it and no
/// [`RingPtr`](crate::RingPtr) holds it. So the events of one class in
/// flight at once are at most the ring capacity (published, not yet read by
/// the slowest reader) plus the events of that class retained; a class needs
/// at least as many slots as events of that class can be unread or retained
/// at once. When a class runs out first, `try_*` publishing returns
/// [`Full`](crate::Full) for that pool although the ring has room, and the
/// waiting forms wait for a slot.
///
/// XS events (up to 64 bytes) are carried in their ring entry and take no
/// slot: the XS pool serves only retains of them (each retain copies the
/// event into an XS slot, or the next larger class with slots) and the
/// [`Allocator`](crate::Allocator). Size it for the XS events retained or
/// allocated at once.
///
/// With the defaults (a 4096-entry ring; 2000 XS, 1000 S, 300 M, 60 L and
/// 15 XL slots) only the smallest events can use the whole ring: a stream
/// of 4 KB events (class L) has at most 60 in flight, not 4096, and a
/// stream of 16 KB events 15. Size each class for its own traffic:
///
/// ```
/// use slotcast::{Runtime, SizeClass};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // 4 KB events, a reader up to 1024 events behind, 100 retained at once.
/// let ring = 1024;
/// let rt = Runtime::builder().ring_capacity(ring).slots(SizeClass::L, ring + 100).build()?;
/// assert_eq!(rt.config().slots(SizeClass::L), 1124);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    config: RawConfig,
    placement: Placement,
    mode: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            config: RawConfig::from(&Config::default()),
            placement: Placement::Memory(Backing::default()),
            mode: 0o600,
        }
    }
}

impl Runtime {
    /// A builder with the default configuration.
    ///
    /// ```
    /// let rt = slotcast::Runtime::builder().ring_capacity(64).build().unwrap();
    /// assert_eq!(rt.config().ring_capacity(), 64);
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A runtime with the default configuration (see [`Config`]).
    ///
    /// ```
    /// let rt = slotcast::Runtime::new().unwrap();
    /// assert_eq!(rt.config(), &slotcast::Runtime::builder().config().unwrap());
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError::Map`] if the arena cannot be mapped.
    pub fn new() -> Result<Runtime, BuildError> {
        Self::builder().build()
    }
}

fn wide(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Builder {
    /// Number of slots in the pool of `class` (0 removes the class). See
    /// [Sizing the pools](Builder#sizing-the-pools): a class needs at least
    /// as many slots as events of that class can be unread or retained at
    /// once, up to the ring capacity plus the retained ones (XS: retained
    /// or allocated only, since XS events are carried in the ring).
    ///
    /// ```
    /// use slotcast::{Runtime, SizeClass};
    /// let config = Runtime::builder().slots(SizeClass::L, 5000).config().unwrap();
    /// assert_eq!(config.slots(SizeClass::L), 5000);
    /// ```
    pub fn slots(mut self, class: SizeClass, count: usize) -> Self {
        self.config.slots[class.index()] = wide(count);
        self
    }

    /// Capacity of the descriptor ring: a power of two, at least 2. It bounds
    /// how far the slowest reader may fall behind the writer.
    pub fn ring_capacity(mut self, capacity: usize) -> Self {
        self.config.ring_capacity = wide(capacity);
        self
    }

    /// Maximum number of readers joined at once.
    pub fn max_readers(mut self, readers: usize) -> Self {
        self.config.max_readers = wide(readers);
        self
    }

    /// The default of how each reader waits for events and the writer for
    /// room; each handle may choose its own (`Reader::set_wait_strategy`,
    /// `Writer::set_wait_strategy`). A process opening a shared file gets
    /// the creator's choice as its default.
    pub fn wait_strategy(mut self, wait: WaitStrategy) -> Self {
        self.config.wait = wait;
        self
    }

    /// Keeps the arena in this process, in `backing` memory (the default:
    /// an anonymous mapping). Replaces an earlier [`shared`](Builder::shared).
    ///
    /// ```
    /// use slotcast::{Backing, Runtime};
    /// let rt = Runtime::builder().backing(Backing::Heap).build().unwrap();
    /// assert!(!rt.config().is_shared() && rt.path().is_none());
    /// ```
    pub fn backing(mut self, backing: Backing) -> Self {
        self.placement = Placement::Memory(backing);
        self
    }

    /// Creates the runtime in a new file at `path` that other processes can
    /// [`open`](Runtime::open) (on Linux, a path under `/dev/shm` keeps it in
    /// memory). The file is created with mode `0o600` unless
    /// [`mode`](Builder::mode) says otherwise, and must not exist yet. The
    /// last process to close the runtime removes it. Replaces an earlier
    /// [`backing`](Builder::backing).
    pub fn shared(mut self, path: impl Into<PathBuf>) -> Self {
        self.placement = Placement::File(path.into());
        self
    }

    /// Permission bits of a shared runtime's file (default `0o600`: only the
    /// creating user can open it), applied exactly, regardless of the umask.
    /// Only a file has a mode: it applies whether it is set before or after
    /// [`shared`](Builder::shared), and a runtime kept in process ignores it.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), slotcast::BuildError> {
    /// let _rt = slotcast::Runtime::builder().mode(0o660).shared("/dev/shm/quotes").build()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o777;
        self
    }

    /// Maximum number of processes using a shared runtime at once (default
    /// 16). Each costs a line in the file, and every 64 of them a word of
    /// holder bits per slot.
    pub fn max_processes(mut self, processes: usize) -> Self {
        self.config.max_processes = wide(processes);
        self
    }

    /// A builder of exactly `config`, placed by default (in process).
    #[cfg(all(feature = "capi", not(loom)))]
    pub(crate) fn with_config(config: &Config) -> Self {
        Builder { config: RawConfig::from(config), ..Builder::default() }
    }

    /// Validates the configuration.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the first setting out of range.
    pub fn config(&self) -> Result<Config, BuildError> {
        let shared = matches!(self.placement, Placement::File(_));
        Ok(Config::check(&RawConfig { shared, ..self.config.clone() })?)
    }

    /// Validates the configuration and creates the runtime's arena (and,
    /// with [`shared`](Builder::shared), its file).
    ///
    /// # Errors
    ///
    /// A [`BuildError`] for a setting out of range, if the memory cannot be
    /// mapped, or if the shared file cannot be created.
    pub fn build(self) -> Result<Runtime, BuildError> {
        let config = self.config()?;
        match self.placement {
            Placement::Memory(backing) => Runtime::in_memory(config, backing),
            Placement::File(path) => Runtime::create_file(config, &path, self.mode),
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
            Err(BuildError::TooManySlots { class: SizeClass::L, requested: usize::MAX })
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

    #[test]
    fn placement_is_the_last_one_asked_for_and_mode_goes_with_the_file() {
        let path = PathBuf::from("/dev/shm/x");
        // `mode` before `shared` is kept for the file, never a file of its own.
        let b = Builder::default().mode(0o640);
        assert_eq!(b.placement, Placement::Memory(Backing::default()));
        let b = b.shared(&path);
        assert_eq!((&b.placement, b.mode), (&Placement::File(path.clone()), 0o640));
        assert!(b.config().unwrap().is_shared());
        // `backing` after `shared` keeps the arena in process.
        let b = b.backing(Backing::Heap);
        assert_eq!(b.placement, Placement::Memory(Backing::Heap));
        assert!(!b.config().unwrap().is_shared());
    }
}
