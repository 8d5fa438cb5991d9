//! One writer fanning a mixed-size stream out to 1, 2 and 4 readers: every
//! reader sees every event, in order, exactly once, with its payload intact.
//! Each reader uses a different read API, so all of them are checked under
//! concurrency.

mod common;

use common::pattern;
use slotcast::{Reader, SizeClass, WaitStrategy};
use std::time::Duration;

/// Under Miri: enough for one 16 KB event (every 100th) and nine 1 KB ones.
const EVENTS: u64 = if cfg!(miri) { 120 } else { 1_000_000 };
const STALL: Duration = Duration::from_secs(20);

/// What a reader thread saw.
#[derive(Debug, Default)]
struct Seen {
    events: u64,
    problems: Vec<String>,
}

impl Seen {
    fn check(&mut self, data: &[u8]) {
        let expected = self.events;
        match pattern::check(data) {
            Ok(seq) if seq != expected => self.problems.push(format!("expected {expected}, got {seq}")),
            Ok(_) if data.len() != pattern::mixed_len(expected) => {
                self.problems.push(format!("event {expected} has length {}", data.len()))
            }
            Ok(_) => {}
            Err(bad) => self.problems.push(format!("event {expected}: {bad:?}")),
        }
        self.events += 1;
    }

    fn done(&self) -> bool {
        self.events >= EVENTS || self.problems.len() > 5
    }
}

/// Reads with the handler API.
fn read_with_handler(mut reader: Reader) -> Seen {
    let mut seen = Seen::default();
    while !seen.done() {
        let mut last_flag = None;
        let n = reader
            .read_timeout(STALL, |ev, end| {
                seen.check(ev.data());
                last_flag = Some(end);
            })
            .expect("no corruption in process");
        if n == 0 {
            seen.problems.push(format!("stalled after {} events", seen.events));
        } else if last_flag != Some(true) {
            seen.problems.push("the last event of a batch was not flagged end_of_batch".into());
        }
    }
    seen
}

/// Reads one guard at a time.
fn read_one_by_one(mut reader: Reader) -> Seen {
    let mut seen = Seen::default();
    while !seen.done() {
        match reader.recv_timeout(STALL) {
            Ok(Some(ev)) => seen.check(ev.data()),
            Ok(None) => seen.problems.push(format!("stalled after {} events", seen.events)),
            Err(e) => seen.problems.push(e.to_string()),
        }
    }
    seen
}

/// Reads batches through their iterator.
fn read_batches(mut reader: Reader) -> Seen {
    let mut seen = Seen::default();
    while !seen.done() {
        let batch = reader.batch_timeout(STALL).expect("no corruption in process");
        if batch.is_empty() {
            seen.problems.push(format!("stalled after {} events", seen.events));
        }
        for ev in &batch {
            seen.check(ev.data());
        }
    }
    seen
}

/// Retains every event, then checks the retained copy after the cursor has
/// moved on (the `RingPtr` path under concurrency).
fn read_retaining(mut reader: Reader) -> Seen {
    let mut seen = Seen::default();
    let mut kept = Vec::with_capacity(16);
    while !seen.done() {
        let n = reader
            .read_timeout(STALL, |ev, _| kept.push(ev.retain().expect("no corruption in process")))
            .expect("no corruption in process");
        if n == 0 {
            seen.problems.push(format!("stalled after {} events", seen.events));
        }
        for ptr in kept.drain(..) {
            seen.check(&ptr);
        }
    }
    seen
}

fn fan_out(kind: common::Kind, readers: usize, batch: u64) {
    let rt = common::builder(kind)
        .ring_capacity(1024)
        .slots(SizeClass::XL, 32)
        .max_readers(readers)
        .wait_strategy(WaitStrategy::Blocking)
        .build()
        .unwrap();
    let ways: [fn(Reader) -> Seen; 4] = [read_with_handler, read_one_by_one, read_batches, read_retaining];
    let threads: Vec<_> = (0..readers)
        .map(|i| {
            let reader = rt.reader().unwrap();
            std::thread::spawn(move || ways[i % ways.len()](reader))
        })
        .collect();

    let mut writer = rt.writer().unwrap();
    // One store of the published cursor per `batch` events.
    writer.set_flush_every(u32::try_from(batch).unwrap());
    for seq in 0..EVENTS {
        let len = pattern::mixed_len(seq);
        let class = SizeClass::for_len(len).unwrap();
        let published = writer
            .publish_with(class, 0, |buf| {
                pattern::fill(seq, &mut buf[..len]);
                len
            })
            .expect("the class has slots");
        assert_eq!(published, seq);
    }
    drop(writer);

    for (i, t) in threads.into_iter().enumerate() {
        let seen = t.join().unwrap();
        assert!(seen.problems.is_empty(), "reader {i}: {:?}", seen.problems);
        assert_eq!(seen.events, EVENTS, "reader {i}");
    }
    let stats = rt.stats();
    assert_eq!(stats.published, EVENTS);
    for pool in &stats.pools {
        assert_eq!((pool.in_ring, pool.retained), (0, 0), "{pool:?}");
    }
}

fn one_reader(kind: common::Kind) {
    fan_out(kind, 1, 1);
}

fn two_readers(kind: common::Kind) {
    fan_out(kind, 2, 1);
}

fn four_readers(kind: common::Kind) {
    fan_out(kind, 4, 1);
}

fn four_readers_batched(kind: common::Kind) {
    fan_out(kind, 4, 32);
}

every_backing! {
    one_reader => super::one_reader;
    two_readers => super::two_readers,
        miri: "one_reader and four_readers_batched run the same paths; each fan-out costs Miri a minute";
    four_readers => super::four_readers,
        miri: "one_reader and four_readers_batched run the same paths; each fan-out costs Miri a minute";
    four_readers_batched => super::four_readers_batched;
}
