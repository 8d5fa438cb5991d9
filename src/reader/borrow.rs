//! Reading by sequence number, for the C ABI's borrow API (`src/ffi`).
//!
//! A C host cannot hold an [`EventGuard`](super::EventGuard) or a
//! [`ReadBatch`](super::ReadBatch) across calls, so the C reader keeps its own
//! "next" sequence and asks for events by number, while the cursor stays at
//! or below the oldest event it has lent out. The protocol is the one of
//! [`Reader::try_read`]: no atomic read-modify-write per event, and one
//! Release store of the cursor per batch of available events.
//!
//! For gating readers only: a lossy reader's cursor protects nothing unless
//! pinned, and a pin must not outlive one call (the C reader serves lossy
//! readers through the Rust API's batches, copying, see `ffi/reader.rs`).

use super::{Reader, commit, decode};
use crate::error::ReadError;
use crate::reader::EventRef;
use crate::wait::Deadline;

impl Reader {
    /// The event at sequence `seq` (`seq >= cursor`), decoded in place
    /// without moving the cursor.
    ///
    /// If `seq` lies beyond the published cursor as last loaded, everything
    /// below `seq` counts as read: the cursor is stored at `seq` (one Release
    /// store), then `published` is loaded again, waiting until `deadline` for
    /// `seq` to be published. `Ok(None)` if it was not.
    ///
    /// The slot's bytes stay valid and unwritten for as long as the cursor
    /// stays at or below `seq` (gating), not just while the returned
    /// `EventRef` lives.
    pub(crate) fn event_at(&mut self, seq: u64, deadline: Deadline) -> Result<Option<EventRef<'_>>, ReadError> {
        debug_assert!(!self.pos.lossy, "a lossy reader reads through pinned batches only");
        debug_assert!(seq >= self.pos.cursor, "sequence {seq} is below the cursor {}", self.pos.cursor);
        if seq >= self.pos.avail {
            commit(&self.shared.arena.readers()[self.pos.index], &mut self.pos, seq);
            if self.available(deadline)? == 0 {
                return Ok(None);
            }
        }
        decode(&self.shared, seq).map(Some)
    }

    /// Stores the cursor at `to` (`cursor <= to <=` the published cursor as
    /// last loaded): everything below `to` is read. One Release store, none if
    /// the cursor is already there.
    pub(crate) fn release_to(&mut self, to: u64) {
        debug_assert!(!self.pos.lossy, "a lossy reader reads through pinned batches only");
        debug_assert!(self.pos.cursor <= to && to <= self.pos.avail.max(self.pos.cursor));
        commit(&self.shared.arena.readers()[self.pos.index], &mut self.pos, to);
    }

    /// The published cursor as last loaded: events below it can be read
    /// without loading it again.
    pub(crate) fn loaded(&self) -> u64 {
        self.pos.avail
    }
}

#[cfg(test)]
mod tests {
    use crate::Runtime;
    use crate::wait::Deadline;

    #[test]
    fn events_by_number_keep_the_cursor_below_what_is_lent() {
        let rt = Runtime::builder().ring_capacity(4).build().unwrap();
        let mut reader = rt.reader().unwrap();
        let mut writer = rt.writer().unwrap();
        assert!(reader.event_at(0, Deadline::now()).unwrap().is_none(), "nothing published");
        for i in 0..4u8 {
            writer.try_publish_bytes(u32::from(i), &[i; 3]).unwrap();
        }
        // Events 0..4 are loaded on the first call; reading them by number
        // does not move the cursor, so the ring stays full for the writer.
        for i in 0..4u8 {
            let ev = reader.event_at(u64::from(i), Deadline::now()).unwrap().unwrap();
            assert_eq!((ev.data(), ev.event_type(), ev.sequence()), (&[i; 3][..], u32::from(i), u64::from(i)));
        }
        assert_eq!((reader.cursor(), reader.loaded()), (0, 4));
        assert!(writer.try_publish_bytes(9, b"x").is_err(), "the cursor still holds event 0");
        // Releasing up to 3 keeps event 3 readable and frees the rest.
        reader.release_to(3);
        assert_eq!(reader.cursor(), 3);
        for i in 4..7u8 {
            writer.try_publish_bytes(u32::from(i), &[i; 3]).unwrap();
        }
        assert!(writer.try_publish_bytes(9, b"x").is_err(), "event 3 is still held");
        assert_eq!(reader.event_at(3, Deadline::now()).unwrap().unwrap().data(), [3; 3]);
        // Asking past what was loaded stores the cursor there and loads more.
        let ev = reader.event_at(4, Deadline::now()).unwrap().unwrap();
        assert_eq!(ev.data(), [4; 3]);
        assert_eq!((reader.cursor(), reader.loaded()), (4, 7));
        assert!(reader.event_at(7, Deadline::now()).unwrap().is_none());
        assert_eq!(reader.cursor(), 7, "everything below the asked sequence counts as read");
    }
}
