//! Named kill points, for proving that a process killed at any step of a
//! protocol loses nothing (`tests/kill_points.rs`).
//!
//! `failpoint!("name")` marks a step. It compiles to nothing unless the
//! crate is built with the `failpoints` feature, which only that test
//! enables. With the feature, a process whose `SLOTCAST_KILL_AT` names the
//! point (`name`, or `name#n` for its n-th hit) sends itself `SIGKILL` there:
//! the same death as a crash or an OOM kill at that instruction, with no
//! unwinding and no destructor run.

/// Marks a kill point (see the module docs).
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        $crate::failpoint::hit($name);
    };
}
pub(crate) use failpoint;

/// Kills this process if `SLOTCAST_KILL_AT` names this hit of `name`.
#[cfg(feature = "failpoints")]
pub(crate) fn hit(name: &str) {
    #![allow(clippy::disallowed_types, reason = "a test-only hit counter, no protocol: loom never builds it")]
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    let target = TARGET.get_or_init(|| {
        let spec = std::env::var("SLOTCAST_KILL_AT").ok()?;
        Some(match spec.split_once('#') {
            Some((point, n)) => (point.to_owned(), n.parse().unwrap_or(1)),
            None => (spec, 1),
        })
    });
    let Some((point, nth)) = target else { return };
    if point != name || HITS.fetch_add(1, Relaxed) + 1 != *nth {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `getpid` has no preconditions.
        let me = unsafe { libc::getpid() };
        // SAFETY: `kill` with our own pid and a valid signal number has no
        // memory-safety preconditions.
        unsafe { libc::kill(me, libc::SIGKILL) };
    }
    std::process::abort();
}
