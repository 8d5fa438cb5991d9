//! The C ABI driven from Rust, in one process: every entry point of an
//! in-process runtime, with good and bad input.
//!
//! `tests/c_client.rs` and `tests/python.rs` run the same calls from C and
//! Python; this file exists so that Miri (`.ci/miri`) checks the unsafe code
//! behind them (raw pointers from the host, handle tags, borrowed views, the
//! copy into the caller's buffer), which it cannot reach through a C
//! compiler or an interpreter.
#![allow(
    clippy::multiple_unsafe_ops_per_block,
    reason = "a block is a run of C calls under one stated contract: live handles, valid pointers"
)]

use slotcast::ffi::*;
use std::ffi::{CStr, c_int};
use std::mem::MaybeUninit;
use std::ptr::{null, null_mut};

/// A small in-process configuration: Miri pays for every slot.
fn config() -> slotcast_config {
    let mut c = MaybeUninit::<slotcast_config>::uninit();
    // SAFETY: `c` is writable.
    assert_eq!(unsafe { slotcast_config_default(c.as_mut_ptr()) }, SLOTCAST_OK);
    // SAFETY: initialised by the call above.
    let mut c = unsafe { c.assume_init() };
    c.slots = [8, 4, 2, 2, 1];
    c.ring_capacity = 8;
    c.max_readers = 2;
    c
}

/// A runtime, its writer and one reader.
struct Trio {
    rt: *mut slotcast_runtime,
    w: *mut slotcast_writer,
    r: *mut slotcast_reader,
}

impl Trio {
    fn new() -> Trio {
        let c = config();
        let (mut rt, mut w, mut r) = (null_mut(), null_mut(), null_mut());
        // SAFETY: every pointer is valid for the call.
        unsafe {
            assert_eq!(slotcast_runtime_new(&c, &mut rt), SLOTCAST_OK);
            assert_eq!(slotcast_runtime_writer(rt, &mut w), SLOTCAST_OK);
            assert_eq!(slotcast_runtime_reader(rt, &mut r), SLOTCAST_OK);
        }
        Trio { rt, w, r }
    }

    fn publish(&self, event_type: u32, bytes: &[u8]) -> c_int {
        // SAFETY: `bytes` is readable for its length; the writer is live.
        unsafe { slotcast_writer_publish(self.w, event_type, bytes.as_ptr().cast(), bytes.len(), 0, null_mut()) }
    }

    /// Reads one event by copy: (status, bytes, type).
    fn read(&self, capacity: usize) -> (c_int, Vec<u8>, slotcast_event_info) {
        let mut buf = vec![0u8; capacity];
        let mut info = slotcast_event_info { sequence: 0, len: 0, event_type: 0 };
        // SAFETY: `buf` is writable for `capacity` bytes, `info` writable.
        let status = unsafe { slotcast_reader_read(self.r, buf.as_mut_ptr().cast(), capacity, 0, &mut info) };
        buf.truncate(info.len.min(capacity as u32) as usize);
        (status, buf, info)
    }
}

impl Drop for Trio {
    fn drop(&mut self) {
        // SAFETY: each handle is live and this is its last call.
        unsafe {
            assert_eq!(slotcast_reader_free(self.r), SLOTCAST_OK);
            assert_eq!(slotcast_writer_free(self.w), SLOTCAST_OK);
            assert_eq!(slotcast_runtime_free(self.rt), SLOTCAST_OK);
        }
    }
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

#[test]
fn single_events_round_trip_by_copy_and_by_borrow() {
    let t = Trio::new();
    let sizes = [0usize, 1, 64, 65, 1024, 4096, 16384];
    for (i, &len) in sizes.iter().enumerate() {
        assert_eq!(t.publish(i as u32, &pattern(i as u8, len)), SLOTCAST_OK, "publish {len} B");
        if i % 2 == 0 {
            let (status, bytes, info) = t.read(SLOTCAST_MAX_PAYLOAD);
            assert_eq!(status, SLOTCAST_OK);
            assert_eq!((info.sequence, info.event_type, bytes), (i as u64, i as u32, pattern(i as u8, len)));
        } else {
            let mut view = MaybeUninit::<slotcast_event_view>::uninit();
            // SAFETY: the reader is live, `view` writable.
            assert_eq!(unsafe { slotcast_reader_borrow(t.r, 0, view.as_mut_ptr()) }, SLOTCAST_OK);
            // SAFETY: written by the successful call.
            let view = unsafe { view.assume_init() };
            // SAFETY: the view is valid until the next call on the reader.
            let bytes = unsafe { std::slice::from_raw_parts(view.data, view.len as usize) };
            assert_eq!((view.sequence, view.event_type, bytes), (i as u64, i as u32, &pattern(i as u8, len)[..]));
        }
    }
    let (status, ..) = t.read(64);
    assert_eq!(status, SLOTCAST_ERR_EMPTY);
}

#[test]
fn batches_publish_together_and_borrow_together() {
    let t = Trio::new();
    let payloads: Vec<Vec<u8>> = (0..4).map(|i| pattern(i, 10 + 100 * usize::from(i))).collect();
    let events: Vec<slotcast_event_in> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| slotcast_event_in { data: p.as_ptr().cast(), len: p.len(), event_type: i as u32 })
        .collect();
    let mut published = 0usize;
    // SAFETY: `events` and every payload are readable; `published` writable.
    let status = unsafe { slotcast_writer_publish_batch(t.w, events.as_ptr(), events.len(), 0, &mut published) };
    assert_eq!((status, published), (SLOTCAST_OK, 4));

    // Packed: one buffer and its lengths.
    let lens = [3u32, 0, 70];
    let packed = pattern(7, 73);
    // SAFETY: `packed` holds the sum of `lens` bytes.
    let status =
        unsafe { slotcast_writer_publish_packed(t.w, 9, packed.as_ptr().cast(), lens.as_ptr(), 3, 0, &mut published) };
    assert_eq!((status, published), (SLOTCAST_OK, 3));

    let mut views = [const { MaybeUninit::<slotcast_event_view>::uninit() }; 8];
    let mut count = 0usize;
    // SAFETY: `views` is writable for 8 views.
    let status = unsafe { slotcast_reader_borrow_batch(t.r, views.as_mut_ptr().cast(), 8, 0, &mut count) };
    assert_eq!((status, count), (SLOTCAST_OK, 7));
    let expected: Vec<(u32, Vec<u8>)> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| (i as u32, p.clone()))
        .chain([(9, packed[..3].to_vec()), (9, Vec::new()), (9, packed[3..].to_vec())])
        .collect();
    for (i, (view, (event_type, bytes))) in views[..count].iter().zip(&expected).enumerate() {
        // SAFETY: the call wrote `count` views, valid until the next call.
        let view = unsafe { view.assume_init_ref() };
        // SAFETY: as above.
        let got = unsafe { std::slice::from_raw_parts(view.data, view.len as usize) };
        assert_eq!((view.sequence, view.event_type, got), (i as u64, *event_type, &bytes[..]), "event {i}");
    }
    let mut lag = u64::MAX;
    // SAFETY: live reader, writable `lag`.
    assert_eq!(unsafe { slotcast_reader_lag(t.r, &mut lag) }, SLOTCAST_OK);
    assert_eq!(lag, 0, "the next call released the batch");
}

#[test]
fn bad_input_gets_its_own_code() {
    let t = Trio::new();
    let big = vec![0u8; SLOTCAST_MAX_PAYLOAD + 1];
    assert_eq!(t.publish(0, &big), SLOTCAST_ERR_TOO_LARGE);
    // SAFETY: null pointers are reported, never dereferenced.
    unsafe {
        assert_eq!(slotcast_writer_publish(null_mut(), 0, null(), 0, 0, null_mut()), SLOTCAST_ERR_NULL);
        assert_eq!(slotcast_writer_publish(t.w, 0, null(), 5, 0, null_mut()), SLOTCAST_ERR_NULL);
        let mut rt = null_mut();
        assert_eq!(slotcast_runtime_new(null(), null_mut()), SLOTCAST_ERR_NULL);
        let mut bad = config();
        bad.ring_capacity = 3;
        assert_eq!(slotcast_runtime_new(&bad, &mut rt), SLOTCAST_ERR_INVALID_CONFIG);
        assert!(rt.is_null());
        // A reader handle where a writer is expected.
        assert_eq!(slotcast_writer_publish(t.r.cast(), 0, null(), 0, 0, null_mut()), SLOTCAST_ERR_BAD_HANDLE);
        // The writer role is taken.
        let mut w2 = null_mut();
        assert_eq!(slotcast_runtime_writer(t.rt, &mut w2), SLOTCAST_ERR_WRITER_TAKEN);
        // The reader table (2 entries) is full after one more.
        let (mut r2, mut r3) = (null_mut(), null_mut());
        assert_eq!(slotcast_runtime_reader(t.rt, &mut r2), SLOTCAST_OK);
        assert_eq!(slotcast_runtime_reader(t.rt, &mut r3), SLOTCAST_ERR_TOO_MANY_READERS);
        assert_eq!(slotcast_reader_close(r2), SLOTCAST_OK);
        assert_eq!(slotcast_reader_lag(r2, &mut 0), SLOTCAST_ERR_CLOSED);
        assert_eq!(slotcast_reader_close(r2), SLOTCAST_ERR_CLOSED);
        assert_eq!(slotcast_reader_free(r2), SLOTCAST_OK);
    }
    // A buffer too small: the length comes back and the event stays.
    assert_eq!(t.publish(3, &pattern(1, 100)), SLOTCAST_OK);
    let (status, _, info) = t.read(10);
    assert_eq!((status, info.len), (SLOTCAST_ERR_BUFFER_TOO_SMALL, 100));
    let (status, bytes, _) = t.read(100);
    assert_eq!((status, bytes), (SLOTCAST_OK, pattern(1, 100)));
    // The ring (8 descriptors) fills up: the writer gets RING_FULL and the
    // reader every event before it.
    let mut status = SLOTCAST_OK;
    let mut n = 0;
    while status == SLOTCAST_OK {
        status = t.publish(0, &[n]);
        n += 1;
    }
    assert_eq!((status, n), (SLOTCAST_ERR_RING_FULL, 9));
    for i in 0..8 {
        assert_eq!(t.read(1).1, [i]);
    }
    // Messages and details for every code.
    for code in [SLOTCAST_ERR_NULL, SLOTCAST_ERR_RING_FULL, SLOTCAST_ERR_PANIC, 1234] {
        // SAFETY: `slotcast_strerror` returns a static C string.
        let msg = unsafe { CStr::from_ptr(slotcast_strerror(code)) };
        assert!(!msg.to_bytes().is_empty());
    }
    let mut buf = [0u8; 256];
    let mut len = 0usize;
    // SAFETY: `buf` is writable for its length.
    assert_eq!(unsafe { slotcast_last_error(buf.as_mut_ptr().cast(), buf.len(), &mut len) }, SLOTCAST_OK);
    assert!(len > 0, "the ring-full failure left a message");
}

#[test]
fn handles_outlive_the_runtime_handle_and_report_stats() {
    let t = Trio::new();
    for i in 0..3 {
        assert_eq!(t.publish(1, &pattern(i, 200)), SLOTCAST_OK);
    }
    let mut stats = MaybeUninit::<slotcast_stats>::uninit();
    // SAFETY: live runtime, writable stats.
    assert_eq!(unsafe { slotcast_runtime_stats(t.rt, stats.as_mut_ptr()) }, SLOTCAST_OK);
    // SAFETY: written by the call.
    let stats = unsafe { stats.assume_init() };
    assert_eq!((stats.published, stats.readers, stats.max_lag), (3, 1, 3));
    assert_eq!(stats.pools[1].slots, 4);
    assert_eq!(stats.pools[1].in_ring, 3);
    // SAFETY: live runtime handle.
    assert_eq!(unsafe { slotcast_runtime_close(t.rt) }, SLOTCAST_OK);
    let mut again = MaybeUninit::<slotcast_stats>::uninit();
    // SAFETY: the closed handle stays allocated until freed.
    assert_eq!(unsafe { slotcast_runtime_stats(t.rt, again.as_mut_ptr()) }, SLOTCAST_ERR_CLOSED);
    // The writer and reader keep the arena alive.
    assert_eq!(t.publish(2, b"after close"), SLOTCAST_OK);
    for i in 0..3 {
        assert_eq!(t.read(256).1, pattern(i, 200));
    }
    assert_eq!(t.read(256).1, b"after close");
}

/// Runs `f` on a thread and gives its result, or `None` if it has not
/// returned within 5 s (the thread is left behind: it hangs).
#[allow(clippy::disallowed_types, reason = "a call that may hang runs on a std thread")]
fn within_5s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(5)).ok()
}

/// The C ABI picks classes by length: it goes up the same way, and a
/// payload no class with slots holds is `SLOTCAST_ERR_TOO_LARGE` at once,
/// even with `SLOTCAST_WAIT_FOREVER` (which held the writer's lock, so that
/// closing it hung too).
#[test]
fn the_c_abi_moves_up_and_refuses_at_once_even_when_waiting_forever() {
    let mut config = std::mem::MaybeUninit::<slotcast_config>::uninit();
    // SAFETY: `config` is writable.
    assert_eq!(unsafe { slotcast_config_default(config.as_mut_ptr()) }, SLOTCAST_OK);
    // SAFETY: initialised by the call above.
    let mut config = unsafe { config.assume_init() };
    // No S slots: an S event moves up to M (XS events are carried in the
    // ring whatever the XS pool).
    config.slots = [4, 0, 2, 0, 0];
    config.ring_capacity = 8;
    let (mut rt, mut w, mut r) = (null_mut(), null_mut(), null_mut());
    // SAFETY: every pointer is valid for the calls.
    unsafe {
        assert_eq!(slotcast_runtime_new(&config, &mut rt), SLOTCAST_OK);
        assert_eq!(slotcast_runtime_writer(rt, &mut w), SLOTCAST_OK);
        assert_eq!(slotcast_runtime_reader(rt, &mut r), SLOTCAST_OK);
    }
    let small = [5u8; 100];
    let mut seq = u64::MAX;
    // SAFETY: `small` is readable, the writer live, `seq` writable.
    let status = unsafe { slotcast_writer_publish(w, 1, small.as_ptr().cast(), small.len(), 0, &mut seq) };
    assert_eq!((status, seq), (SLOTCAST_OK, 0), "100 bytes go to M");
    let mut stats = std::mem::MaybeUninit::<slotcast_stats>::uninit();
    // SAFETY: the runtime is live, `stats` writable.
    assert_eq!(unsafe { slotcast_runtime_stats(rt, stats.as_mut_ptr()) }, SLOTCAST_OK);
    // SAFETY: initialised by the call above.
    let stats = unsafe { stats.assume_init() };
    assert_eq!((stats.pools[1].in_ring, stats.pools[2].in_ring), (0, 1), "the event is in an M slot");
    let mut buf = [0u8; 128];
    let mut info = slotcast_event_info { sequence: 0, len: 0, event_type: 0 };
    // SAFETY: `buf` is writable for its length, `info` writable.
    let status = unsafe { slotcast_reader_read(r, buf.as_mut_ptr().cast(), buf.len(), 0, &mut info) };
    assert_eq!((status, info.len, &buf[..100]), (SLOTCAST_OK, 100, &small[..]));

    // A batch with one event no class holds publishes nothing.
    let big = vec![6u8; 2000];
    let events = [
        slotcast_event_in { data: small.as_ptr().cast(), len: small.len(), event_type: 1 },
        slotcast_event_in { data: big.as_ptr().cast(), len: big.len(), event_type: 2 },
    ];
    let mut published = usize::MAX;
    // SAFETY: `events` and their payloads are readable, `published` writable.
    let status = unsafe { slotcast_writer_publish_batch(w, events.as_ptr(), 2, 0, &mut published) };
    assert_eq!((status, published), (SLOTCAST_ERR_TOO_LARGE, 0), "checked before anything is published");

    /// The writer handle, sent to the thread that waits on it.
    struct SendWriter(*mut slotcast_writer);
    // SAFETY: C ABI handles may be used from any thread (see the header).
    unsafe impl Send for SendWriter {}
    impl SendWriter {
        // A method, so that the closure captures the whole wrapper (a
        // closure naming the field would capture the bare pointer).
        fn get(&self) -> *mut slotcast_writer {
            self.0
        }
    }
    let writer = SendWriter(w);
    let answer = within_5s(move || {
        let w = writer.get();
        // SAFETY: `big` is readable; the writer lives until the test ends
        // (if this hangs, the test fails and the process exits).
        unsafe { slotcast_writer_publish(w, 2, big.as_ptr().cast(), big.len(), SLOTCAST_WAIT_FOREVER, null_mut()) }
    });
    assert_eq!(answer, Some(SLOTCAST_ERR_TOO_LARGE), "a publish waiting forever on pools without slots");
    // SAFETY: each handle is live and this is its last call.
    unsafe {
        assert_eq!(slotcast_reader_free(r), SLOTCAST_OK);
        assert_eq!(slotcast_writer_free(w), SLOTCAST_OK);
        assert_eq!(slotcast_runtime_free(rt), SLOTCAST_OK);
    }
}

/// The details `slotcast_last_error` holds for the calling thread.
fn last_error() -> String {
    let mut buf = [0u8; 512];
    let mut len = 0usize;
    // SAFETY: `buf` is writable for its length, `len` writable.
    assert_eq!(unsafe { slotcast_last_error(buf.as_mut_ptr().cast(), buf.len(), &mut len) }, SLOTCAST_OK);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// A reader of `t`'s runtime joined with `flags`.
fn join_with(t: &Trio, flags: u32) -> *mut slotcast_reader {
    let mut r = null_mut();
    // SAFETY: live runtime, writable `r`.
    assert_eq!(unsafe { slotcast_runtime_reader_with(t.rt, flags, &mut r) }, SLOTCAST_OK);
    r
}

/// One event read by copy from `r` without waiting: (status, bytes, info).
fn read_from(r: *mut slotcast_reader, capacity: usize) -> (c_int, Vec<u8>, slotcast_event_info) {
    let mut buf = vec![0u8; capacity];
    let mut info = slotcast_event_info::default();
    // SAFETY: `buf` is writable for `capacity` bytes, `info` writable.
    let status = unsafe { slotcast_reader_read(r, buf.as_mut_ptr().cast(), capacity, 0, &mut info) };
    buf.truncate(info.len.min(capacity as u32) as usize);
    (status, buf, info)
}

fn lost(r: *mut slotcast_reader) -> u64 {
    let mut n = u64::MAX;
    // SAFETY: live reader, writable `n`.
    assert_eq!(unsafe { slotcast_reader_lost(r, &mut n) }, SLOTCAST_OK);
    n
}

#[test]
fn reader_flags_and_the_lost_count_check_their_arguments() {
    let t = Trio::new();
    // SAFETY: null pointers are reported, never dereferenced; the handles
    // are live or closed (not freed).
    unsafe {
        let mut r = null_mut();
        for bad in [4, 8, 1 << 31, u32::MAX] {
            r = std::ptr::NonNull::dangling().as_ptr(); // not null: the call clears it
            assert_eq!(slotcast_runtime_reader_with(t.rt, bad, &mut r), SLOTCAST_ERR_INVALID_ARGUMENT, "{bad:#x}");
            assert!(r.is_null(), "a refused join clears *out");
            assert!(last_error().contains("unknown reader flags"), "{}", last_error());
        }
        assert_eq!(slotcast_runtime_reader_with(t.rt, SLOTCAST_READER_LOSSY, null_mut()), SLOTCAST_ERR_NULL);
        assert_eq!(slotcast_runtime_reader_with(null_mut(), 0, &mut r), SLOTCAST_ERR_NULL);
        assert_eq!(slotcast_runtime_reader_with(t.w.cast(), 0, &mut r), SLOTCAST_ERR_BAD_HANDLE);
        // The table has 2 entries, one taken by the trio's reader.
        assert_eq!(slotcast_runtime_reader_with(t.rt, SLOTCAST_READER_LOSSY, &mut r), SLOTCAST_OK);
        let mut r3 = null_mut();
        assert_eq!(slotcast_runtime_reader_with(t.rt, 0, &mut r3), SLOTCAST_ERR_TOO_MANY_READERS);
        assert_eq!(slotcast_reader_lost(r, null_mut()), SLOTCAST_ERR_NULL);
        assert_eq!(slotcast_reader_lost(null_mut(), &mut 0), SLOTCAST_ERR_NULL);
        assert_eq!(slotcast_reader_lost(t.w.cast(), &mut 0), SLOTCAST_ERR_BAD_HANDLE);
        assert_eq!(lost(r), 0);
        assert_eq!(lost(t.r), 0, "a gating reader loses nothing");
        assert_eq!(slotcast_reader_close(r), SLOTCAST_OK);
        assert_eq!(slotcast_reader_lost(r, &mut 0), SLOTCAST_ERR_CLOSED);
        assert_eq!(slotcast_reader_free(r), SLOTCAST_OK);
    }
}

#[test]
fn a_lossy_c_reader_that_stops_reading_never_stops_the_writer_and_counts_what_it_lost() {
    let t = Trio::new();
    // The trio's gating reader would stop the writer: leave.
    // SAFETY: live reader handle, closed (not freed: Trio frees it).
    assert_eq!(unsafe { slotcast_reader_close(t.r) }, SLOTCAST_OK);
    let tap = join_with(&t, SLOTCAST_READER_LOSSY);
    for i in 0..6u8 {
        assert_eq!(t.publish(u32::from(i), &[i; 3]), SLOTCAST_OK);
    }
    // One event read, one borrowed (its view outlives the call), then the
    // host stops calling, with more events loaded and unread.
    let (status, bytes, info) = read_from(tap, 16);
    assert_eq!((status, bytes, info.sequence), (SLOTCAST_OK, vec![0; 3], 0));
    let mut view = MaybeUninit::<slotcast_event_view>::uninit();
    // SAFETY: live reader, writable view.
    assert_eq!(unsafe { slotcast_reader_borrow(tap, 0, view.as_mut_ptr()) }, SLOTCAST_OK);
    // SAFETY: written by the call.
    let view = unsafe { view.assume_init() };
    // The writer publishes ten rings' worth without waiting (a gating
    // reader would get it SLOTCAST_ERR_RING_FULL after 8).
    const MORE: u64 = 80;
    for i in 0..MORE {
        assert_eq!(t.publish(7, &i.to_le_bytes()), SLOTCAST_OK, "publish {i} with a stalled lossy reader");
    }
    // The view is the reader's own copy: the writer did not write it.
    // SAFETY: valid until the next call on the reader.
    let seen = unsafe { std::slice::from_raw_parts(view.data, view.len as usize) };
    assert_eq!((view.sequence, seen), (1, &[1u8; 3][..]));
    let published = 6 + MORE;
    let mut received = 2u64;
    let (status, ..) = read_from(tap, 16);
    assert_eq!(status, SLOTCAST_ERR_LAGGED);
    let message = last_error();
    let missed = lost(tap);
    assert!(missed > 0 && message.contains(&format!("{missed} events were lost")), "{message}");
    let mut next = None;
    loop {
        let (status, bytes, info) = read_from(tap, 16);
        if status == SLOTCAST_ERR_EMPTY {
            break;
        }
        assert_eq!(status, SLOTCAST_OK, "{}", last_error());
        assert!(next.is_none_or(|n| n == info.sequence), "in order after the lap");
        assert_eq!(bytes, (info.sequence - 6).to_le_bytes(), "event {} is intact", info.sequence);
        next = Some(info.sequence + 1);
        received += 1;
    }
    assert_eq!(received + lost(tap), published, "received + lost = published");
    let mut lag = u64::MAX;
    // SAFETY: live reader, writable `lag`.
    assert_eq!(unsafe { slotcast_reader_lag(tap, &mut lag) }, SLOTCAST_OK);
    assert_eq!(lag, 0);
    // SAFETY: live reader; its last call.
    assert_eq!(unsafe { slotcast_reader_free(tap) }, SLOTCAST_OK);
}

#[test]
fn a_lossy_c_reader_keeps_a_refused_event_and_lends_batches_of_copies() {
    let t = Trio::new();
    // SAFETY: live reader handle, closed (not freed: Trio frees it).
    assert_eq!(unsafe { slotcast_reader_close(t.r) }, SLOTCAST_OK);
    let tap = join_with(&t, SLOTCAST_READER_LOSSY);
    assert_eq!(t.publish(1, &pattern(1, 300)), SLOTCAST_OK);
    let (status, _, info) = read_from(tap, 10);
    assert_eq!((status, info.len, info.sequence), (SLOTCAST_ERR_BUFFER_TOO_SMALL, 300, 0));
    let mut lag = u64::MAX;
    // SAFETY: live reader, writable `lag`.
    assert_eq!(unsafe { slotcast_reader_lag(tap, &mut lag) }, SLOTCAST_OK);
    assert_eq!(lag, 1, "the refused event is still to be read");
    // The refused event is the handle's copy: the writer laps nothing of it.
    for i in 0..5u8 {
        assert_eq!(t.publish(2, &pattern(i, 20)), SLOTCAST_OK);
    }
    let (status, bytes, info) = read_from(tap, 300);
    assert_eq!((status, bytes, info.sequence), (SLOTCAST_OK, pattern(1, 300), 0));
    let mut views = [const { MaybeUninit::<slotcast_event_view>::uninit() }; 3];
    let mut count = usize::MAX;
    // At most a batch of the Rust API per call: a quarter of the ring (2).
    let mut first = 0;
    for (round, want) in [(0, 2usize), (1, 2), (2, 1)] {
        // SAFETY: `views` is writable for 3 views, `count` writable.
        let status = unsafe { slotcast_reader_borrow_batch(tap, views.as_mut_ptr().cast(), 3, 0, &mut count) };
        assert_eq!((status, count), (SLOTCAST_OK, want), "round {round}");
        for (k, view) in views[..count].iter().enumerate() {
            // SAFETY: written by the call, valid until the next one.
            let view = unsafe { view.assume_init_ref() };
            // SAFETY: as above.
            let got = unsafe { std::slice::from_raw_parts(view.data, view.len as usize) };
            let i = first + k;
            assert_eq!((view.sequence, got), (1 + i as u64, &pattern(i as u8, 20)[..]));
        }
        first += count;
    }
    // SAFETY: as above.
    let status = unsafe { slotcast_reader_borrow_batch(tap, views.as_mut_ptr().cast(), 3, 0, &mut count) };
    assert_eq!((status, count), (SLOTCAST_ERR_EMPTY, 0));
    // SAFETY: live reader; its last call.
    assert_eq!(unsafe { slotcast_reader_free(tap) }, SLOTCAST_OK);
}

#[test]
fn closing_the_writer_closes_the_stream_for_every_read_call() {
    let t = Trio::new();
    let tap = join_with(&t, SLOTCAST_READER_LOSSY);
    for i in 0..2u8 {
        assert_eq!(t.publish(1, &[i; 100]), SLOTCAST_OK);
    }
    // SAFETY: live writer handle, closed (not freed: Trio frees it).
    assert_eq!(unsafe { slotcast_writer_close(t.w) }, SLOTCAST_OK);
    for r in [t.r, tap] {
        // Drain first, then the close.
        for i in 0..2u8 {
            assert_eq!(read_from(r, 128).1, [i; 100]);
        }
        assert_eq!(read_from(r, 128).0, SLOTCAST_ERR_STREAM_CLOSED);
        let mut view = MaybeUninit::<slotcast_event_view>::uninit();
        let mut views = [const { MaybeUninit::<slotcast_event_view>::uninit() }; 2];
        let mut count = usize::MAX;
        let mut info = slotcast_event_info::default();
        // SAFETY: live readers, writable outputs.
        unsafe {
            assert_eq!(slotcast_reader_borrow(r, 0, view.as_mut_ptr()), SLOTCAST_ERR_STREAM_CLOSED);
            let status = slotcast_reader_borrow_batch(r, views.as_mut_ptr().cast(), 2, 0, &mut count);
            assert_eq!((status, count), (SLOTCAST_ERR_STREAM_CLOSED, 0));
            // A waiting read returns at once.
            let status = slotcast_reader_read(r, null_mut(), 0, SLOTCAST_WAIT_FOREVER, &mut info);
            assert_eq!(status, SLOTCAST_ERR_STREAM_CLOSED);
        }
    }
    // A new writer opens the stream again.
    let mut w2 = null_mut();
    // SAFETY: live runtime, writable `w2`.
    assert_eq!(unsafe { slotcast_runtime_writer(t.rt, &mut w2) }, SLOTCAST_OK);
    // SAFETY: the payload is readable; live writer.
    assert_eq!(unsafe { slotcast_writer_publish(w2, 5, b"again".as_ptr().cast(), 5, 0, null_mut()) }, SLOTCAST_OK);
    assert_eq!(read_from(t.r, 16).1, b"again");
    assert_eq!(read_from(tap, 16).1, b"again");
    assert_eq!(read_from(t.r, 16).0, SLOTCAST_ERR_EMPTY);
    // SAFETY: live readers and writer; their last calls.
    unsafe {
        assert_eq!(slotcast_reader_free(tap), SLOTCAST_OK);
        assert_eq!(slotcast_writer_free(w2), SLOTCAST_OK);
    }
}

#[test]
#[cfg_attr(miri, ignore = "waits for a thread's futex sleep; the close itself is covered above")]
#[allow(clippy::disallowed_methods, reason = "the test paces its own thread")]
fn a_c_reader_blocked_in_a_read_wakes_up_when_the_writer_is_freed() {
    let t = Trio::new();
    // SAFETY: live writer handle, closed (not freed: Trio frees it).
    assert_eq!(unsafe { slotcast_writer_close(t.w) }, SLOTCAST_OK);
    let mut w2 = null_mut();
    // SAFETY: live runtime, writable `w2`: a new writer opens the stream.
    assert_eq!(unsafe { slotcast_runtime_writer(t.rt, &mut w2) }, SLOTCAST_OK);

    /// A reader handle, sent to the thread that waits on it.
    struct SendReader(*mut slotcast_reader);
    // SAFETY: C ABI handles may be used from any thread (see the header).
    unsafe impl Send for SendReader {}
    impl SendReader {
        fn get(&self) -> *mut slotcast_reader {
            self.0
        }
    }
    // A reader blocked in a read wakes up when the writer is freed.
    let waiting = SendReader(t.r);
    let (tx, rx) = std::sync::mpsc::channel();
    #[allow(clippy::disallowed_types, reason = "a call that may hang runs on a std thread")]
    let waiter = std::thread::spawn(move || {
        let r = waiting.get();
        let mut info = slotcast_event_info::default();
        tx.send(()).unwrap();
        // SAFETY: the reader lives until the thread is joined.
        unsafe { slotcast_reader_read(r, null_mut(), 0, 10_000_000_000, &mut info) }
    });
    rx.recv().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // SAFETY: live writer; its last call.
    assert_eq!(unsafe { slotcast_writer_free(w2) }, SLOTCAST_OK);
    assert_eq!(waiter.join().unwrap(), SLOTCAST_ERR_STREAM_CLOSED, "woken by the close, not the 10 s timeout");
}

#[test]
fn a_c_reader_joining_from_the_oldest_event_replays_the_window() {
    let t = Trio::new();
    for i in 0..4u8 {
        assert_eq!(t.publish(u32::from(i), &[i; 8]), SLOTCAST_OK);
    }
    for i in 0..4u8 {
        assert_eq!(read_from(t.r, 8).1, [i; 8]);
    }
    // SAFETY: live reader handle, closed (not freed: Trio frees it).
    assert_eq!(unsafe { slotcast_reader_close(t.r) }, SLOTCAST_OK);
    for flags in [SLOTCAST_READER_FROM_OLDEST, SLOTCAST_READER_FROM_OLDEST | SLOTCAST_READER_LOSSY] {
        let late = join_with(&t, flags);
        let now = join_with(&t, if flags & SLOTCAST_READER_LOSSY != 0 { SLOTCAST_READER_LOSSY } else { 0 });
        for i in 0..4u8 {
            let (status, bytes, info) = read_from(late, 8);
            assert_eq!((status, bytes, info.sequence), (SLOTCAST_OK, vec![i; 8], u64::from(i)), "flags {flags}");
        }
        assert_eq!(read_from(late, 8).0, SLOTCAST_ERR_EMPTY);
        assert_eq!(read_from(now, 8).0, SLOTCAST_ERR_EMPTY, "a reader starting now replays nothing");
        // SAFETY: live readers; their last calls.
        unsafe {
            assert_eq!(slotcast_reader_free(late), SLOTCAST_OK);
            assert_eq!(slotcast_reader_free(now), SLOTCAST_OK);
        }
    }
}
