"""Events read in place: views share the event's bytes, are read-only, and
stay valid (the event keeps its slot) whatever the reader, the writer and
the runtime do, until ``release()``; after it, every use raises
``Released``."""

import gc

import numpy as np
import pytest
import slotcast

from helpers import WAIT, address, payload


def retained(rt, name):
    return rt.stats()["pools"][name]["retained"]


# 1 and 64 bytes: XS, which the event holds a copy of; the rest are in a
# slot of the pool, read in place.
@pytest.mark.parametrize("length", [1, 64, 65, 256, 1024, 4096, 16384])
def test_every_view_of_one_event_is_the_same_memory(length):
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    writer.publish(payload(length))
    ev = reader.read(timeout=WAIT)
    a, b = ev.view(), memoryview(ev)
    assert address(a) == address(b) == address(ev) == address(ev.view())
    assert a.tobytes() == b.tobytes() == payload(length)
    # `data` is a copy: bytes of its own, elsewhere.
    assert address(ev.data) != address(a)


@pytest.mark.parametrize("length", [65, 256, 1024, 4096, 16384])
def test_two_readers_read_the_one_slot_in_place(length):
    # Events of class S and up are read where the writer wrote them: two
    # readers' events of one sequence show the same bytes at one address.
    rt = slotcast.Runtime()
    first, second = rt.reader(), rt.reader()
    writer = rt.writer()
    writer.publish(payload(length))
    a, b = first.read(timeout=WAIT), second.read(timeout=WAIT)
    assert a.sequence == b.sequence == 0
    assert address(a) == address(b)
    assert bytes(a) == bytes(b) == payload(length)


@pytest.mark.parametrize("length", [10, 300])
def test_views_are_read_only(length):
    rt = slotcast.Runtime()
    reader = rt.reader()
    rt.writer().publish(payload(length))
    ev = reader.read(timeout=WAIT)
    for view in (ev.view(), memoryview(ev)):
        assert view.readonly
        with pytest.raises(TypeError):
            view[0] = 1
    arr = np.frombuffer(ev, dtype=np.uint8)
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0] = 1
    assert bytes(ev) == payload(length)


def test_an_event_stays_valid_after_the_reader_moved_on_a_whole_ring():
    rt = slotcast.Runtime(ring_capacity=8)
    reader = rt.reader()
    writer = rt.writer()
    writer.publish(payload(200, seed=1))
    held = reader.read(timeout=WAIT)
    view = held.view()
    # Ten laps of the ring: the entry of event 0 is reused again and again,
    # and the events after it are released at once (S too, 200 bytes).
    for i in range(80):
        writer.publish(payload(200, seed=2 + i))
        with reader.read(timeout=WAIT) as ev:
            assert ev.data == payload(200, seed=2 + i)
    assert reader.cursor == 81
    assert held.sequence == 0 and held.data == payload(200, seed=1)
    assert view.tobytes() == payload(200, seed=1)
    # The one event held keeps one slot out of its pool.
    assert retained(rt, "S") == 1
    view.release()
    held.release()
    assert retained(rt, "S") == 0


@pytest.mark.parametrize("length", [20, 200, 2000, 16000])
def test_an_event_outlives_its_reader_writer_and_runtime(length):
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    writer.publish(payload(length, seed=3), 9)
    held = reader.read(timeout=WAIT)
    view = memoryview(held)
    arr = np.frombuffer(held, dtype=np.uint8)
    at = address(view)
    reader.close()
    writer.close()
    del reader, writer, rt
    gc.collect()
    # Still the same bytes, where they were.
    assert (held.sequence, held.event_type) == (0, 9)
    assert held.data == payload(length, seed=3) == view.tobytes() == arr.tobytes()
    assert address(held) == at
    del arr
    view.release()
    held.release()
    with pytest.raises(slotcast.Released):
        held.view()


def test_an_event_keeps_its_slot_of_a_shared_runtime_after_its_runtime_is_deleted(shm_path):
    # A second handle of the same file sees the slot retained after the
    # handle the event was read through is gone, and free again once the
    # event is deleted.
    rt = slotcast.Runtime.create_shared(shm_path)
    other = slotcast.Runtime.open(shm_path)
    reader = rt.reader()
    writer = rt.writer()
    writer.publish(payload(1000, seed=4))
    held = reader.read(timeout=WAIT)
    reader.close()
    writer.close()
    del reader, writer, rt
    gc.collect()
    assert retained(other, "M") == 1
    assert held.data == payload(1000, seed=4)
    del held
    gc.collect()
    assert retained(other, "M") == 0


@pytest.mark.parametrize("length", [100, 1000])
def test_a_held_event_keeps_its_slot_until_released_or_deleted(length):
    name = "S" if length <= 256 else "M"
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    writer.publish_batch([payload(length, seed=i) for i in range(3)])
    released, deleted, kept = reader.read(timeout=WAIT), reader.read(timeout=WAIT), reader.read(timeout=WAIT)
    assert retained(rt, name) == 3
    released.release()
    assert retained(rt, name) == 2
    # A view keeps the slot too: deleting the event alone is not enough.
    view = memoryview(deleted)
    del deleted
    gc.collect()
    assert retained(rt, name) == 2
    assert view.tobytes() == payload(length, seed=1)
    view.release()
    gc.collect()
    assert retained(rt, name) == 1
    with kept:
        assert kept.data == payload(length, seed=2)
    assert kept.released
    assert retained(rt, name) == 0


@pytest.mark.parametrize("length", [0, 10, 300, 5000])
def test_every_use_after_release_raises_released(length):
    rt = slotcast.Runtime()
    reader = rt.reader()
    rt.writer().publish(payload(length), 4)
    ev = reader.read(timeout=WAIT)
    assert not ev.released
    ev.release()
    assert ev.released
    uses = {
        "data": lambda: ev.data,
        "view()": ev.view,
        "memoryview(ev)": lambda: memoryview(ev),
        "len": lambda: len(ev),
        "bytes(ev)": lambda: bytes(ev),
        "numpy.frombuffer": lambda: np.frombuffer(ev, dtype=np.uint8),
    }
    for use, call in uses.items():
        with pytest.raises(slotcast.Released) as caught:
            call()
        assert isinstance(caught.value, slotcast.SlotcastError), use
    # Idempotent.
    ev.release()
    assert ev.released


def test_the_with_block_releases_the_event():
    rt = slotcast.Runtime()
    reader = rt.reader()
    rt.writer().publish(b"x" * 100)
    with reader.read(timeout=WAIT) as ev:
        assert ev.data == b"x" * 100
    assert ev.released
    with pytest.raises(slotcast.Released):
        ev.data


@pytest.mark.parametrize("length", [10, 300])
def test_release_with_a_view_open_raises_buffer_error(length):
    rt = slotcast.Runtime()
    reader = rt.reader()
    rt.writer().publish(payload(length, seed=5))
    ev = reader.read(timeout=WAIT)
    view = ev.view()
    with pytest.raises(BufferError):
        ev.release()
    assert not ev.released
    # Nothing was given back: the view still reads the event's bytes.
    assert view.tobytes() == payload(length, seed=5) == ev.data
    view.release()
    ev.release()
    assert ev.released


def test_release_with_a_numpy_array_open_raises_buffer_error():
    rt = slotcast.Runtime()
    reader = rt.reader()
    rt.writer().publish(payload(3000, seed=6))
    ev = reader.read(timeout=WAIT)
    arr = np.frombuffer(ev, dtype=np.uint8)
    other = memoryview(ev)
    with pytest.raises(BufferError):
        ev.release()
    other.release()
    # The array is still an export.
    with pytest.raises(BufferError):
        ev.release()
    assert arr.tobytes() == payload(3000, seed=6)
    del arr
    gc.collect()
    ev.release()
    assert ev.released
