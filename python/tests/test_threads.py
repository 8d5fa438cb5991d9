"""Threads: a call that waits releases the GIL, and readers (one each, or one
shared) serve several Python threads."""

import threading
import time

import pytest
import slotcast

from helpers import WAIT, seq_payload


def spin(seconds):
    """Runs Python bytecode for ``seconds`` and returns how many loop turns
    it made: it can only run while this thread holds the GIL."""
    turns, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        turns += 1
    return turns


class Worker(threading.Thread):
    """A daemon thread that records its function's result or exception (a
    test fails on it, instead of a traceback on stderr)."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args = fn, args
        self.started_at = threading.Event()
        self.result = self.error = None

    def run(self):
        self.started_at.set()
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # reported by join_checked
            self.error = e

    def join_checked(self, timeout=WAIT):
        self.join(timeout)
        assert not self.is_alive(), f"{self.fn.__name__} still running after {timeout} s"
        if self.error is not None:
            raise self.error
        return self.result


def test_a_thread_waiting_in_read_lets_other_threads_run_and_publish():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()

    def read():
        start = time.monotonic()
        ev = reader.read(timeout=WAIT)
        return ev.sequence, ev.data, time.monotonic() - start

    waiter = Worker(read)
    waiter.start()
    assert waiter.started_at.wait(WAIT)
    # Let it reach the wait inside read().
    time.sleep(0.2)
    assert waiter.is_alive()
    # If the waiting read held the GIL, this thread could run no bytecode
    # until the read timed out (WAIT seconds) and would find it gone.
    start = time.monotonic()
    turns = spin(0.2)
    assert time.monotonic() - start < 2, "this thread was stopped while the other waited in read()"
    assert turns > 1000
    assert waiter.is_alive(), "read() returned without an event"
    writer.publish(b"wake up", 3)
    sequence, data, waited = waiter.join_checked()
    assert (sequence, data) == (0, b"wake up")
    assert waited < WAIT / 2, f"the read waited {waited:.2f} s for an event published after 0.4 s"


def test_a_thread_waiting_in_publish_lets_other_threads_run_and_read():
    rt = slotcast.Runtime(ring_capacity=8)
    reader = rt.reader()
    writer = rt.writer()
    for i in range(8):
        writer.publish(seq_payload(i, 100))

    def publish():
        # The ring is full: this waits for the reader.
        return writer.publish(seq_payload(8, 100), timeout=WAIT)

    waiter = Worker(publish)
    waiter.start()
    assert waiter.started_at.wait(WAIT)
    time.sleep(0.2)
    assert waiter.is_alive()
    start = time.monotonic()
    assert spin(0.2) > 1000
    assert time.monotonic() - start < 2, "this thread was stopped while the other waited in publish()"
    assert waiter.is_alive(), "publish() returned while the ring was full"
    with reader.read(timeout=WAIT) as ev:
        assert ev.sequence == 0
    assert waiter.join_checked() == 8
    for i in range(1, 9):
        assert reader.read(timeout=WAIT).data == seq_payload(i, 100)


def length_of(sequence):
    # XS, S and M events, mixed.
    return (sequence * 7) % 1100


def publish_all(rt, count):
    with rt.writer() as writer:
        i = 0
        while i < count:
            if i % 3 == 0:
                n = min(16, count - i)
                writer.publish_batch([seq_payload(i + k, length_of(i + k)) for k in range(n)], timeout=WAIT)
                i += n
            else:
                writer.publish(seq_payload(i, length_of(i)), i % 5, timeout=WAIT)
                i += 1


def test_threads_with_a_reader_each_see_every_event_in_order():
    count, threads = 20_000, 4
    rt = slotcast.Runtime(ring_capacity=256)
    readers = [rt.reader() for _ in range(threads)]

    def read_all(reader):
        expected = 0
        while True:
            try:
                ev = reader.read(timeout=WAIT)
            except slotcast.Closed:
                return expected
            with ev:
                assert ev.sequence == expected, f"expected event {expected}, read {ev.sequence}"
                assert ev.data == seq_payload(expected, length_of(expected)), f"event {expected}'s bytes"
            expected += 1

    workers = [Worker(read_all, r) for r in readers]
    for w in workers:
        w.start()
    publish_all(rt, count)
    assert [w.join_checked(60) for w in workers] == [count] * threads


def test_threads_sharing_one_reader_see_every_event_exactly_once():
    count, threads = 20_000, 4
    rt = slotcast.Runtime(ring_capacity=256)
    reader = rt.reader()

    def share(batched):
        seen = []
        while True:
            try:
                events = reader.read_batch(max_events=8, timeout=WAIT) if batched else [reader.read(timeout=WAIT)]
            except slotcast.Closed:
                return seen
            for ev in events:
                with ev:
                    assert ev.data == seq_payload(ev.sequence, length_of(ev.sequence)), f"event {ev.sequence}"
                    seen.append(ev.sequence)

    workers = [Worker(share, i % 2 == 1) for i in range(threads)]
    for w in workers:
        w.start()
    publish_all(rt, count)
    seen = [w.join_checked(60) for w in workers]
    everything = sorted(s for part in seen for s in part)
    assert everything == list(range(count)), "an event was lost or read twice"
    # Each thread's own events are in order: the reader hands them out in
    # sequence, one call at a time.
    for part in seen:
        assert part == sorted(part)


def test_close_from_another_thread_ends_a_waiting_read_and_publish():
    rt = slotcast.Runtime(ring_capacity=8)
    reader = rt.reader()
    writer = rt.writer()
    for i in range(8):
        writer.publish(seq_payload(i, 10))
    # A second reader with nothing to read, and a writer facing a full ring.
    idle = rt.reader()

    def wait_in(call):
        start = time.monotonic()
        try:
            call()
        except slotcast.Closed:
            return time.monotonic() - start
        raise AssertionError("the waiting call returned instead of raising Closed")

    reading = Worker(wait_in, lambda: idle.read(timeout=WAIT))
    publishing = Worker(wait_in, lambda: writer.publish(b"blocked", timeout=WAIT))
    reading.start()
    publishing.start()
    assert reading.started_at.wait(WAIT) and publishing.started_at.wait(WAIT)
    time.sleep(0.2)
    assert reading.is_alive() and publishing.is_alive()
    idle.close()
    writer.close()
    # Both end at the close, long before their timeouts.
    assert reading.join_checked() < WAIT / 2
    assert publishing.join_checked() < WAIT / 2
    # What was published before the close is still read, then the end.
    assert [reader.read(timeout=WAIT).data for _ in range(8)] == [seq_payload(i, 10) for i in range(8)]
    with pytest.raises(slotcast.Closed):
        reader.read(timeout=WAIT)


@pytest.mark.parametrize("wait", ["blocking", "yield", "busy_spin"])
def test_every_wait_strategy_hands_events_to_a_waiting_thread(wait):
    rt = slotcast.Runtime(ring_capacity=64, wait=wait)
    reader = rt.reader()
    count = 2000

    def read_all():
        got = []
        while True:
            try:
                with reader.read(timeout=WAIT) as ev:
                    got.append(ev.data)
            except slotcast.Closed:
                return got

    worker = Worker(read_all)
    worker.start()
    # The ring of 64 is full many times over: the writer waits for the
    # reader, and the reader for the writer, in turn.
    publish_all(rt, count)
    assert worker.join_checked(60) == [seq_payload(i, length_of(i)) for i in range(count)]
    # A timeout is kept whatever the strategy.
    start = time.monotonic()
    with pytest.raises(slotcast.Closed):
        reader.read(timeout=0.05)
    # A new writer reopens the stream and publishes nothing.
    writer = rt.writer()
    with pytest.raises(slotcast.Timeout):
        reader.read(timeout=0.05)
    assert time.monotonic() - start < WAIT / 2
    assert writer.published == count
