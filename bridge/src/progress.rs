//! What a running bridge has done so far: counters it updates as it goes
//! and anyone may read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// A bridge's counters. Each is updated by the bridge alone and read by
/// others; every access is Relaxed (they are statistics: no other memory
/// is published through them).
#[derive(Debug, Default)]
pub struct Progress {
    events: AtomicU64,
    bytes: AtomicU64,
    messages: AtomicU64,
    lost: AtomicU64,
    lag: AtomicU64,
    malformed: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    sources: AtomicU64,
    disconnects: AtomicU64,
    slow_consumer: AtomicU64,
    next_sequence: AtomicU64,
    connected: AtomicBool,
    ended: AtomicBool,
}

/// The counters at one moment ([`Progress::snapshot`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Events bridged: sent (out) or published into the local ring (in).
    pub events: u64,
    /// Payload bytes of those events (not counting frame headers).
    pub bytes: u64,
    /// NATS messages sent (out) or received (in), frames of every kind.
    pub messages: u64,
    /// Events lost, exactly: out, those the source's writer lapped this
    /// lossy reader past; in, the gaps in the sequence numbers received
    /// (events lost at the source or in transit).
    pub lost: u64,
    /// Out: events published at the source not yet read. In, with
    /// JetStream: frames in the stream not yet delivered to this bridge
    /// (0 with core NATS, which holds no backlog).
    pub lag: u64,
    /// In: messages on the subject that were not frames, rejected whole
    /// (none of their events published) and counted here.
    pub malformed: u64,
    /// In: events received again (a JetStream redelivery after a restart)
    /// and not published twice.
    pub duplicates: u64,
    /// In: events the local ring cannot hold (no slots of their size class,
    /// or larger than its largest), counted and skipped.
    pub rejected: u64,
    /// In: sources seen (a new source is a new stream: the source's file
    /// was created again).
    pub sources: u64,
    /// Times the connection to the NATS server was lost.
    pub disconnects: u64,
    /// In: times the NATS client dropped frames because the bridge fell
    /// [`InOptions::max_pending_frames`](crate::InOptions::max_pending_frames)
    /// behind (a slow consumer); their events are in `lost`.
    pub slow_consumer: u64,
    /// The source sequence number the bridge expects next (out: its
    /// reader's cursor; in: the event after the last one published).
    pub next_sequence: u64,
    /// Whether the connection to the server is up.
    pub connected: bool,
    /// Whether the source's stream ended (an end frame was sent or
    /// received) and the bridge stopped because of it.
    pub ended: bool,
}

impl Progress {
    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            events: self.events.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            messages: self.messages.load(Relaxed),
            lost: self.lost.load(Relaxed),
            lag: self.lag.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            sources: self.sources.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
            slow_consumer: self.slow_consumer.load(Relaxed),
            next_sequence: self.next_sequence.load(Relaxed),
            connected: self.connected.load(Relaxed),
            ended: self.ended.load(Relaxed),
        }
    }

    pub(crate) fn add_events(&self, events: u64, bytes: u64) {
        self.events.fetch_add(events, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn add_message(&self) {
        self.messages.fetch_add(1, Relaxed);
    }

    pub(crate) fn add_lost(&self, n: u64) {
        self.lost.fetch_add(n, Relaxed);
    }

    pub(crate) fn set_lag(&self, n: u64) {
        self.lag.store(n, Relaxed);
    }

    pub(crate) fn add_malformed(&self) {
        self.malformed.fetch_add(1, Relaxed);
    }

    pub(crate) fn add_duplicates(&self, n: u64) {
        self.duplicates.fetch_add(n, Relaxed);
    }

    pub(crate) fn add_rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    pub(crate) fn add_source(&self) {
        self.sources.fetch_add(1, Relaxed);
    }

    pub(crate) fn add_slow_consumer(&self) {
        self.slow_consumer.fetch_add(1, Relaxed);
    }

    pub(crate) fn set_next_sequence(&self, n: u64) {
        self.next_sequence.store(n, Relaxed);
    }

    pub(crate) fn set_connected(&self, up: bool) {
        if !up && self.connected.swap(false, Relaxed) {
            self.disconnects.fetch_add(1, Relaxed);
        } else if up {
            self.connected.store(true, Relaxed);
        }
    }

    pub(crate) fn set_ended(&self) {
        self.ended.store(true, Relaxed);
    }
}
