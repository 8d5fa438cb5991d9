//! `actor_graph`: the actor graph of `examples/actors_async.rs` on actix
//! (ingest -> router -> 3 actors, each actor on its own arbiter, the ingest
//! actor on the bench's thread), 1 KB messages, passing each message as:
//!
//! * `ringptr`: a slotcast `RingPtr` into a pool slot, written in place by
//!   `Allocator::alloc_with_async`; the router clones the pointer per actor
//!   (one refcount increment); the last actor's drop frees the slot. The
//!   pool ([`CAP`] slots) is the back-pressure: the ingest actor's
//!   allocation waits while every slot is in flight.
//! * `arc`: an `Arc<[u8]>` allocated per message and written in place
//!   (collected zeroed, then `Arc::get_mut`); the router clones the `Arc`
//!   per actor.
//! * `vec`: a `Vec<u8>` allocated per message and written in place; the
//!   router gives each actor its own copy (`Vec::clone`, the last actor gets
//!   the original), as a user without shared ownership sends it.
//!
//! `arc` and `vec` have no pool to bound the messages in flight, and actix's
//! `do_send` ignores mailbox capacity, so they get the same bound by credits:
//! a `tokio::sync::Semaphore` of [`CAP`] messages' worth, the ingest actor
//! takes one credit per actor before each message and each actor returns
//! one after reading it (without a bound the mailboxes of the slower actors
//! grow by the whole run, which measures the allocator on fresh memory).
//!
//! Every actor checks every message: its sequence number (messages arrive
//! in order) and the checksum of all its bytes (`common::checksum`); each
//! run ends when every actor has answered a final request (its mailbox is
//! first in, first out, so it has read every message before it), and a
//! wrong or missing message fails the bench.
//!
//! What the graph costs besides the payload: actix boxes every message it
//! queues (an envelope) and allocates a node of its mailbox queue for it,
//! so each message costs 8 heap allocations in actix alone (one send to the
//! router, one to each of the 3 actors) in all three variants; `arc` adds
//! one and `vec` three. Instructions per message, by where they go:
//! `valgrind --tool=callgrind` on this bench's test mode with a filter
//! (`actor_graph-<hash> actor_graph/1KB/arc`, 10,000 messages), less a run
//! whose filter matches nothing.
//!
//! Criterion ids `actor_graph/1KB/{ringptr,arc,vec}`, one element per
//! message. Under `cargo bench` the three are then also timed in
//! interleaved rounds (the machine's speed drifts between criterion's
//! groups), which print messages per second per round and the median
//! ratios ringptr/arc and ringptr/vec, also written to
//! `slotcast-extra/actor_graph.json`. A fourth, diagnostic row runs there
//! too: the ringptr graph bounded by the same credits as `arc` and `vec`,
//! with a pool twice as large so that no allocation ever waits; against
//! `ringptr` it shows what waiting for a free slot costs.
//!
//! ```text
//! cargo bench -p slotcast-benches --bench actor_graph
//! ```

// The peer is std's `Arc`, and the harness (`common`) spins and yields with
// std's calls, which `clippy.toml` reserves for the library's `sync` shim.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use actix::prelude::*;
use common::{CAP, checksum, expected_checksum, fill};
use criterion::Throughput;
use serde_json::json;
use slotcast::{Allocator, RingPtr, Runtime, SizeClass};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Payload bytes per message.
const LEN: usize = 1024;
/// Actors each message fans out to.
const ACTORS: usize = 3;
/// Messages per criterion iteration.
const MESSAGES: u64 = 10_000;
/// Interleaved rounds under `cargo bench`, and messages per variant and
/// round.
const ROUNDS: usize = 9;
const ROUND_MESSAGES: u64 = 100_000;

/// How one variant makes, shares and releases a message.
trait Variant: Clone + Send + Unpin + 'static {
    type Msg: Clone + Send + 'static;

    /// Makes message `seq` (written once, in place), waiting for room.
    async fn make(&self, seq: u64) -> Self::Msg;

    fn bytes(msg: &Self::Msg) -> &[u8];

    /// One actor is done with one message.
    fn done(&self);
}

/// `RingPtr`: the pool bounds the messages in flight; with credits (the
/// diagnostic row), the credits do, and the pool never runs out.
#[derive(Clone)]
struct Pooled(Allocator, Option<Arc<Semaphore>>);

impl Variant for Pooled {
    type Msg = RingPtr;

    async fn make(&self, seq: u64) -> RingPtr {
        if let Some(credits) = &self.1 {
            take_credits(credits).await;
        }
        self.0
            .alloc_with_async(SizeClass::M, 1, |buf| {
                fill(seq, &mut buf[..LEN]);
                LEN
            })
            .await
            .expect("the M pool has slots")
    }

    fn bytes(msg: &RingPtr) -> &[u8] {
        msg.as_bytes()
    }

    fn done(&self) {
        if let Some(credits) = &self.1 {
            credits.add_permits(1);
        }
    }
}

/// Credits for the variants without a pool: [`CAP`] messages in flight.
fn credits() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(CAP * ACTORS))
}

/// Waits for one credit per actor.
async fn take_credits(credits: &Semaphore) {
    credits.acquire_many(ACTORS as u32).await.expect("the credits are never closed").forget();
}

/// `Arc<[u8]>`, one allocation per message.
#[derive(Clone)]
struct Shared(Arc<Semaphore>);

impl Variant for Shared {
    type Msg = Arc<[u8]>;

    async fn make(&self, seq: u64) -> Arc<[u8]> {
        take_credits(&self.0).await;
        // One allocation of the right length (the iterator's length is
        // exact), zeroed, then written in place.
        let mut msg: Arc<[u8]> = std::iter::repeat_n(0, LEN).collect();
        fill(seq, Arc::get_mut(&mut msg).expect("just made"));
        msg
    }

    fn bytes(msg: &Arc<[u8]>) -> &[u8] {
        msg
    }

    fn done(&self) {
        self.0.add_permits(1);
    }
}

/// `Vec<u8>`, one allocation per message and one copy per further actor.
#[derive(Clone)]
struct Owned(Arc<Semaphore>);

impl Variant for Owned {
    type Msg = Vec<u8>;

    async fn make(&self, seq: u64) -> Vec<u8> {
        take_credits(&self.0).await;
        let mut msg = vec![0; LEN];
        fill(seq, &mut msg);
        msg
    }

    fn bytes(msg: &Vec<u8>) -> &[u8] {
        msg
    }

    fn done(&self) {
        self.0.add_permits(1);
    }
}

/// One message for an actor.
struct Route<M>(M);

impl<M: 'static> Message for Route<M> {
    type Result = ();
}

/// Asks an actor what it has seen so far (after every message before it).
#[derive(Message)]
#[rtype(result = "Report")]
struct Collect;

/// Asks the router for every actor's report.
#[derive(Message)]
#[rtype(result = "Vec<Report>")]
struct Flush;

/// Asks the ingest actor to send `messages` more messages.
#[derive(Message)]
#[rtype(result = "(Duration, Vec<Report>)")]
struct Run {
    messages: u64,
}

/// What an actor has seen since it started.
#[derive(Clone, Copy, Debug)]
struct Report {
    seen: u64,
    wrong: u64,
}

/// A downstream actor: checks each message and drops it.
struct Worker<V> {
    variant: V,
    seen: u64,
    wrong: u64,
}

impl<V: Variant> Actor for Worker<V> {
    type Context = Context<Self>;
}

impl<V: Variant> Handler<Route<V::Msg>> for Worker<V> {
    type Result = ();

    fn handle(&mut self, Route(msg): Route<V::Msg>, _: &mut Context<Self>) {
        let bytes = V::bytes(&msg);
        let seq = self.seen;
        let intact =
            bytes.len() == LEN && bytes[..8] == seq.to_le_bytes() && checksum(bytes) == expected_checksum(seq, LEN);
        self.wrong += u64::from(!intact);
        self.seen += 1;
        drop(msg);
        self.variant.done();
    }
}

impl<V: Variant> Handler<Collect> for Worker<V> {
    type Result = MessageResult<Collect>;

    fn handle(&mut self, _: Collect, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Report { seen: self.seen, wrong: self.wrong })
    }
}

/// The router: every message to every actor.
struct Router<V: Variant> {
    workers: Vec<Addr<Worker<V>>>,
}

impl<V: Variant> Actor for Router<V> {
    type Context = Context<Self>;
}

impl<V: Variant> Handler<Route<V::Msg>> for Router<V> {
    type Result = ();

    fn handle(&mut self, Route(msg): Route<V::Msg>, _: &mut Context<Self>) {
        let (last, others) = self.workers.split_last().expect("actors");
        for worker in others {
            worker.do_send(Route(msg.clone()));
        }
        last.do_send(Route(msg));
    }
}

impl<V: Variant> Handler<Flush> for Router<V> {
    type Result = ResponseFuture<Vec<Report>>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        let workers = self.workers.clone();
        Box::pin(async move {
            let mut reports = Vec::with_capacity(workers.len());
            for worker in workers {
                reports.push(worker.send(Collect).await.expect("an actor stopped"));
            }
            reports
        })
    }
}

/// The ingest actor: makes each message once and hands it to the router.
struct Ingest<V: Variant> {
    variant: V,
    router: Addr<Router<V>>,
    next: u64,
}

impl<V: Variant> Actor for Ingest<V> {
    type Context = Context<Self>;
}

impl<V: Variant> Handler<Run> for Ingest<V> {
    type Result = ResponseFuture<(Duration, Vec<Report>)>;

    fn handle(&mut self, run: Run, _: &mut Context<Self>) -> Self::Result {
        let (variant, router) = (self.variant.clone(), self.router.clone());
        let first = self.next;
        self.next += run.messages;
        Box::pin(async move {
            let started = Instant::now();
            for seq in first..first + run.messages {
                router.do_send(Route(variant.make(seq).await));
            }
            let reports = router.send(Flush).await.expect("the router stopped");
            (started.elapsed(), reports)
        })
    }
}

/// One variant's graph, started once and run many times.
struct Graph<V: Variant> {
    ingest: Addr<Ingest<V>>,
    arbiters: Vec<Arbiter>,
    sent: u64,
}

impl<V: Variant> Graph<V> {
    fn start(system: &SystemRunner, variant: V) -> Self {
        system.block_on(async move {
            let arbiters: Vec<Arbiter> = (0..=ACTORS).map(|_| Arbiter::new()).collect();
            let workers = arbiters[..ACTORS]
                .iter()
                .map(|arbiter| {
                    let variant = variant.clone();
                    Worker::start_in_arbiter(&arbiter.handle(), move |_| Worker { variant, seen: 0, wrong: 0 })
                })
                .collect();
            let router = Router::start_in_arbiter(&arbiters[ACTORS].handle(), move |_| Router { workers });
            let ingest = Ingest { variant, router, next: 0 }.start();
            Graph { ingest, arbiters, sent: 0 }
        })
    }

    /// Sends `messages` messages through the graph; the time from the first
    /// one made to the last one read by every actor.
    fn run(&mut self, system: &SystemRunner, messages: u64) -> Duration {
        let (elapsed, reports) = system.block_on(self.ingest.send(Run { messages })).expect("the ingest actor stopped");
        self.sent += messages;
        for (id, report) in reports.iter().enumerate() {
            assert_eq!(report.wrong, 0, "actor {id} read a damaged message");
            assert_eq!(report.seen, self.sent, "actor {id} read every message");
        }
        elapsed
    }

    fn stop(self) {
        drop(self.ingest);
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        for arbiter in self.arbiters {
            arbiter.join().expect("an arbiter's thread panicked");
        }
    }
}

/// Messages per second of a run.
fn rate(messages: u64, elapsed: Duration) -> f64 {
    messages as f64 / elapsed.as_secs_f64()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn main() {
    let system = System::new();
    let rt = Runtime::builder().slots(SizeClass::M, CAP).build().expect("a runtime");
    let mut ringptr = Graph::start(&system, Pooled(rt.allocator(), None));
    let mut arc = Graph::start(&system, Shared(credits()));
    let mut vec = Graph::start(&system, Owned(credits()));

    let mut criterion = common::config().configure_from_args();
    {
        let mut group = criterion.benchmark_group("actor_graph");
        group.throughput(Throughput::Elements(MESSAGES));
        group.bench_function("1KB/ringptr", |b| b.iter_custom(|iters| ringptr.run(&system, iters * MESSAGES)));
        group.bench_function("1KB/arc", |b| b.iter_custom(|iters| arc.run(&system, iters * MESSAGES)));
        group.bench_function("1KB/vec", |b| b.iter_custom(|iters| vec.run(&system, iters * MESSAGES)));
        group.finish();
    }
    criterion.final_summary();

    if common::benchmarking() && common::selected("actor_graph/1KB/interleaved") {
        // The diagnostic row: the ringptr graph under arc's and vec's
        // credits, with a pool twice as large so that no allocation waits.
        let roomy = Runtime::builder().slots(SizeClass::M, 2 * CAP).build().expect("a runtime");
        let mut credited = Graph::start(&system, Pooled(roomy.allocator(), Some(credits())));
        // Untimed: every graph's threads and memory warm.
        for _ in 0..2 {
            ringptr.run(&system, ROUND_MESSAGES);
            arc.run(&system, ROUND_MESSAGES);
            vec.run(&system, ROUND_MESSAGES);
            credited.run(&system, ROUND_MESSAGES);
        }
        let (mut ours, mut arcs, mut vecs, mut credits) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // A different variant first in each round.
            let mut rates = [0.0; 4];
            for k in 0..4 {
                let which = (round + k) % 4;
                let elapsed = match which {
                    0 => ringptr.run(&system, ROUND_MESSAGES),
                    1 => arc.run(&system, ROUND_MESSAGES),
                    2 => vec.run(&system, ROUND_MESSAGES),
                    _ => credited.run(&system, ROUND_MESSAGES),
                };
                rates[which] = rate(ROUND_MESSAGES, elapsed);
            }
            println!(
                "actor_graph/1KB round {}: ringptr {:.0} msg/s, arc {:.0} msg/s, vec {:.0} msg/s (ringptr/arc {:.2}, ringptr/vec {:.2}); ringptr under credits {:.0} msg/s (/arc {:.2}, /vec {:.2})",
                round + 1,
                rates[0],
                rates[1],
                rates[2],
                rates[0] / rates[1],
                rates[0] / rates[2],
                rates[3],
                rates[3] / rates[1],
                rates[3] / rates[2]
            );
            ours.push(rates[0]);
            arcs.push(rates[1]);
            vecs.push(rates[2]);
            credits.push(rates[3]);
        }
        credited.stop();
        assert_eq!(roomy.stats().pool(SizeClass::M).in_use, 0, "every slot is back in the pool");
        let over_arc: Vec<f64> = ours.iter().zip(&arcs).map(|(o, a)| o / a).collect();
        let over_vec: Vec<f64> = ours.iter().zip(&vecs).map(|(o, v)| o / v).collect();
        let credited_over_arc: Vec<f64> = credits.iter().zip(&arcs).map(|(o, a)| o / a).collect();
        let credited_over_vec: Vec<f64> = credits.iter().zip(&vecs).map(|(o, v)| o / v).collect();
        println!(
            "actor_graph/1KB interleaved, {ROUNDS} rounds of {ROUND_MESSAGES} messages: median ringptr/arc {:.2}, ringptr/vec {:.2}; ringptr under credits: /arc {:.2}, /vec {:.2}",
            median(&over_arc),
            median(&over_vec),
            median(&credited_over_arc),
            median(&credited_over_vec)
        );
        let doc = json!({
            "messages_per_round": ROUND_MESSAGES,
            "actors": ACTORS,
            "len": LEN,
            "ringptr": ours,
            "arc": arcs,
            "vec": vecs,
            "ringptr_over_arc": over_arc,
            "ringptr_over_vec": over_vec,
            "median_ringptr_over_arc": median(&over_arc),
            "median_ringptr_over_vec": median(&over_vec),
            "ringptr_credits": credits,
            "median_ringptr_credits_over_arc": median(&credited_over_arc),
            "median_ringptr_credits_over_vec": median(&credited_over_vec),
        });
        common::write_extra("actor_graph", &format!("{}\n", serde_json::to_string_pretty(&doc).expect("JSON")));
    }

    ringptr.stop();
    arc.stop();
    vec.stop();
    assert_eq!(rt.stats().pool(SizeClass::M).in_use, 0, "every slot is back in the pool");
}
