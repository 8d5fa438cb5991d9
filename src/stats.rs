//! Snapshots of cursors, lags and pool occupancy.
//!
//! Collecting reads the arena with relaxed loads while the writer and
//! readers run: a snapshot, consistent only when they are quiet. It touches
//! no hot-path state (only loads), so it costs the writer and readers
//! nothing but the cache lines it reads.

use crate::event::SizeClass;
use crate::holders;
use crate::layout::{CURSOR_PIN, header_word, meta, process_state, reader_state, slot_word};
use crate::lifetime::ArenaCtl;
use crate::policy::Policy;
use crate::sync::Ordering::*;

/// A snapshot of a runtime. See [`Runtime::stats`](crate::Runtime::stats).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Number of events published so far.
    pub published: u64,
    /// Process id of the writer's process, if a writer holds the role.
    pub writer_pid: Option<u64>,
    /// The joined readers.
    pub readers: Vec<ReaderStats>,
    /// The processes using the runtime (one, in process).
    pub processes: Vec<ProcessStats>,
    /// One entry per size class, in [`SizeClass::ALL`] order.
    pub pools: Vec<PoolStats>,
}

impl Stats {
    /// The entry of `class`.
    pub fn pool(&self, class: SizeClass) -> &PoolStats {
        &self.pools[class.index()]
    }

    /// The largest lag of any reader (0 without readers).
    pub fn max_lag(&self) -> u64 {
        self.readers.iter().map(|r| r.lag).max().unwrap_or(0)
    }
}

/// One joined reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReaderStats {
    /// Index of its entry in the reader table.
    pub entry: usize,
    /// Process id of its process.
    pub pid: u64,
    /// Next sequence it will read.
    pub cursor: u64,
    /// Published events it has not read.
    pub lag: u64,
    /// Whether its process is alive (a dead one's reader gates the writer
    /// until a live process reaps it).
    pub alive: bool,
    /// Its policy: a lossy reader gates the writer only while it reads.
    pub policy: Policy,
    /// Events it lost to the writer lapping it (lossy readers; 0 otherwise).
    pub lost: u64,
}

/// One process using the runtime, an entry of [`Stats::processes`].
///
/// ```
/// use slotcast::{ProcessStats, Runtime};
/// let rt = Runtime::new().unwrap();
/// let _writer = rt.writer().unwrap();
/// let me: &ProcessStats = &rt.stats().processes[0];
/// assert!(me.alive && me.writer);
/// assert_eq!(me.pid, u64::from(std::process::id()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessStats {
    /// Index of its process entry.
    pub entry: usize,
    /// Its process id.
    pub pid: u64,
    /// Whether it is alive.
    pub alive: bool,
    /// Whether it holds the writer role.
    pub writer: bool,
    /// Slots its `RingPtr`s hold (shared runtimes; 0 in process, where
    /// retained slots are counted per pool only).
    pub retained: usize,
}

/// Occupancy of one pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// The class.
    pub class: SizeClass,
    /// Slots in the pool.
    pub slots: usize,
    /// Slots holding an event some reader has not read yet (always 0 for
    /// XS: XS events are carried in the ring entry, not in a slot).
    pub in_ring: usize,
    /// Slots held by at least one `RingPtr`.
    pub retained: usize,
    /// Slots in use: in the ring, retained (or both), or being filled by an
    /// allocator.
    pub in_use: usize,
    /// Slots the writer keeps for reuse (includes its in-ring slots).
    pub writer_owned: usize,
}

/// Slots process entry `entry` holds (its holder bits).
fn retained_by(arena: &crate::arena::Arena, entry: usize) -> usize {
    SizeClass::ALL
        .iter()
        .map(|&class| {
            (0..arena.slot_count(class))
                .filter(|&slot| arena.holder_words(class, slot).is_some_and(|bits| holders::has_bit(bits, entry)))
                .count()
        })
        .sum()
}

impl Stats {
    pub(crate) fn collect(ctl: &ArenaCtl) -> Stats {
        let arena = &ctl.arena;
        // ORDERING: Acquire; pairs with the writer's Release store, so the
        // descriptors below the value read are the ones it published.
        let published = arena.header().published.value.load(Acquire);
        // ORDERING: Relaxed for the rest; a snapshot.
        let owner = arena.header().writer.owner.load(Relaxed);
        let processes: Vec<ProcessStats> = arena
            .processes()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.state.load(Relaxed) == process_state::ACTIVE)
            .map(|(entry, e)| ProcessStats {
                entry,
                pid: e.pid.load(Relaxed),
                alive: ctl.is_alive(entry),
                writer: owner == entry as u64 + 1,
                retained: retained_by(arena, entry),
            })
            .collect();
        let writer_pid = usize::try_from(owner.wrapping_sub(1))
            .ok()
            .and_then(|entry| arena.processes().get(entry))
            .map(|e| e.pid.load(Relaxed));
        let mut readers = Vec::new();
        for (entry, e) in arena.readers().iter().enumerate() {
            let state = e.state.load(Relaxed);
            let policy = match reader_state::kind(state) {
                reader_state::ACTIVE => Policy::Gating,
                reader_state::LOSSY => Policy::Lossy,
                _ => continue,
            };
            // A lossy reader's cursor is pinned while it reads.
            let cursor = e.cursor.load(Relaxed) & !CURSOR_PIN;
            let pid = e.pid.load(Relaxed);
            let alive = reader_state::owner(state).is_some_and(|p| ctl.is_alive(p));
            let lost = e.lost.load(Relaxed);
            let lag = published.saturating_sub(cursor);
            readers.push(ReaderStats { entry, pid, cursor, lag, alive, policy, lost });
        }
        let cap = arena.layout().ring_capacity as u64;
        let oldest = readers.iter().map(|r| r.cursor).min().unwrap_or(published);
        let oldest = oldest.max(published.saturating_sub(cap));

        let mut used: Vec<Vec<bool>> = SizeClass::ALL.iter().map(|&c| vec![false; arena.slot_count(c)]).collect();
        let mut in_ring = [0usize; SizeClass::COUNT];
        for seq in oldest..published {
            let d = arena.descriptor(seq);
            // ORDERING: Relaxed; ordered after the Acquire load of
            // `published` above (a snapshot: the writer may overwrite it).
            let (c, slot, _) = slot_word::unpack(d.slot.load(Relaxed));
            let (len, _) = header_word::unpack(d.header.load(Relaxed));
            let Some(class) = SizeClass::from_index(c) else { continue };
            if len as usize > class.capacity() {
                continue;
            }
            if let Some(flag) = used[c].get_mut(slot as usize) {
                if !*flag {
                    *flag = true;
                    in_ring[c] += 1;
                }
            }
        }
        let pools = SizeClass::ALL
            .iter()
            .map(|&class| {
                let c = class.index();
                let (mut retained, mut in_use, mut writer_owned) = (0, in_ring[c], 0);
                for (slot, word) in arena.metas(class).iter().enumerate() {
                    // ORDERING: Relaxed; a snapshot.
                    let m = word.load(Relaxed);
                    if meta::is_ring(m) {
                        writer_owned += 1;
                    }
                    if meta::is_filling(m) {
                        // Its refcount field names the filler.
                        in_use += 1;
                    } else if meta::refcount(m) > 0 {
                        retained += 1;
                        if !used[c][slot] {
                            in_use += 1;
                        }
                    }
                }
                PoolStats { class, slots: arena.slot_count(class), in_ring: in_ring[c], retained, in_use, writer_owned }
            })
            .collect();
        Stats { published, writer_pid, readers, processes, pools }
    }
}
