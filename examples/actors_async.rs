//! Actors on [actix] sharing messages without copies: an ingest actor
//! allocates each message once into a pool slot with the async allocator, a
//! router fans the `RingPtr` out to several actors (one refcount increment
//! per actor, no copy), each actor reads the bytes in place, and the slot
//! returns to its pool when the last actor drops its pointer.
//!
//! ```text
//! cargo run --release --example actors_async
//! cargo run --release --example actors_async -- --messages 1000000 --size 4000 --actors 4 --slots 512
//! ```
//!
//! It prints messages per second (from the first allocation to the last
//! actor's last message) and checks, for every message, that each actor saw
//! the bytes the ingest actor wrote (a sequence number and a pattern) at the
//! address where the ingest actor wrote them (`RingPtr::as_bytes().as_ptr()`),
//! and at the end that every slot is back in the pool (`Runtime::stats`).
//!
//! Back-pressure comes from the pool: with `--slots` messages in flight the
//! ingest actor's `alloc_with_async` waits as a future until an actor drops
//! the last pointer to a slot (dropped pointers wake nobody: the future
//! yields to the executor, then looks again after naps on slotcast's timer
//! thread, and the ingest actor's thread stays free meanwhile), so the
//! mailboxes never hold more than `--slots` messages and the example needs
//! no loop of its own.
//!
//! # Why actix
//!
//! Of the actor libraries tokio users pick (actix, ractor, kameo), actix is
//! by far the most used, by the reverse-dependency pages of lib.rs (which
//! count crates.io dependents and downloads):
//!
//! | library | crates depending on it at run time | downloads per month |
//! |---|---|---|
//! | actix | 431 (302 directly) | 414K (0.13.5) |
//! | ractor | 4 | about 5K (0.10.3 1.7K, 0.9.8 3.1K, 0.7.6 210) |
//! | kameo | 6 | about 2.3K (0.16: 800, 0.14: 800, 0.12: 700) |
//!
//! The pages are snapshots taken at different times (ractor's predates its
//! 0.15 releases), but the gap is two orders of magnitude, so the choice does
//! not hang on their dates. actix runs on tokio: every `Arbiter` (actix-rt)
//! is a thread running a tokio current-thread runtime; each actor here gets
//! its own arbiter, which is how an actix program spreads actors over cores.
//!
//! [actix]: https://docs.rs/actix

// The actors share the message pattern through std's `Arc`, which
// `clippy.toml` reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types)]

use actix::prelude::*;
use clap::Parser;
use slotcast::{AllocError, Allocator, RingPtr, Runtime, SizeClass};
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An actor graph passing pool slots: ingest -> router -> N actors.
#[derive(Parser, Debug)]
struct Args {
    /// Messages the ingest actor allocates.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Payload bytes per message (8 to 16384; picks the size class).
    #[arg(long, default_value_t = 1000)]
    size: usize,
    /// Actors each message fans out to.
    #[arg(long, default_value_t = 3)]
    actors: usize,
    /// Slots in the pool: how many messages can be in flight at once.
    #[arg(long, default_value_t = 256)]
    slots: usize,
}

/// The bytes a message carries after its 8-byte sequence number: a window
/// of this pattern starting at `seq % 251`, so that neighbours differ.
fn pattern() -> Arc<[u8]> {
    (0..SizeClass::XL.capacity() + 256).map(|i| (i.wrapping_mul(131) ^ (i >> 8)) as u8).collect()
}

/// Writes message `seq` of `len` bytes into `buf`.
fn fill(buf: &mut [u8], seq: u64, pattern: &[u8]) {
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    let at = (seq % 251) as usize;
    let rest = buf.len() - 8;
    buf[8..].copy_from_slice(&pattern[at..at + rest]);
}

/// Whether `bytes` are message `seq` of `len` bytes.
fn is_message(bytes: &[u8], seq: u64, len: usize, pattern: &[u8]) -> bool {
    let at = (seq % 251) as usize;
    bytes.len() == len && bytes[..8] == seq.to_le_bytes() && bytes[8..] == pattern[at..at + len - 8]
}

/// One message for a downstream actor: a pointer to the shared slot.
#[derive(Message)]
#[rtype(result = "()")]
struct Route(RingPtr);

/// Asks an actor for what it saw (after every message before it).
#[derive(Message)]
#[rtype(result = "Report")]
struct Collect;

/// Asks the router to collect every actor's report.
#[derive(Message)]
#[rtype(result = "Vec<Report>")]
struct Flush;

/// Asks the ingest actor to send `messages` messages through the graph.
#[derive(Message)]
#[rtype(result = "Result<Outcome, AllocError>")]
struct Run {
    messages: u64,
}

/// What one downstream actor saw.
struct Report {
    id: usize,
    /// Messages received.
    seen: u64,
    /// Messages whose bytes were not the ones written.
    wrong: u64,
    /// Where each message's bytes were, in order of arrival.
    addresses: Vec<usize>,
}

/// A downstream actor: checks each message in place and drops its pointer.
struct Worker {
    id: usize,
    len: usize,
    pattern: Arc<[u8]>,
    seen: u64,
    wrong: u64,
    addresses: Vec<usize>,
}

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Route> for Worker {
    type Result = ();

    fn handle(&mut self, Route(msg): Route, _: &mut Context<Self>) {
        // Messages arrive in the order the ingest actor wrote them: one
        // router, one mailbox per actor, each first in, first out.
        if !is_message(msg.as_bytes(), self.seen, self.len, &self.pattern) {
            self.wrong += 1;
        }
        self.addresses.push(msg.as_bytes().as_ptr() as usize);
        self.seen += 1;
        // `msg` drops here: the last actor to drop it frees the slot.
    }
}

impl Handler<Collect> for Worker {
    type Result = MessageResult<Collect>;

    fn handle(&mut self, _: Collect, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Report {
            id: self.id,
            seen: self.seen,
            wrong: self.wrong,
            addresses: std::mem::take(&mut self.addresses),
        })
    }
}

/// The router: the same slot to every downstream actor.
struct Router {
    workers: Vec<Addr<Worker>>,
}

impl Actor for Router {
    type Context = Context<Self>;
}

impl Handler<Route> for Router {
    type Result = ();

    fn handle(&mut self, Route(msg): Route, _: &mut Context<Self>) {
        let (last, others) = self.workers.split_last().expect("at least one actor");
        for worker in others {
            // One refcount increment: the actors share the one slot.
            worker.do_send(Route(msg.clone()));
        }
        last.do_send(Route(msg));
    }
}

impl Handler<Flush> for Router {
    type Result = ResponseFuture<Vec<Report>>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        let workers = self.workers.clone();
        Box::pin(async move {
            let mut reports = Vec::with_capacity(workers.len());
            for worker in workers {
                reports.push(worker.send(Collect).await.expect("a downstream actor stopped"));
            }
            reports
        })
    }
}

/// What a run measured and saw.
struct Outcome {
    elapsed: Duration,
    /// Where the ingest actor wrote each message.
    written_at: Vec<usize>,
    reports: Vec<Report>,
}

/// The ingest actor: writes each message once, in place, into a pool slot.
struct Ingest {
    alloc: Allocator,
    class: SizeClass,
    len: usize,
    pattern: Arc<[u8]>,
    router: Addr<Router>,
}

impl Actor for Ingest {
    type Context = Context<Self>;
}

impl Handler<Run> for Ingest {
    type Result = ResponseFuture<Result<Outcome, AllocError>>;

    fn handle(&mut self, run: Run, _: &mut Context<Self>) -> Self::Result {
        let (alloc, class, len) = (self.alloc.clone(), self.class, self.len);
        let (pattern, router) = (Arc::clone(&self.pattern), self.router.clone());
        Box::pin(async move {
            let started = Instant::now();
            let mut written_at = Vec::with_capacity(run.messages.try_into().unwrap_or(0));
            for seq in 0..run.messages {
                // Waits (as a future) while every slot is in flight.
                let msg = alloc
                    .alloc_with_async(class, 1, |buf| {
                        fill(&mut buf[..len], seq, &pattern);
                        len
                    })
                    .await?;
                written_at.push(msg.as_bytes().as_ptr() as usize);
                router.do_send(Route(msg));
            }
            // The router handles `Flush` after every `Route` before it, and
            // each actor `Collect` after every message before it.
            let reports = router.send(Flush).await.expect("the router stopped");
            Ok(Outcome { elapsed: started.elapsed(), written_at, reports })
        })
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    if !(8..=SizeClass::XL.capacity()).contains(&args.size) {
        return Err(format!("--size {}: a message carries 8 to {} bytes", args.size, SizeClass::XL.capacity()).into());
    }
    if args.actors == 0 || args.slots == 0 {
        return Err("--actors and --slots must be at least 1".into());
    }
    let class = SizeClass::for_len(args.size).expect("checked above");
    let rt = Runtime::builder().slots(class, args.slots).build()?;
    let pattern = pattern();

    let system = System::new();
    let (outcome, arbiters) = system.block_on(async {
        // One arbiter (a thread with its own tokio runtime) per downstream
        // actor and one for the router; the ingest actor runs on this one.
        let arbiters: Vec<Arbiter> = (0..=args.actors).map(|_| Arbiter::new()).collect();
        let workers: Vec<Addr<Worker>> = (0..args.actors)
            .map(|id| {
                let (len, pattern) = (args.size, Arc::clone(&pattern));
                Worker::start_in_arbiter(&arbiters[id].handle(), move |_| Worker {
                    id,
                    len,
                    pattern,
                    seen: 0,
                    wrong: 0,
                    addresses: Vec::new(),
                })
            })
            .collect();
        let router = Router::start_in_arbiter(&arbiters[args.actors].handle(), |_| Router { workers });
        let ingest =
            Ingest { alloc: rt.allocator(), class, len: args.size, pattern: Arc::clone(&pattern), router }.start();
        let outcome = ingest.send(Run { messages: args.messages }).await;
        for arbiter in &arbiters {
            arbiter.stop();
        }
        (outcome, arbiters)
    });
    for arbiter in arbiters {
        arbiter.join().expect("an arbiter's thread panicked");
    }
    let outcome = outcome.expect("the ingest actor stopped")?;

    for report in &outcome.reports {
        let id = report.id;
        assert_eq!(report.seen, args.messages, "actor {id} received every message");
        assert_eq!(report.wrong, 0, "actor {id} read the bytes the ingest actor wrote");
        assert!(report.addresses == outcome.written_at, "actor {id} read every message where it was written");
    }
    let mut slots_used = outcome.written_at.clone();
    slots_used.sort_unstable();
    slots_used.dedup();
    let pool = *rt.stats().pool(class);
    assert_eq!(pool.in_use, 0, "every slot is back in the pool");

    let secs = outcome.elapsed.as_secs_f64();
    println!(
        "{} messages of {} B through ingest -> router -> {} actors (actix) in {:.3} s: {:.0} messages/s",
        args.messages,
        args.size,
        args.actors,
        secs,
        args.messages as f64 / secs
    );
    println!(
        "every actor read every message in place (same bytes at the same address); {} distinct slots of {} used",
        slots_used.len(),
        pool.slots
    );
    println!("{class:?} pool after the last actor: {} of {} slots in use", pool.in_use, pool.slots);
    Ok(())
}
