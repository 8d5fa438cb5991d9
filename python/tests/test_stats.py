"""``Runtime.stats()``: what was published, who reads, and the pools."""

import os

import slotcast

from helpers import WAIT, payload


def test_stats_of_a_fresh_runtime():
    rt = slotcast.Runtime(ring_capacity=64, slots={"XS": 10, "S": 5, "M": 0, "L": 3})
    stats = rt.stats()
    assert stats["published"] == 0
    assert stats["writer_pid"] is None
    assert stats["readers"] == []
    assert set(stats["pools"]) == set(slotcast.SIZE_CLASSES)
    slots = {name: pool["slots"] for name, pool in stats["pools"].items()}
    # The classes not named keep their defaults (XL: 15).
    assert slots == {"XS": 10, "S": 5, "M": 0, "L": 3, "XL": 15}
    for pool in stats["pools"].values():
        assert pool["in_ring"] == pool["retained"] == pool["in_use"] == 0


def test_stats_follow_publishing_reading_and_holding():
    rt = slotcast.Runtime(ring_capacity=64)
    gating = rt.reader()
    tap = rt.reader(lossy=True)
    writer = rt.writer()
    assert rt.stats()["writer_pid"] == os.getpid()
    # Even sequences XS (10 bytes), odd ones S (100 bytes).
    for i in range(10):
        writer.publish(payload(10 if i % 2 == 0 else 100, seed=i))
    stats = rt.stats()
    assert stats["published"] == rt.published == writer.published == 10
    readers = sorted(stats["readers"], key=lambda r: r["lossy"])
    assert [r["lossy"] for r in readers] == [False, True]
    for r in readers:
        assert (r["pid"], r["cursor"], r["lag"], r["lost"], r["alive"]) == (os.getpid(), 0, 10, 0, True)
    # Five S events not read by everyone; XS events take no slot.
    assert stats["pools"]["S"]["in_ring"] == 5
    assert stats["pools"]["XS"]["in_ring"] == 0
    assert stats["pools"]["S"]["in_use"] >= 5

    # The gating reader reads 0..3 and keeps event 1 (S); the tap leaves.
    events = [gating.read(timeout=WAIT) for _ in range(4)]
    held = events[1]
    for ev in events:
        if ev is not held:
            ev.release()
    tap.close()
    stats = rt.stats()
    (only,) = stats["readers"]
    assert (only["cursor"], only["lag"], only["lossy"]) == (4, 6, False)
    assert (gating.cursor, gating.lag) == (4, 6)
    # Events 5, 7, 9 are still to be read; event 1 is held.
    assert stats["pools"]["S"]["in_ring"] == 3
    assert stats["pools"]["S"]["retained"] == 1
    assert stats["pools"]["S"]["in_use"] >= 4
    held.release()
    assert rt.stats()["pools"]["S"]["retained"] == 0


def test_stats_count_a_lossy_readers_losses():
    rt = slotcast.Runtime(ring_capacity=8)
    tap = rt.reader(lossy=True)
    writer = rt.writer()
    for i in range(30):
        writer.publish(payload(8, seed=i))
    try:
        tap.read(timeout=WAIT)
    except slotcast.Lagged as e:
        missed = e.missed
    else:
        raise AssertionError("a reader lapped by 30 events in a ring of 8 was not told")
    (r,) = rt.stats()["readers"]
    assert r["lost"] == tap.lost == missed
    assert r["lossy"]


def test_stats_of_a_shared_runtime_name_the_processes(shm_path):
    rt = slotcast.Runtime.create_shared(shm_path, max_readers=4, max_processes=4)
    writer = rt.writer()
    reader = rt.reader()
    writer.publish(b"x" * 300)
    ev = reader.read(timeout=WAIT)
    stats = rt.stats()
    assert stats["writer_pid"] == os.getpid()
    ours = [p for p in stats["processes"] if p["pid"] == os.getpid()]
    assert len(ours) == 1
    assert ours[0]["alive"] and ours[0]["writer"]
    assert ours[0]["retained"] == 1
    ev.release()
    ours = [p for p in rt.stats()["processes"] if p["pid"] == os.getpid()]
    assert ours[0]["retained"] == 0
