//! The async forms on tokio's multi-threaded runtime and on a hand-written
//! executor: every event in order, wake-ups across tasks and threads, the
//! stream's end, back-pressure of the writer and the allocator, and
//! cancellation that loses nothing.

use futures_core::Stream;
use slotcast::{ReadError, Runtime, SizeClass};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// A hand-written `block_on` (a thread that parks until woken): the async
/// forms need nothing but a `Waker`.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    #[allow(clippy::disallowed_types, reason = "the test's own executor")]
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        #[allow(clippy::disallowed_methods, reason = "the test's own executor")]
        std::thread::park();
    }
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

const EVENTS: u64 = 200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
