//! The wire format: one NATS message carries one frame.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "SCB1" (the format's version is its last byte)
//! 4       1     kind: 0 events, 1 heartbeat, 2 end of stream
//! 5       3     zero
//! 8       8     source: which stream the sequences count (little-endian)
//! 16      8     sequence: the first event's (events), or the next one the
//!               source will publish (heartbeat, end)
//! 24      4     count: events in the frame (0 for heartbeat and end)
//! 28      4     zero
//! 32      ...   count times: event type (u32), length (u32), payload
//! ```
//!
//! The events of one frame have consecutive sequence numbers, so one
//! sequence in the header numbers them all; a receiver that expected a
//! lower first sequence has lost the difference. A heartbeat says where
//! the source is while it has nothing to send, so a loss at the end of a
//! burst is counted when the next heartbeat comes rather than when the next
//! event does; an end says the source's stream was closed there.
//!
//! Everything is little-endian and unaligned: a frame is built and read in
//! place in a NATS payload, with no copy but the events' own bytes.
//! [`Frame::parse`] checks every field and length before it returns, so a
//! frame it accepts can be published whole: a malformed message is rejected
//! before any of its events reaches the ring.

use slotcast::SizeClass;
use std::fmt;

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"SCB1";
/// Bytes before the first event.
pub const HEADER_LEN: usize = 32;
/// Bytes before each event's payload: its type and its length.
pub const EVENT_HEADER_LEN: usize = 8;
/// The largest payload an event may carry: the largest size class's.
pub const MAX_EVENT_LEN: usize = SizeClass::MAX_PAYLOAD;

const KIND_EVENTS: u8 = 0;
const KIND_HEARTBEAT: u8 = 1;
const KIND_END: u8 = 2;

/// What a frame says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `count` events, the first of them numbered `sequence`.
    Events,
    /// Nothing new: the source's next event will be numbered `sequence`.
    Heartbeat,
    /// The source's stream was closed; it published `sequence` events.
    End,
}

/// Why a message is not a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than a header.
    Short {
        /// The message's length.
        len: usize,
    },
    /// Not `SCB1`: not a slotcast bridge frame, or a version this build
    /// does not read.
    Magic,
    /// An unknown kind byte.
    Kind(u8),
    /// A reserved byte is not zero.
    Reserved,
    /// A heartbeat or end that counts events.
    CountOnControl(u32),
    /// The sequence numbers of the events would pass `u64::MAX`.
    SequenceOverflow,
    /// An event longer than [`MAX_EVENT_LEN`].
    EventTooLarge {
        /// Its index in the frame.
        index: u32,
        /// Its length.
        len: u32,
    },
    /// The events run past the end of the message.
    Truncated {
        /// The index of the event that does not fit.
        index: u32,
    },
    /// Bytes after the last event.
    Trailing {
        /// How many.
        bytes: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Short { len } => write!(f, "{len} bytes, shorter than a {HEADER_LEN}-byte frame header"),
            FrameError::Magic => write!(f, "not a slotcast bridge frame (no SCB1 magic)"),
            FrameError::Kind(k) => write!(f, "unknown frame kind {k}"),
            FrameError::Reserved => write!(f, "a reserved header byte is not zero"),
            FrameError::CountOnControl(n) => write!(f, "a heartbeat or end frame that counts {n} events"),
            FrameError::SequenceOverflow => write!(f, "the frame's sequence numbers overflow"),
            FrameError::EventTooLarge { index, len } => {
                write!(f, "event {index} is {len} bytes, over the {MAX_EVENT_LEN}-byte maximum")
            }
            FrameError::Truncated { index } => write!(f, "event {index} runs past the end of the message"),
            FrameError::Trailing { bytes } => write!(f, "{bytes} bytes after the last event"),
        }
    }
}

impl std::error::Error for FrameError {}

/// A checked frame, borrowing the message it was read from.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    kind: Kind,
    source: u64,
    sequence: u64,
    count: u32,
    body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Checks `bytes` whole (header, every event's length, no bytes left
    /// over) and returns the frame, or what is wrong with it.
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let Some((header, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(FrameError::Short { len: bytes.len() });
        };
        if header[..4] != MAGIC {
            return Err(FrameError::Magic);
        }
        let kind = match header[4] {
            KIND_EVENTS => Kind::Events,
            KIND_HEARTBEAT => Kind::Heartbeat,
            KIND_END => Kind::End,
            other => return Err(FrameError::Kind(other)),
        };
        if header[5..8] != [0; 3] || header[28..32] != [0; 4] {
            return Err(FrameError::Reserved);
        }
        let source = u64_at(header, 8);
        let sequence = u64_at(header, 16);
        let count = u32_at(header, 24);
        if kind != Kind::Events && count != 0 {
            return Err(FrameError::CountOnControl(count));
        }
        if sequence.checked_add(u64::from(count)).is_none() {
            return Err(FrameError::SequenceOverflow);
        }
        let mut rest = body;
        for index in 0..count {
            let Some((event_header, after)) = rest.split_first_chunk::<EVENT_HEADER_LEN>() else {
                return Err(FrameError::Truncated { index });
            };
            let len = u32_at(event_header, 4);
            if len as usize > MAX_EVENT_LEN {
                return Err(FrameError::EventTooLarge { index, len });
            }
            let Some(after) = after.get(len as usize..) else {
                return Err(FrameError::Truncated { index });
            };
            rest = after;
        }
        if !rest.is_empty() {
            return Err(FrameError::Trailing { bytes: rest.len() });
        }
        Ok(Frame { kind, source, sequence, count, body })
    }

    /// What the frame says.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The source whose sequence numbers the frame uses.
    pub fn source(&self) -> u64 {
        self.source
    }

    /// The first event's sequence number ([`Kind::Events`]), or the next
    /// one the source will publish.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// How many events the frame carries.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The sequence number after the frame's last event (for a heartbeat
    /// or an end, [`sequence`](Self::sequence)).
    pub fn next_sequence(&self) -> u64 {
        // `parse` checked that this does not overflow.
        self.sequence + u64::from(self.count)
    }

    /// The frame's events, in order.
    pub fn events(&self) -> Events<'a> {
        Events { rest: self.body, sequence: self.sequence }
    }
}

/// One event of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// Its sequence number at the source.
    pub sequence: u64,
    /// Its type, as the source's writer gave it.
    pub event_type: u32,
    /// Its payload.
    pub data: &'a [u8],
}

/// The events of a checked frame ([`Frame::events`]).
#[derive(Clone, Debug)]
pub struct Events<'a> {
    rest: &'a [u8],
    sequence: u64,
}

impl<'a> Iterator for Events<'a> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        // The frame was checked whole by `parse`: these splits cannot fail,
        // but a failure would end the iteration rather than panic.
        let (event_header, after) = self.rest.split_first_chunk::<EVENT_HEADER_LEN>()?;
        let len = u32_at(event_header, 4) as usize;
        let data = after.get(..len)?;
        self.rest = &after[len..];
        let event = Event { sequence: self.sequence, event_type: u32_at(event_header, 0), data };
        self.sequence += 1;
        Some(event)
    }
}

/// Builds frames of events in one reused buffer.
#[derive(Debug)]
pub struct Encoder {
    buf: Vec<u8>,
    source: u64,
    count: u32,
    next: u64,
}

impl Encoder {
    /// An encoder for `source`'s events, with room for `capacity` bytes.
    pub fn new(source: u64, capacity: usize) -> Encoder {
        let mut encoder = Encoder { buf: Vec::with_capacity(capacity), source, count: 0, next: 0 };
        encoder.clear();
        encoder
    }

    /// The source the frames name.
    pub fn source(&self) -> u64 {
        self.source
    }

    /// Events in the frame being built.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The sequence number of the frame's first event (meaningless while
    /// it has none).
    pub fn first(&self) -> u64 {
        self.next - u64::from(self.count)
    }

    /// The payload bytes of the frame's events (not counting headers).
    pub fn payload_bytes(&self) -> usize {
        self.buf.len() - HEADER_LEN - self.count as usize * EVENT_HEADER_LEN
    }

    /// Whether an event numbered `sequence` may join the frame: it is
    /// empty, or the event follows its last one.
    pub fn follows(&self, sequence: u64) -> bool {
        self.count == 0 || sequence == self.next
    }

    /// The frame's length so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the frame has no events yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The frame's length once an event of `len` bytes is added.
    pub fn len_with(&self, len: usize) -> usize {
        self.buf.len() + EVENT_HEADER_LEN + len
    }

    /// Adds an event. Its sequence number must follow the frame's last
    /// event's (the first event's may be anything): returns `false`, adding
    /// nothing, when it does not, so that the caller sends the frame and
    /// starts a new one. Payloads over [`MAX_EVENT_LEN`] cannot come from a
    /// ring and are refused the same way.
    pub fn push(&mut self, sequence: u64, event_type: u32, data: &[u8]) -> bool {
        if (self.count > 0 && sequence != self.next) || data.len() > MAX_EVENT_LEN || self.count == u32::MAX {
            return false;
        }
        if self.count == 0 {
            self.buf[16..24].copy_from_slice(&sequence.to_le_bytes());
        }
        self.buf.extend_from_slice(&event_type.to_le_bytes());
        // `data.len() <= MAX_EVENT_LEN` (16 KB): fits in a u32.
        self.buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(data);
        self.count += 1;
        self.next = sequence + 1;
        true
    }

    /// The frame built so far (its header counts the events added), to
    /// send; [`clear`](Self::clear) starts the next one in the same buffer.
    pub fn frame(&mut self) -> &[u8] {
        let count = self.count;
        self.buf[24..28].copy_from_slice(&count.to_le_bytes());
        &self.buf
    }

    /// Takes the frame built so far, leaving an empty one in a fresh buffer
    /// of the same capacity.
    pub fn take(&mut self) -> Vec<u8> {
        self.frame();
        let capacity = self.buf.capacity();
        let frame = std::mem::replace(&mut self.buf, Vec::with_capacity(capacity));
        self.clear();
        frame
    }

    /// Drops the events added and starts a new frame.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.buf.extend_from_slice(&header(KIND_EVENTS, self.source, 0));
        self.count = 0;
    }
}

/// A heartbeat frame: `source`'s next event will be numbered `next`.
pub fn heartbeat(source: u64, next: u64) -> Vec<u8> {
    header(KIND_HEARTBEAT, source, next).to_vec()
}

/// An end frame: `source`'s stream was closed after `next` events.
pub fn end(source: u64, next: u64) -> Vec<u8> {
    header(KIND_END, source, next).to_vec()
}

fn header(kind: u8, source: u64, sequence: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4] = kind;
    h[8..16].copy_from_slice(&source.to_le_bytes());
    h[16..24].copy_from_slice(&sequence.to_le_bytes());
    h
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(events: &[(u64, u32, &[u8])]) -> Vec<u8> {
        let mut e = Encoder::new(7, 1024);
        for &(s, t, d) in events {
            assert!(e.push(s, t, d));
        }
        e.take()
    }

    #[test]
    fn events_round_trip_with_their_sequences_types_and_bytes() {
        let big = vec![0xab; MAX_EVENT_LEN];
        let bytes = frame_of(&[(41, 1, b""), (42, 2, b"hello"), (43, 3, &big)]);
        let f = Frame::parse(&bytes).unwrap();
        assert_eq!((f.kind(), f.source(), f.sequence(), f.count(), f.next_sequence()), (Kind::Events, 7, 41, 3, 44));
        let got: Vec<_> = f.events().collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Event { sequence: 41, event_type: 1, data: b"" });
        assert_eq!(got[1], Event { sequence: 42, event_type: 2, data: b"hello" });
        assert_eq!((got[2].sequence, got[2].event_type, got[2].data), (43, 3, &big[..]));
    }

    #[test]
    fn an_encoder_refuses_a_gap_and_an_oversized_event() {
        let mut e = Encoder::new(1, 64);
        assert!(e.push(5, 0, b"a"));
        assert!(!e.push(7, 0, b"b"), "a gap ends the frame");
        assert!(!e.push(6, 0, &vec![0; MAX_EVENT_LEN + 1]));
        assert!(e.push(6, 0, b"c"));
        let bytes = e.take();
        assert_eq!(Frame::parse(&bytes).unwrap().count(), 2);
        assert!(e.is_empty());
        assert!(e.push(100, 0, b"x"), "a new frame may start anywhere");
        assert_eq!(Frame::parse(e.frame()).unwrap().sequence(), 100);
    }

    #[test]
    fn control_frames_round_trip() {
        let h = heartbeat(9, 1000);
        let f = Frame::parse(&h).unwrap();
        assert_eq!(
            (f.kind(), f.source(), f.sequence(), f.count(), f.next_sequence()),
            (Kind::Heartbeat, 9, 1000, 0, 1000)
        );
        assert_eq!(f.events().count(), 0);
        let f2 = end(9, 1001);
        assert_eq!(Frame::parse(&f2).unwrap().kind(), Kind::End);
    }

    #[test]
    fn every_malformation_is_named() {
        let good = frame_of(&[(0, 1, b"abc"), (1, 2, b"defg")]);
        assert!(Frame::parse(&good).is_ok());
        assert_eq!(Frame::parse(&good[..10]).unwrap_err(), FrameError::Short { len: 10 });
        assert_eq!(Frame::parse(b"").unwrap_err(), FrameError::Short { len: 0 });
        let mut m = good.clone();
        m[0] = b'X';
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::Magic);
        let mut m = good.clone();
        m[4] = 3;
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::Kind(3));
        let mut m = good.clone();
        m[6] = 1;
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::Reserved);
        let mut m = good.clone();
        m[31] = 1;
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::Reserved);
        let mut m = heartbeat(1, 2);
        m[24] = 1;
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::CountOnControl(1));
        let mut m = good.clone();
        m[16..24].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::SequenceOverflow);
        // One event more than the body holds.
        let mut m = good.clone();
        m[24] = 3;
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::Truncated { index: 2 });
        // A length past the end.
        let mut m = good.clone();
        m[HEADER_LEN + 4] = 200;
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::Truncated { index: 0 });
        // A length over the largest class.
        let mut m = good.clone();
        m[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&(MAX_EVENT_LEN as u32 + 1).to_le_bytes());
        assert_eq!(
            Frame::parse(&m).unwrap_err(),
            FrameError::EventTooLarge { index: 0, len: MAX_EVENT_LEN as u32 + 1 }
        );
        // Fewer events counted than the body holds.
        let mut m = good.clone();
        m[24] = 1;
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::Trailing { bytes: EVENT_HEADER_LEN + 4 });
        // A huge count on a short body is refused without iterating far.
        let mut m = good;
        m[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Frame::parse(&m).unwrap_err(), FrameError::Truncated { index: 2 });
    }

    #[test]
    fn random_bytes_never_panic_and_accepted_frames_iterate_exactly() {
        let mut rng = fastrand::Rng::with_seed(16);
        let good = frame_of(&[(0, 1, b"abc"), (1, 2, b"defg"), (2, 3, &[9; 100])]);
        for _ in 0..20_000 {
            let mut m = good.clone();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..m.len());
                m[i] = rng.u8(..);
            }
            m.truncate(rng.usize(..=m.len()));
            if let Ok(f) = Frame::parse(&m) {
                assert_eq!(f.events().count() as u32, f.count());
            }
        }
    }
}
