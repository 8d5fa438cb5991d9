//! Damaged files and a peer that scribbles on a live one: every step ends in
//! a value or an error, never a panic, an abort, a crash or a hang.
//!
//! * `corrupted_files`: 10,000 seeds. Each copies a snapshot of a shared
//!   runtime (one taken while two opens held a writer, readers, retained,
//!   allocated and half-filled slots; one of a quiet file), overwrites 1 to 4
//!   random words (anywhere: header, reader table, process table, ring
//!   descriptors, slot metadata, payload, the holder words after the
//!   pools) with values chosen to hit limits (0, small, near 2^28, 2^29,
//!   2^30, 2^31, 2^32, 2^63, `u64::MAX`, the old value nudged or a bit
//!   flipped) and sometimes truncates the copy, then opens it with
//!   `recover_stale` and uses everything: the writer role, a reader,
//!   publishing, reading, retaining, cloning, upgrading handles (including a
//!   handle for every slot with the generation the file records), the
//!   allocator, statistics and an observer, then drops it all. For a
//!   quarter of the seeds the damage is written into the file halfway
//!   instead, after publishing, reading and retaining, as a buggy peer
//!   would: then it reaches the words of the opener's own process entry,
//!   reader and pointers, which recovery at open would have cleaned.
//! * `live_scribbler`: a writer process and two reader processes run on a
//!   file while this process writes random words at random offsets of it;
//!   each child must then exit by itself, with status 0, before its
//!   deadline. Errors are expected and counted; wrong data is allowed by the
//!   trust model, crashes are not.
//!
//! Every step that could abort or crash runs in a child process (this same
//! executable, re-run with `SLOTCAST_CORRUPT_ROLE` set), so an abort, a
//! `SIGSEGV`/`SIGBUS`, a panic or a hang (no progress for 10 s: killed) is
//! reported with the seed and the step that caused it. Run it with overflow
//! checks on, where a wrapped counter or cursor panics instead of passing
//! silently: `cargo test --profile checked --test corrupt` (`.ci/test` does).
//!
//! Reproduce one seed: `SLOTCAST_CORRUPT_SEED=1234 cargo test --profile
//! checked --test corrupt -- corrupted_files`; fewer seeds:
//! `SLOTCAST_CORRUPT_SEEDS=500`.
#![allow(clippy::disallowed_methods)] // the test paces its own processes with std::thread::sleep
#![allow(clippy::disallowed_types)] // and coordinates its own threads with std types

mod common;

use slotcast::{Config, Handle, Observer, OpenOptions, RingPtr, Runtime, SizeClass, WaitStrategy};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

const ROLE: &str = "SLOTCAST_CORRUPT_ROLE";
/// Seeds of `corrupted_files` (the bar: 10,000).
const SEEDS: u64 = 10_000;
/// Seeds per child process.
const PER_CHILD: u64 = 250;
/// Children running at once.
const PARALLEL: usize = 2;
/// A child that reports no progress for this long is hung: killed, and the
/// seed it was on reported.
const STALL: Duration = Duration::from_secs(10);
/// Mixes the seed number into the random sequence.
const SEED_BASE: u64 = 0xC0_22_0B_7E_D5_EE_D0_00;

/// The configuration of every file here: small, so that random offsets hit
/// the interesting words often and a seed runs in a few milliseconds.
fn small() -> slotcast::Builder {
    Runtime::builder()
        .ring_capacity(64)
        .max_readers(4)
        .max_processes(4)
        .slots(SizeClass::XS, 48)
        .slots(SizeClass::S, 20)
        .slots(SizeClass::M, 12)
        .slots(SizeClass::L, 8)
        .slots(SizeClass::XL, 8)
        .wait_strategy(WaitStrategy::Blocking)
}

/// Bytes per ring entry (`layout::RING_ENTRY`): a 16-byte descriptor, then
/// an XS event's payload (`layout::INLINE_OFFSET`).
const RING_ENTRY: usize = 128;
const INLINE_OFFSET: usize = 16;

/// Payload lengths of the events published here, in turn: every class,
/// the small ones most.
const MIXED: [usize; 10] = [8, 100, 8, 700, 8, 3000, 8, 100, 8, 9000];

// ---------------------------------------------------------------------------
// Where the words are.

/// Byte offsets of the parts of an arena, as `src/layout.rs` lays them out
/// up to the end of the pools (checked on a live file in `base_images`, so
/// that a format change this copy misses fails loudly instead of aiming the
/// damage at the wrong words). What lies after the pools (the holder words:
/// per slot, one bit per process) is damaged as u64 words.
#[derive(Clone, Debug)]
struct Layout {
    readers: usize,
    max_readers: usize,
    processes: usize,
    max_processes: usize,
    ring: usize,
    ring_capacity: usize,
    /// Per class: (offset of the metadata words, offset of the slots, count).
    pools: [(usize, usize, usize); SizeClass::COUNT],
    /// Per class: offset of the slot header words.
    headers: [usize; SizeClass::COUNT],
    /// The holder words: from the end of the pools to the end.
    tables: usize,
    len: usize,
}

const LINE: usize = 128;

fn line(x: usize) -> usize {
    x.div_ceil(LINE) * LINE
}

impl Layout {
    fn of(config: &Config) -> Layout {
        let mut at = 11 * LINE;
        let readers = at;
        at = line(at + config.max_readers() * LINE);
        let processes = at;
        at = line(at + config.max_processes() * LINE);
        let ring = at;
        at = line(at + config.ring_capacity() * RING_ENTRY);
        let mut pools = [(0, 0, 0); SizeClass::COUNT];
        let mut headers = [0; SizeClass::COUNT];
        for class in SizeClass::ALL {
            let n = config.slots(class);
            let metas = at;
            at = line(at + n * 8);
            headers[class.index()] = at;
            at = line(at + n * 8);
            let slots = at;
            at = line(at + n * class.capacity());
            pools[class.index()] = (metas, slots, n);
        }
        let len = config.arena_len();
        assert!(config.is_shared() && at < len, "tests/corrupt.rs: no holder words after the pools");
        Layout {
            readers,
            max_readers: config.max_readers(),
            processes,
            max_processes: config.max_processes(),
            ring,
            ring_capacity: config.ring_capacity(),
            pools,
            headers,
            tables: at,
            len,
        }
    }

    /// A word to damage: its offset and width in bytes (8, or 4 for the
    /// wake line's u32 words). Weighted towards the words that counters,
    /// cursors and indices live in.
    fn pick(&self, rng: &mut fastrand::Rng) -> (&'static str, usize, usize) {
        match rng.u32(..100) {
            // Identity: magic, version, hash, length, configuration.
            0..3 => ("identity", rng.usize(..14) * 8, 8),
            // Writer owner and epoch, published, gate, want flags, hints.
            3..18 => {
                let words = [128, 136, 256, 384, 640, 648, 656, 664, 672, 768, 896, 1024, 1152, 1280];
                ("header", words[rng.usize(..words.len())], 8)
            }
            18..20 => ("wake", 512 + 4 * rng.usize(..2), 4),
            // Reader entries: cursor, state + owner, pid.
            20..34 => ("reader table", self.readers + rng.usize(..self.max_readers) * LINE + 8 * rng.usize(..3), 8),
            // Process entries: state, pid, epoch.
            34..44 => {
                ("process table", self.processes + rng.usize(..self.max_processes) * LINE + 8 * rng.usize(..3), 8)
            }
            // Descriptors: slot word, header word.
            44..60 => ("ring", self.ring + rng.usize(..self.ring_capacity) * RING_ENTRY + 8 * rng.usize(..2), 8),
            // Slot metadata words.
            60..76 => {
                let (metas, _, n) = self.pools[self.nonempty_class(rng)];
                ("slot metadata", metas + rng.usize(..n) * 8, 8)
            }
            // Slot header words (length and type, for upgrades).
            76..80 => {
                let c = self.nonempty_class(rng);
                ("slot header", self.headers[c] + rng.usize(..self.pools[c].2) * 8, 8)
            }
            // Payload bytes.
            80..84 => {
                let c = self.nonempty_class(rng);
                let (_, slots, n) = self.pools[c];
                ("payload", slots + rng.usize(..n * SizeClass::ALL[c].capacity() / 8) * 8, 8)
            }
            // The holder words after the pools.
            _ => ("holder words", self.tables + rng.usize(..(self.len - self.tables) / 8) * 8, 8),
        }
    }

    fn nonempty_class(&self, rng: &mut fastrand::Rng) -> usize {
        loop {
            let c = rng.usize(..SizeClass::COUNT);
            if self.pools[c].2 > 0 {
                return c;
            }
        }
    }
}

/// A damaging value for a word that held `old`.
fn nasty(rng: &mut fastrand::Rng, old: u64, width: usize) -> u64 {
    let near = |rng: &mut fastrand::Rng, x: u64| x.wrapping_add_signed(rng.i64(-2..=2));
    let v = match rng.u32(..16) {
        0 => 0,
        1 => rng.u64(1..5),
        2 => near(rng, 1 << 28),
        3 => near(rng, 1 << 29),
        4 => near(rng, 1 << 30),
        5 => near(rng, 1 << 31),
        6 => near(rng, 1 << 32),
        7 => 1 << 63,
        8 => u64::MAX - rng.u64(..3),
        9 => rng.u64(..),
        // The old value nudged (a cursor a ring ahead or behind, a count
        // one off) or with one bit flipped.
        10 => old.wrapping_add_signed(rng.i64(-130..=130)),
        11 => old ^ (1 << rng.u32(..64)),
        // A metadata-shaped word: same generation, a count or flag near
        // the limits (2^28 is the refcount limit, 2^29..2^31 the flags).
        12 => {
            let bit = rng.u32(27..32);
            (old & !((1 << 32) - 1)) | near(rng, 1 << bit) & 0xFFFF_FFFF
        }
        // The same count, another generation.
        13 => old ^ (u64::from(rng.u32(1..)) << 32),
        // u32-shaped limits (the old ledger words' limit was 2^30).
        14 => near(rng, u64::from(u32::MAX)) & 0xFFFF_FFFF,
        _ => near(rng, 3 << 30) & 0xFFFF_FFFF,
    };
    if width == 4 { v & 0xFFFF_FFFF } else { v }
}

fn read_word(bytes: &[u8], at: usize, width: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..width].copy_from_slice(&bytes[at..at + width]);
    u64::from_le_bytes(b)
}

fn write_word(bytes: &mut [u8], at: usize, width: usize, value: u64) {
    bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
}

/// The damaged copy of `images[seed % 2]` for `seed`, and what was done.
/// The damage done for one seed.
struct Damage {
    /// The file to open: the damaged copy, or (`late`) the intact one.
    bytes: Vec<u8>,
    /// `(offset, width, value)` of every damaged word.
    words: Vec<(usize, usize, u64)>,
    /// Written into the file after it was opened and used (a quarter of the
    /// seeds), as a buggy peer would: then the damage reaches what the
    /// opener's own process entry, reader and pointers use.
    late: bool,
    what: String,
}

/// The damage of `seed`, done to a copy of `images[seed % 2]`.
fn corrupted(images: &[Vec<u8>; 2], layout: &Layout, seed: u64) -> Damage {
    let mut rng = fastrand::Rng::with_seed(SEED_BASE ^ seed);
    let mut bytes = images[(seed % 2) as usize].clone();
    let late = rng.u32(..4) == 0;
    let mut what = vec![if late { "after open:" } else { "before open:" }.to_string()];
    let mut words = Vec::new();
    for _ in 0..rng.usize(1..=4) {
        let (part, at, width) = layout.pick(&mut rng);
        let old = read_word(&bytes, at, width);
        let new = nasty(&mut rng, old, width);
        if !late {
            write_word(&mut bytes, at, width, new);
        }
        words.push((at, width, new));
        what.push(format!("{part}@{at}:{old:#x}->{new:#x}"));
    }
    // Truncation only before open: a file cut under a live mapping kills it
    // with SIGBUS, which no mapping can prevent (see the README).
    if !late && rng.u32(..100) < 6 {
        let len = match rng.u32(..3) {
            0 => rng.usize(..bytes.len()),
            1 => rng.usize(..bytes.len() / 4096) * 4096,
            _ => bytes.len() - rng.usize(1..64),
        };
        bytes.truncate(len);
        what.push(format!("truncated to {len}"));
    }
    Damage { bytes, words, late, what: what.join(" ") }
}

// ---------------------------------------------------------------------------
// Children: what they say, and the panic hook that lets them say it.

/// Tells the parent something, one line on stdout.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The step a child is in, so that a crash names it.
fn step(name: &str) {
    say(&format!("STEP {name}"));
}

static LAST_PANIC: Mutex<String> = Mutex::new(String::new());
/// The seed a batch child is on, for its stderr lines.
static CURRENT_SEED: AtomicU64 = AtomicU64::new(u64::MAX);

/// Panics are caught per seed and reported with their location (on stderr
/// too, tagged with the seed, for a panic that turns into an abort).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let text = format!("{info}").replace('\n', " ");
        eprintln!("seed {}: {text}", CURRENT_SEED.load(Ordering::Relaxed));
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = text;
    }));
}

fn last_panic() -> String {
    std::mem::take(&mut *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()))
}

/// `Config { field: .. }` -> `Config`: the variant of a `Debug`-printed error.
fn variant(debug: &str) -> String {
    debug.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("?").to_string()
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set")))
}

// ---------------------------------------------------------------------------
// (a) Corrupted files.

/// Child: runs seeds `FIRST..FIRST + COUNT`, one line per step.
fn role_batch() {
    install_panic_hook();
    let images = [std::fs::read(env_path("IMAGE_BUSY")).unwrap(), std::fs::read(env_path("IMAGE_QUIET")).unwrap()];
    let layout = Layout::of(&small().shared("/unused").config().unwrap());
    let first = env_u64("FIRST").unwrap();
    let count = env_u64("COUNT").unwrap();
    // The parent removes it if this child dies.
    let path = env_path("WORK_FILE");
    for seed in first..first + count {
        say(&format!("SEED {seed}"));
        CURRENT_SEED.store(seed, Ordering::Relaxed);
        let damage = corrupted(&images, &layout, seed);
        std::fs::write(&path, &damage.bytes).unwrap();
        let late = if damage.late { &damage.words[..] } else { &[] };
        let outcome = std::panic::catch_unwind(|| exercise(&path, seed, late));
        let _ = std::fs::remove_file(&path);
        match outcome {
            Ok(outcome) => say(&format!("OK {seed} {outcome}")),
            Err(_) => say(&format!("PANIC {seed} {}", last_panic())),
        }
    }
    say("END");
}

/// Opens the damaged file at `path` and uses everything, writing `late`
/// into the file halfway (after publishing, reading and retaining). Every
/// call may fail; none may panic, abort, crash or hang. Returns a one-word
/// outcome.
fn exercise(path: &Path, seed: u64, late: &[(usize, usize, u64)]) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    step("open");
    let rt = match OpenOptions::new().recover_stale(true).wait_for_creator(Duration::ZERO).open(path) {
        Ok(rt) => rt,
        Err(e) => return format!("refused:{}", variant(&format!("{e:?}"))),
    };
    let layout = Layout::of(rt.config());
    let mut errors = 0usize;
    step("writer");
    let mut writer = rt.writer().map_err(|_| errors += 1).ok();
    step("reader");
    let mut reader = rt.reader().map_err(|_| errors += 1).ok();
    let mut kept: Vec<RingPtr> = Vec::new();
    let mut seen = 0u64;
    for round in 0..2 {
        if round == 1 && !late.is_empty() {
            step("damage");
            let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            for &(at, width, value) in late {
                file.write_at(&value.to_le_bytes()[..width], at as u64).unwrap();
            }
        }
        if let Some(w) = writer.as_mut() {
            publish_some(w, &mut errors);
        }
        if let Some(r) = reader.as_mut() {
            read_some(r, &mut kept, &mut seen, &mut errors);
        }
        step("clone");
        let clones: Vec<RingPtr> = kept.iter().map(RingPtr::clone).collect();
        kept.extend(clones);
    }
    step("upgrade-retained");
    let mut upgraded: Vec<RingPtr> = Vec::new();
    for p in &kept {
        match rt.upgrade(p.handle()) {
            Ok(p) => upgraded.push(p),
            Err(_) => errors += 1,
        }
    }
    // A handle for every slot, with the generation its metadata word holds
    // now: the handles that reach the (possibly damaged) counts.
    let recorded = std::fs::read(path).unwrap_or_default();
    for class in SizeClass::ALL {
        let (metas, _, n) = layout.pools[class.index()];
        for slot in 0..n {
            let at = metas + slot * 8;
            if at + 8 > recorded.len() {
                break;
            }
            let generation = (read_word(&recorded, at, 8) >> 32) as u32;
            step(&format!("upgrade-every-slot({}/{slot})", class.name()));
            let handle = Handle { class: class.index() as u32, slot: slot as u32, generation, len: 0, event_type: 0 };
            if let Ok(p) = rt.upgrade(handle) {
                upgraded.push(p.clone());
                upgraded.push(p);
            }
        }
    }
    // And made-up ones.
    step("upgrade-made-up");
    for _ in 0..8 {
        let handle = Handle {
            class: rng.u32(..6),
            slot: rng.u32(..64),
            generation: rng.u32(..4),
            len: rng.u32(..70000),
            event_type: 0,
        };
        if let Ok(p) = rt.upgrade(handle) {
            upgraded.push(p);
        }
    }
    step("alloc");
    let alloc = rt.allocator();
    let mut allocated: Vec<RingPtr> = Vec::new();
    for class in SizeClass::ALL {
        for _ in 0..3 {
            match alloc.try_alloc_with(class, 9, |buf| {
                buf[0] = 1;
                1
            }) {
                Ok(p) => {
                    allocated.push(p.clone());
                    if let Ok(again) = alloc.upgrade(p.handle()) {
                        allocated.push(again);
                    }
                    allocated.push(p);
                }
                Err(_) => errors += 1,
            }
        }
    }
    step("stats");
    let stats = rt.stats();
    let _ = (stats.max_lag(), rt.published());
    step("observer");
    if let Ok(watch) = Observer::open(path) {
        let _ = (watch.stats(), watch.published());
    }
    step("drop");
    // Vary the order: the runtime first (pointers keep the mapping), or last.
    if seed % 3 == 0 {
        drop((rt, writer, reader, alloc));
        drop((kept, upgraded, allocated));
    } else {
        drop((kept, upgraded, allocated));
        drop((writer, reader, alloc, rt));
    }
    std::hint::black_box(seen);
    if errors == 0 { "ran".to_string() } else { "ran-with-errors".to_string() }
}

/// Publishes events of every class, one by one, as a batch and in place.
fn publish_some(w: &mut slotcast::Writer, errors: &mut usize) {
    let wait = Duration::from_millis(1);
    let payload = [0x5au8; 16384];
    step("publish");
    for (i, len) in [0usize, 9, 64, 200, 1000, 4000, 16384].into_iter().enumerate() {
        if w.publish_bytes_timeout(i as u32, &payload[..len], wait).is_err() {
            *errors += 1;
        }
    }
    step("publish-batch");
    w.set_flush_every(6);
    for i in 0..6u64 {
        if w.publish_pod_timeout(1, &i, wait).is_err() {
            *errors += 1;
        }
    }
    w.flush();
    w.set_flush_every(1);
    step("publish-in-place");
    let filled = w.try_publish_with(SizeClass::S, 0, |buf| {
        buf[..3].copy_from_slice(b"abc");
        3
    });
    if filled.is_err() {
        *errors += 1;
    }
}

/// Reads everything available (with a timeout), three ways, retaining up
/// to 12 events.
fn read_some(r: &mut slotcast::Reader, kept: &mut Vec<RingPtr>, seen: &mut u64, errors: &mut usize) {
    let wait = Duration::from_millis(1);
    step("read");
    for _ in 0..6 {
        let result = r.read_timeout(wait, |ev, _| {
            *seen = seen.wrapping_add(ev.data().iter().map(|&b| u64::from(b)).sum::<u64>());
            let _ = ev.as_pod::<u64>();
            if kept.len() < 12 {
                step("retain");
                match ev.retain() {
                    Ok(p) => kept.push(p),
                    Err(_) => *errors += 1,
                }
            }
        });
        match result {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => {
                *errors += 1;
                break;
            }
        }
    }
    step("read-next");
    match r.try_recv() {
        Ok(Some(ev)) => *seen = seen.wrapping_add(ev.len() as u64),
        Ok(None) => {}
        Err(_) => *errors += 1,
    }
    step("read-batch");
    match r.try_batch() {
        Ok(batch) => {
            for ev in &batch {
                *seen = seen.wrapping_add(ev.len() as u64);
            }
        }
        Err(_) => *errors += 1,
    }
    let _ = r.lag();
}

/// Parent: the two snapshots every seed starts from.
fn base_images(dir: &Path) -> (PathBuf, PathBuf) {
    let path = common::temp_path("corrupt-base");
    let rt = small().shared(&path).build().unwrap();
    // A second open of the file acts as a second process.
    let other = Runtime::open(&path).unwrap();
    let mut lagging = other.reader().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut w = rt.writer().unwrap();
    let mut kept = Vec::new();
    // (sequence, handle) of events retained while still in the ring.
    let mut in_ring = Vec::new();
    let mut payload = [7u8; 16384];
    for (i, b) in payload.iter_mut().enumerate() {
        *b = i as u8;
    }
    for i in 0..140u32 {
        let len = MIXED[i as usize % MIXED.len()];
        w.publish_bytes_timeout(i, &payload[..len], Duration::from_secs(5)).unwrap();
        reader
            .try_read(|ev, _| {
                if ev.sequence() % 17 == 0 && ev.len() < 4096 {
                    let ptr = ev.retain().unwrap();
                    if ev.sequence() >= 140 - 64 {
                        in_ring.push((ev.sequence(), ptr.clone()));
                    }
                    kept.push(ptr);
                }
            })
            .unwrap();
        if i < 100 {
            lagging
                .try_read(|ev, _| {
                    if ev.sequence() % 23 == 0 && ev.len() < 4096 {
                        kept.push(ev.retain().unwrap());
                    }
                })
                .unwrap();
        }
    }
    let handles: Vec<Handle> = kept.iter().take(3).map(RingPtr::handle).collect();
    for handle in handles {
        kept.push(other.upgrade(handle).unwrap());
    }
    for i in 0..3u64 {
        kept.push(rt.allocator().try_alloc_pod(2, &i).unwrap().into_bytes());
        kept.push(other.allocator().try_alloc_bytes(3, &payload[..300]).unwrap());
    }
    // The busy snapshot is taken in the middle of filling an XS slot: a
    // `FILLING` word tagged with the process entry.
    let mut busy = Vec::new();
    let filled = rt.allocator().try_alloc_with(SizeClass::XS, 4, |buf| {
        busy = std::fs::read(&path).unwrap();
        buf[0] = 1;
        1
    });
    check_layout(&busy, &Layout::of(rt.config()), &kept, &in_ring);
    drop((filled, kept, in_ring, lagging, reader, w, other));
    let quiet = std::fs::read(&path).unwrap();
    drop(rt);
    assert!(!path.exists());
    let (busy_path, quiet_path) = (dir.join("busy"), dir.join("quiet"));
    std::fs::write(&busy_path, busy).unwrap();
    std::fs::write(&quiet_path, quiet).unwrap();
    (busy_path, quiet_path)
}

/// Checks `Layout` against a snapshot: the published count, this process's
/// pid in its process and reader entries, the payload, metadata and ring
/// descriptor of retained events where `Layout` says they are.
fn check_layout(bytes: &[u8], layout: &Layout, kept: &[RingPtr], in_ring: &[(u64, RingPtr)]) {
    let stale = "tests/corrupt.rs: Layout disagrees with the arena format (src/layout.rs)";
    let pid = u64::from(std::process::id());
    assert_eq!(read_word(bytes, 256, 8), 140, "{stale}: published");
    assert_eq!(read_word(bytes, layout.processes + 8, 8), pid, "{stale}: process entry 0");
    assert_eq!(read_word(bytes, layout.readers + 16, 8), pid, "{stale}: reader entry 0");
    for ptr in kept {
        let h = ptr.handle();
        let (metas, slots, _) = layout.pools[h.class as usize];
        let cap = SizeClass::ALL[h.class as usize].capacity();
        let at = slots + h.slot as usize * cap;
        assert_eq!(&bytes[at..at + ptr.len()], &ptr[..], "{stale}: payload of {h:?}");
        assert_eq!(read_word(bytes, metas + h.slot as usize * 8, 8) >> 32, u64::from(h.generation), "{stale}: {h:?}");
    }
    assert!(!in_ring.is_empty());
    let (mut inline, mut pooled) = (0, 0);
    for (seq, ptr) in in_ring {
        let (h, entry) = (ptr.handle(), layout.ring + (*seq as usize % layout.ring_capacity) * RING_ENTRY);
        let word = read_word(bytes, entry, 8);
        let header = read_word(bytes, entry + 8, 8);
        assert_eq!(header, u64::from(h.event_type) << 32 | u64::from(h.len), "{stale}: header of sequence {seq}");
        if h.class == 0 {
            // An XS event: in the ring entry, right after its descriptor; the
            // retained pointer is a copy in a slot of its own.
            inline += 1;
            assert_eq!(word, 0xF << 28, "{stale}: descriptor of in-ring sequence {seq}");
            let at = entry + INLINE_OFFSET;
            assert_eq!(&bytes[at..at + ptr.len()], &ptr[..], "{stale}: in-ring payload of sequence {seq}");
        } else {
            pooled += 1;
            let expected = u64::from(h.generation) << 32 | u64::from(h.class) << 28 | u64::from(h.slot);
            assert_eq!(word, expected, "{stale}: descriptor of sequence {seq}");
        }
    }
    assert!(inline > 0 && pooled > 0, "both kinds of ring entry checked: {inline} {pooled}");
}

/// How one seed ended badly.
#[derive(Debug)]
struct Failure {
    seed: u64,
    kind: String,
    step: String,
    message: String,
}

/// A child's output lines, each with a deadline for the next.
struct Watched {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Watched {
    fn spawn(mut cmd: Command) -> Watched {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Watched { child, lines, stderr }
    }

    /// The next line, `None` at the end of the output, `Err` if none came
    /// within `STALL` (the child is then killed).
    fn next(&mut self) -> Result<Option<String>, ()> {
        match self.lines.recv_timeout(STALL) {
            Ok(line) => Ok(Some(line)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(None),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                Err(())
            }
        }
    }

    /// Waits for the exit (after the output ended or the child was killed).
    fn finish(mut self) -> (ExitStatus, String) {
        let status = self.child.wait().unwrap();
        (status, self.stderr.join().unwrap_or_default())
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (_, Some(libc::SIGABRT)) => "abort (SIGABRT)".to_string(),
        (_, Some(libc::SIGSEGV)) => "crash (SIGSEGV)".to_string(),
        (_, Some(libc::SIGBUS)) => "crash (SIGBUS)".to_string(),
        (_, Some(libc::SIGKILL)) => "killed (SIGKILL)".to_string(),
        (_, Some(sig)) => format!("signal {sig}"),
        (Some(code), None) => format!("exit status {code}"),
        (None, None) => "unknown exit".to_string(),
    }
}

/// Runs seeds `first..end` in child processes, starting a new child after
/// the seed a child died or hung on. Returns the outcome counts and the
/// failures.
fn run_seeds(images: &(PathBuf, PathBuf), first: u64, end: u64) -> (BTreeMap<String, u64>, Vec<Failure>) {
    let mut counts = BTreeMap::new();
    let mut failures = Vec::new();
    let mut next = first;
    while next < end {
        let work = images.0.with_file_name(format!("work-{first}-{next}"));
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.env(ROLE, "batch")
            .env("IMAGE_BUSY", &images.0)
            .env("IMAGE_QUIET", &images.1)
            .env("FIRST", next.to_string())
            .env("COUNT", (end - next).to_string())
            .env("WORK_FILE", &work);
        let mut child = Watched::spawn(cmd);
        let (mut current, mut at_step) = (None::<u64>, String::new());
        let mut ended = false;
        let hung = loop {
            match child.next() {
                Err(()) => break true,
                Ok(None) => break false,
                Ok(Some(line)) => {
                    let mut words = line.splitn(3, ' ');
                    match (words.next(), words.next(), words.next()) {
                        (Some("SEED"), Some(n), _) => {
                            current = n.parse().ok();
                            at_step.clear();
                        }
                        (Some("STEP"), Some(name), _) => at_step = name.to_string(),
                        (Some("OK"), Some(n), Some(outcome)) => {
                            *counts.entry(outcome.to_string()).or_insert(0) += 1;
                            next = n.parse::<u64>().unwrap() + 1;
                            current = None;
                        }
                        (Some("PANIC"), Some(n), message) => {
                            let seed = n.parse::<u64>().unwrap();
                            *counts.entry("PANIC".to_string()).or_insert(0) += 1;
                            let message = message.unwrap_or("").to_string();
                            failures.push(Failure { seed, kind: "panic".into(), step: at_step.clone(), message });
                            next = seed + 1;
                            current = None;
                        }
                        (Some("END"), _, _) => ended = true,
                        _ => {}
                    }
                }
            }
        };
        let (status, stderr) = child.finish();
        let _ = std::fs::remove_file(&work);
        if let Some(seed) = current {
            let kind = if hung { format!("hang (no progress for {STALL:?})") } else { describe(status) };
            *counts.entry(kind.split(' ').next().unwrap().to_uppercase()).or_insert(0) += 1;
            let tag = format!("seed {seed}: ");
            let message = stderr.lines().filter_map(|l| l.strip_prefix(&tag)).next_back().unwrap_or("").to_string();
            failures.push(Failure { seed, kind, step: at_step.clone(), message });
            next = seed + 1;
        } else if !(ended && status.success()) {
            // Died between seeds: the test's own fault; the rest of the
            // batch would fail the same way.
            failures.push(Failure {
                seed: next,
                kind: format!("child ended outside a seed: {}", describe(status)),
                step: String::new(),
                message: stderr.lines().next_back().unwrap_or("").to_string(),
            });
            break;
        }
    }
    (counts, failures)
}

fn corrupted_files() -> Result<(), String> {
    let dir = common::temp_path("corrupt-images");
    std::fs::create_dir_all(&dir).unwrap();
    let images = base_images(&dir);
    let (first, end) = match env_u64("SLOTCAST_CORRUPT_SEED") {
        Some(seed) => (seed, seed + 1),
        None => (0, env_u64("SLOTCAST_CORRUPT_SEEDS").unwrap_or(SEEDS)),
    };
    if end - first == 1 {
        let images_bytes = [std::fs::read(&images.0).unwrap(), std::fs::read(&images.1).unwrap()];
        let layout = Layout::of(&small().shared("/unused").config().unwrap());
        println!("  seed {first}: {}", corrupted(&images_bytes, &layout, first).what);
    }
    let batches: Vec<(u64, u64)> =
        (first..end).step_by(PER_CHILD as usize).map(|b| (b, (b + PER_CHILD).min(end))).collect();
    let next = AtomicUsize::new(0);
    let results = Mutex::new((BTreeMap::<String, u64>::new(), Vec::<Failure>::new()));
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(b, e)) = batches.get(i) else { break };
                    let (counts, failures) = run_seeds(&images, b, e);
                    let mut all = results.lock().unwrap();
                    for (k, v) in counts {
                        *all.0.entry(k).or_insert(0) += v;
                    }
                    all.1.extend(failures);
                }
            });
        }
    });
    let (counts, mut failures) = results.into_inner().unwrap();
    failures.sort_by_key(|f| f.seed);
    println!(
        "  {} seeds in {} child processes, {:.1} s; outcomes:",
        end - first,
        batches.len(),
        start.elapsed().as_secs_f64()
    );
    for (outcome, n) in &counts {
        println!("    {n:>6}  {outcome}");
    }
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }
    let images_bytes = [std::fs::read(&images.0).unwrap(), std::fs::read(&images.1).unwrap()];
    let layout = Layout::of(&small().shared("/unused").config().unwrap());
    for f in &failures {
        println!("  FAILED seed {}: {} in step {:?}: {}", f.seed, f.kind, f.step, f.message);
        println!("      damage: {}", corrupted(&images_bytes, &layout, f.seed).what);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Err(format!("{} of {} seeds panicked, aborted, crashed or hung", failures.len(), end - first))
}

// ---------------------------------------------------------------------------
// (b) A live scribbler.

/// How long the children of one round work: the scribbling, then a second
/// of quiet.
const LIVE_WORK: Duration = Duration::from_millis(3500);
const SCRIBBLE: Duration = Duration::from_millis(2500);
/// A child still running this long after its work ended is hung.
const LIVE_GRACE: Duration = Duration::from_secs(10);
const LIVE_ROUNDS: u64 = 3;

/// Child: takes the writer role and publishes, allocates, clones and
/// upgrades until its time is up, counting errors.
fn role_live_writer(path: &Path) {
    install_panic_hook();
    CURRENT_SEED.store(env_u64("SEED").unwrap_or(0), Ordering::Relaxed);
    let rt = Runtime::open(path).unwrap();
    let mut w = rt.writer().unwrap();
    let alloc = rt.allocator();
    say("READY");
    let until = Instant::now() + LIVE_WORK;
    let (mut ok, mut errors) = (0u64, BTreeMap::<String, u64>::new());
    let mut note = |r: Result<(), String>| match r {
        Ok(()) => ok += 1,
        Err(e) => *errors.entry(variant(&e)).or_insert(0) += 1,
    };
    let payload = [3u8; 16384];
    let mut i = 0u64;
    let mut kept: std::collections::VecDeque<RingPtr> = Default::default();
    while Instant::now() < until {
        let len = MIXED[i as usize % MIXED.len()];
        step("publish");
        note(
            w.publish_bytes_timeout(1, &payload[..len], Duration::from_millis(2))
                .map(drop)
                .map_err(|e| format!("{e:?}")),
        );
        if i % 8 == 0 {
            step("batch");
            w.set_flush_every(8);
            for j in 0..8u64 {
                note(w.publish_pod_timeout(2, &j, Duration::from_millis(2)).map(drop).map_err(|e| format!("{e:?}")));
            }
            w.flush();
            w.set_flush_every(1);
        }
        if i % 4 == 0 {
            let class = SizeClass::ALL[(i / 4 % 5) as usize];
            step("alloc");
            match alloc.try_alloc_with(class, 5, |buf| {
                buf[0] = 1;
                1
            }) {
                Ok(p) => {
                    note(rt.upgrade(p.handle()).map(|q| kept.push_back(q)).map_err(|e| format!("{e:?}")));
                    kept.push_back(p.clone());
                    kept.push_back(p);
                    note(Ok(()));
                }
                Err(e) => note(Err(format!("{e:?}"))),
            }
            while kept.len() > 12 {
                kept.pop_front();
            }
        }
        if i % 64 == 0 {
            step("stats");
            let _ = rt.stats();
        }
        i += 1;
    }
    step("drop");
    drop((kept, w, alloc, rt));
    say(&format!("DONE ok {ok} errors {errors:?}"));
}

/// Child: reads with timeouts, retains, clones and upgrades until its time
/// is up; rejoins after an error (the cursor stays at a bad event).
fn role_live_reader(path: &Path) {
    install_panic_hook();
    CURRENT_SEED.store(env_u64("SEED").unwrap_or(0), Ordering::Relaxed);
    let rt = Runtime::open(path).unwrap();
    let mut reader = Some(rt.reader().unwrap());
    say("READY");
    let until = Instant::now() + LIVE_WORK;
    let (mut events, mut errors) = (0u64, BTreeMap::<String, u64>::new());
    let mut kept: std::collections::VecDeque<RingPtr> = Default::default();
    let mut sum = 0u64;
    while Instant::now() < until {
        let Some(r) = reader.as_mut() else {
            step("rejoin");
            match rt.reader() {
                Ok(r) => reader = Some(r),
                Err(e) => {
                    *errors.entry(variant(&format!("{e:?}"))).or_insert(0) += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            continue;
        };
        let mut retain_errors = 0u64;
        step("read");
        let result = r.read_timeout(Duration::from_millis(2), |ev, _| {
            events += 1;
            sum = sum.wrapping_add(ev.data().first().copied().map_or(0, u64::from));
            if ev.sequence() % 5 == 0 {
                match ev.retain() {
                    Ok(p) => kept.push_back(p),
                    Err(_) => retain_errors += 1,
                }
            }
        });
        if retain_errors > 0 {
            *errors.entry("retain".to_string()).or_insert(0) += retain_errors;
        }
        if let Err(e) = result {
            *errors.entry(variant(&format!("{e:?}"))).or_insert(0) += 1;
            reader = None;
        }
        if let Some(p) = kept.back() {
            step("clone-upgrade");
            let c = p.clone();
            sum = sum.wrapping_add(c.first().copied().map_or(0, u64::from));
            match rt.upgrade(c.handle()) {
                Ok(q) => kept.push_back(q),
                Err(e) => *errors.entry(format!("upgrade:{}", variant(&format!("{e:?}")))).or_insert(0) += 1,
            }
        }
        while kept.len() > 16 {
            kept.pop_front();
        }
        if events % 97 == 0 {
            step("stats");
            let _ = rt.stats();
        }
    }
    std::hint::black_box(sum);
    step("drop");
    drop((kept, reader, rt));
    say(&format!("DONE events {events} errors {errors:?}"));
}

fn live_scribbler() -> Result<(), String> {
    let mut failures = Vec::new();
    for round in 0..LIVE_ROUNDS {
        let seed = env_u64("SLOTCAST_CORRUPT_LIVE_SEED").unwrap_or(round);
        let path = common::temp_path("live");
        let rt = small().max_processes(8).shared(&path).build().unwrap();
        let layout = Layout::of(rt.config());
        let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        let spawn = |role: &str| {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.env(ROLE, role).env("SLOTCAST_CORRUPT_PATH", &path).env("SEED", seed.to_string());
            Watched::spawn(cmd)
        };
        let mut children: Vec<(&str, Watched)> = vec![
            ("writer", spawn("live-writer")),
            ("reader 1", spawn("live-reader")),
            ("reader 2", spawn("live-reader")),
        ];
        for (name, child) in &mut children {
            match child.next() {
                Ok(Some(line)) if line == "READY" => {}
                other => panic!("round {round}: the {name} did not start: {other:?}"),
            }
        }
        // The children keep the file; this process only scribbles on it.
        drop(rt);
        let mut rng = fastrand::Rng::with_seed(SEED_BASE ^ seed);
        let start = Instant::now();
        let mut writes = 0u64;
        let mut buf = [0u8; 8];
        while start.elapsed() < SCRIBBLE {
            let (_, at, width) = layout.pick(&mut rng);
            let _ = file.read_at(&mut buf[..width], at as u64);
            let value = nasty(&mut rng, read_word(&buf, 0, width), width);
            let _ = file.write_at(&value.to_le_bytes()[..width], at as u64);
            writes += 1;
            std::thread::sleep(Duration::from_micros(200));
        }
        println!("  round {round} (seed {seed}): {writes} words scribbled over {:?}", SCRIBBLE);
        let deadline = start + LIVE_WORK + LIVE_GRACE;
        for (name, mut child) in children {
            let (mut done, mut at_step) = (None, String::new());
            let hung = loop {
                if Instant::now() > deadline {
                    let _ = child.child.kill();
                    break true;
                }
                match child.next() {
                    Ok(Some(line)) if line.starts_with("DONE") => done = Some(line),
                    Ok(Some(line)) => {
                        if let Some(name) = line.strip_prefix("STEP ") {
                            name.clone_into(&mut at_step);
                        }
                    }
                    Ok(None) => break false,
                    Err(()) => break true,
                }
            };
            let (status, stderr) = child.finish();
            let panic = stderr.lines().next_back().map_or(String::new(), |l| format!(": {l}"));
            match (&done, status.success(), hung) {
                (Some(line), true, false) => println!("    {name}: {}", &line[5..]),
                _ => {
                    let kind = if hung { "hang".to_string() } else { describe(status) };
                    println!("    {name}: FAILED: {kind} in step {at_step:?}{panic}");
                    failures.push(format!("round {round} (seed {seed}) {name}: {kind} in step {at_step:?}{panic}"));
                }
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

// ---------------------------------------------------------------------------

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        match role.as_str() {
            "batch" => role_batch(),
            "live-writer" => role_live_writer(&env_path("SLOTCAST_CORRUPT_PATH")),
            "live-reader" => role_live_reader(&env_path("SLOTCAST_CORRUPT_PATH")),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    if cfg!(miri) || !cfg!(target_os = "linux") {
        println!("corrupt: skipped (needs Linux processes and file mappings)");
        return;
    }
    if !cfg!(debug_assertions) {
        println!("corrupt: note: built without overflow checks; run with --profile checked");
    }
    common::run_scenarios(&[("corrupted_files", corrupted_files), ("live_scribbler", live_scribbler)]);
}
