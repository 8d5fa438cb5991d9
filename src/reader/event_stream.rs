//! The reader as a [`Stream`] of owned events, as tokio's
//! `BroadcastStream` is for its broadcast receiver.
//!
//! A stream's items cannot borrow the stream (the trait has no lifetime
//! for them), so each item keeps its event alive by itself after the
//! cursor moves on: an event in a pool slot (class S and up) by a retained
//! [`RingPtr`] (one increment of the slot's refcount, no copy: the item
//! reads the bytes the writer wrote, in place); an XS event (up to 64
//! bytes, carried in its ring entry, which the writer reuses) by a copy of
//! its bytes in the item. The copy of at most 64 bytes costs less than the
//! slot an XS retain would claim and fill, and it cannot fail for want of a
//! free slot, so the stream never has to drop an event it read.

use super::{EventRef, Reader, async_read::poll_readable};
use crate::error::ReadError;
use crate::event::SizeClass;
use crate::layout::{INLINE_CAPACITY, INLINE_SLOT};
use crate::ring_ptr::RingPtr;
use crate::task_wait::TaskWait;
use futures_core::Stream;
use std::fmt;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

/// One event, owned: it stays readable after the reader moved on. What a
/// [`ReaderStream`] yields, and what [`EventRef::to_owned_event`] makes of
/// any event read (the Python package's events are these). A pool-slot
/// event is a retained [`RingPtr`] (the writer's bytes, in place); an XS
/// event is a copy of its at most 64 bytes (see the module docs for why).
pub struct OwnedEvent {
    sequence: u64,
    repr: Repr,
}

enum Repr {
    Inline { event_type: u32, len: u8, bytes: [u8; INLINE_CAPACITY] },
    Pooled(RingPtr),
}

impl EventRef<'_> {
    /// This event, kept past the reader's cursor: a copy of its bytes if it
    /// is an XS event in its ring entry, else a retained [`RingPtr`] to its
    /// slot (one refcount increment, no copy). Unlike
    /// [`retain`](EventRef::retain), it never claims a slot, so it never
    /// fails for want of one.
    ///
    /// ```
    /// use slotcast::Runtime;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rt = Runtime::new()?;
    /// let mut reader = rt.reader()?;
    /// let mut writer = rt.writer()?;
    /// writer.try_publish_bytes(1, b"small")?;
    /// writer.try_publish_bytes(2, &[9; 500])?;
    /// let mut kept = Vec::new();
    /// reader.try_read(|event, _| kept.push(event.to_owned_event()))?;
    /// let kept: Vec<_> = kept.into_iter().collect::<Result<_, _>>()?;
    /// assert_eq!(kept[0].data(), b"small");
    /// assert!(kept[0].ring_ptr().is_none(), "XS: a copy");
    /// assert_eq!((kept[1].event_type(), kept[1].data().len()), (2, 500));
    /// assert!(kept[1].ring_ptr().is_some(), "a retained slot");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`retain`](EventRef::retain) for a pool-slot event:
    /// [`ReadError::Corrupt`] (only a corrupted shared mapping) and
    /// [`ReadError::Forked`].
    pub fn to_owned_event(&self) -> Result<OwnedEvent, ReadError> {
        OwnedEvent::of(self)
    }
}

impl OwnedEvent {
    /// Keeps `event` past the cursor: a copy if it is an XS event in its
    /// ring entry, else a retained pointer to its slot.
    fn of(event: &EventRef<'_>) -> Result<Self, ReadError> {
        let repr = if event.slot == INLINE_SLOT {
            let data = event.data();
            let mut bytes = [0; INLINE_CAPACITY];
            bytes[..data.len()].copy_from_slice(data);
            // An XS payload is at most 64 bytes: the length fits.
            Repr::Inline { event_type: event.event_type(), len: data.len() as u8, bytes }
        } else {
            Repr::Pooled(event.retain()?)
        };
        Ok(Self { sequence: event.sequence(), repr })
    }

    /// The payload.
    pub fn data(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline { len, bytes, .. } => &bytes[..usize::from(*len)],
            Repr::Pooled(ptr) => ptr.as_bytes(),
        }
    }

    /// The event type tag the writer gave it.
    pub fn event_type(&self) -> u32 {
        match &self.repr {
            Repr::Inline { event_type, .. } => *event_type,
            Repr::Pooled(ptr) => ptr.event_type(),
        }
    }

    /// Its sequence number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The size class it was published in.
    pub fn class(&self) -> SizeClass {
        match &self.repr {
            Repr::Inline { .. } => SizeClass::XS,
            Repr::Pooled(ptr) => ptr.class(),
        }
    }

    /// The pointer that keeps a pool-slot event alive (`None` for an XS
    /// event, which the item holds a copy of).
    pub fn ring_ptr(&self) -> Option<&RingPtr> {
        match &self.repr {
            Repr::Inline { .. } => None,
            Repr::Pooled(ptr) => Some(ptr),
        }
    }

    /// The pointer, to hand on (`None` for an XS event).
    pub fn into_ring_ptr(self) -> Option<RingPtr> {
        match self.repr {
            Repr::Inline { .. } => None,
            Repr::Pooled(ptr) => Some(ptr),
        }
    }
}

impl Deref for OwnedEvent {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.data()
    }
}

impl fmt::Debug for OwnedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedEvent")
            .field("sequence", &self.sequence)
            .field("event_type", &self.event_type())
            .field("len", &self.data().len())
            .field("retained", &self.ring_ptr().is_some())
            .finish()
    }
}

/// A [`Reader`] as a [`Stream`] of [`OwnedEvent`]s, in order: what
/// [`Reader::into_stream`] returns. Use it with any `Stream` combinator
/// (`futures::StreamExt`, `tokio_stream::StreamExt`).
///
/// * Each item is `Ok(event)`, or the error a read returned: a lossy
///   reader's [`ReadError::Lagged`] (the stream goes on after it), a dead
///   writer's [`ReadError::WriterDead`] (the stream then waits for a writer
///   to take over), [`ReadError::Corrupt`].
/// * The stream ends (`None`) when the writer closes the stream
///   ([`ReadError::Closed`]), after every event is read. It is not fused:
///   polled again, it returns `None` while the stream stays closed, and the
///   events of a writer that reopens it.
/// * Items are owned (see [`OwnedEvent`]): events in pool slots are
///   retained [`RingPtr`]s, XS events are copies of their bytes. A consumer
///   that only looks at each event and drops it reads in place, without a
///   retain, with [`Reader::read_async`] instead.
///
/// Cancellation safe: a `poll_next` that returns `Pending` read nothing.
///
/// ```
/// use futures_core::Stream;
/// use slotcast::Runtime;
/// use std::pin::pin;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new()?;
/// let mut events = pin!(rt.reader()?.into_stream());
/// let mut writer = rt.writer()?;
/// writer.publish_bytes_async(1, &[7; 1000]).await?;
/// writer.close();
/// let mut seen = Vec::new();
/// while let Some(event) = std::future::poll_fn(|cx| events.as_mut().poll_next(cx)).await {
///     let event = event?;
///     assert!(event.ring_ptr().is_some(), "1000 bytes: a retained slot");
///     seen.push(event.data().len());
/// }
/// assert_eq!(seen, [1000]);
/// # Ok(())
/// # }
/// ```
pub struct ReaderStream {
    reader: Reader,
    wait: TaskWait,
}

impl ReaderStream {
    /// The reader, to look at (its cursor, lag, policy).
    pub fn get_ref(&self) -> &Reader {
        &self.reader
    }
}

impl Reader {
    /// This reader as a [`Stream`] of owned events (see [`ReaderStream`]).
    pub fn into_stream(self) -> ReaderStream {
        ReaderStream { reader: self, wait: TaskWait::new() }
    }
}

impl Stream for ReaderStream {
    type Item = Result<OwnedEvent, ReadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let ReaderStream { reader, wait } = self.get_mut();
        match poll_readable(reader, wait, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(ReadError::Closed)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            // The event at the cursor is readable: keep it, then move on
            // (the guard's drop). A retain that fails (a damaged file) is
            // the item, and the event is passed.
            Poll::Ready(Ok(())) => Poll::Ready(Some(reader.guard_at_cursor().and_then(|event| OwnedEvent::of(&event)))),
        }
    }
}

impl Drop for ReaderStream {
    fn drop(&mut self) {
        self.wait.finish(&self.reader.shared);
    }
}

impl fmt::Debug for ReaderStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReaderStream").field("reader", &self.reader).finish()
    }
}
