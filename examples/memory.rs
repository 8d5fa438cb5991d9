//! Measures the memory a runtime occupies: the arena length its layout
//! computes, and the resident memory of this process before and after every
//! slot has been written once.
//!
//! ```text
//! cargo run --release --example memory
//! ```

use slotcast::{Runtime, SizeClass};

/// Resident set size of this process in KiB (Linux), if readable.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let before = rss_kib();
    let rt = Runtime::new()?;
    let config = rt.config();
    println!("default configuration:");
    for class in SizeClass::ALL {
        let n = config.slots(class);
        println!(
            "  {:>2}: {:>5} slots x {:>5} B = {:>7} B of payload",
            class,
            n,
            class.capacity(),
            n * class.capacity()
        );
    }
    println!(
        "  ring: {} entries x 128 B (descriptor + an XS event's payload); {} reader entries x 128 B",
        config.ring_capacity(),
        config.max_readers()
    );
    println!("arena length: {} bytes ({:.2} MiB)", config.arena_len(), config.arena_len() as f64 / (1 << 20) as f64);

    // Touch every slot once (the allocator fills whole slots), then the ring.
    let alloc = rt.allocator();
    for class in SizeClass::ALL {
        let held: Vec<_> = (0..config.slots(class))
            .map(|_| {
                alloc.try_alloc_with(class, 0, |buf| {
                    buf.fill(1);
                    buf.len()
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        drop(held);
    }
    let mut reader = rt.reader()?;
    let mut writer = rt.writer()?;
    for i in 0..config.ring_capacity() as u64 {
        writer.try_publish_pod(0, &i)?;
        reader.try_read(|_, _| ())?;
    }
    if let (Some(b), Some(a)) = (before, rss_kib()) {
        println!("resident memory: +{} KiB once every slot and descriptor was written", a.saturating_sub(b));
    }
    Ok(())
}
