//! The section of issue 16: events through the NATS bridge against
//! `async-nats` publishing the same events directly, and the end-to-end
//! latency of both.
//!
//! A module of the report generator (`generate.rs`). It reads
//! `slotcast-extra/bridge.json` (`benches/bridge.rs`): `throughput[]` (`id`,
//! `label`, `size`, `events` per round, `rates` per round, `median`,
//! `mb_per_s`, `lost_rounds`), `ratios[]` (`id`, `size`, `what`, `ratios`
//! per round, `median`), `bridge_frames[]` (`size`,
//! `events_per_message`), `latency` (`rate`, `seconds`, `size`, `lost`,
//! `cases[]` with `id`, `label`, `events`, `p50`, `p99`, `p999`, `max` in
//! nanoseconds), `rounds`, `target_seconds`, `server`, `l_slots`,
//! `frame_bytes`, `subscription_capacity`, `loadavg_before`,
//! `loadavg_after`, `seconds` and `command`. A group
//! that did not run leaves the section with a line saying so. Every number
//! printed is read from that file, or is a ratio of such numbers.

use super::{Report, mps, ns, ratio};
use serde_json::Value;
use std::fmt::Write as _;

/// Bytes as `64 B` or `4 KB`.
fn size_label(size: u64) -> String {
    if size >= 1024 && size % 1024 == 0 { format!("{} KB", size / 1024) } else { format!("{size} B") }
}

/// The median rate of case `id` at `size`, if measured.
fn median_of(doc: &Value, id: &str, size: u64) -> Option<f64> {
    let case = doc["throughput"].as_array()?.iter().find(|c| c["id"] == id && c["size"] == size)?;
    case["rates"].as_array().filter(|r| !r.is_empty())?;
    case["median"].as_f64()
}

/// The same-run ratio `id` at `size`, if measured.
fn ratio_of<'a>(doc: &'a Value, id: &str, size: u64) -> Option<&'a Value> {
    doc["ratios"].as_array()?.iter().find(|r| r["id"] == id && r["size"] == size)
}

/// The bridge section.
pub(super) fn section(r: &Report) -> String {
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "## Across machines: the NATS bridge (issue 16)\n");
    let Some(doc) = r.extra("bridge") else {
        let _ = writeln!(
            w,
            "Not measured: the `bridge` group did not run (`cargo bench -p slotcast-benches --bench bridge`; it needs \
             `nats-server`).\n"
        );
        return md;
    };
    let rounds = doc["rounds"].as_u64().unwrap_or(0);
    let _ = writeln!(
        w,
        "`benches/bridge.rs`, run as `{}` (one of `scripts/bench-report`'s groups), against a real `{}` the bench \
         starts on a loopback port (with JetStream, its store in a temporary directory) and stops. {rounds} \
         interleaved rounds, each running every case once with each size; a case's figure is the median of its \
         rounds, a ratio's the median of the rounds' ratios; {:.0} s in all. N, the events per case and round \
         (the `N` column), was sized by a first, untimed round for about {} s at that round's rate (the rounds, \
         warm, run faster). Every event carries its sequence number, checked on the far side. MB/s counts \
         payload bytes only (10⁶ bytes per second).\n",
        doc["command"].as_str().unwrap_or("cargo bench -p slotcast-benches --bench bridge"),
        doc["server"].as_str().unwrap_or("nats-server"),
        doc["seconds"].as_f64().unwrap_or(f64::NAN),
        doc["target_seconds"],
    );
    let _ = writeln!(
        w,
        "* **bridge, core NATS**: a writer thread publishes N events into a source runtime in a shared file under \
         `/dev/shm` (the cross-process set-up, here in one process); `spawn_out` reads them as a gating reader and \
         sends them as frames of up to {} KiB; `spawn_in` publishes them into a sink runtime in another file, \
         where a reader counts every event (checking each one's sequence). Timed from the writer's first publish \
         to that reader's last event.\n\
         * **bridge, JetStream**: the same with `Delivery::jetstream_for` (a file-backed stream, which the \
         receiving bridge reads with an ordered consumer; the sending bridge waits for the server's \
         acknowledgements, up to 64 frames in flight).\n\
         * **async-nats alone**: what a user without the bridge writes: one client publishes one NATS message per \
         event (a `Bytes` filled per event, as the writer fills its slot) in a loop and flushes; a subscriber on \
         another client receives them all. Timed from the first publish to the last message received.\n\
         * **async-nats, bridge frames**: the same client publishing the bridge's own frames, built before the \
         timing; the subscriber parses each and counts its events. The transport's ceiling for what the bridge \
         sends: the gap between it and the bridge is the bridge's own work (reading the ring, building frames, \
         publishing into the far ring) and its threads' hand-offs.\n",
        doc["frame_bytes"].as_u64().unwrap_or(0) / 1024,
    );
    let _ = writeln!(
        w,
        "Everything but the server runs in one process on the machine's 2 cores: the writer thread, the two \
         bridges' threads (each a current-thread tokio runtime), the far reader, the two client threads of each \
         `async-nats` pair (idle while another case runs) and the server's own threads. With more threads than \
         cores every wait blocks: the runtimes and readers use `WaitStrategy::Blocking` (the default), the \
         bridges and the clients wait in tokio. The runtimes have {} 4 KB slots (the default 60 would hold the \
         writer to 60 unread 4 KB events). Core NATS has no flow control: messages to a receiver that falls behind \
         are dropped (by the server or by its client). The `async-nats`-alone subscriber's client buffers up to {} messages, a whole \
         round (with 64 Ki, a subscriber of one message per event fell behind the publisher at 64 B and lost \
         most of a round); the bridge's receiving client buffers 8192 frames (`InOptions::max_pending_frames`). \
         Load average before and after the group: {} / {}.\n",
        doc["l_slots"],
        doc["subscription_capacity"],
        doc["loadavg_before"].as_str().unwrap_or("unknown"),
        doc["loadavg_after"].as_str().unwrap_or("unknown"),
    );

    let _ = writeln!(
        w,
        "| size | case | N | events/s (median) | MB/s | rounds: min – max | bridge (core) / case |\n\
         |---|---|---|---|---|---|---|"
    );
    for c in doc["throughput"].as_array().into_iter().flatten() {
        let size = c["size"].as_u64().unwrap_or(0);
        let label = c["label"].as_str().unwrap_or_default();
        let rates: Vec<f64> = c["rates"].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
        let lost = c["lost_rounds"].as_array().map_or(0, Vec::len);
        // The rounds and counts are in the paragraph below the table.
        let lost_note =
            if lost == 0 { String::new() } else { format!(" ({lost} of {rounds} rounds left out: lost events)") };
        if rates.is_empty() {
            let _ = writeln!(w, "| {} | {label} | {} | not measured{lost_note} | | | |", size_label(size), c["events"]);
            continue;
        }
        let med = c["median"].as_f64().unwrap_or(f64::NAN);
        let (lo, hi) = rates.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let vs = median_of(&doc, "bridge-core", size).map(|b| b / med);
        let _ = writeln!(
            w,
            "| {} | {label} | {} | {}{lost_note} | {:.1} | {} – {} | {} |",
            size_label(size),
            c["events"],
            mps(med),
            c["mb_per_s"].as_f64().unwrap_or(f64::NAN),
            mps(lo),
            mps(hi),
            ratio(vs),
        );
    }
    let _ = writeln!(w);

    if let Some(ratios) = doc["ratios"].as_array().filter(|r| !r.is_empty()) {
        let _ = writeln!(w, "Same-run ratios (each round's pair, then the median):\n");
        let _ = writeln!(w, "| size | ratio | median | rounds' ratios |\n|---|---|---|---|");
        for q in ratios {
            let rs: Vec<String> = q["ratios"].as_array().into_iter().flatten().map(|x| ratio(x.as_f64())).collect();
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} |",
                size_label(q["size"].as_u64().unwrap_or(0)),
                q["what"].as_str().unwrap_or_default(),
                ratio(q["median"].as_f64()),
                rs.join(", ")
            );
        }
        let _ = writeln!(w);
    }
    let per_message: Vec<String> = doc["bridge_frames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let n = f["events_per_message"].as_f64().filter(|n| n.is_finite())?;
            Some(format!("{:.0} events of {}", n, size_label(f["size"].as_u64().unwrap_or(0))))
        })
        .collect();
    if !per_message.is_empty() {
        let _ = writeln!(
            w,
            "The core-NATS bridge sent, per NATS message (median over the rounds): {}.\n",
            per_message.join("; ")
        );
    }
    // Rounds left out because core NATS dropped events, per case.
    let dropped: Vec<String> = doc["throughput"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let lost: Vec<u64> = c["lost_rounds"].as_array()?.iter().filter_map(Value::as_u64).collect();
            (!lost.is_empty()).then(|| {
                format!(
                    "{} with {}: {} of {rounds} rounds ({} events lost in all)",
                    c["label"].as_str().unwrap_or_default(),
                    size_label(c["size"].as_u64().unwrap_or(0)),
                    lost.len(),
                    lost.iter().sum::<u64>()
                )
            })
        })
        .collect();
    if dropped.is_empty() {
        let _ = writeln!(w, "No round lost an event: every event of every case reached the far side.\n");
    } else {
        let _ = writeln!(
            w,
            "Rounds that lost events (frames sent over core NATS that never reached the receiving bridge, which \
             counted every event they carried) are left out of the medians and the ratios: {}.\n",
            dropped.join("; ")
        );
    }
    if let (Some(small), Some(large)) = (ratio_of(&doc, "core_over_nats", 64), ratio_of(&doc, "core_over_nats", 4096)) {
        let _ = writeln!(
            w,
            "The bridge's rate over the client alone's (same run, median of the rounds): {} for 64 B events, {} for \
             4 KB ones. Above 1× the bridge is faster: its frames carry many events per NATS message, where the \
             client alone pays the per-message cost for each.\n",
            ratio(small["median"].as_f64()),
            ratio(large["median"].as_f64())
        );
    }

    let lat = &doc["latency"];
    let _ = writeln!(
        w,
        "End-to-end latency: {}-byte events at {} per second for {} s, each carrying its publish time (nanoseconds \
         since an `Instant` shared in the process), paced by a thread sleeping until each one's time; the far side \
         records `now - stamp` in an HDR histogram (3 significant digits). Through the bridge the writer publishes \
         into the source ring and the sink's reader (blocking) records; `async-nats` alone publishes and flushes \
         each event and its subscriber records. Events lost: bridge {}, async-nats {}.\n",
        lat["size"], lat["rate"], lat["seconds"], lat["lost"]["bridge-core"], lat["lost"]["nats"],
    );
    let _ = writeln!(w, "| path | events | p50 | p99 | p99.9 | max |\n|---|---|---|---|---|---|");
    for c in lat["cases"].as_array().into_iter().flatten() {
        let f = |k: &str| c[k].as_f64().map_or_else(|| "–".to_owned(), ns);
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} |",
            c["label"].as_str().unwrap_or_default(),
            c["events"],
            f("p50"),
            f("p99"),
            f("p999"),
            f("max")
        );
    }
    let _ = writeln!(w);
    md
}
