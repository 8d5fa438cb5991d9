//! What a reader chooses when it joins: its policy towards the writer and
//! where it starts. Plain data; the protocols are `reader.rs` and
//! `writer/core.rs`.

/// How a reader and the writer treat each other when the reader falls
/// behind.
///
/// | policy | a reader that falls a ring behind | costs |
/// |---|---|---|
/// | [`Gating`](Policy::Gating) (the default) | holds the writer back: it never loses an event | nothing beyond the cursor store |
/// | [`Lossy`](Policy::Lossy) | is lapped: its next read returns [`ReadError::Lagged`](crate::ReadError::Lagged) with the exact count it missed, then goes on from the oldest event still available | one compare-and-swap per read (its pin) |
///
/// Choose gating for a journal or a pipeline stage, where every event
/// matters and a slow reader should slow the source; lossy for a
/// dashboard, a sampler or a monitoring tap, which must never slow the
/// writer it watches.
///
/// **How a lossy reader stays sound.** It reads in place, like any reader,
/// and the writer never writes what it is reading: while it reads (the
/// span of one [`EventGuard`](crate::EventGuard), one [`ReadBatch`](crate::ReadBatch),
/// or one call of [`Reader::try_read`](crate::Reader::try_read), which reads one
/// step of at most [`max_batch`](crate::Reader::max_batch) events) its cursor
/// is *pinned*, and the writer respects a pinned cursor as it does a gating
/// one. Between reads it is not pinned, and a writer that needs the room
/// moves it forward (laps it) with a compare-and-swap; the reader's pin is a
/// compare-and-swap on the same word, so exactly one of them wins. A lossy
/// reader can therefore hold the writer back only while it holds one read
/// open; a lossy reader that stops reading never does. See the crate docs'
/// protocol section for the orderings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy {
    /// The writer never overwrites an event this reader has not read.
    #[default]
    Gating,
    /// The writer never waits for this reader between its reads; a lapped
    /// reader is told how many events it missed.
    Lossy,
}

/// Where a joining reader starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StartAt {
    /// At the next event to be published: the reader sees what is
    /// published after it joins.
    #[default]
    Now,
    /// At the oldest event the ring still holds for it: a late joiner
    /// replays the window, then goes on with new events.
    ///
    /// The window is what the writer has not yet been allowed to reuse when
    /// the reader joins: every event still unread by the slowest reader, and
    /// with an idle or fast set of readers at least three quarters of a
    /// ring of XS events (the writer reserves its ring room a quarter ring
    /// at a time). Events in pool slots (class S and up) are replayed only
    /// from the oldest one whose slot still holds it, checked by generation:
    /// the writer recycles a class's slots as soon as no reader needs them,
    /// so a replay never returns a recycled slot as an old event.
    Oldest,
}

/// A reader's choices at join: [`Runtime::reader_with`](crate::Runtime::reader_with).
///
/// ```
/// use slotcast::{Policy, ReaderOptions, Runtime, StartAt};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new()?;
/// let mut writer = rt.writer()?;
/// writer.try_publish_bytes(0, b"before the tap joined")?;
/// let tap = rt.reader_with(ReaderOptions::new().policy(Policy::Lossy).start_at(StartAt::Oldest))?;
/// assert_eq!(tap.policy(), Policy::Lossy);
/// assert_eq!(tap.lag(), 1, "it replays the event published before it joined");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReaderOptions {
    pub(crate) policy: Policy,
    pub(crate) start: StartAt,
}

impl ReaderOptions {
    /// A gating reader starting now: what [`Runtime::reader`](crate::Runtime::reader) joins.
    pub const fn new() -> Self {
        Self { policy: Policy::Gating, start: StartAt::Now }
    }

    /// Sets the policy.
    pub const fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets where the reader starts.
    pub const fn start_at(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }
}
