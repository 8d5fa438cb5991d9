//! The sending half: a reader of the source ring that sends what it reads
//! as frames.
//!
//! It waits for an event, then takes every event already published behind
//! it, up to the frame's size, without waiting again: one message carries
//! one event when events are rare (the least latency) and many when they
//! come fast (the least cost per event), as a disruptor's batching does.
//! The events are copied once, from the ring into the frame, and the read
//! (a lossy reader's pin) ends before the frame is sent, so the network
//! never holds the source's writer back through a read.

use crate::frame::{self, EVENT_HEADER_LEN, Encoder, HEADER_LEN, MAX_EVENT_LEN};
use crate::{BridgeError, Delivery, OutOptions, Progress, connect};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishAckFuture};
use bytes::Bytes;
use slotcast::{ReadError, ReaderOptions, Runtime, StartAt};
use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use tokio::time::{Instant, sleep_until};

/// Runs the sending half until `stop` completes or the source's stream
/// ends (then an end frame tells the receiving side). Counters go to
/// `progress`. [`spawn_out`](crate::spawn_out) runs it on a thread of its
/// own; call this to run it on a tokio runtime of yours.
pub async fn run_out(
    runtime: &Runtime,
    options: &OutOptions,
    progress: &Arc<Progress>,
    stop: impl Future<Output = ()>,
) -> Result<(), BridgeError> {
    // `stop` asks the loop to send what it read and settle; a server that
    // is away could keep it sending for minutes, so past a bound the
    // bridge gives up on it and says so.
    let (asked, asked_rx) = tokio::sync::watch::channel(false);
    let graceful = async move {
        let mut rx = asked_rx;
        let _ = rx.wait_for(|&asked| asked).await;
    };
    let mut running = std::pin::pin!(send_until(runtime, options, progress, graceful));
    let mut stop = std::pin::pin!(stop);
    tokio::select! {
        result = &mut running => return result,
        () = &mut stop => {
            let _ = asked.send(true);
        }
    }
    match tokio::time::timeout(SETTLE_TIMEOUT + std::time::Duration::from_secs(5), running).await {
        Ok(result) => result,
        Err(_) => Err(BridgeError::Nats {
            what: "stop",
            source: format!(
                "the server did not take what the bridge sent within {:?} of the stop: \
                 events counted as sent may not have arrived",
                SETTLE_TIMEOUT + std::time::Duration::from_secs(5)
            )
            .into(),
        }),
    }
}

async fn send_until(
    runtime: &Runtime,
    options: &OutOptions,
    progress: &Arc<Progress>,
    stop: impl Future<Output = ()>,
) -> Result<(), BridgeError> {
    let mut stop = std::pin::pin!(stop);
    let Some(client) = connect(&options.link, "slotcast-bridge-out", progress, 1, stop.as_mut()).await? else {
        return Ok(());
    };
    let max_payload = client.server_info().max_payload;
    if max_payload < HEADER_LEN + EVENT_HEADER_LEN + MAX_EVENT_LEN {
        return Err(BridgeError::PayloadTooSmall { max_payload });
    }
    let max_frame = options.max_frame_bytes.clamp(HEADER_LEN + EVENT_HEADER_LEN + MAX_EVENT_LEN, max_payload);
    let source = options.source.unwrap_or_else(|| source_of(runtime));
    let mut sender = Sender::new(client, options).await?;
    // With JetStream, carry on after the last frame the stream holds from
    // this source (a restart of this bridge): from the oldest event the
    // ring holds, skipping what was sent.
    let resume = sender.last_sent(source).await?;
    let start_at = if resume.is_some() { StartAt::Oldest } else { options.start_at };
    let mut reader = runtime
        .reader_with(ReaderOptions::new().policy(options.policy).start_at(start_at))
        .map_err(BridgeError::Join)?;
    let skip_below = resume.unwrap_or(0);
    // Resumed: the first event read should be the one after the last sent;
    // events the ring no longer holds are lost (and travel as a gap).
    let mut resumed_at = resume;
    let mut encoder = Encoder::new(source, max_frame);
    let mut last_sent = Instant::now();
    loop {
        progress.set_lag(reader.lag());
        progress.set_next_sequence(reader.cursor());
        let heartbeat_at = last_sent + options.heartbeat;
        // Wait for the first event of a frame, a heartbeat's time, or stop.
        let waited = tokio::select! {
            biased;
            () = &mut stop => break,
            read = reader.recv_async() => match read {
                Ok(event) => {
                    // The frame is empty: the first event always fits.
                    if event.sequence() >= skip_below {
                        count_resume_gap(&mut resumed_at, event.sequence(), progress);
                        encoder.push(event.sequence(), event.event_type(), event.data());
                    }
                    Waited::Event
                }
                Err(e) => Waited::Error(e),
            },
            () = sleep_until(heartbeat_at) => Waited::Idle,
        };
        let mut ended = match waited {
            Waited::Event => None,
            Waited::Error(e) => Some(e),
            Waited::Idle => {
                // Idle: what is in flight is acknowledged first, so that a
                // refused frame is sent again within a heartbeat rather than
                // when the window next fills.
                sender.settle_in_flight().await?;
                let next = reader.cursor();
                sender.send(Bytes::from(frame::heartbeat(source, next)), Id::Heartbeat(source, next), progress).await?;
                last_sent = Instant::now();
                continue;
            }
        };
        // Everything already published behind it, up to a frame.
        while ended.is_none() {
            match reader.try_recv() {
                Ok(Some(event)) => {
                    let sequence = event.sequence();
                    if sequence < skip_below {
                        continue;
                    }
                    count_resume_gap(&mut resumed_at, sequence, progress);
                    if encoder.follows(sequence) && (encoder.is_empty() || encoder.len_with(event.len()) <= max_frame) {
                        encoder.push(sequence, event.event_type(), event.data());
                        continue;
                    }
                    // Full, or a gap (the writer lapped this lossy reader
                    // between two reads): the frame goes and this event
                    // starts the next one. The read ends before the send.
                    let done = Done::take(&mut encoder);
                    encoder.push(sequence, event.event_type(), event.data());
                    drop(event);
                    done.send(&mut sender, progress).await?;
                    last_sent = Instant::now();
                }
                Ok(None) => break,
                Err(e) => ended = Some(e),
            }
        }
        if !encoder.is_empty() {
            Done::take(&mut encoder).send(&mut sender, progress).await?;
            last_sent = Instant::now();
        }
        match ended {
            None => {}
            Some(ReadError::Lagged { missed }) => progress.add_lost(missed),
            // Between writers: reads wait for the next one as for the first.
            Some(ReadError::WriterDead) => {}
            Some(ReadError::Closed) => {
                let next = reader.cursor();
                progress.set_next_sequence(next);
                progress.set_lag(reader.lag());
                sender.send(Bytes::from(frame::end(source, next)), Id::End(source, next), progress).await?;
                sender.settle().await?;
                progress.set_ended();
                return Ok(());
            }
            Some(e) => return Err(BridgeError::Read(e)),
        }
    }
    if !encoder.is_empty() {
        Done::take(&mut encoder).send(&mut sender, progress).await?;
    }
    progress.set_next_sequence(reader.cursor());
    progress.set_lag(reader.lag());
    sender.settle().await
}

/// What the wait for a frame's first event ended with.
enum Waited {
    Event,
    Error(ReadError),
    Idle,
}

/// Counts the events between the last one a resumed bridge sent and the
/// first it reads as lost: the ring no longer held them.
fn count_resume_gap(resumed_at: &mut Option<u64>, sequence: u64, progress: &Progress) {
    if let Some(expected) = resumed_at.take() {
        progress.add_lost(sequence.saturating_sub(expected));
    }
}

/// A finished frame and what it holds.
struct Done {
    bytes: Vec<u8>,
    source: u64,
    first: u64,
    count: u32,
    payload: usize,
}

impl Done {
    fn take(encoder: &mut Encoder) -> Done {
        let (source, first, count, payload) =
            (encoder.source(), encoder.first(), encoder.count(), encoder.payload_bytes());
        Done { bytes: encoder.take(), source, first, count, payload }
    }

    async fn send(self, sender: &mut Sender, progress: &Progress) -> Result<(), BridgeError> {
        sender.send(Bytes::from(self.bytes), Id::Events(self.source, self.first), progress).await?;
        progress.add_events(u64::from(self.count), self.payload as u64);
        Ok(())
    }
}

/// A frame's identity, the JetStream message id that makes a frame sent
/// twice (a retry, a restarted bridge) stored once.
#[derive(Clone, Copy, Debug)]
enum Id {
    Events(u64, u64),
    Heartbeat(u64, u64),
    End(u64, u64),
}

impl Id {
    fn text(self) -> String {
        match self {
            Id::Events(source, first) => format!("{source:016x}-e{first}"),
            Id::Heartbeat(source, next) => format!("{source:016x}-h{next}"),
            Id::End(source, next) => format!("{source:016x}-z{next}"),
        }
    }
}

/// How long a stopping or ending bridge waits for the server to take what
/// it sent (core NATS: the client's flush; JetStream: the last
/// acknowledgements) before it reports that some may not have arrived.
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Core NATS or JetStream publishing.
enum Sender {
    Core { client: async_nats::Client, subject: async_nats::Subject },
    JetStream(Box<JetStreamSender>),
}

/// Publishing to JetStream in order, with frames in flight.
///
/// Frames are pipelined (up to `max_in_flight` unacknowledged), so a frame
/// lost with a connection could be followed by later ones stored after the
/// reconnection; sent again, it would be stored after them, out of order.
/// So each frame names its predecessor's message id
/// (`Nats-Expected-Last-Msg-Id`): the server stores a frame only right
/// after the one before it, and refuses the later ones of a broken chain.
/// The stream is then always a prefix of what was sent, in order; on a
/// failure the sender waits for every frame in flight, asks the stream for
/// its last frame, and sends again, in order, what follows it.
///
/// A chain's first frame (the bridge's first, or the first sent again)
/// names instead the stream sequence of the subject's last message
/// (`Nats-Expected-Last-Subject-Sequence`): the server keeps that across a
/// restart, where it forgets a message id older than its duplicate window,
/// and another subject's messages in a wider stream do not move it.
struct JetStreamSender {
    context: jetstream::Context,
    stream: jetstream::stream::Stream,
    subject: async_nats::Subject,
    /// Frames sent and not yet acknowledged, oldest first.
    in_flight: VecDeque<(Bytes, String, PublishAckFuture)>,
    max_in_flight: usize,
    /// The message id of the last frame sent (the chain's end).
    last_id: Option<String>,
    /// Before a chain's first frame: the stream sequence of the subject's
    /// last message it must follow (`Some(0)`: none, the subject is empty).
    anchor: Option<u64>,
}

/// The last message of the subject in the stream.
struct Stored {
    /// Its message id (a frame's), if it has one.
    id: Option<String>,
    /// Its stream sequence.
    sequence: u64,
    payload: Bytes,
}

/// Rounds of sending again before the bridge gives up on the server.
const JETSTREAM_RETRIES: usize = 20;

impl Sender {
    async fn new(client: async_nats::Client, options: &OutOptions) -> Result<Sender, BridgeError> {
        let subject = async_nats::Subject::from(options.link.subject.as_str());
        Ok(match &options.link.delivery {
            Delivery::Core => Sender::Core { client, subject },
            Delivery::JetStream { stream, .. } => {
                let mut context = jetstream::new(client);
                // A frame lost with its connection is found by its
                // acknowledgement's timeout: 2 s rather than the client's 5
                // (a slow server's late acknowledgement only costs a check
                // of the stream's last frame and no resend).
                context.set_timeout(std::time::Duration::from_secs(2));
                let stream = ensure_stream(&context, stream, &options.link.subject).await?;
                Sender::JetStream(Box::new(JetStreamSender {
                    context,
                    stream,
                    subject,
                    in_flight: VecDeque::new(),
                    max_in_flight: options.max_in_flight.max(1),
                    last_id: None,
                    anchor: None,
                }))
            }
        })
    }

    /// With JetStream, the source sequence after the last frame of
    /// `source` the stream holds on the subject (and the chain starts at
    /// that frame, whatever its source).
    async fn last_sent(&mut self, source: u64) -> Result<Option<u64>, BridgeError> {
        let Sender::JetStream(js) = self else { return Ok(None) };
        let last = js.last_stored().await?;
        js.anchor = Some(last.as_ref().map_or(0, |l| l.sequence));
        js.last_id = None;
        let Some(Stored { payload, .. }) = last else { return Ok(None) };
        Ok(frame::Frame::parse(&payload).ok().filter(|f| f.source() == source).map(|f| f.next_sequence()))
    }

    async fn send(&mut self, frame: Bytes, id: Id, progress: &Progress) -> Result<(), BridgeError> {
        match self {
            Sender::Core { client, subject } => {
                client
                    .publish(subject.clone(), frame)
                    .await
                    .map_err(|e| BridgeError::Nats { what: "publish", source: Box::new(e) })?;
            }
            Sender::JetStream(js) => {
                if js.in_flight.len() >= js.max_in_flight {
                    js.settle_one().await?;
                }
                js.publish(frame, id.text()).await?;
            }
        }
        progress.add_message();
        Ok(())
    }

    /// With JetStream, waits until every frame in flight is stored (sending
    /// again what was not).
    async fn settle_in_flight(&mut self) -> Result<(), BridgeError> {
        if let Sender::JetStream(js) = self {
            while !js.in_flight.is_empty() {
                js.settle_one().await?;
            }
        }
        Ok(())
    }

    /// Waits until everything sent is with the server (and, with
    /// JetStream, stored), for at most [`SETTLE_TIMEOUT`].
    async fn settle(&mut self) -> Result<(), BridgeError> {
        let settled = async {
            match self {
                Sender::Core { client, .. } => {
                    client.flush().await.map_err(|e| BridgeError::Nats { what: "flush", source: Box::new(e) })
                }
                Sender::JetStream(_) => self.settle_in_flight().await,
            }
        };
        match tokio::time::timeout(SETTLE_TIMEOUT, settled).await {
            Ok(result) => result,
            Err(_) => Err(BridgeError::Nats {
                what: "settle",
                source: format!(
                    "the server did not take the last frames within {SETTLE_TIMEOUT:?}: \
                     events counted as sent may not have arrived"
                )
                .into(),
            }),
        }
    }
}

impl JetStreamSender {
    /// The last message the stream holds on the subject.
    async fn last_stored(&mut self) -> Result<Option<Stored>, BridgeError> {
        // An empty stream is asked nothing more: nats-server 2.9.10 can
        // crash on a message request to a stream just created (a nil
        // dereference in `jsMsgGetRequest`, seen under load).
        let info = self
            .stream
            .info()
            .await
            .map_err(|e| BridgeError::Nats { what: "read the stream's state", source: Box::new(e) })?;
        if info.state.messages == 0 {
            return Ok(None);
        }
        match self.stream.get_last_raw_message_by_subject(self.subject.as_str()).await {
            Ok(message) => {
                let id = message.headers.get(async_nats::header::NATS_MESSAGE_ID).map(|v| v.as_str().to_owned());
                Ok(Some(Stored { id, sequence: message.sequence, payload: message.payload }))
            }
            Err(e) if e.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(BridgeError::Nats { what: "read the stream's last frame", source: Box::new(e) }),
        }
    }

    /// Sends a frame at the chain's end.
    async fn publish(&mut self, frame: Bytes, id: String) -> Result<(), BridgeError> {
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        if let Some(anchor) = self.anchor.take() {
            headers.insert(async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, anchor.to_string().as_str());
        } else if let Some(last) = &self.last_id {
            headers.insert(async_nats::header::NATS_EXPECTED_LAST_MESSAGE_ID, last.as_str());
        }
        let ack = self
            .context
            .publish_with_headers(self.subject.clone(), headers, frame.clone())
            .await
            .map_err(|e| BridgeError::Nats { what: "publish to JetStream", source: Box::new(e) })?;
        self.last_id = Some(id.clone());
        self.in_flight.push_back((frame, id, ack));
        Ok(())
    }

    /// Waits for the oldest frame in flight to be stored. If it is not,
    /// waits for all the others, finds the stream's last frame and sends
    /// everything after it again, in order, until the server stores it all.
    async fn settle_one(&mut self) -> Result<(), BridgeError> {
        let Some((frame, id, ack)) = self.in_flight.pop_front() else { return Ok(()) };
        let mut error = match ack.await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        // Every frame still in flight is stored, or refused because the
        // chain broke before it: the stream says which, once they have all
        // been answered (or timed out: together, since an acknowledgement's
        // timeout starts when it is awaited).
        let mut unsent = VecDeque::from([(frame, id)]);
        let (rest, acks): (Vec<_>, Vec<_>) =
            self.in_flight.drain(..).map(|(f, i, ack)| ((f, i), ack.into_future())).unzip();
        futures_util::future::join_all(acks).await;
        unsent.extend(rest);
        for round in 0..JETSTREAM_RETRIES as u64 {
            // At once the first time (a frame refused by a server that is
            // up: another publisher's message broke the chain), then with
            // growing pauses (a server restarting).
            tokio::time::sleep(std::time::Duration::from_millis(100 * round)).await;
            let last = match self.last_stored().await {
                Ok(last) => last,
                // The server is still away: look again.
                Err(_) => continue,
            };
            let last_id = last.as_ref().and_then(|l| l.id.as_ref());
            if let Some(k) = last_id.and_then(|last| unsent.iter().position(|(_, i)| i == last)) {
                unsent.drain(..=k);
            }
            // A new chain, anchored where the subject stands.
            self.anchor = Some(last.as_ref().map_or(0, |l| l.sequence));
            self.last_id = None;
            for (f, i) in std::mem::take(&mut unsent) {
                self.publish(f, i).await?;
            }
            // This round's outcome: from its first failure on, everything
            // is looked at again.
            let (sent, acks): (Vec<_>, Vec<_>) =
                self.in_flight.drain(..).map(|(f, i, ack)| ((f, i), ack.into_future())).unzip();
            let mut failed = None;
            for ((f, i), result) in sent.into_iter().zip(futures_util::future::join_all(acks).await) {
                match result {
                    Ok(_) if failed.is_none() => {}
                    Ok(_) => unsent.push_back((f, i)),
                    Err(e) => {
                        failed.get_or_insert(e);
                        unsent.push_back((f, i));
                    }
                }
            }
            match failed {
                None => return Ok(()),
                Some(e) => error = e,
            }
        }
        Err(BridgeError::Nats { what: "JetStream did not store a frame", source: Box::new(error) })
    }
}

/// The stream `name` over `subject`, created if it does not exist (file
/// storage, limits retention: frames stay until the stream's limits drop
/// them, whatever anyone has read). Two bridges may start at once: the
/// one that loses the race to create it finds the other's. A server that
/// has just started may time out: asked again, with a growing pause, for
/// about half a minute.
pub(crate) async fn ensure_stream(
    context: &jetstream::Context,
    name: &str,
    subject: &str,
) -> Result<jetstream::stream::Stream, BridgeError> {
    let config = jetstream::stream::Config {
        name: name.to_owned(),
        subjects: vec![subject.to_owned()],
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    };
    let mut pause = std::time::Duration::from_millis(50);
    let mut tries = 0;
    loop {
        let error: Box<dyn std::error::Error + Send + Sync> = match context.get_stream(name).await {
            Ok(stream) => return Ok(stream),
            // Not there (or the server did not answer): create it.
            Err(_) => match context.create_stream(config.clone()).await {
                Ok(stream) => return Ok(stream),
                // Another bridge created it meanwhile (the server says the
                // name is taken or the subject overlaps): the next round
                // finds it.
                Err(e) => Box::new(e),
            },
        };
        tries += 1;
        if tries >= 12 {
            return Err(BridgeError::Nats { what: "create or find the JetStream stream", source: error });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
    }
}

/// The source's identity: for a runtime in a file, the file's identity
/// (stable while the file lives, new when it is created again); otherwise
/// random.
fn source_of(runtime: &Runtime) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    if let Some(id) = runtime.path().and_then(crate::file_identity) {
        return id;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    h.finish()
}
