//! Two-thread ping-pong pairs of a 64-byte event, the one-way latency
//! workload of the `latency` and `targets` groups: the bench thread
//! publishes event `n` on one channel, an echo thread reads it and publishes
//! `n` back on a second one, the bench thread reads that. Both threads spin
//! (2 threads on 2 cores), except slotcast with `WaitStrategy::Blocking`.
//!
//! | pair | what |
//! |---|---|
//! | [`slotcast`] | two runtimes, `publish_with` / `read` with the given strategy |
//! | [`disruptor`] | two disruptor 4 rings, `publish` / `EventPoller`, spinning polls |
//! | [`spsc_ring`] | two hand-written two-atomic rings, spinning |
//! | [`atomic`] | two padded atomics and nothing else: the hardware floor |

use super::{Padded, fill, spsc};
use disruptor::{BusySpin, Polling, Producer};
use slotcast::{Runtime, SizeClass, WaitStrategy};
use std::hint::spin_loop;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

/// Event type of the message that stops a slotcast echo thread.
const STOP: u32 = 1;

fn seq_of(data: &[u8]) -> u64 {
    u64::from_le_bytes(data[..8].try_into().expect("8 bytes"))
}

/// A ping-pong pair whose echo thread is running. `step(Some(n))` is one
/// round trip of event `n` (checked: the echo must be `n`); `step(None)`
/// tells the echo thread to stop, which dropping the pair does.
/// (Generic rather than boxed: a round trip is a direct call, as it was
/// when each bench wrote its loop inline.)
pub struct Echo<F: FnMut(Option<u64>)> {
    step: F,
    echo: Option<JoinHandle<()>>,
}

impl<F: FnMut(Option<u64>)> Echo<F> {
    fn new(step: F, echo: JoinHandle<()>) -> Self {
        Self { step, echo: Some(echo) }
    }

    /// One round trip of event `seq`: publish it, wait for its echo.
    #[inline]
    pub fn round_trip(&mut self, seq: u64) {
        (self.step)(Some(seq));
    }
}

impl<F: FnMut(Option<u64>)> Drop for Echo<F> {
    fn drop(&mut self) {
        (self.step)(None);
        if let Some(echo) = self.echo.take() {
            let joined = echo.join();
            if !std::thread::panicking() {
                joined.expect("the echo thread panicked");
            }
        }
    }
}

/// slotcast: two runtimes of 64 entries and 128 XS slots, one reader each.
pub fn slotcast(wait: WaitStrategy) -> Echo<impl FnMut(Option<u64>)> {
    let build = || {
        Runtime::builder()
            .ring_capacity(64)
            .max_readers(1)
            .wait_strategy(wait)
            .slots(SizeClass::XS, 128)
            .build()
            .expect("build the runtime")
    };
    let (ping, pong) = (build(), build());
    let mut ping_reader = ping.reader().expect("join");
    let mut pong_reader = pong.reader().expect("join");
    let mut ping_writer = ping.writer().expect("the writer");
    let mut pong_writer = pong.writer().expect("the writer");
    let echo = std::thread::spawn(move || {
        let mut stop = false;
        while !stop {
            ping_reader
                .read(|ev, _| {
                    if ev.event_type() == STOP {
                        stop = true;
                        return;
                    }
                    let data = ev.data();
                    pong_writer
                        .publish_with(SizeClass::XS, 0, |out| {
                            out[..64].copy_from_slice(data);
                            64
                        })
                        .expect("the class has slots");
                })
                .expect("a sound runtime");
        }
    });
    Echo::new(
        move |step| {
            let Some(seq) = step else {
                ping_writer.publish_with(SizeClass::XS, STOP, |_| 0).expect("the class has slots");
                return;
            };
            ping_writer
                .publish_with(SizeClass::XS, 0, |ev| {
                    fill(seq, &mut ev[..64]);
                    64
                })
                .expect("the class has slots");
            let mut back = None;
            while back.is_none() {
                pong_reader.read(|ev, _| back = Some(seq_of(ev.data()))).expect("a sound runtime");
            }
            assert_eq!(back, Some(seq), "slotcast: the echo is not the event sent");
        },
        echo,
    )
}

/// disruptor 4: two rings of 64 events, spinning `EventPoller`s.
pub fn disruptor() -> Echo<impl FnMut(Option<u64>)> {
    #[repr(C, align(64))]
    struct Event([u8; 64]);
    let (mut ping_poller, b) = disruptor::build_single_producer(64, || Event([0; 64]), BusySpin).new_event_poller();
    let ping_producer = b.build();
    let (mut pong_poller, b) = disruptor::build_single_producer(64, || Event([0; 64]), BusySpin).new_event_poller();
    let mut pong_producer = b.build();
    let echo = std::thread::spawn(move || {
        loop {
            match ping_poller.poll() {
                Ok(mut events) => {
                    for e in &mut events {
                        pong_producer.publish(|out| out.0 = e.0);
                    }
                }
                Err(Polling::NoEvents) => spin_loop(),
                Err(Polling::Shutdown) => return,
            }
        }
    });
    let mut ping_producer = Some(ping_producer);
    Echo::new(
        move |step| {
            // Dropping the producer shuts the echo thread's poller down.
            let (Some(seq), Some(producer)) = (step, ping_producer.as_mut()) else {
                ping_producer = None;
                return;
            };
            producer.publish(|ev| fill(seq, &mut ev.0));
            let mut back = None;
            while back.is_none() {
                match pong_poller.poll() {
                    Ok(mut events) => {
                        for e in &mut events {
                            back = Some(seq_of(&e.0));
                        }
                    }
                    Err(Polling::NoEvents) => spin_loop(),
                    Err(Polling::Shutdown) => unreachable!("the echo thread owns the producer until we stop it"),
                }
            }
            assert_eq!(back, Some(seq), "disruptor: the echo is not the event sent");
        },
        echo,
    )
}

/// Two hand-written two-atomic rings of 64 slots, spinning.
pub fn spsc_ring() -> Echo<impl FnMut(Option<u64>)> {
    let (mut ping_tx, mut ping_rx) = spsc::ring(64);
    let (mut pong_tx, mut pong_rx) = spsc::ring(64);
    let stop = Arc::new(AtomicBool::new(false));
    let echo = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            // Relaxed: a stop flag; the join in `Echo::drop` synchronises.
            while !stop.load(Ordering::Relaxed) {
                let n = ping_rx.pop(|slot| {
                    while !pong_tx.try_push(1, |_, out| *out = *slot) {
                        spin_loop();
                    }
                });
                if n == 0 {
                    spin_loop();
                }
            }
        })
    };
    Echo::new(
        move |step| {
            let Some(seq) = step else {
                // Relaxed: pairs with nothing; the echo thread only needs to see it eventually.
                stop.store(true, Ordering::Relaxed);
                return;
            };
            while !ping_tx.try_push(1, |_, slot| fill(seq, slot)) {
                spin_loop();
            }
            let mut back = None;
            while back.is_none() {
                if pong_rx.pop(|slot| back = Some(seq_of(slot))) == 0 {
                    spin_loop();
                }
            }
            assert_eq!(back, Some(seq), "spsc_ring: the echo is not the event sent");
        },
        echo,
    )
}

/// Two padded atomics: the echo thread stores back what it loads.
pub fn atomic() -> Echo<impl FnMut(Option<u64>)> {
    let ping = Arc::new(Padded(AtomicU64::new(0)));
    let pong = Arc::new(Padded(AtomicU64::new(0)));
    let echo = {
        let (ping, pong) = (Arc::clone(&ping), Arc::clone(&pong));
        std::thread::spawn(move || {
            let mut last = 0;
            loop {
                // Acquire: pairs with the bench thread's Release store of `ping`.
                let v = ping.load(Ordering::Acquire);
                if v == u64::MAX {
                    return;
                }
                if v == last {
                    spin_loop();
                    continue;
                }
                last = v;
                // Release: pairs with the bench thread's Acquire load of `pong`.
                pong.store(v, Ordering::Release);
            }
        })
    };
    Echo::new(
        move |step| {
            let Some(seq) = step else {
                ping.store(u64::MAX, Ordering::Release);
                return;
            };
            // Release/Acquire: pair with the echo thread's load of `ping` and
            // store of `pong` (a bare ping-pong carries no data, but a real one would).
            ping.store(seq + 1, Ordering::Release);
            while pong.load(Ordering::Acquire) != seq + 1 {
                spin_loop();
            }
        },
        echo,
    )
}
