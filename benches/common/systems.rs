//! The fan-out systems that more than one group runs, each built for a
//! [`Scenario`] as reader bodies plus a publish function: slotcast and
//! disruptor 4. `fanout` hands them to criterion ([`super::fanout`]), the
//! `targets` group times rounds of them ([`super::FanoutRun`]). Both sides
//! wait with the common [`Backoff`] (spin, then yield): 3 to 5 threads share
//! 2 cores.

use super::{Backoff, CAP, Ctx, FanoutRun, Payload, ReaderFn, Scenario, Tally, fill};
use disruptor::{BusySpin, Polling, Producer};
use slotcast::{Runtime, SizeClass, WaitStrategy};

const KB: usize = 1024;

/// A publish function: `publish(first_seq, n)` publishes events
/// `first_seq..first_seq + n`.
pub type PublishFn = Box<dyn FnMut(u64, u64)>;

/// One system ready to run a scenario: its readers' bodies (not started)
/// and its writer.
pub struct System {
    pub readers: Vec<ReaderFn>,
    pub publish: PublishFn,
}

impl System {
    /// Starts the readers ([`FanoutRun::start`]).
    pub fn start(self, name: &str, sc: &Scenario) -> FanoutRun<PublishFn> {
        FanoutRun::start(name, sc, self.readers, self.publish)
    }
}

// --- slotcast ---------------------------------------------------------------

/// A runtime with [`CAP`] ring entries and [`CAP`] slots of each class the
/// payload uses (fewer of the rare large ones in the mixed stream).
fn runtime(payload: Payload, readers: usize) -> Runtime {
    let mut builder = Runtime::builder()
        .ring_capacity(CAP)
        .max_readers(readers)
        .wait_strategy(WaitStrategy::Yield)
        .slots(SizeClass::XS, 0)
        .slots(SizeClass::S, 0)
        .slots(SizeClass::M, 0)
        .slots(SizeClass::L, 0)
        .slots(SizeClass::XL, 0);
    builder = match payload {
        Payload::Fixed(n) => builder.slots(SizeClass::for_len(n).expect("a class fits"), CAP),
        // 90% / 9% / 1% of a ring's worth, with room to spare.
        Payload::Mixed => builder.slots(SizeClass::XS, CAP).slots(SizeClass::M, CAP / 4).slots(SizeClass::XL, 64),
    };
    builder.build().expect("build the runtime")
}

/// slotcast: `publish_with` in place, readers `try_read` in place,
/// `WaitStrategy::Yield`; with `sc.batch > 1`, one cursor store per batch
/// (`set_flush_every`, then `flush`).
pub fn slotcast(sc: &Scenario) -> System {
    let rt = runtime(sc.payload, sc.readers);
    let readers: Vec<ReaderFn> = (0..sc.readers)
        .map(|_| {
            let mut reader = rt.reader().expect("join");
            Box::new(move |mut tally: Tally, ctx: Ctx| {
                let mut backoff = Backoff::new();
                loop {
                    let n = match reader.try_read(|ev, _| tally.see(ev.data())) {
                        Ok(n) => n,
                        // The writer is done and every event was read.
                        Err(slotcast::ReadError::Closed) => return tally,
                        Err(e) => panic!("a sound runtime: {e}"),
                    };
                    if n > 0 {
                        backoff.reset();
                    } else if !ctx.idle(&mut backoff) {
                        return tally;
                    }
                }
            }) as ReaderFn
        })
        .collect();
    let mut writer = rt.writer().expect("the only writer");
    let (payload, batch) = (sc.payload, sc.batch);
    // One cursor store per batch: at the batch's last event, or at the flush.
    writer.set_flush_every(u32::try_from(batch).expect("a small batch"));
    let publish = move |first: u64, n: u64| {
        for seq in first..first + n {
            let len = payload.len(seq);
            writer
                .publish_with(SizeClass::for_len(len).expect("a class fits"), 0, |ev| {
                    fill(seq, &mut ev[..len]);
                    len
                })
                .expect("the class has slots");
        }
        // The writer stored its cursor at each batch's last event; this
        // makes a burst that ends mid-batch visible (a no-op otherwise).
        writer.flush();
    };
    System { readers, publish: Box::new(publish) }
}

// --- disruptor --------------------------------------------------------------

/// A disruptor event: the payload in place.
trait Event: Send + Sync + 'static {
    fn new() -> Self;
    fn write(&mut self, seq: u64, len: usize);
    fn data(&self) -> &[u8];
}

/// A fixed-size payload, line-aligned as slotcast's slots are.
#[repr(C, align(64))]
struct Fixed<const N: usize>([u8; N]);

impl<const N: usize> Event for Fixed<N> {
    fn new() -> Self {
        Fixed([0; N])
    }

    #[inline]
    fn write(&mut self, seq: u64, _len: usize) {
        fill(seq, &mut self.0);
    }

    #[inline]
    fn data(&self) -> &[u8] {
        &self.0
    }
}

/// The mixed stream: a disruptor's events are all one type, so each is as
/// large as the largest event (16 KB) and carries its length.
#[repr(C, align(64))]
struct Mixed {
    len: usize,
    data: [u8; 16 * KB],
}

impl Event for Mixed {
    fn new() -> Self {
        Mixed { len: 0, data: [0; 16 * KB] }
    }

    #[inline]
    fn write(&mut self, seq: u64, len: usize) {
        self.len = len;
        fill(seq, &mut self.data[..len]);
    }

    #[inline]
    fn data(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

fn poller_reader<E: Event>(mut poller: disruptor::EventPoller<E, disruptor::SingleProducerBarrier>) -> ReaderFn {
    Box::new(move |mut tally: Tally, ctx: Ctx| {
        let mut backoff = Backoff::new();
        loop {
            match poller.poll() {
                Ok(mut events) => {
                    for e in &mut events {
                        tally.see(e.data());
                    }
                    backoff.reset();
                }
                Err(Polling::NoEvents) => {
                    if !ctx.idle(&mut backoff) {
                        return tally;
                    }
                }
                Err(Polling::Shutdown) => return tally,
            }
        }
    })
}

fn disruptor_publish<E: Event>(mut producer: impl Producer<E> + 'static, payload: Payload, batch: usize) -> PublishFn {
    Box::new(move |first, n| {
        let mut backoff = Backoff::new();
        if batch == 1 {
            for seq in first..first + n {
                let len = payload.len(seq);
                while producer.try_publish(|e| e.write(seq, len)).is_err() {
                    backoff.snooze();
                }
                backoff.reset();
            }
        } else {
            let mut seq = first;
            while seq < first + n {
                let start = seq;
                while producer
                    .try_batch_publish(batch, |iter| {
                        for (i, e) in iter.enumerate() {
                            let s = start + i as u64;
                            e.write(s, payload.len(s));
                        }
                    })
                    .is_err()
                {
                    backoff.snooze();
                }
                backoff.reset();
                seq += batch as u64;
            }
        }
    })
}

fn disruptor_of<E: Event>(sc: &Scenario) -> System {
    // Pollers never wait inside the disruptor, and the producer uses
    // `try_publish` with the common backoff: the strategy is unused.
    let builder = disruptor::build_single_producer(CAP, E::new, BusySpin);
    let (first, builder) = builder.new_event_poller();
    let mut readers = vec![poller_reader(first)];
    let publish = if sc.readers == 1 {
        disruptor_publish(builder.build(), sc.payload, sc.batch)
    } else {
        let (second, mut builder) = builder.new_event_poller();
        readers.push(poller_reader(second));
        for _ in 2..sc.readers {
            let (poller, b) = builder.new_event_poller();
            builder = b;
            readers.push(poller_reader(poller));
        }
        disruptor_publish(builder.build(), sc.payload, sc.batch)
    };
    System { readers, publish }
}

/// disruptor 4: one `EventPoller` per reader (every consumer sees every
/// event), events of the largest payload size written and read in place;
/// with `sc.batch > 1`, `try_batch_publish`.
pub fn disruptor(sc: &Scenario) -> System {
    match sc.payload {
        Payload::Fixed(64) => disruptor_of::<Fixed<64>>(sc),
        Payload::Fixed(4096) => disruptor_of::<Fixed<4096>>(sc),
        Payload::Mixed => disruptor_of::<Mixed>(sc),
        Payload::Fixed(n) => unreachable!("no disruptor event type for {n} bytes"),
    }
}
