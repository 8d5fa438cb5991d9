//! The receiving bridge's resume record: which source sequence number its
//! ring's events continue, and (JetStream) where in the stream to read
//! again after a restart.
//!
//! The local ring numbers its events itself; the source numbers them
//! too. Between two gaps the two advance together, so one pair (local
//! sequence `L`, source sequence `S`) maps every later local sequence `P`
//! of the run to the source's `S + (P - L)`. The record is written before
//! a run's first event is published, and then at the end of a frame every
//! 64 frames or every second (never per event), with a write to a temporary file
//! and a rename, so that a bridge killed at any instruction leaves either
//! the old record or the new one. Either maps the ring correctly: a
//! restarted bridge knows from its ring's published count alone which
//! source event comes next. With JetStream the record also names a frame of
//! the stream at or before that event; reading again from there, the
//! bridge skips what the ring holds (counted as duplicates) and publishes
//! the rest: nothing is published twice, and nothing is skipped.

use std::io;
use std::path::{Path, PathBuf};

/// The record's path for a runtime in `file`.
pub(crate) fn default_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".bridge-in");
    PathBuf::from(name)
}

/// One run: the local sequence `local` of the ring `ring` (its file's
/// identity) holds the source `source`'s event `sequence`; the subject
/// names the stream it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) subject: String,
    pub(crate) ring: u64,
    pub(crate) source: u64,
    pub(crate) local: u64,
    pub(crate) sequence: u64,
    /// JetStream: the stream sequence a restarted bridge reads from (a
    /// frame at or before the one holding `sequence`'s successor); 0 with
    /// core NATS.
    pub(crate) stream: u64,
}

const TAG: &str = "slotcast-bridge-in 1";

impl Record {
    /// The source sequence of the local sequence `published`, if the
    /// record's run can reach it (a ring created again starts below it).
    pub(crate) fn source_sequence_at(&self, published: u64) -> Option<u64> {
        let ahead = published.checked_sub(self.local)?;
        self.sequence.checked_add(ahead)
    }

    /// Reads the record at `path`: `None` when there is none.
    pub(crate) fn read(path: &Path) -> io::Result<Option<Record>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Record::parse(&text).map(Some).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not a resume record; remove it to start afresh", path.display()),
            )
        })
    }

    fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        if lines.next()? != TAG {
            return None;
        }
        let mut field = |name: &str| lines.next()?.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned);
        let ring = u64::from_str_radix(&field("ring")?, 16).ok()?;
        let source = u64::from_str_radix(&field("source")?, 16).ok()?;
        let local = field("local")?.parse().ok()?;
        let sequence = field("sequence")?.parse().ok()?;
        let stream = field("stream")?.parse().ok()?;
        let subject = field("subject")?;
        Some(Record { subject, ring, source, local, sequence, stream })
    }

    /// Replaces the record at `path` with this one, atomically.
    pub(crate) fn write(&self, path: &Path) -> io::Result<()> {
        let text = format!(
            "{TAG}\nring {:016x}\nsource {:016x}\nlocal {}\nsequence {}\nstream {}\nsubject {}\n",
            self.ring, self.source, self.local, self.sequence, self.stream, self.subject
        );
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_maps_local_to_source_sequences() {
        let dir = std::env::temp_dir().join(format!("slotcast-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = default_path(&dir.join("ring"));
        assert!(path.to_string_lossy().ends_with("ring.bridge-in"));
        assert_eq!(Record::read(&path).unwrap(), None);
        let r = Record {
            subject: "a.b c".into(),
            ring: 1 << 63,
            source: 0xdead_beef,
            local: 10,
            sequence: 1000,
            stream: 77,
        };
        r.write(&path).unwrap();
        let back = Record::read(&path).unwrap().unwrap();
        assert_eq!(back, r);
        assert_eq!(back.source_sequence_at(10), Some(1000));
        assert_eq!(back.source_sequence_at(15), Some(1005));
        assert_eq!(back.source_sequence_at(9), None, "a ring below the record's run is not its ring");
        std::fs::write(&path, "something else\n").unwrap();
        assert_eq!(Record::read(&path).unwrap_err().kind(), io::ErrorKind::InvalidData);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
