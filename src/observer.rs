//! A read-only view of a shared runtime, for monitoring tools.

use crate::config::Config;
use crate::error::OpenError;
use crate::lifetime::{ArenaCtl, Shared};
use crate::shm::{self, OpenOptions};
use crate::stats::Stats;
use crate::sync::{Arc, Ordering::*};
use std::fmt;
use std::path::Path;

/// Watches a shared runtime without taking part: statistics (cursors, lags,
/// liveness, occupancy) and the published count.
///
/// An observer takes no process entry and holds no lock, so it neither
/// keeps a stale file alive nor removes it when it goes, and it works on a
/// file whose processes are all dead.
///
/// ```no_run
/// # fn main() -> Result<(), slotcast::OpenError> {
/// let watch = slotcast::Observer::open("/dev/shm/quotes")?;
/// for reader in watch.stats().readers {
///     println!("reader {} (pid {}): lag {}, alive {}", reader.entry, reader.pid, reader.lag, reader.alive);
/// }
/// # Ok(())
/// # }
/// ```
pub struct Observer {
    shared: Arc<Shared>,
}

impl Observer {
    /// Maps and validates the shared runtime at `path`.
    ///
    /// # Errors
    ///
    /// An [`OpenError`] naming what is wrong with the file (never
    /// [`OpenError::Stale`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Observer, OpenError> {
        let opened = shm::open(path.as_ref(), &OpenOptions::new(), true)?;
        let ctl = ArenaCtl::new(opened.arena, opened.config, None, Some(opened.state));
        Ok(Observer { shared: Arc::new(Shared::new(ctl)) })
    }

    /// The runtime's configuration, as recorded in the file.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Number of events published so far.
    pub fn published(&self) -> u64 {
        // ORDERING: Relaxed; a statistic.
        self.shared.arena.header().published.value.load(Relaxed)
    }

    /// A snapshot of cursors, lags, liveness and occupancy.
    pub fn stats(&self) -> Stats {
        Stats::collect(&self.shared)
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer").field("published", &self.published()).finish_non_exhaustive()
    }
}
