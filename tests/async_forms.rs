//! The async forms on tokio's multi-threaded runtime and on a hand-written
//! executor: every event in order, wake-ups across tasks and threads, the
//! stream's end, back-pressure of the writer and the allocator, and
//! cancellation that loses nothing.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the tests run their own executor, wakers, counters and pacing on std types"
)]

mod common;
use common::block_on;
use futures_core::Stream;
use slotcast::{Policy, ReadError, ReaderOptions, Runtime, SizeClass, WaitStrategy};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::mpsc;
use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst},
};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

const EVENTS: u64 = 200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    miri,
    ignore = "tokio's multi-threaded runtime: minutes under Miri; the hand-written executor's tests run the same paths"
)]
async fn async_readers_see_every_event_in_order() {
    let rt = Runtime::builder().ring_capacity(1024).build().unwrap();
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let mut reader = rt.reader().unwrap();
            tokio::spawn(async move {
                let mut expected = 0u64;
                while expected < EVENTS {
                    match r {
                        0 => {
                            let event = reader.recv_async().await.unwrap();
                            assert_eq!(event.data(), expected.to_le_bytes());
                            expected += 1;
                        }
                        1 => {
                            let batch = reader.batch_async().await.unwrap();
                            assert!(!batch.is_empty());
                            for event in &batch {
                                assert_eq!(event.data(), expected.to_le_bytes());
                                expected += 1;
                            }
                        }
                        _ => {
                            let n = reader
                                .read_async(|event, _| {
                                    assert_eq!(event.data(), expected.to_le_bytes());
                                    expected += 1;
                                })
                                .await
                                .unwrap();
                            assert!(n > 0);
                        }
                    }
                }
                assert_eq!(reader.recv_async().await.err(), Some(ReadError::Closed));
                expected
            })
        })
        .collect();
    let mut writer = rt.writer().unwrap();
    for i in 0..EVENTS {
        writer.publish_bytes_async(0, &i.to_le_bytes()).await.unwrap();
        if i % 1000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    writer.close();
    for reader in readers {
        assert_eq!(reader.await.unwrap(), EVENTS);
    }
}

#[test]
fn a_hand_written_executor_drives_a_reader_woken_by_a_writer_thread() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let (tx, rx) = mpsc::channel();
    let publisher = std::thread::spawn(move || {
        rx.recv().unwrap();
        for i in 0..100u32 {
            writer.publish_bytes(7, &i.to_le_bytes()).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let seen = block_on(async {
        tx.send(()).unwrap();
        let mut seen = Vec::new();
        loop {
            match reader.recv_async().await {
                Ok(event) => seen.push(u32::from_le_bytes(event.data().try_into().unwrap())),
                Err(ReadError::Closed) => return seen,
                Err(e) => panic!("{e}"),
            }
        }
    });
    publisher.join().unwrap();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    miri,
    ignore = "tokio's multi-threaded runtime: minutes under Miri; the hand-written executor's tests run the same paths"
)]
async fn the_stream_owns_its_items_and_ends_at_the_close() {
    let rt = Runtime::new().unwrap();
    let mut events = rt.reader().unwrap().into_stream();
    let mut writer = rt.writer().unwrap();
    let sizes = [1usize, 64, 65, 1000, 4096, 16384];
    for (i, &len) in sizes.iter().enumerate() {
        writer.publish_bytes_async(i as u32, &vec![i as u8; len]).await.unwrap();
    }
    writer.close();
    let mut items = Vec::new();
    while let Some(item) = next(&mut events).await {
        items.push(item.unwrap());
    }
    assert_eq!(items.len(), sizes.len());
    for (i, (item, &len)) in items.iter().zip(&sizes).enumerate() {
        assert_eq!((item.event_type(), item.sequence()), (i as u32, i as u64));
        assert_eq!(item.data(), &vec![i as u8; len][..]);
        // XS events are copies, the others retained slots.
        assert_eq!(item.ring_ptr().is_some(), len > 64, "{len} bytes");
    }
    // The items outlive the reader's cursor: it has moved past them all.
    assert_eq!(events.get_ref().lag(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    miri,
    ignore = "tokio's multi-threaded runtime: minutes under Miri; the hand-written executor's tests run the same paths"
)]
async fn a_dropped_wait_reads_nothing_and_the_next_read_gets_the_event() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    for _ in 0..3 {
        let waited = tokio::time::timeout(Duration::from_millis(20), reader.recv_async()).await.is_err();
        assert!(waited, "nothing was published");
        assert_eq!(reader.cursor(), 0);
    }
    writer.publish_bytes(1, b"after").unwrap();
    let event = reader.recv_async().await.unwrap();
    assert_eq!(event.data(), b"after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    miri,
    ignore = "tokio's multi-threaded runtime: minutes under Miri; the hand-written executor's tests run the same paths"
)]
async fn an_async_writer_waits_for_room_and_loses_nothing() {
    let rt = Runtime::builder().ring_capacity(8).slots(SizeClass::S, 4).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let reading = tokio::spawn(async move {
        let mut sum = 0u64;
        for i in 0..1000u64 {
            let event = reader.recv_async().await.unwrap();
            assert_eq!(event.data()[..8], i.to_le_bytes());
            sum += i;
            if i % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        sum
    });
    for i in 0..1000u64 {
        // Alternating XS (the ring) and S (a pool of 4).
        let mut payload = vec![0u8; if i % 2 == 0 { 8 } else { 100 }];
        payload[..8].copy_from_slice(&i.to_le_bytes());
        writer.publish_bytes_async(0, &payload).await.unwrap();
    }
    assert_eq!(reading.await.unwrap(), (0..1000).sum::<u64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    miri,
    ignore = "tokio's multi-threaded runtime: minutes under Miri; the hand-written executor's tests run the same paths"
)]
async fn an_async_allocation_waits_for_a_free_slot() {
    let rt = Runtime::builder().slots(SizeClass::M, 2).build().unwrap();
    let alloc = rt.allocator();
    let held =
        [alloc.alloc_bytes_async(0, &[1; 1000]).await.unwrap(), alloc.alloc_bytes_async(0, &[2; 1000]).await.unwrap()];
    // A dropped allocation claims nothing.
    let waited = tokio::time::timeout(Duration::from_millis(10), alloc.alloc_bytes_async(0, &[3; 1000])).await;
    assert!(waited.is_err(), "the pool is full");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(held);
    });
    let third = alloc.alloc_bytes_async(0, &[3; 1000]).await.unwrap();
    assert_eq!(third[0], 3);
    release.await.unwrap();
    assert_eq!(rt.stats().pool(SizeClass::M).in_use, 1);
}

/// A clock of wake-ups: every wake-up of a [`Tally`] takes the next tick,
/// so a test can tell which came before what.
static TICKS: AtomicU64 = AtomicU64::new(1);

/// The wake-ups of one task: how many came from the named thread, and the
/// tick of the last one.
#[derive(Debug, Default)]
struct Woken {
    from_thread: AtomicU64,
    last_tick: AtomicU64,
}

/// A waker that counts its wake-ups, and those that come from one named
/// thread, then passes them on (if it wraps another waker).
#[derive(Default)]
struct Tally {
    inner: Option<Waker>,
    thread: &'static str,
    all: AtomicU64,
    woken: Arc<Woken>,
}

impl Wake for Tally {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.all.fetch_add(1, SeqCst);
        if std::thread::current().name() == Some(self.thread) {
            self.woken.from_thread.fetch_add(1, SeqCst);
        }
        self.woken.last_tick.store(TICKS.fetch_add(1, SeqCst), SeqCst);
        if let Some(inner) = &self.inner {
            inner.wake_by_ref();
        }
    }
}

/// Drives `future` under wakers that tally its wake-ups in `woken` (those
/// from `thread` apart); bumps `pending` (once) when it first returns
/// `Pending`.
async fn woken_from<F: Future>(
    thread: &'static str,
    woken: &Arc<Woken>,
    pending: &AtomicUsize,
    future: F,
) -> F::Output {
    let mut future = pin!(future);
    let mut told = false;
    std::future::poll_fn(|cx| {
        let tally = Tally { inner: Some(cx.waker().clone()), thread, woken: Arc::clone(woken), ..Tally::default() };
        let waker = Waker::from(Arc::new(tally));
        let poll = future.as_mut().poll(&mut Context::from_waker(&waker));
        if poll.is_pending() && !told {
            told = true;
            pending.fetch_add(1, SeqCst);
        }
        poll
    })
    .await
}

/// One poll of `future` with `waker`.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

/// A lossy async reader lapped before it reads, and again while it waits:
/// each time its next read is `Lagged` with the count it missed, then it
/// goes on from the oldest event still there, contiguous to the newest;
/// the stream says the same as an item and goes on. Would fail if a lapped
/// reader read overwritten entries (the sequences), lost count (`missed`
/// against `lost()` and the events read), or stopped after `Lagged`.
#[test]
fn a_lossy_async_reader_is_told_it_lagged_and_goes_on() {
    let rt = Runtime::builder().ring_capacity(8).build().unwrap();
    let lossy = || ReaderOptions::new().policy(Policy::Lossy);
    let mut tap = rt.reader_with(lossy()).unwrap();
    let mut stream = pin!(rt.reader_with(lossy()).unwrap().into_stream());
    let mut writer = rt.writer().unwrap();
    let mut published = 0u64;
    let mut publish = |writer: &mut slotcast::Writer, n: u64| {
        for _ in 0..n {
            // A lossy reader never holds the writer back.
            writer.try_publish_pod(0, &published).unwrap();
            published += 1;
        }
        published
    };
    let mut read = 0u64;
    let mut lost = 0u64;
    // Reads what the tap has after a lap: `Lagged` first, then in order.
    let mut read_after_lap = |tap: &mut slotcast::Reader, first: Result<u64, ReadError>, end: u64| {
        let Err(ReadError::Lagged { missed }) = first else { panic!("expected Lagged, got {first:?}") };
        assert!(missed > 0);
        lost += missed;
        let mut next = read + lost;
        while next < end {
            let event = block_on(tap.recv_async()).unwrap();
            assert_eq!((event.sequence(), event.as_pod::<u64>().copied()), (next, Ok(next)), "in order after the lap");
            next += 1;
            read += 1;
        }
        assert_eq!(tap.lost(), lost);
    };
    // Lapped before the read: the first read says so at once.
    let end = publish(&mut writer, 20);
    let first = block_on(tap.recv_async()).map(|e| e.sequence());
    read_after_lap(&mut tap, first, end);
    // Lapped while it waits.
    let (first, end) = {
        let mut waiting = pin!(tap.recv_async());
        assert!(poll_once(waiting.as_mut(), Waker::noop()).is_pending(), "nothing new yet");
        let end = publish(&mut writer, 30);
        (block_on(waiting).map(|e| e.sequence()), end)
    };
    read_after_lap(&mut tap, first, end);
    assert_eq!(read + lost, end, "every event read or counted lost");
    // The stream: one `Lagged` item, then every event left, in order.
    let mut items = Vec::new();
    let next_item = |stream: &mut Pin<&mut slotcast::ReaderStream>| {
        block_on(std::future::poll_fn(|cx| stream.as_mut().poll_next(cx))).unwrap()
    };
    let Err(ReadError::Lagged { missed }) = next_item(&mut stream) else { panic!("the stream's first item is Lagged") };
    for seq in missed..end {
        let event = next_item(&mut stream).unwrap();
        assert_eq!(event.sequence(), seq);
        items.push(seq);
    }
    assert_eq!(missed + items.len() as u64, end);
}

/// `tokio::select!` drops each async read while it waits (the other branch
/// wins): nothing is read, the cursor stays, and the next read of the same
/// form gets the event published after the drop. Would fail if a dropped
/// wait took its event (a read begun before the wait ended, a cursor moved
/// at registration): the next read would miss it, or the stream's item
/// would not be the event published after the drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    miri,
    ignore = "tokio's multi-threaded runtime: minutes under Miri; the hand-written executor's tests run the same paths"
)]
async fn a_select_that_drops_a_waiting_read_loses_no_event() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut stream = pin!(rt.reader().unwrap().into_stream());
    let mut writer = rt.writer().unwrap();
    let bound = Duration::from_secs(10);
    for seq in 0..40u64 {
        let before = reader.cursor();
        let form = seq % 3;
        let won = tokio::select! {
            biased;
            _ = async {
                match form {
                    0 => drop(reader.recv_async().await),
                    1 => drop(reader.batch_async().await),
                    _ => drop(reader.read_async(|_, _| ()).await),
                }
            } => true,
            () = tokio::time::sleep(Duration::from_millis(2)) => false,
        };
        assert!(!won, "nothing was published: the read must wait");
        assert_eq!(reader.cursor(), before, "a dropped wait leaves the cursor");
        let streamed = tokio::select! {
            biased;
            item = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)) => Some(item),
            () = tokio::time::sleep(Duration::from_millis(2)) => None,
        };
        assert!(streamed.is_none(), "nothing was published: the stream must wait");
        // Published after the drops, from another task.
        let mut w = writer;
        writer = tokio::spawn(async move {
            w.publish_pod_async(1, &seq).await.unwrap();
            w
        })
        .await
        .unwrap();
        let got = tokio::time::timeout(bound, async {
            match form {
                0 => vec![*reader.recv_async().await.unwrap().as_pod::<u64>().unwrap()],
                1 => reader.batch_async().await.unwrap().iter().map(|e| *e.as_pod::<u64>().unwrap()).collect(),
                _ => {
                    let mut got = Vec::new();
                    reader.read_async(|e, _| got.push(*e.as_pod::<u64>().unwrap())).await.unwrap();
                    got
                }
            }
        })
        .await
        .expect("the event published after the drop is read");
        assert_eq!(got, [seq], "form {form}");
        let item = tokio::time::timeout(bound, std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)))
            .await
            .expect("the stream yields the event published after the drop");
        assert_eq!(item.unwrap().unwrap().sequence(), seq);
    }
}

/// Each async read, polled once (it waits, its waker registered) and
/// dropped: the publish that follows does not wake it, nothing keeps its
/// waker, the cursor has not moved, and the next read gets the event.
/// Would fail if a dropped wait stayed in the task list (the publishing
/// thread would wake it), or read its event. On the hand-written executor.
///
/// The first nap of the timer (1 ms) may take the waker out to wake it
/// just before the drop: a wake-up for a wait that was live then, from
/// the timer thread, not the publisher's; so the count of holders is
/// awaited, not read once.
#[test]
fn a_dropped_wait_keeps_no_waker_and_reads_nothing() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut stream = pin!(rt.reader().unwrap().into_stream());
    let mut writer = Some(rt.writer().unwrap());
    for seq in 0..8u64 {
        let tally = Arc::new(Tally { thread: "publisher", ..Tally::default() });
        let waker = Waker::from(Arc::clone(&tally));
        let form = seq % 4;
        let pending = match form {
            0 => poll_once(pin!(reader.recv_async()), &waker).is_pending(),
            1 => poll_once(pin!(reader.batch_async()), &waker).is_pending(),
            2 => poll_once(pin!(reader.read_async(|_, _| panic!("nothing to read"))), &waker).is_pending(),
            _ => stream.as_mut().poll_next(&mut Context::from_waker(&waker)).is_pending(),
        };
        assert!(pending, "form {form}: nothing was published");
        assert_eq!(reader.cursor(), seq);
        let mut w = writer.take().unwrap();
        writer = Some(
            std::thread::Builder::new()
                .name("publisher".into())
                .spawn(move || {
                    w.try_publish_pod(0, &seq).unwrap();
                    w
                })
                .unwrap()
                .join()
                .unwrap(),
        );
        let by_publisher = tally.woken.from_thread.load(SeqCst);
        if form < 3 {
            assert_eq!(by_publisher, 0, "form {form}: the publish woke a dropped wait");
            // `tally` and `waker`: nothing else, once a nap's wake-up in
            // flight is over.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Arc::strong_count(&tally) > 2 {
                assert!(Instant::now() < deadline, "form {form}: the dropped wait still holds its waker");
                std::thread::yield_now();
            }
        } else {
            // The stream keeps its registration between polls, by design:
            // the publish (or a nap just before it) wakes it.
            assert!(tally.all.load(SeqCst) > 0, "the stream's pending poll is woken");
        }
        let event = block_on(reader.recv_async()).unwrap();
        assert_eq!(event.as_pod::<u64>(), Ok(&seq));
        drop(event);
        let item = block_on(std::future::poll_fn(|cx| stream.as_mut().poll_next(cx))).unwrap().unwrap();
        assert_eq!(item.sequence(), seq);
    }
}

/// 32 tasks on a multi-threaded runtime wait for the next event; one
/// publish from a plain thread wakes every one of them, from that thread
/// (the writer's wake-up calls the wakers itself). Would fail if the
/// writer's wake-up skipped the task list (each task would be found only
/// by the timer's naps: no wake-up from the publishing thread), or woke
/// only some of the tasks.
#[test]
#[cfg_attr(
    miri,
    ignore = "tokio's multi-threaded runtime: minutes under Miri; the hand-written executor's tests run the same paths"
)]
fn one_publish_wakes_every_waiting_task() {
    const TASKS: usize = 32;
    let rt = Runtime::builder().max_readers(TASKS).build().unwrap();
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    let pending = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let mut reader = rt.reader().unwrap();
            let pending = Arc::clone(&pending);
            tokio.spawn(async move {
                let woken = Arc::new(Woken::default());
                let event = woken_from("publisher", &woken, &pending, reader.recv_async()).await.unwrap();
                assert_eq!(event.data(), b"one");
                woken
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    // Publish as soon as all wait, before their first naps (1 ms) end.
    while pending.load(SeqCst) < TASKS {
        assert!(Instant::now() < deadline, "the tasks never all waited");
        std::thread::yield_now();
    }
    let mut writer = rt.writer().unwrap();
    let published_at = std::thread::Builder::new()
        .name("publisher".into())
        .spawn(move || {
            let at = TICKS.fetch_add(1, SeqCst);
            writer.publish_bytes(0, b"one").unwrap();
            at
        })
        .unwrap()
        .join()
        .unwrap();
    let woken: Vec<Arc<Woken>> = tokio.block_on(async {
        let mut woken = Vec::new();
        for task in tasks {
            woken.push(tokio::time::timeout(Duration::from_secs(10), task).await.expect("every task ends").unwrap());
        }
        woken
    });
    // A task the timer's nap woke just before the publish may find the
    // event in that poll, before it registers again: no wake-up needed.
    // Every other task must have been woken by the publishing thread.
    let found_in_a_nap =
        woken.iter().filter(|w| w.from_thread.load(SeqCst) == 0).all(|w| w.last_tick.load(SeqCst) < published_at);
    assert!(found_in_a_nap, "woken by the publishing thread: {woken:?}");
    let by_publisher = woken.iter().filter(|w| w.from_thread.load(SeqCst) > 0).count();
    println!("{by_publisher} of {TASKS} tasks woken by the publishing thread, the others by a nap before it");
}

/// A reader with the default `Blocking` strategy alternates `recv_async`
/// (on the hand-written executor) and the blocking `recv_timeout`, while a
/// writer thread publishes with pauses that make both wait: every event,
/// in order, then `Closed` from both. Would fail if an async wait's end
/// undid the reader's own registration as a blocking sleeper, or left
/// state that a blocking wait trips over (an event lost or repeated, a
/// wait that never ends, a panic).
#[test]
fn async_and_blocking_waits_alternate_on_one_reader() {
    const EVENTS: u64 = if cfg!(miri) { 40 } else { 400 };
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    assert_eq!(reader.wait_strategy(), WaitStrategy::Blocking);
    let mut writer = rt.writer().unwrap();
    let publisher = std::thread::spawn(move || {
        for i in 0..EVENTS {
            writer.publish_pod(0, &i).unwrap();
            std::thread::sleep(Duration::from_micros(if i % 8 == 0 { 2000 } else { 50 }));
        }
    });
    let (unused, pending) = (Arc::new(Woken::default()), AtomicUsize::new(0));
    for i in 0..EVENTS {
        let seq = if i % 2 == 0 {
            let event = block_on(woken_from("", &unused, &pending, reader.recv_async())).unwrap();
            *event.as_pod::<u64>().unwrap()
        } else {
            let event = reader.recv_timeout(Duration::from_secs(10)).unwrap().expect("an event within 10 s");
            *event.as_pod::<u64>().unwrap()
        };
        assert_eq!(seq, i);
    }
    publisher.join().unwrap();
    assert_eq!(block_on(reader.recv_async()).err(), Some(ReadError::Closed));
    assert_eq!(reader.recv_timeout(Duration::from_secs(10)).err(), Some(ReadError::Closed));
    // Under Miri the threads' pace is Miri's: the reader may never find
    // itself ahead; there the test checks the soundness of the paths taken.
    assert!(cfg!(miri) || pending.load(SeqCst) > 0, "the async reads never waited");
}

/// A writer whose ring (8) is full, and then whose S pool (2 slots) is
/// held by retained events, has each async publishing form dropped while
/// it waits: nothing is published, no closure runs, and the reader sees
/// exactly the events whose futures completed. Would fail if a waiting
/// publish claimed its sequence or slot before the room was there (the
/// reader would see a hole or a stray event), or ran `fill` and dropped it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    miri,
    ignore = "tokio's multi-threaded runtime: minutes under Miri; the hand-written executor's tests run the same paths"
)]
async fn a_dropped_publish_publishes_nothing() {
    let rt = Runtime::builder().ring_capacity(8).slots(SizeClass::S, 2).build().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let mut completed: Vec<u64> = Vec::new();
    let ran = AtomicBool::new(false);
    // Tries each form until it waits (the select's sleep wins), then drops it.
    async fn each_form_waits(writer: &mut slotcast::Writer, class: SizeClass, ran: &AtomicBool) {
        let len = if class == SizeClass::S { 100 } else { 8 };
        for form in 0..4 {
            let before = writer.published();
            let won = tokio::select! {
                biased;
                _ = async {
                    match form {
                        0 => drop(writer.publish_bytes_async(9, &vec![9; len]).await),
                        1 => drop(writer.publish_pod_async(9, &[9u8; 100]).await),
                        2 => {
                            let fill = |buf: &mut [u8]| {
                                ran.store(true, SeqCst);
                                buf[..len].fill(9);
                                len
                            };
                            let _ = writer.publish_with_async(class, 9, fill).await;
                        }
                        _ => drop(writer.claim_async(class).await),
                    }
                } => true,
                () = tokio::time::sleep(Duration::from_millis(5)) => false,
            };
            assert!(!won, "class {class:?}, form {form}: there was no room, the publish must wait");
            assert_eq!(writer.published(), before, "form {form}: a dropped publish published nothing");
            assert!(!ran.load(SeqCst), "form {form}: the dropped closure was called");
        }
    }
    // The ring: XS events until it is full.
    loop {
        let seq = writer.published();
        match writer.try_publish_pod(0, &seq) {
            Ok(s) => completed.push(s),
            Err(slotcast::PublishError::Full(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(completed.len() <= 8);
    each_form_waits(&mut writer, SizeClass::XS, &ran).await;
    // Read them all; then the S pool: two S events, retained.
    for &seq in &completed {
        assert_eq!(reader.recv_async().await.unwrap().sequence(), seq, "only the completed publishes");
    }
    let mut held = Vec::new();
    for _ in 0..2 {
        let seq = writer.publish_bytes_async(0, &[7; 100]).await.unwrap();
        completed.push(seq);
        let event = reader.recv_async().await.unwrap();
        assert_eq!(event.sequence(), seq);
        held.push(event.retain().unwrap());
    }
    each_form_waits(&mut writer, SizeClass::S, &ran).await;
    // Room again: the next publish is the next sequence, nothing between.
    drop(held);
    let marker = writer.publish_bytes_async(0, &[8; 100]).await.unwrap();
    assert_eq!(marker, completed.len() as u64, "no dropped publish took a sequence");
    let event = reader.recv_async().await.unwrap();
    assert_eq!((event.sequence(), event.data()), (marker, &[8; 100][..]));
}

/// After `close()` every async form says `Closed` (the stream ends), a task
/// waiting at the close is woken to say so, and once a new writer takes the
/// role the same reader and stream read its events, then end at its close.
/// Would fail if the close did not wake a waiting task (then only the
/// timer's naps would end its wait: no wake-up from the closing thread),
/// if an async form waited on a closed stream, or if the reopened stream
/// were not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    miri,
    ignore = "tokio's multi-threaded runtime: minutes under Miri; the hand-written executor's tests run the same paths"
)]
async fn async_forms_after_a_close_and_a_reopen() {
    let rt = Runtime::new().unwrap();
    let mut reader = rt.reader().unwrap();
    let mut stream = pin!(rt.reader().unwrap().into_stream());
    let mut waiter = rt.reader().unwrap();
    let bound = Duration::from_secs(10);
    let mut writer = rt.writer().unwrap();
    writer.publish_bytes_async(1, b"first").await.unwrap();
    assert_eq!(waiter.recv_async().await.unwrap().data(), b"first");
    let pending = Arc::new(AtomicUsize::new(0));
    let woken = Arc::new(Woken::default());
    let waiting = {
        let (pending, woken) = (Arc::clone(&pending), Arc::clone(&woken));
        tokio::spawn(async move {
            let end = woken_from("closer", &woken, &pending, waiter.recv_async()).await.map(|_| ()).err();
            (end, waiter)
        })
    };
    while pending.load(SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    // Closed from a thread of its own, to tell its wake-ups apart.
    let closed_at = std::thread::Builder::new()
        .name("closer".into())
        .spawn(move || {
            let at = TICKS.fetch_add(1, SeqCst);
            writer.close();
            at
        })
        .unwrap()
        .join()
        .unwrap();
    let (end, mut waiter) =
        tokio::time::timeout(bound, waiting).await.expect("the close ends a waiting task's wait").unwrap();
    assert_eq!(end, Some(ReadError::Closed));
    // Woken by the close, unless a nap just before it had it polled.
    let by_closer = woken.from_thread.load(SeqCst) > 0;
    assert!(by_closer || woken.last_tick.load(SeqCst) < closed_at, "the close woke the waiting task: {woken:?}");
    assert_eq!(reader.recv_async().await.unwrap().data(), b"first", "what was published is read first");
    for _ in 0..2 {
        assert_eq!(reader.recv_async().await.err(), Some(ReadError::Closed));
        assert_eq!(reader.batch_async().await.err(), Some(ReadError::Closed));
        assert_eq!(reader.read_async(|_, _| ()).await, Err(ReadError::Closed));
    }
    assert_eq!(next(&mut stream).await.unwrap().unwrap().data(), b"first");
    assert!(next(&mut stream).await.is_none(), "the stream ends at the close");
    assert!(next(&mut stream).await.is_none(), "polled again before a new writer, it ends again");
    // A new writer reopens the stream: the same readers read on.
    let mut writer = rt.writer().unwrap();
    let seq = writer.publish_bytes_async(2, b"second").await.unwrap();
    assert_eq!(seq, 1);
    let event = reader.recv_async().await.unwrap();
    assert_eq!((event.sequence(), event.data()), (1, &b"second"[..]));
    drop(event);
    assert_eq!(waiter.batch_async().await.unwrap().iter().map(|e| e.sequence()).collect::<Vec<_>>(), [1]);
    let item = tokio::time::timeout(bound, next(&mut stream)).await.expect("the stream reads the new writer");
    assert_eq!(item.unwrap().unwrap().data(), b"second");
    writer.close();
    assert_eq!(reader.recv_async().await.err(), Some(ReadError::Closed));
    assert_eq!(waiter.read_async(|_, _| ()).await, Err(ReadError::Closed));
    assert!(next(&mut stream).await.is_none());
}
