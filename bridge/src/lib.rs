//! Bridge a slotcast ring to other machines over NATS.
//!
//! A ring ends at the edge of one machine. The bridge carries its events
//! across NATS, an existing message system, in two halves:
//!
//! * **out** ([`spawn_out`], [`run_out`]) joins a runtime as a reader and
//!   publishes its events to a NATS subject, as many per message as are
//!   ready (up to [`OutOptions::max_frame_bytes`]), each with its type and
//!   sequence number ([`frame`] is the format);
//! * **in** ([`spawn_in`], [`run_in`]) takes the subject's messages and
//!   publishes their events, in order, into a runtime on its own machine,
//!   where local readers read them in place as if the writer were local.
//!
//! Sequence numbers travel with the events, so the receiving side knows
//! what it did not get: a gap is counted as lost events
//! ([`Snapshot::lost`]), exactly, never passed over in silence. Two
//! deliveries ([`Delivery`]):
//!
//! * **Core NATS** is at most once: a message the server or the network
//!   drops (a server restart, a slow consumer) is gone, and the receiving
//!   side counts exactly the events it carried. Nothing is stored, so it
//!   costs the least and adds the least latency. Choose it for data that
//!   is stale once missed (quotes, telemetry) and when the count of what
//!   was missed is all you need.
//! * **JetStream** stores the frames in a stream on the server (created if
//!   missing: file storage, kept until the stream's limits drop them); the
//!   receiving side reads them in order with an ordered consumer. A
//!   receiving bridge that restarts resumes where its ring ends, from a
//!   small record next to its runtime ([`InOptions::resume_file`]),
//!   neither losing nor repeating an event; a sending bridge that restarts
//!   resumes after the last frame the stream holds, as far back as its ring
//!   still holds the events (those in ring entries, 64 bytes or less; a
//!   larger event's pool slot is reused once no reader holds it), and
//!   counts the rest as lost. Choose it when every event must arrive; the
//!   stream's limits bound how long a receiving bridge may be away.
//!
//! **Trust.** Whoever may publish on the subject is trusted as the
//! source's processes are: the receiving bridge rejects any message that
//! is not a well-formed frame (counted, none of its bytes in the ring), but
//! a well-formed frame with invented events or sequence numbers is taken
//! for the source's (a frame far ahead makes the events before it count as
//! lost, and later real ones as duplicates). Keep the subject to the
//! bridges with the server's permissions (accounts, users, TLS). For the
//! same reason one subject carries one ring's events: a receiving bridge
//! takes each change of source for a new stream.
//!
//! ```no_run
//! use slotcast::Runtime;
//! use slotcast_bridge::{Delivery, InOptions, Link, OutOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // On the sending machine: the ring a local writer publishes into.
//! let source = Runtime::open("/dev/shm/quotes")?;
//! let link = Link::new("nats://10.0.0.1:4222", "quotes", Delivery::Core);
//! let out = slotcast_bridge::spawn_out(source, OutOptions::new(link.clone()))?;
//!
//! // On the receiving machine: a runtime its local readers open.
//! let sink = Runtime::open("/dev/shm/quotes")?;
//! let bridge_in = slotcast_bridge::spawn_in(sink, InOptions::new(link))?;
//! println!("{:?}", bridge_in.progress());
//! # out.stop(); out.join()?; bridge_in.stop(); bridge_in.join()?;
//! # Ok(())
//! # }
//! ```

pub mod frame;
mod inbound;
mod outbound;
mod progress;
mod resume;

pub use inbound::run_in;
pub use outbound::run_out;
pub use progress::{Progress, Snapshot};

use async_nats::ConnectOptions;
use slotcast::{Policy, Runtime, StartAt};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::Notify;

/// Where a bridge's frames go: a NATS server, a subject, and how they are
/// delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The server's URL (`nats://host:4222`; several, comma-separated, for
    /// a cluster).
    pub url: String,
    /// The subject the frames are published to.
    pub subject: String,
    /// Core NATS or JetStream.
    pub delivery: Delivery,
    /// How long a bridge waits for its first connection before it gives up
    /// ([`BridgeError::Nats`], `what: "connect"`). `None` (the default):
    /// as long as it takes, so that a bridge may start before its server.
    /// Once connected, a bridge reconnects by itself, forever.
    pub connect_timeout: Option<Duration>,
}

impl Link {
    /// A link to `subject` on the server at `url`.
    pub fn new(url: impl Into<String>, subject: impl Into<String>, delivery: Delivery) -> Link {
        Link { url: url.into(), subject: subject.into(), delivery, connect_timeout: None }
    }
}

/// How frames travel (see the crate's documentation for which to choose).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Core NATS: at most once; losses are counted exactly.
    Core,
    /// JetStream: stored in `stream`. A stream that does not exist is
    /// created over the link's subject with file storage and no limits (it
    /// grows until the server's own limits stop it): create it yourself, or
    /// edit it (`nats stream edit`), with the maximum age or size you want;
    /// the bridges use an existing stream as it is.
    JetStream {
        /// The stream's name.
        stream: String,
    },
}

impl Delivery {
    /// JetStream with the default stream for `subject`: `SLOTCAST_<subject>`,
    /// with every character a name may not hold (`.`, `*`, `>`, `/`, `\`,
    /// white space) replaced by `_`.
    pub fn jetstream_for(subject: &str) -> Delivery {
        let clean: String = subject
            .chars()
            .map(|c| if matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace() { '_' } else { c })
            .collect();
        Delivery::JetStream { stream: format!("SLOTCAST_{clean}") }
    }
}

/// The sending half's settings.
#[derive(Clone, Debug)]
pub struct OutOptions {
    /// Where to send.
    pub link: Link,
    /// The reader's policy: gating (the default: the source's writer waits
    /// for the bridge, so nothing is lost before the network) or lossy
    /// (the bridge never slows the writer; what it misses is counted and
    /// travels as a gap).
    pub policy: Policy,
    /// Where the reader starts when there is nothing to resume from: the
    /// next event published (the default) or the oldest the ring holds.
    pub start_at: StartAt,
    /// The most bytes in one message (frame header and events); the
    /// server's own maximum payload caps it. Default 64 KiB: a thousand
    /// 64-byte events, enough to amortise a message's cost, small enough
    /// that a receiving bridge's buffer of frames stays bounded.
    pub max_frame_bytes: usize,
    /// How long without an event before a heartbeat says where the source
    /// is (so a loss at the end of a burst is counted). Default 1 s.
    pub heartbeat: Duration,
    /// Frames sent to JetStream and not yet acknowledged, at most. Default 64.
    pub max_in_flight: usize,
    /// The source's identity in the frames. Default: one derived from the
    /// runtime's file (its device, inode and change time), so that a
    /// restarted bridge on the same file keeps it, and a file created again
    /// is a new source; random for a runtime in memory.
    pub source: Option<u64>,
}

impl OutOptions {
    /// The default [`max_frame_bytes`](Self::max_frame_bytes): 64 KiB.
    pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;

    /// The defaults, sending over `link`.
    pub fn new(link: Link) -> OutOptions {
        OutOptions {
            link,
            policy: Policy::Gating,
            start_at: StartAt::Now,
            max_frame_bytes: Self::DEFAULT_MAX_FRAME_BYTES,
            heartbeat: Duration::from_secs(1),
            max_in_flight: 64,
            source: None,
        }
    }
}

/// The receiving half's settings.
#[derive(Clone, Debug)]
pub struct InOptions {
    /// Where to receive from.
    pub link: Link,
    /// Where the receiving bridge records which source sequence its ring's
    /// next event is, so that a restart resumes there (JetStream) instead
    /// of publishing again what is already in the ring. Written when a
    /// run of events starts (the first frame, a gap) and then every 64
    /// frames or every second, whichever comes first (at a frame's end,
    /// never per event). Default: none; [`spawn_in`] on a runtime in
    /// a file uses `<file>.bridge-in`.
    pub resume_file: Option<PathBuf>,
    /// Frames the NATS client holds for the bridge while it publishes into
    /// a full ring, at most. Core NATS: beyond them the client drops frames
    /// (a slow consumer, [`Snapshot::slow_consumer`]) and their events are
    /// counted lost. Default 8192: with the default 64 KiB frames, at most
    /// 512 MiB; the sending bridge chooses the frame size
    /// ([`OutOptions::max_frame_bytes`], up to the server's `max_payload`,
    /// 1 MiB unless configured), so the bound is this many of its frames.
    pub max_pending_frames: usize,
}

impl InOptions {
    /// The defaults, receiving over `link`.
    pub fn new(link: Link) -> InOptions {
        InOptions { link, resume_file: None, max_pending_frames: 8192 }
    }
}

/// Why a bridge stopped or could not start.
#[derive(Debug)]
pub enum BridgeError {
    /// A step with the NATS server failed (connect, subscribe, create the
    /// stream or the consumer, publish to JetStream).
    Nats {
        /// The step.
        what: &'static str,
        /// The client's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server's maximum payload cannot carry one event of the largest
    /// size class.
    PayloadTooSmall {
        /// The server's maximum payload.
        max_payload: usize,
    },
    /// Joining the source runtime as a reader failed.
    Join(slotcast::JoinError),
    /// Taking the local runtime's writer role failed (another writer holds
    /// it).
    Writer(slotcast::WriterError),
    /// Reading the source failed (other than lapping or the stream's end).
    Read(slotcast::ReadError),
    /// Publishing into the local runtime failed for a reason other than a
    /// full ring.
    Publish(slotcast::PublishError),
    /// The resume record could not be read or written.
    Resume(std::io::Error),
    /// The bridge's thread could not be started, or panicked.
    Thread(String),
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::Nats { what, source } => write!(f, "NATS: {what}: {source}"),
            BridgeError::PayloadTooSmall { max_payload } => write!(
                f,
                "the server's max_payload ({max_payload} bytes) cannot carry a {}-byte event in a frame",
                frame::MAX_EVENT_LEN
            ),
            BridgeError::Join(e) => write!(f, "joining the source as a reader: {e}"),
            BridgeError::Writer(e) => write!(f, "taking the local writer role: {e}"),
            BridgeError::Read(e) => write!(f, "reading the source: {e}"),
            BridgeError::Publish(e) => write!(f, "publishing into the local ring: {e}"),
            BridgeError::Resume(e) => write!(f, "the resume record: {e}"),
            BridgeError::Thread(e) => write!(f, "the bridge's thread: {e}"),
        }
    }
}

impl std::error::Error for BridgeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BridgeError::Nats { source, .. } => Some(source.as_ref()),
            BridgeError::Join(e) => Some(e),
            BridgeError::Writer(e) => Some(e),
            BridgeError::Read(e) => Some(e),
            BridgeError::Publish(e) => Some(e),
            BridgeError::Resume(e) => Some(e),
            BridgeError::PayloadTooSmall { .. } | BridgeError::Thread(_) => None,
        }
    }
}

/// A file's identity: a hash of its device, inode and creation time,
/// stable while the file lives and new when it is created again (FNV-1a,
/// the same value from every build, unlike std's hasher).
pub(crate) fn file_identity(path: &std::path::Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        let created =
            meta.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let bytes = [&meta.dev().to_le_bytes()[..], &meta.ino().to_le_bytes()[..], &created.to_le_bytes()[..]].concat();
        for b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Some(h)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

pub(crate) fn nats_error(what: &'static str) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> BridgeError {
    move |source| BridgeError::Nats { what, source }
}

/// Connects to the link's server, keeping `progress`'s connection state:
/// the client reconnects by itself, forever, and says so through its
/// events. `None` when `stop` came first.
pub(crate) async fn connect(
    link: &Link,
    name: &str,
    progress: &Arc<Progress>,
    pending_frames: usize,
    stop: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Option<async_nats::Client>, BridgeError> {
    let deadline = link.connect_timeout.map(|t| tokio::time::Instant::now() + t);
    let connecting = connect_forever(link, name, progress, pending_frames);
    tokio::select! {
        biased;
        () = stop => Ok(None),
        client = connecting => client.map(Some),
        () = async { match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        } } => Err(BridgeError::Nats {
            what: "connect",
            source: format!("no server answered at {} within {:?}", link.url, link.connect_timeout.unwrap_or_default()).into(),
        }),
    }
}

async fn connect_forever(
    link: &Link,
    name: &str,
    progress: &Arc<Progress>,
    pending_frames: usize,
) -> Result<async_nats::Client, BridgeError> {
    let events = Arc::clone(progress);
    let client = ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        // A lost server is found within a few seconds rather than two minutes.
        .ping_interval(Duration::from_secs(2))
        // Frames held while the receiving bridge publishes into a full ring
        // ([`InOptions::max_pending_frames`]).
        .subscription_capacity(pending_frames.max(1))
        .event_callback(move |event| {
            let events = Arc::clone(&events);
            async move {
                match event {
                    async_nats::Event::Connected => events.set_connected(true),
                    async_nats::Event::Disconnected | async_nats::Event::Closed => events.set_connected(false),
                    async_nats::Event::SlowConsumer(_) => events.add_slow_consumer(),
                    _ => {}
                }
            }
        })
        .connect(link.url.as_str())
        .await
        .map_err(|e| BridgeError::Nats { what: "connect", source: Box::new(e) })?;
    // `retry_on_initial_connect` returns at once and connects in the
    // background (a bridge may start before its server); the server's
    // limits are known once it has.
    while client.connection_state() != async_nats::connection::State::Connected {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    progress.set_connected(true);
    Ok(client)
}

/// A bridge running on a thread of its own ([`spawn_out`], [`spawn_in`]).
#[derive(Debug)]
pub struct Running {
    progress: Arc<Progress>,
    stop: Arc<Notify>,
    thread: JoinHandle<Result<(), BridgeError>>,
}

impl Running {
    /// Its counters now.
    pub fn progress(&self) -> Snapshot {
        self.progress.snapshot()
    }

    /// Its counters, to read later.
    pub fn progress_handle(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }

    /// Asks it to stop: the sending half sends what it has read and waits
    /// for the server to take it (JetStream: to acknowledge it), for at
    /// most 15 s, after which it ends with an error saying that what it
    /// counted as sent may not have arrived; the receiving half stops
    /// after the event it is publishing. Returns at once;
    /// [`join`](Self::join) waits.
    pub fn stop(&self) {
        self.stop.notify_one();
    }

    /// Whether it has stopped (by [`stop`](Self::stop), at the source's
    /// end, or on an error).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for it to stop; its last counters, or why it failed.
    pub fn join(self) -> Result<Snapshot, BridgeError> {
        match self.thread.join() {
            Ok(result) => result.map(|()| self.progress.snapshot()),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panicked".into());
                Err(BridgeError::Thread(what))
            }
        }
    }
}

fn spawn<F, Fut>(name: &str, body: F) -> Result<Running, BridgeError>
where
    F: FnOnce(Arc<Progress>, Arc<Notify>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BridgeError>>,
{
    let progress = Arc::new(Progress::default());
    let stop = Arc::new(Notify::new());
    let (p, s) = (Arc::clone(&progress), Arc::clone(&stop));
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // One thread: the bridge and the client's connection task. A
            // bridge is one stream of frames; more threads would only hand
            // them between cores.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| BridgeError::Thread(e.to_string()))?;
            rt.block_on(body(p, s))
        })
        .map_err(|e| BridgeError::Thread(e.to_string()))?;
    Ok(Running { progress, stop, thread })
}

/// Starts the sending half on a thread of its own: joins `runtime` as a
/// reader and sends its events over `options.link` until it is stopped or
/// the source's stream ends.
pub fn spawn_out(runtime: Runtime, options: OutOptions) -> Result<Running, BridgeError> {
    spawn("slotcast-bridge-out", move |progress, stop| async move {
        run_out(&runtime, &options, &progress, stop.notified()).await
    })
}

/// Starts the receiving half on a thread of its own: takes `runtime`'s
/// writer role and publishes the link's events into it until it is stopped
/// or the source's stream ends, and then closes the local stream as any
/// writer does (local readers read every event, then see its end). A
/// bridge that fails (its link, its resume record) leaves the local stream
/// open instead ([`Writer::abandon`](slotcast::Writer::abandon)), as one
/// whose process dies does: local readers see `WriterDead` and wait for a
/// new bridge. A runtime in a file gets the resume record
/// `<file>.bridge-in` unless `options.resume_file` names another.
pub fn spawn_in(runtime: Runtime, mut options: InOptions) -> Result<Running, BridgeError> {
    if options.resume_file.is_none() {
        options.resume_file = runtime.path().map(resume::default_path);
    }
    spawn("slotcast-bridge-in", move |progress, stop| async move {
        run_in(&runtime, &options, &progress, stop.notified()).await
    })
}
