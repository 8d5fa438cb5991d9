//! Shared runtimes within one process: several opens of one file act like
//! separate processes; every way a file can be wrong is reported with its
//! own error; permissions; clean shutdown leaves nothing behind.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use slotcast::{Observer, OpenError, OpenOptions, Runtime, SizeClass, WriterError};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// Byte offsets of the identity words (the format is pinned by the layout
/// hash, which a change here would also change).
mod at {
    pub(crate) const MAGIC: usize = 0;
    pub(crate) const VERSION: usize = 8;
    pub(crate) const LAYOUT_HASH: usize = 16;
    pub(crate) const ARENA_LEN: usize = 24;
    pub(crate) const RING_CAPACITY: usize = 32;
    pub(crate) const MAX_READERS: usize = 40;
    pub(crate) const SLOTS_XS: usize = 48;
    pub(crate) const WAIT_STRATEGY: usize = 88;
    pub(crate) const MAX_PROCESSES: usize = 96;
    pub(crate) const FLAGS: usize = 104;
}

fn put(bytes: &mut [u8], offset: usize, value: u64) {
    bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

fn open_quick(path: &Path) -> Result<Runtime, OpenError> {
    OpenOptions::new().wait_for_creator(Duration::ZERO).open(path)
}

/// The bytes of a valid arena file whose processes are all gone.
fn valid_image() -> Vec<u8> {
    let path = common::temp_path("image");
    let rt = Runtime::builder().shared(&path).ring_capacity(64).slots(SizeClass::XL, 1).build().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    drop(rt);
    bytes
}

fn write_image(bytes: &[u8]) -> std::path::PathBuf {
    let path = common::temp_path("bad");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn two_opens_in_one_process_share_events_and_pointers() {
    let path = common::temp_path("two-opens");
    let creator = Runtime::builder().shared(&path).build().unwrap();
    assert_eq!(creator.path(), Some(path.as_path()));
    let other = Runtime::open(&path).unwrap();
    assert!(other.config().is_shared());
    let mut reader = other.reader().unwrap();
    let mut w = creator.writer().unwrap();
    assert!(matches!(other.writer(), Err(WriterError::Taken { .. })), "one writer across opens");
    for i in 0..1000u64 {
        w.try_publish_pod(1, &i).unwrap();
        let ev = reader.try_recv().unwrap().unwrap();
        assert_eq!(ev.as_pod::<u64>(), Ok(&i));
    }
    w.try_publish_bytes(2, b"kept").unwrap();
    let kept = reader.try_recv().unwrap().unwrap().retain().unwrap();
    let again = creator.upgrade(kept.handle()).expect("a handle upgrades in the other open");
    let stats = creator.stats();
    assert_eq!(stats.processes.len(), 2);
    assert!(stats.processes.iter().all(|p| p.alive));
    assert_eq!(stats.processes.iter().map(|p| p.retained).sum::<usize>(), 2, "each open holds the slot once");
    assert_eq!(stats.pool(SizeClass::XS).retained, 1);
    assert_eq!(stats.writer_pid, Some(u64::from(std::process::id())));
    drop((w, reader, other, creator));
    assert!(path.exists(), "pointers still map the file");
    assert_eq!((&kept[..], &again[..]), (&b"kept"[..], &b"kept"[..]));
    drop((kept, again));
    assert!(!path.exists(), "the last process out removes the file");
}

#[test]
fn the_file_is_private_unless_asked() {
    let path = common::temp_path("mode");
    let rt = Runtime::builder().shared(&path).build().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    drop(rt);
    let path = common::temp_path("mode");
    let rt = Runtime::builder().shared(&path).mode(0o666).build().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o666, "exactly, despite the umask");
    drop(rt);
    // The mode goes with the file in whichever order they are given, and
    // without a file it places nothing.
    let path = common::temp_path("mode");
    let rt = Runtime::builder().mode(0o640).shared(&path).build().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    drop(rt);
    let rt = Runtime::builder().mode(0o640).build().unwrap();
    assert!(rt.path().is_none() && !rt.config().is_shared());
}

#[test]
fn an_existing_file_is_not_overwritten() {
    let path = common::temp_path("exists");
    std::fs::write(&path, b"someone else's").unwrap();
    let err = Runtime::builder().shared(&path).build().unwrap_err();
    assert!(
        matches!(err, slotcast::BuildError::Create(ref e) if e.kind() == std::io::ErrorKind::AlreadyExists),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_file_whose_processes_are_gone_is_stale() {
    let path = write_image(&valid_image());
    assert!(matches!(open_quick(&path), Err(OpenError::Stale)));
    let watch = Observer::open(&path).expect("an observer looks at stale files");
    assert!(watch.stats().processes.iter().all(|p| !p.alive));
    drop(watch);
    let rt = OpenOptions::new().recover_stale(true).open(&path).expect("recovered");
    let mut w = rt.writer().expect("the dead creator held no writer role; the file is usable");
    w.try_publish_bytes(0, b"alive again").unwrap();
    drop((w, rt));
    assert!(!path.exists(), "closing the recovered runtime removed it");

    let path = write_image(&valid_image());
    assert!(slotcast::remove_stale(&path).unwrap());
    assert!(!path.exists());
}

#[test]
fn a_file_in_use_is_not_removed_as_stale() {
    let path = common::temp_path("in-use");
    let rt = Runtime::builder().shared(&path).build().unwrap();
    assert!(!slotcast::remove_stale(&path).unwrap());
    assert!(path.exists());
    drop(rt);
}

#[test]
fn every_kind_of_bad_file_has_its_own_error() {
    let good = valid_image();
    let len = good.len() as u64;
    // Each case: a mutation and the error it must produce.
    type Check = fn(&OpenError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("empty", vec![], |e| matches!(e, OpenError::Truncated { len: 0, .. })),
        ("shorter than a header", good[..1000].to_vec(), |e| matches!(e, OpenError::Truncated { len: 1000, .. })),
        ("cut inside the pools", good[..good.len() / 2].to_vec(), |e| matches!(e, OpenError::Truncated { .. })),
        (
            "foreign",
            {
                let mut b = good.clone();
                put(&mut b, at::MAGIC, 0x1234);
                b
            },
            |e| matches!(e, OpenError::Foreign { magic: 0x1234 }),
        ),
        ("never initialised", vec![0; good.len()], |e| matches!(e, OpenError::Uninitialized)),
        (
            "other version",
            {
                let mut b = good.clone();
                put(&mut b, at::VERSION, 99);
                b
            },
            |e| matches!(e, OpenError::Version { found: 99, .. }),
        ),
        (
            "other layout",
            {
                let mut b = good.clone();
                put(&mut b, at::LAYOUT_HASH, 7);
                b
            },
            |e| matches!(e, OpenError::Layout { found: 7, .. }),
        ),
        (
            "ring not a power of two",
            {
                let mut b = good.clone();
                put(&mut b, at::RING_CAPACITY, 100);
                b
            },
            |e| matches!(e, OpenError::Config { field: "ring_capacity", value: 100 }),
        ),
        (
            "no readers",
            {
                let mut b = good.clone();
                put(&mut b, at::MAX_READERS, 0);
                b
            },
            |e| matches!(e, OpenError::Config { field: "max_readers", value: 0 }),
        ),
        (
            "ring capacity a power of two past the limit",
            {
                let mut b = good.clone();
                put(&mut b, at::RING_CAPACITY, 1 << 31);
                b
            },
            |e| matches!(e, OpenError::Config { field: "ring_capacity", value: 0x8000_0000 }),
        ),
        (
            "too many readers",
            {
                let mut b = good.clone();
                put(&mut b, at::MAX_READERS, 4097);
                b
            },
            |e| matches!(e, OpenError::Config { field: "max_readers", value: 4097 }),
        ),
        (
            "one slot past a class's limit",
            {
                let mut b = good.clone();
                put(&mut b, at::SLOTS_XS + 3 * 8, 1 << 28);
                b
            },
            |e| matches!(e, OpenError::Config { field: "L", value: 0x1000_0000 }),
        ),
        (
            "absurd slot count",
            {
                let mut b = good.clone();
                put(&mut b, at::SLOTS_XS, u64::MAX);
                b
            },
            |e| matches!(e, OpenError::Config { field: "XS", .. }),
        ),
        (
            "unknown wait strategy",
            {
                let mut b = good.clone();
                put(&mut b, at::WAIT_STRATEGY, 9);
                b
            },
            |e| matches!(e, OpenError::Config { field: "wait_strategy", value: 9 }),
        ),
        (
            "no processes",
            {
                let mut b = good.clone();
                put(&mut b, at::MAX_PROCESSES, 0);
                b
            },
            |e| matches!(e, OpenError::Config { field: "max_processes", value: 0 }),
        ),
        (
            "not a shared arena",
            {
                let mut b = good.clone();
                put(&mut b, at::FLAGS, 0);
                b
            },
            |e| matches!(e, OpenError::Config { field: "flags", value: 0 }),
        ),
        (
            "length disagrees",
            {
                let mut b = good.clone();
                put(&mut b, at::ARENA_LEN, len - 4096);
                b
            },
            |e| matches!(e, OpenError::Length { .. }),
        ),
        (
            "more slots than the file holds",
            {
                let mut b = good.clone();
                put(&mut b, at::SLOTS_XS, 100_000);
                b
            },
            |e| matches!(e, OpenError::Length { .. }),
        ),
    ];
    for (name, bytes, check) in cases {
        let path = write_image(&bytes);
        match open_quick(&path) {
            Err(e) => assert!(check(&e), "{name}: unexpected error {e:?}"),
            Ok(_) => panic!("{name}: opened"),
        }
        std::fs::remove_file(&path).unwrap();
    }
    assert!(matches!(open_quick(Path::new("/nonexistent/slotcast")), Err(OpenError::Io(_))));
}

/// Random mutations of a valid header and random truncations: `open`
/// returns an error or a runtime, never crashes, and a runtime it returns
/// works.
#[test]
fn random_header_mutations_never_crash() {
    let good = valid_image();
    let mut rng = fastrand::Rng::with_seed(0x5107_ca57);
    let path = common::temp_path("fuzz");
    let (mut opened, mut refused) = (0, 0);
    for round in 0..2000 {
        let mut bytes = good.clone();
        match round % 4 {
            // Flip a few bits anywhere in the header lines.
            0 | 1 => {
                for _ in 0..rng.usize(1..6) {
                    let i = rng.usize(..1408);
                    bytes[i] ^= 1 << rng.u8(..8);
                }
            }
            // Overwrite a whole identity word with something random.
            2 => put(&mut bytes, rng.usize(..14) * 8, rng.u64(..)),
            // Truncate anywhere.
            _ => bytes.truncate(rng.usize(..good.len())),
        }
        std::fs::write(&path, &bytes).unwrap();
        match OpenOptions::new().recover_stale(true).wait_for_creator(Duration::ZERO).open(&path) {
            Ok(rt) => {
                opened += 1;
                // Whatever it accepted must be usable without faults.
                if let Ok(mut w) = rt.writer() {
                    let _ = w.try_publish_bytes(1, b"probe");
                }
                if let Ok(mut r) = rt.reader() {
                    let _ = r.try_recv();
                }
                let _ = rt.stats();
            }
            Err(_) => refused += 1,
        }
    }
    let _ = std::fs::remove_file(&path);
    println!("{opened} mutations opened, {refused} refused");
    assert!(refused > 1000, "most mutations must be refused ({refused} refused, {opened} opened)");
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore)]
fn another_user_cannot_open_a_private_file() {
    let path = common::temp_path("other-user");
    let rt = Runtime::builder().shared(&path).build().unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Without root we cannot become another user: the mode bits are the
        // guarantee, and they are checked above and here.
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o077, 0);
        return;
    }
    // As root: try from a shell running as `nobody`.
    use std::os::unix::process::CommandExt;
    let out = std::process::Command::new("cat").arg(&path).uid(65534).gid(65534).output().expect("spawn cat as nobody");
    assert!(!out.status.success(), "nobody read the file");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    drop(rt);
}

#[test]
fn a_wait_for_the_creator_too_long_for_a_clock_waits_instead_of_panicking() {
    // `Instant::now() + Duration::MAX` overflows: a caller's huge wait (the
    // Python package passes a user's `wait_for_creator` through) must not
    // panic the process.
    let path = common::temp_path("wait-max");
    let _created = Runtime::builder().shared(&path).build().unwrap();
    let opened = OpenOptions::new().wait_for_creator(Duration::MAX).open(&path);
    assert!(opened.is_ok(), "{:?}", opened.err());
}
