//! Actors passing messages by pointer: an ingest actor allocates each
//! message once in a pool slot; a router sends the same slot to two
//! downstream actors by cloning its `RingPtr` (one atomic increment, no
//! copy); the slot returns to its pool when the last actor drops it.
//!
//! ```text
//! cargo run --release --example actors
//! ```

use slotcast::{RingPtr, Runtime, SizeClass};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread;

/// A downstream actor: checks each message, remembers where its bytes live,
/// and drops its reference.
fn downstream(name: &'static str, inbox: Receiver<RingPtr>) -> thread::JoinHandle<(usize, u64, Vec<usize>)> {
    thread::spawn(move || {
        let (mut n, mut sum, mut addresses) = (0, 0u64, Vec::new());
        for msg in inbox {
            assert_eq!(msg.len(), 200, "{name}: every message carries 200 bytes");
            sum += msg.iter().map(|&b| u64::from(b)).sum::<u64>();
            if n < 3 {
                addresses.push(msg.as_ptr() as usize);
            }
            n += 1;
        }
        (n, sum, addresses)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const MESSAGES: u32 = 100_000;
    let rt = Runtime::builder().slots(SizeClass::S, 64).build()?;
    let alloc = rt.allocator();

    let (to_router, router_inbox) = sync_channel::<RingPtr>(16);
    let (to_audit, audit_inbox) = sync_channel::<RingPtr>(16);
    let (to_sink, sink_inbox) = sync_channel::<RingPtr>(16);
    let audit = downstream("audit", audit_inbox);
    let sink = downstream("sink", sink_inbox);
    let router = thread::spawn(move || {
        let mut first = Vec::new();
        for msg in router_inbox {
            if first.len() < 3 {
                first.push(msg.as_ptr() as usize);
            }
            // Fan out by pointer: the two actors share the one slot.
            to_audit.send(msg.clone()).expect("audit is alive");
            to_sink.send(msg).expect("sink is alive");
        }
        first
    });

    // Ingest: write each message once, in place, into a pool slot.
    let mut expected = 0u64;
    for i in 0..MESSAGES {
        let byte = (i % 251) as u8;
        let msg = loop {
            match alloc.try_alloc_with(SizeClass::S, 1, |buf| {
                buf[..200].fill(byte);
                200
            }) {
                Ok(msg) => break msg,
                // Every slot is in flight: let the actors drain some.
                #[allow(clippy::disallowed_methods)] // the example's own back-off
                Err(_) => thread::sleep(std::time::Duration::from_micros(20)),
            }
        };
        expected += 200 * u64::from(byte);
        to_router.send(msg)?;
    }
    drop(to_router);

    let routed = router.join().expect("router");
    let (audited, audit_sum, audit_at) = audit.join().expect("audit");
    let (sunk, sink_sum, sink_at) = sink.join().expect("sink");
    assert_eq!((audited, sunk), (MESSAGES as usize, MESSAGES as usize));
    assert_eq!((audit_sum, sink_sum), (expected, expected));
    assert_eq!(routed, audit_at, "the audit actor read the router's bytes in place");
    assert_eq!(routed, sink_at, "so did the sink: no copies");
    let pool = *rt.stats().pool(SizeClass::S);
    println!("{MESSAGES} messages of 200 B passed through 3 actors with 64 slots and no copies");
    println!("S pool after the last actor: {} of {} slots in use", pool.in_use, pool.slots);
    assert_eq!(pool.in_use, 0, "every slot returned to its pool");
    Ok(())
}
