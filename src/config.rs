//! A runtime's configuration: plain data, exactly what an arena's header
//! records, and the one place that writes it to the header, reads it back
//! and checks every field's range.
//!
//! The builder (`builder.rs`), an opener of a shared file (`shm/linux.rs`)
//! and the C ABI's config check (`ffi/runtime.rs`) all check a configuration
//! through [`Config::check`], which names the field that is out of range
//! ([`Invalid`]); each turns that into its own error ([`BuildError`],
//! [`OpenError::Config`], a C status code). Where the arena lives (heap,
//! anonymous mapping, a file and its mode) is not part of it: the builder
//! keeps that.

use crate::error::{AllocError, BuildError, OpenError, PublishError};
use crate::event::SizeClass;
use crate::layout::{ArenaLayout, FLAG_SHARED, IdentityLine, MAX_SLOTS_PER_CLASS};
use crate::sync::Ordering::*;
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
            Unfit::NoSlots(class) => PublishError::NoSlots(class),
        }
    }
}

/// A validated runtime configuration: what the arena's header records. Build
/// one with [`Runtime::builder`](crate::Runtime::builder) and
/// [`Builder::config`](crate::Builder::config); a runtime's is
/// [`Runtime::config`](crate::Runtime::config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) slots: [u32; SizeClass::COUNT],
    pub(crate) ring_capacity: u32,
    pub(crate) max_readers: u32,
    pub(crate) max_processes: u32,
    pub(crate) wait: WaitStrategy,
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

    /// The class whose pool serves `class`: `class` itself if it has slots,
    /// else the next larger class that has; `None` if neither it nor any
    /// larger class has slots. The allocator, and retains of XS events,
    /// allocate so; the writer publishes events of class S and up so (an
    /// event with no class is refused), while XS events are carried in the
    /// ring and need no pool.
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
    /// [`publish_bytes`](crate::Writer::publish_bytes) and
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

    /// The default wait strategy of every reader and writer of the runtime
    /// (each may choose its own).
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// Bytes of memory the arena of this configuration occupies, all of it
    /// fixed at creation.
    ///
    /// ```
    /// // 2000 x 64 B + 1000 x 256 B + 300 x 1 KB + 60 x 4 KB + 15 x 16 KB of
    /// // slots, their metadata and header words, a ring of 4096 entries of
    /// // 128 B (each carries an XS event) and 16 reader lines.
    /// let config = slotcast::Runtime::builder().config().unwrap();
    /// assert_eq!(config.arena_len(), 1_765_376);
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

    /// The one validator: checks every field's range and that the arena
    /// can be laid out, naming the first field that is wrong.
    pub(crate) fn check(raw: &RawConfig) -> Result<Config, Invalid> {
        let cap = raw.ring_capacity;
        if !cap.is_power_of_two() || !(2..=u64::from(Self::MAX_RING_CAPACITY)).contains(&cap) {
            return Err(Invalid::RingCapacity(cap));
        }
        if !(1..=u64::from(Self::MAX_READERS)).contains(&raw.max_readers) {
            return Err(Invalid::MaxReaders(raw.max_readers));
        }
        if !(1..=u64::from(Self::MAX_PROCESSES)).contains(&raw.max_processes) {
            return Err(Invalid::MaxProcesses(raw.max_processes));
        }
        let mut slots = [0u32; SizeClass::COUNT];
        for class in SizeClass::ALL {
            let n = raw.slots[class.index()];
            if n > u64::from(Self::MAX_SLOTS_PER_CLASS) {
                return Err(Invalid::Slots(class, n));
            }
            slots[class.index()] = n as u32;
        }
        if slots.iter().all(|&n| n == 0) {
            return Err(Invalid::NoSlots);
        }
        let config = Config {
            slots,
            // The ranges above fit a `u32`.
            ring_capacity: cap as u32,
            max_readers: raw.max_readers as u32,
            max_processes: raw.max_processes as u32,
            wait: raw.wait,
            shared: raw.shared,
        };
        config.try_layout().map_err(|_| Invalid::ArenaTooLarge(slots.iter().map(|&n| u64::from(n)).sum()))?;
        Ok(config)
    }

    /// Writes the configuration words of a fresh arena's header (the rest
    /// of its identity line is the arena's, `arena::initialise`).
    pub(crate) fn write_header(&self, id: &IdentityLine) {
        // ORDERING: Relaxed; published by the Release store of `magic` in
        // `arena::initialise`, ORDERING(init).
        id.ring_capacity.store(u64::from(self.ring_capacity), Relaxed);
        id.max_readers.store(u64::from(self.max_readers), Relaxed);
        for class in SizeClass::ALL {
            id.slots[class.index()].store(u64::from(self.slots[class.index()]), Relaxed);
        }
        id.wait_strategy.store(WaitStrategy::to_word(self.wait), Relaxed);
        id.max_processes.store(self.max_processes() as u64, Relaxed);
        id.flags.store(if self.shared { FLAG_SHARED } else { 0 }, Relaxed);
    }

    /// Reads the configuration words of a header and checks them (see
    /// [`check`](Config::check)), naming the field that is wrong; `flags`
    /// must be 0 or [`FLAG_SHARED`].
    #[cfg_attr(
        any(loom, miri, not(target_os = "linux")),
        allow(dead_code, reason = "an opener of a shared file (shm/linux.rs) only reads a header")
    )]
    pub(crate) fn read_header(id: &IdentityLine) -> Result<Config, OpenError> {
        // ORDERING: Relaxed; the opener's Acquire load of `magic`,
        // ORDERING(init), ordered these after the creator's writes.
        let word = |w: &crate::sync::AtomicU64| w.load(Relaxed);
        let flags = word(&id.flags);
        if flags & !FLAG_SHARED != 0 {
            return Err(OpenError::Config { field: "flags", value: flags });
        }
        let wait_word = word(&id.wait_strategy);
        let wait =
            WaitStrategy::from_word(wait_word).ok_or(OpenError::Config { field: "wait_strategy", value: wait_word })?;
        let raw = RawConfig {
            slots: id.slots.each_ref().map(word),
            ring_capacity: word(&id.ring_capacity),
            max_readers: word(&id.max_readers),
            max_processes: word(&id.max_processes),
            wait,
            shared: flags == FLAG_SHARED,
        };
        Ok(Config::check(&raw)?)
    }
}

/// A configuration before it is checked, every number as wide as the
/// header's words so that nothing is cut before the range check sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawConfig {
    pub(crate) slots: [u64; SizeClass::COUNT],
    pub(crate) ring_capacity: u64,
    pub(crate) max_readers: u64,
    pub(crate) max_processes: u64,
    pub(crate) wait: WaitStrategy,
    pub(crate) shared: bool,
}

impl From<&Config> for RawConfig {
    fn from(c: &Config) -> Self {
        RawConfig {
            slots: c.slots.map(u64::from),
            ring_capacity: u64::from(c.ring_capacity),
            max_readers: u64::from(c.max_readers),
            max_processes: u64::from(c.max_processes),
            wait: c.wait,
            shared: c.shared,
        }
    }
}

/// The field of a configuration that is out of range, and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not a power of two from 2 to [`Config::MAX_RING_CAPACITY`].
    RingCapacity(u64),
    /// Not from 1 to [`Config::MAX_READERS`].
    MaxReaders(u64),
    /// Not from 1 to [`Config::MAX_PROCESSES`].
    MaxProcesses(u64),
    /// Over [`Config::MAX_SLOTS_PER_CLASS`] slots in this class.
    Slots(SizeClass, u64),
    /// Every class has 0 slots.
    NoSlots,
    /// The arena would not fit in the address space (the total slot count).
    ArenaTooLarge(u64),
}

impl Invalid {
    /// The field's name, as [`OpenError::Config`] reports it: the class's
    /// name for a slot count.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Invalid::RingCapacity(_) => "ring_capacity",
            Invalid::MaxReaders(_) => "max_readers",
            Invalid::MaxProcesses(_) => "max_processes",
            Invalid::Slots(class, _) => class.name(),
            Invalid::NoSlots | Invalid::ArenaTooLarge(_) => "slots",
        }
    }

    /// The value found.
    pub(crate) fn value(self) -> u64 {
        match self {
            Invalid::RingCapacity(v)
            | Invalid::MaxReaders(v)
            | Invalid::MaxProcesses(v)
            | Invalid::Slots(_, v)
            | Invalid::ArenaTooLarge(v) => v,
            Invalid::NoSlots => 0,
        }
    }
}

impl From<Invalid> for BuildError {
    fn from(invalid: Invalid) -> Self {
        let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        match invalid {
            Invalid::RingCapacity(v) => BuildError::RingCapacity { requested: n(v) },
            Invalid::MaxReaders(v) => BuildError::MaxReaders { requested: n(v) },
            Invalid::MaxProcesses(v) => BuildError::MaxProcesses { requested: n(v) },
            Invalid::Slots(class, v) => BuildError::TooManySlots { class, requested: n(v) },
            Invalid::NoSlots => BuildError::NoSlots,
            Invalid::ArenaTooLarge(_) => BuildError::ArenaTooLarge,
        }
    }
}

impl From<Invalid> for OpenError {
    fn from(invalid: Invalid) -> Self {
        OpenError::Config { field: invalid.field(), value: invalid.value() }
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
            shared: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_validator_names_the_field_and_its_value() {
        let good = RawConfig::from(&Config::default());
        let with = |f: fn(&mut RawConfig)| {
            let mut raw = good.clone();
            f(&mut raw);
            Config::check(&raw).map(|_| ()).map_err(|e| (e.field(), e.value()))
        };
        // Each case: one field out of range, and what the validator names.
        assert_eq!(with(|_| ()), Ok(()));
        assert_eq!(with(|r| r.ring_capacity = 100), Err(("ring_capacity", 100)));
        assert_eq!(with(|r| r.ring_capacity = 1 << 31), Err(("ring_capacity", 1 << 31)));
        assert_eq!(with(|r| r.ring_capacity = 1), Err(("ring_capacity", 1)));
        assert_eq!(with(|r| r.max_readers = 0), Err(("max_readers", 0)));
        assert_eq!(with(|r| r.max_readers = 4097), Err(("max_readers", 4097)));
        assert_eq!(with(|r| r.max_processes = 1025), Err(("max_processes", 1025)));
        assert_eq!(with(|r| r.slots[3] = 1 << 28), Err(("L", 1 << 28)));
        assert_eq!(with(|r| r.slots[0] = u64::MAX), Err(("XS", u64::MAX)));
        assert_eq!(with(|r| r.slots = [0; SizeClass::COUNT]), Err(("slots", 0)));
        // The same fault, as each caller reports it.
        let fault = Invalid::Slots(SizeClass::M, 1 << 30);
        assert!(matches!(
            BuildError::from(fault),
            BuildError::TooManySlots { class: SizeClass::M, requested } if requested == 1 << 30
        ));
        assert!(matches!(OpenError::from(fault), OpenError::Config { field: "M", value } if value == 1 << 30));
    }
}
