//! What every model shares: a bounded checker, a tiny runtime, and events
//! whose bytes say which event they are.

use loom::thread;
use slotcast::{EventRef, PublishError, Reader, Runtime, SizeClass, WaitStrategy, Writer};

/// Checks `f` under loom, exploring every interleaving with at most
/// `preemptions` preemptions (`LOOM_MAX_PREEMPTIONS` overrides it, to run a
/// model deeper by hand).
pub(crate) fn check(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    // Spinning readers and writers switch threads often; loom's default of
    // 1,000 switches per execution is too few for three of them (tokio's
    // CI uses the same 10,000). A model that does not terminate still fails.
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = 10_000;
    }
    builder.check(f);
}

/// The class the models' events and allocations use: S, the smallest class
/// whose events live in pool slots (XS events are carried in the ring entry;
/// `inline_wrap` models those), so that slot reuse, retain and the
/// allocator's claims meet on one small pool.
pub(crate) const POOLED: SizeClass = SizeClass::S;

/// A runtime as small as the property allows: a ring of 2 descriptors and
/// `slots` slots of the [`POOLED`] class (no other class, so every event
/// and allocation lands in the same small pool and slots are reused at
/// once).
pub(crate) fn runtime(slots: usize, max_readers: usize, wait: WaitStrategy) -> Runtime {
    runtime_with(&[(POOLED, slots)], max_readers, wait)
}

/// A ring of 2 descriptors and, of each class listed, that many slots (no
/// other class).
pub(crate) fn runtime_with(slots: &[(SizeClass, usize)], max_readers: usize, wait: WaitStrategy) -> Runtime {
    runtime_with_ring(2, slots, max_readers, wait)
}

/// A ring of `ring` descriptors and, of each class listed, that many slots
/// (no other class). A ring of 2 gives the writer one event of room per
/// gating computation (it reserves a quarter ring at a time, at least one
/// event); a model that needs two events' room from one computation (the
/// fast path after the slow one) takes a ring of 4.
pub(crate) fn runtime_with_ring(
    ring: usize,
    slots: &[(SizeClass, usize)],
    max_readers: usize,
    wait: WaitStrategy,
) -> Runtime {
    let mut builder = Runtime::builder().ring_capacity(ring).max_readers(max_readers).wait_strategy(wait);
    for class in SizeClass::ALL {
        let count = slots.iter().find(|(c, _)| *c == class).map_or(0, |&(_, n)| n);
        builder = builder.slots(class, count);
    }
    builder.build().expect("a valid tiny configuration")
}

/// The bytes of event `seq`: never all zero (a fresh slot), and different for
/// every event of a model, so a reader or a `RingPtr` that sees another
/// event's bytes (or half of them) fails the comparison.
pub(crate) fn payload(seq: u64) -> [u8; 4] {
    let b = seq as u8 + 1;
    [b, b, b, !b]
}

/// Copies event `seq` into `buf`, for `publish_with`.
fn fill(seq: u64, buf: &mut [u8]) -> usize {
    let bytes = payload(seq);
    buf[..bytes.len()].copy_from_slice(&bytes);
    bytes.len()
}

/// Publishes event `seq` in a [`POOLED`] slot, waiting for room with the
/// runtime's strategy.
pub(crate) fn publish(writer: &mut Writer, seq: u64) {
    match writer.publish_with(POOLED, seq as u32, |buf| fill(seq, buf)) {
        Ok(published) => assert_eq!(published, seq, "sequence numbers are consecutive"),
        Err(e) => panic!("publishing event {seq}: {}", e.error()),
    }
}

/// Publishes event `seq` in a [`POOLED`] slot if there is room now.
pub(crate) fn try_publish(writer: &mut Writer, seq: u64) -> bool {
    match writer.try_publish_with(POOLED, seq as u32, |buf| fill(seq, buf)) {
        Ok(published) => {
            assert_eq!(published, seq, "sequence numbers are consecutive");
            true
        }
        Err(e) if matches!(e.error(), PublishError::Full(_)) => false,
        Err(e) => panic!("publishing event {seq}: {}", e.error()),
    }
}

/// Asserts that `event` is exactly event `seq` as published.
pub(crate) fn assert_event(event: &EventRef<'_>, seq: u64) {
    assert_eq!(event.sequence(), seq, "events arrive in order");
    assert_eq!(event.event_type(), seq as u32, "the descriptor is event {seq}'s");
    assert_eq!(event.data(), payload(seq), "the payload is event {seq}'s, complete");
}

/// Lets the other threads run (loom's scheduler is not fair to a spinner).
pub(crate) fn pause() {
    thread::yield_now();
}

/// Spawns `f` and lets it start. Loom creates a spawned thread only at the
/// spawner's next switch; a failure reported before then drops the closure
/// (the model's handles and pointers) outside the model while unwinding,
/// which panics again and aborts the test binary instead of failing the
/// test, so a mutant test could not catch it.
pub(crate) fn spawn(f: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    let handle = thread::spawn(f);
    thread::yield_now();
    handle
}

/// The writer publishes two events through a ring of 2 from its own thread
/// while this thread reads them with `wait`: the body of the visibility and
/// wake-up models, which differ only in how the reader waits.
pub(crate) fn publish_two_while_reading(wait: WaitStrategy) {
    let rt = runtime(2, 1, wait);
    let mut reader = rt.reader().unwrap();
    let mut writer = rt.writer().unwrap();
    let w = thread::spawn(move || {
        for seq in 0..2 {
            publish(&mut writer, seq);
        }
    });
    for seq in 0..2 {
        let event = reader.recv().unwrap();
        assert_event(&event, seq);
    }
    w.join().unwrap();
}

/// A reader that joined an entry another reader left after reading event 0
/// of `events`: it starts after what was read (at most at the end) and
/// reads every later event intact.
pub(crate) fn read_rest_after_rejoin(reader: &mut Reader, events: u64) {
    let start = reader.cursor();
    assert!((1..=events).contains(&start), "the joiner starts after what was read, at most at the end");
    for seq in start..events {
        let event = reader.recv().unwrap();
        assert_event(&event, seq);
    }
}

/// Drives `future` to completion on this thread, parking it (loom's
/// `Notify`) while the future is pending until its waker is woken: a task
/// nobody wakes is a deadlock, which loom reports. Loom's own `block_on`
/// does the same, but its report then unwinds through loom's `Arc` around
/// the waker, whose drop panics again and aborts the test binary, so that
/// the mutant tests could not see the failure they expect; here the waker
/// is a std `Arc`, which loom does not track.
#[allow(clippy::disallowed_types, reason = "a `Waker` is made from a std `Arc`, which loom does not track (see above)")]
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use loom::sync::Notify;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(Notify);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.notify();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.notify();
        }
    }

    #[allow(
        clippy::disallowed_types,
        reason = "a `Waker` is made from a std `Arc`, which loom does not track (see above)"
    )]
    let unpark = std::sync::Arc::new(Unpark(Notify::new()));
    let waker = Waker::from(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        unpark.0.wait();
    }
}
