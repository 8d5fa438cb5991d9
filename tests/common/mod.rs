//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::disallowed_types)] // the tests coordinate their own threads with std types

#[path = "../../examples/common/pattern.rs"]
pub mod pattern;

pub mod capi;

use slotcast::{Backing, Builder, Runtime};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Scale for Miri, which runs these tests some thousand times slower.
pub fn scaled(n: u64, under_miri: u64) -> u64 {
    if cfg!(miri) { under_miri } else { n }
}

/// The kinds of memory a runtime can live in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Heap memory (what Miri runs).
    Heap,
    /// An anonymous mapping (the in-process default).
    Anonymous,
    /// A shared file (here in one process; the ipc tests use several).
    File,
}

/// A fresh path for a shared runtime file: under `/dev/shm` where it exists,
/// unique per process and call.
pub fn temp_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    dir.join(format!("slotcast-test-{tag}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// A builder for a runtime of the given kind.
pub fn builder(kind: Kind) -> Builder {
    match kind {
        Kind::Heap => Runtime::builder().backing(Backing::Heap),
        Kind::Anonymous => Runtime::builder().backing(Backing::Anonymous),
        Kind::File => Runtime::builder().shared(temp_path("suite")),
    }
}

/// Instantiates a test body `fn(Kind)` once per kind of memory. Miri cannot
/// map memory or files, so it runs the heap instance only; an entry with
/// `miri: "reason"` is skipped under Miri altogether.
#[macro_export]
macro_rules! every_backing {
    ($($name:ident => $body:path $(, miri: $why:literal)?;)*) => {$(
        mod $name {
            #[test]
            $(#[cfg_attr(miri, ignore = $why)])?
            fn heap() {
                $body($crate::common::Kind::Heap)
            }

            #[test]
            #[cfg_attr(miri, ignore = "Miri cannot map memory")]
            fn anonymous() {
                $body($crate::common::Kind::Anonymous)
            }

            #[test]
            #[cfg_attr(miri, ignore = "Miri cannot map files")]
            fn file() {
                $body($crate::common::Kind::File)
            }
        }
    )*};
}

/// A tmpfs of a given size mounted on a fresh directory, unmounted and
/// removed on drop: a small file system to fill. Needs root (and a `mount`
/// that works, as in most containers run as root).
pub struct SmallTmpfs {
    dir: PathBuf,
}

impl SmallTmpfs {
    /// Mounts one of `bytes` bytes, or `None` if this process may not mount.
    pub fn mount(bytes: u64) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!(
            "slotcast-tmpfs-{}-{}",
            std::process::id(),
            NEXT_MOUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(Self { dir })
    }

    /// Where it is mounted.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

static NEXT_MOUNT: AtomicUsize = AtomicUsize::new(0);

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A scenario of a test without libtest's harness: `Ok`, or why it failed
/// (a panic counts as a failure with its message).
pub type Scenario = fn() -> Result<(), String>;

/// Runs the scenarios whose names contain one of the command line's
/// non-flag arguments (all of them without any), printing libtest-like
/// lines, and exits with status 1 if one failed.
pub fn run_scenarios(scenarios: &[(&str, Scenario)]) {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let mut failed = Vec::new();
    for &(name, run) in scenarios {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        println!("test {name} ...");
        let start = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(run).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            Err(message.to_owned())
        });
        match outcome {
            Ok(()) => println!("test {name} ... ok ({:.1} s)", start.elapsed().as_secs_f64()),
            Err(e) => {
                println!("test {name} ... FAILED: {e}");
                failed.push(name);
            }
        }
    }
    if !failed.is_empty() {
        println!("failed: {failed:?}");
        std::process::exit(1);
    }
}

/// A hand-written `block_on`: polls `future` on this thread, parking it
/// until the future's waker is woken. The async forms need nothing but a
/// `Waker`, so this is all the executor they need.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        #[allow(clippy::disallowed_methods, reason = "the tests' own executor parks its thread")]
        std::thread::park();
    }
}
