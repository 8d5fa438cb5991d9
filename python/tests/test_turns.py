"""Calls that share one writer or reader take turns: a call waiting for its
turn keeps its own timeout and try_ semantics, threads get their turns
fairly, properties never wait, and a signal handler may close the object
its own thread is using. Also the events' own edge cases: an empty event
is true, a with-block's end leaves the slot to open views."""

import os
import signal
import threading
import time

import slotcast

from test_threads import Worker


def blocked_reader():
    """A reader whose one turn another thread holds, waiting for an event
    that never comes."""
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    holder = Worker(reader.read, 30.0)
    holder.start()
    holder.started_at.wait()
    time.sleep(0.2)
    return rt, reader, writer, holder


def test_a_call_waiting_for_its_turn_keeps_its_timeout_and_try_read_does_not_wait():
    rt, reader, writer, holder = blocked_reader()
    start = time.monotonic()
    try:
        reader.read(timeout=0.3)
        raise AssertionError("read returned")
    except slotcast.Timeout:
        pass
    assert 0.25 <= time.monotonic() - start < 2.0
    start = time.monotonic()
    assert reader.try_read() is None
    assert time.monotonic() - start < 0.1
    # Properties answer at once.
    assert (reader.cursor, reader.lag, reader.lost) == (0, 0, 0)
    writer.publish(b"x")
    holder.join_checked()
    assert holder.result.data == b"x"


def test_try_publish_and_a_timeout_do_not_wait_past_another_threads_waiting_publish():
    rt = slotcast.Runtime(ring_capacity=4)
    reader = rt.reader()
    writer = rt.writer()
    for i in range(4):
        writer.publish(b"%d" % i)
    holder = Worker(lambda: writer.publish(b"waits", timeout=30.0))
    holder.start()
    holder.started_at.wait()
    time.sleep(0.2)
    try:
        writer.try_publish(b"no")
        raise AssertionError("try_publish returned")
    except slotcast.Full as e:
        assert (e.what, e.published) == ("writer", 0)
    start = time.monotonic()
    try:
        writer.publish(b"no", timeout=0.3)
        raise AssertionError("publish returned")
    except slotcast.Timeout as e:
        assert e.what == "writer"
    assert 0.25 <= time.monotonic() - start < 2.0
    assert writer.published == 4
    assert reader.read(timeout=1).data == b"0"
    holder.join_checked()
    assert writer.published == 5


def test_threads_sharing_a_reader_all_get_turns():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    counts = {}

    def consume(name):
        n = 0
        for _ in reader:
            n += 1
        counts[name] = n

    workers = [Worker(consume, f"t{i}") for i in range(2)]
    for w in workers:
        w.start()
    for i in range(400):
        writer.publish(b"%d" % i)
        time.sleep(0.001)
    writer.close()
    for w in workers:
        w.join_checked()
    assert sum(counts.values()) == 400
    # Each thread had turns: neither took every event while the other
    # waited (it did before turns were handed over).
    assert min(counts.values()) >= 40, counts


def test_a_signal_handler_may_close_the_reader_its_thread_is_reading():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    seen = []

    def handler(signum, frame):
        try:
            seen.append(reader.cursor)
            reader.try_read()
        except RuntimeError as e:
            seen.append("RuntimeError" if "signal handler" in str(e) else str(e))
        reader.close()

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        start = time.monotonic()
        try:
            reader.read(timeout=10.0)
            raise AssertionError("read returned")
        except slotcast.Closed:
            pass
        assert time.monotonic() - start < 2.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert seen == [0, "RuntimeError"]
    try:
        reader.read(timeout=0)
        raise AssertionError("read after close returned")
    except slotcast.Closed:
        pass
    del writer


def test_every_exception_that_ends_a_batch_carries_published():
    rt = slotcast.Runtime(ring_capacity=4)
    reader = rt.reader()
    writer = rt.writer()
    closer = threading.Timer(0.3, writer.close)
    closer.start()
    try:
        writer.publish_batch([b"%d" % i for i in range(8)], timeout=10.0)
        raise AssertionError("batch returned")
    except slotcast.Closed as e:
        assert e.published == 4
    closer.join()
    assert [e.data for e in reader] == [b"0", b"1", b"2", b"3"]


def test_an_empty_event_is_true():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    for data in (b"a", b"", b"c"):
        writer.publish(data)
    drained = []
    while event := reader.try_read():
        drained.append(event.data)
    assert drained == [b"a", b"", b"c"]


def test_a_with_block_leaves_the_slot_to_open_views_and_its_own_error_propagates():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    writer.publish(b"y" * 1000)
    event = reader.read(timeout=1)
    try:
        with event:
            view = memoryview(event)
            raise KeyError("the body's own error")
    except KeyError:
        pass
    assert event.released and event.sequence == 0
    event.release()  # idempotent, views open or not
    assert bytes(view[:3]) == b"yyy"
    assert rt.stats()["pools"]["M"]["retained"] == 1
    view.release()
    assert rt.stats()["pools"]["M"]["retained"] == 0


def test_a_huge_wait_for_the_creator_is_forever_not_an_error(shm_path):
    created = slotcast.Runtime.create_shared(shm_path)
    assert slotcast.Runtime.open(shm_path, wait_for_creator=float("inf")).path == created.path
    assert os.path.exists(shm_path)
