//! The receiving half: frames from NATS, published in order into the
//! local ring.
//!
//! Each frame is checked whole before any of its events is published
//! ([`Frame::parse`]): a malformed message is counted and dropped, and the
//! bridge goes on. The events are copied once, from the message into the
//! ring (its entry or a slot); local readers then read them in place.
//!
//! Sequence numbers decide everything else. `next` is the source sequence
//! the ring's next event must have:
//!
//! * a frame below `next` was published already (read again after a
//!   restart): its events are counted as duplicates, not published;
//! * a frame that starts below `next` and ends above it is published from
//!   `next` on;
//! * a frame above `next` leaves a gap: the events in it are lost, and
//!   counted (with core NATS, the messages the server dropped; with either,
//!   the events a lossy sending bridge was lapped past);
//! * a heartbeat or an end above `next` is a gap at the end of a burst;
//! * a frame from another source starts a new stream (the source's file was
//!   created again): counted in `sources`, not as a loss;
//! * an event the ring has no slot class for is counted as rejected and
//!   skipped, and the run goes on after it.
//!
//! With a resume file, a record of (local sequence, source sequence, and
//! with JetStream the stream position to read from) is written before the
//! first event of every run between gaps and then every 64 frames or every
//! second ([`crate::resume`]), so a restarted bridge knows `next`, and
//! where to read, from its ring alone.

use crate::frame::{Frame, Kind};
use crate::resume::Record;
use crate::{BridgeError, Delivery, InOptions, Progress, connect, nats_error, outbound::ensure_stream};
use async_nats::jetstream::{
    self,
    consumer::{DeliverPolicy, pull, pull::OrderedErrorKind},
};
use futures_util::StreamExt;
use slotcast::{PublishError, Runtime, Writer};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the receiving half until `stop` completes or the source's stream
/// ends, then closes the local stream (as dropping a writer does: local
/// readers read every event, then see the end); on an error, leaves it
/// open for a new bridge (local readers see `WriterDead`). Counters go to
/// `progress`.
/// [`spawn_in`](crate::spawn_in) runs it on a thread of its own; call this
/// to run it on a tokio runtime of yours.
pub async fn run_in(
    runtime: &Runtime,
    options: &InOptions,
    progress: &Arc<Progress>,
    stop: impl Future<Output = ()>,
) -> Result<(), BridgeError> {
    let mut stop = std::pin::pin!(stop);
    // Connected before the writer role is taken: a bridge stopped while it
    // waits for its server leaves the local stream as it found it (a
    // writer's drop closes the stream).
    let Some(client) =
        connect(&options.link, "slotcast-bridge-in", progress, options.max_pending_frames, stop.as_mut()).await?
    else {
        return Ok(());
    };
    let writer = runtime.writer().map_err(BridgeError::Writer)?;
    let ring = runtime.path().and_then(crate::file_identity).unwrap_or(0);
    let mut sink = Sink::new(writer, ring, options, progress)?;
    let result = receive(client, &mut sink, options, progress, stop.as_mut()).await;
    // Saved either way, so that a restart reads less again.
    let saved = sink.save();
    match result {
        // Stopped, or the source's stream ended: the local one ends too.
        Ok(()) => {
            sink.writer.close();
            saved
        }
        // Failed: the local stream is left as a dead writer's, not closed,
        // so that local readers wait for a new bridge instead of taking the
        // stream for finished.
        Err(e) => {
            sink.writer.abandon();
            Err(e)
        }
    }
}

/// Takes the link's messages into the ring until `stop`, the source's end,
/// or an error.
async fn receive(
    client: async_nats::Client,
    sink: &mut Sink<'_>,
    options: &InOptions,
    progress: &Progress,
    mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<(), BridgeError> {
    match &options.link.delivery {
        Delivery::Core => {
            let mut messages = client
                .subscribe(options.link.subject.clone())
                .await
                .map_err(|e| nats_error("subscribe")(Box::new(e)))?;
            loop {
                let message = tokio::select! {
                    biased;
                    () = stop.as_mut() => break,
                    message = messages.next() => message,
                };
                // The subscription ends only when the client is closed.
                let Some(message) = message else {
                    return Err(BridgeError::Nats { what: "subscribe", source: "the subscription ended".into() });
                };
                if matches!(sink.take(&message.payload, None, false, stop.as_mut()).await?, Taken::End | Taken::Stopped)
                {
                    break;
                }
            }
        }
        Delivery::JetStream { stream } => {
            let context = jetstream::new(client);
            let stream = ensure_stream(&context, stream, &options.link.subject).await?;
            // An ordered consumer: frames in the stream's order, exactly,
            // from where the resume record says this ring's events stand (or
            // from the stream's first frame), with no acknowledgements. The
            // position lives with the ring, written with it, not on the
            // server: a durable consumer would redeliver the frames a killed
            // bridge had not acknowledged only after its ack wait, behind
            // later ones, and a bridge cannot tell a gap from a late frame.
            let Some(mut messages) =
                open_ordered(&stream, options, sink.resume_from_stream, Some(8), stop.as_mut()).await?
            else {
                return Ok(());
            };
            let mut disconnects = progress.snapshot().disconnects;
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                let message = tokio::select! {
                    biased;
                    () = stop.as_mut() => break,
                    message = messages.next() => message,
                    _ = tick.tick() => {
                        // Reconnected since the consumer was made (the
                        // server restarted: the consumer is gone with it):
                        // made again at once from where the ring stands. The
                        // client's own recovery waits for missed heartbeats,
                        // with growing pauses: over a minute, measured.
                        let now = progress.snapshot();
                        if now.disconnects == disconnects || !now.connected {
                            continue;
                        }
                        disconnects = now.disconnects;
                        None
                    }
                };
                let message = match message {
                    Some(Ok(message)) => message,
                    // The consumer was made for another kind of reading, or
                    // keeps being refused: nothing will come.
                    Some(Err(e))
                        if matches!(
                            e.kind(),
                            OrderedErrorKind::PushBasedConsumer | OrderedErrorKind::RequestLimitExceeded
                        ) =>
                    {
                        return Err(nats_error("read the consumer")(Box::new(e)));
                    }
                    // A missed heartbeat, a pull that failed while the server
                    // restarts, a reconnection: read again from the frame
                    // after the last one whose events are in the ring.
                    Some(Err(_)) | None => {
                        match open_ordered(&stream, options, sink.resume_from_stream, None, stop.as_mut()).await? {
                            Some(again) => messages = again,
                            None => break,
                        }
                        continue;
                    }
                };
                let (stream_sequence, pending) = match message.info() {
                    Ok(info) => {
                        progress.set_lag(info.pending);
                        (Some(info.stream_sequence), info.pending)
                    }
                    Err(_) => (None, 0),
                };
                // An end frame with frames after it in the stream is an old
                // source's end (the source's file was created again), not
                // this stream's.
                let taken = sink.take(&message.payload, stream_sequence, pending > 0, stop.as_mut()).await?;
                if matches!(taken, Taken::End | Taken::Stopped) {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// An ordered consumer's messages from the stream sequence `from` (the
/// stream's first frame when `None`), asked again with a growing pause
/// (up to 2 s) while the server refuses (a stream just created may not
/// take consumers at once, "invalid stream", seen under load; a server
/// restarting): `tries` times, or until it works. `None` when `stop` came.
async fn open_ordered(
    stream: &jetstream::stream::Stream,
    options: &InOptions,
    from: Option<u64>,
    tries: Option<u32>,
    mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Option<pull::Ordered>, BridgeError> {
    let config = pull::OrderedConfig {
        filter_subject: options.link.subject.clone(),
        deliver_policy: match from {
            Some(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
            None => DeliverPolicy::All,
        },
        ..Default::default()
    };
    let mut pause = Duration::from_millis(50);
    let mut tried = 0;
    loop {
        let error: Box<dyn std::error::Error + Send + Sync> = match stream.create_consumer(config.clone()).await {
            Ok(consumer) => match consumer.messages().await {
                Ok(messages) => return Ok(Some(messages)),
                Err(e) => Box::new(e),
            },
            Err(e) => Box::new(e),
        };
        tried += 1;
        if tries.is_some_and(|t| tried >= t) {
            return Err(BridgeError::Nats { what: "create the ordered consumer", source: error });
        }
        tokio::select! {
            biased;
            () = stop.as_mut() => return Ok(None),
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// What became of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Taken {
    /// Its events were published (or were duplicates; or it was a heartbeat).
    Published,
    /// It was not a frame.
    Malformed,
    /// The source's stream ended.
    End,
    /// `stop` came while it waited for room in the ring: its events up to
    /// there are published, the rest are not.
    Stopped,
}

/// How often the resume record is written between runs' starts (at a
/// frame's end, so that a restart reads less again): after this long or
/// this many frames, whichever comes first. A write is a small file and a
/// rename, some tens of microseconds: a frame's events cost more.
const RECORD_EVERY: Duration = Duration::from_secs(1);
const RECORD_EVERY_FRAMES: u32 = 64;

/// The local ring and where the source's sequence numbers stand in it.
struct Sink<'a> {
    writer: Writer,
    /// The local ring's identity ([`crate::file_identity`]; 0 in memory).
    ring: u64,
    options: &'a InOptions,
    progress: &'a Progress,
    /// The source and the sequence number of the event the ring takes
    /// next; `None` before the first frame.
    next: Option<(u64, u64)>,
    /// JetStream: the stream sequence of the frame to read from after a
    /// restart (from the record; then the frame after the last one whose
    /// events are all in the ring).
    resume_from_stream: Option<u64>,
    /// When the record was last written, and frames taken since.
    recorded: Instant,
    unrecorded: u32,
}

impl<'a> Sink<'a> {
    fn new(writer: Writer, ring: u64, options: &'a InOptions, progress: &'a Progress) -> Result<Sink<'a>, BridgeError> {
        let mut next = None;
        let mut resume_from_stream = None;
        if let Some(path) = &options.resume_file {
            if let Some(record) = Record::read(path).map_err(BridgeError::Resume)? {
                // A record of another ring (this one was created again at
                // the same path) or another subject says nothing of this one.
                if record.subject == options.link.subject && record.ring == ring {
                    next = record.source_sequence_at(writer.published()).map(|s| (record.source, s));
                    resume_from_stream = next.and((record.stream > 0).then_some(record.stream));
                }
            }
        }
        if let Some((_, s)) = next {
            progress.set_next_sequence(s);
        }
        Ok(Sink { writer, ring, options, progress, next, resume_from_stream, recorded: Instant::now(), unrecorded: 0 })
    }

    /// Writes the resume record: the ring's next event is `next`'s, and a
    /// restart reads the stream from `resume_from_stream`.
    fn save(&mut self) -> Result<(), BridgeError> {
        let (Some(path), Some((source, sequence))) = (&self.options.resume_file, self.next) else { return Ok(()) };
        let record = Record {
            subject: self.options.link.subject.clone(),
            ring: self.ring,
            source,
            local: self.writer.published(),
            sequence,
            stream: self.resume_from_stream.unwrap_or(0),
        };
        record.write(path).map_err(BridgeError::Resume)?;
        self.recorded = Instant::now();
        self.unrecorded = 0;
        Ok(())
    }

    /// Starts a run: the ring's next event is `source`'s `sequence`.
    fn start_run(&mut self, source: u64, sequence: u64) -> Result<(), BridgeError> {
        self.next = Some((source, sequence));
        self.progress.set_next_sequence(sequence);
        self.save()
    }

    /// Takes one message: a frame's events go into the ring. With
    /// JetStream, `stream_sequence` is its place in the stream and
    /// `more_pending` whether frames follow it there. `stop` ends a wait
    /// for room in the ring.
    async fn take(
        &mut self,
        payload: &[u8],
        stream_sequence: Option<u64>,
        more_pending: bool,
        mut stop: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<Taken, BridgeError> {
        self.progress.add_message();
        let Ok(frame) = Frame::parse(payload) else {
            self.progress.add_malformed();
            return Ok(Taken::Malformed);
        };
        let (source, first, after) = (frame.source(), frame.sequence(), frame.next_sequence());
        // A restart reads again from this frame until it is in the ring.
        if stream_sequence.is_some() {
            self.resume_from_stream = stream_sequence;
        }
        let mut next = match self.next {
            Some((s, next)) if s == source => next,
            // The first frame, or a new source: a new stream starts here.
            _ => {
                self.progress.add_source();
                self.start_run(source, first)?;
                first
            }
        };
        if first > next {
            self.progress.add_lost(first - next);
            self.start_run(source, first)?;
            next = first;
        }
        // Events below `next` are in the ring already.
        let again = after.min(next).saturating_sub(first);
        self.progress.add_duplicates(again);
        // `self.next` follows every event published, so that a failure or
        // a stop in the middle of the frame leaves it (and the record
        // saved then) true to the ring.
        let (mut published, mut bytes) = (0u64, 0u64);
        let mut outcome = Ok(Taken::Published);
        for event in frame.events().skip(again as usize) {
            // The waiting form only when the ring is full: the plain call
            // costs less, and a frame carries up to thousands of events.
            let result = match self.writer.try_publish_bytes(event.event_type, event.data) {
                Err(PublishError::Full(_)) => tokio::select! {
                    biased;
                    () = stop.as_mut() => {
                        outcome = Ok(Taken::Stopped);
                        break;
                    }
                    result = self.writer.publish_bytes_async(event.event_type, event.data) => result,
                },
                other => other,
            };
            match result {
                Ok(_) => {
                    published += 1;
                    bytes += event.data.len() as u64;
                    self.next = Some((source, event.sequence + 1));
                }
                // The local ring cannot hold it (no slots of its class, or
                // too large for this ring): counted, skipped, and the run
                // goes on after it.
                Err(PublishError::NoSlots(_) | PublishError::TooLarge { .. } | PublishError::OverCapacity { .. }) => {
                    self.progress.add_rejected();
                    if let Err(e) = self.start_run(source, event.sequence + 1) {
                        outcome = Err(e);
                        break;
                    }
                }
                Err(e) => {
                    outcome = Err(BridgeError::Publish(e));
                    break;
                }
            }
        }
        self.progress.add_events(published, bytes);
        if let Some((_, n)) = self.next {
            self.progress.set_next_sequence(n);
        }
        if !matches!(outcome, Ok(Taken::Published)) {
            return outcome;
        }
        // A heartbeat or an end: nothing to publish, the position is known.
        if after > self.next.map_or(0, |(_, n)| n) {
            self.next = Some((source, after));
            self.progress.set_next_sequence(after);
        }
        // The frame is in the ring: a restart reads from the next one.
        if let Some(s) = stream_sequence {
            self.resume_from_stream = Some(s + 1);
            self.unrecorded += 1;
            if self.unrecorded >= RECORD_EVERY_FRAMES || self.recorded.elapsed() >= RECORD_EVERY {
                self.save()?;
            }
        }
        Ok(if frame.kind() == Kind::End && !more_pending {
            self.progress.set_ended();
            Taken::End
        } else {
            Taken::Published
        })
    }
}
