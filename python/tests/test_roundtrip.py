"""Round trips in one process: whatever buffer is published, every size class,
single events and batches, is read back with its sequence, type and bytes."""

import array

import numpy as np
import pytest
import slotcast

from helpers import LENGTHS, WAIT, payload, size_class


def as_kind(kind, data):
    """``data`` (bytes) as a buffer of ``kind``, or ``None`` if that kind
    cannot hold exactly those bytes (an item size that does not divide the
    length)."""
    if kind == "bytes":
        return data
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(data)
    if kind == "memoryview-slice":
        # A contiguous slice of a larger buffer: its bytes start at an
        # offset, and only they are the event.
        return memoryview(b"\xee" * 3 + data + b"\xdd" * 5)[3 : 3 + len(data)]
    if kind == "array-B":
        return array.array("B", data)
    if kind == "array-d":
        if len(data) % 8:
            return None
        a = array.array("d")
        a.frombytes(data)
        return a
    if kind == "numpy-u8":
        return np.frombuffer(data, dtype=np.uint8).copy()
    if kind == "numpy-f64":
        # Items of 8 bytes: the event is the array's bytes, whatever they
        # mean as numbers.
        return None if len(data) % 8 else np.frombuffer(data, dtype="<f8").copy()
    if kind == "numpy-2d":
        return None if len(data) % 8 else np.frombuffer(data, dtype=np.uint8).reshape(8, -1).copy()
    raise AssertionError(kind)


KINDS = ("bytes", "bytearray", "memoryview", "memoryview-slice", "array-B", "array-d", "numpy-u8", "numpy-f64",
         "numpy-2d")


def check_event(event, sequence, event_type, data):
    assert (event.sequence, event.event_type) == (sequence, event_type)
    assert len(event) == len(data)
    assert event.size_class == size_class(len(data))
    assert event.data == data
    assert type(event.data) is bytes
    assert bytes(event) == data
    assert event.view().tobytes() == data
    assert memoryview(event).tobytes() == data


@pytest.mark.parametrize("kind", KINDS)
def test_every_buffer_kind_and_size_class_round_trips(kind):
    rt = slotcast.Runtime()
    reader = rt.reader()
    with rt.writer() as writer:
        sent = []
        for i, length in enumerate(LENGTHS):
            data = payload(length, seed=i)
            buf = as_kind(kind, data)
            if buf is None:
                continue
            event_type = (i * 0x1234567) % 2**32
            # Every way of publishing one event: waiting, not waiting, and
            # a zero timeout.
            if i % 3 == 0:
                seq = writer.publish(buf, event_type)
            elif i % 3 == 1:
                seq = writer.try_publish(buf, event_type)
            else:
                seq = writer.publish(buf, event_type=event_type, timeout=0)
            assert seq == len(sent)
            sent.append((seq, event_type, data))
            # Read one at once, the others after all were published.
            if i == 0:
                check_event(reader.read(timeout=WAIT), seq, event_type, data)
        assert writer.published == rt.published == len(sent)
    # The first was read already; the rest are there, in order.
    for seq, event_type, data in sent[1:]:
        check_event(reader.read(timeout=WAIT), seq, event_type, data)
    assert len(sent) >= 5
    with pytest.raises(slotcast.Closed):
        reader.read(timeout=WAIT)


def test_the_largest_type_tag_and_payload_round_trip():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    data = payload(slotcast.MAX_PAYLOAD, seed=9)
    writer.publish(data, 2**32 - 1)
    check_event(reader.read(timeout=WAIT), 0, 2**32 - 1, data)
    assert slotcast.MAX_PAYLOAD == 16384
    assert slotcast.SIZE_CLASSES == ("XS", "S", "M", "L", "XL")


def test_publish_batch_publishes_every_item_in_order():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    writer.publish(b"before", 1)
    # Every length, each as another kind of buffer, in one batch.
    datas = [payload(n, seed=100 + i) for i, n in enumerate(LENGTHS)]
    kinds = ("bytes", "bytearray", "memoryview", "array-B", "numpy-u8", "memoryview-slice", "numpy-2d", "bytes")
    items = [as_kind(k, d) for k, d in zip(kinds, datas)]
    assert all(item is not None for item in items)
    assert writer.publish_batch(items, 7) == len(items)
    # A generator is an iterable too.
    assert writer.publish_batch((payload(n, seed=200 + n) for n in (3, 300, 3000)), event_type=8) == 3
    assert writer.publish_batch([]) == 0
    assert writer.published == 1 + len(items) + 3
    check_event(reader.read(timeout=WAIT), 0, 1, b"before")
    for i, data in enumerate(datas):
        check_event(reader.read(timeout=WAIT), 1 + i, 7, data)
    for i, n in enumerate((3, 300, 3000)):
        check_event(reader.read(timeout=WAIT), 1 + len(items) + i, 8, payload(n, seed=200 + n))
    assert reader.try_read() is None


def test_publish_packed_with_every_length_given():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    datas = [payload(n, seed=300 + i) for i, n in enumerate(LENGTHS)]
    packed = b"".join(datas)
    assert writer.publish_packed(packed, list(LENGTHS), 5) == len(LENGTHS)
    # A tuple of lengths, and the packed bytes in a NumPy array.
    assert writer.publish_packed(np.frombuffer(packed, dtype=np.uint8), tuple(LENGTHS), event_type=6) == len(LENGTHS)
    for event_type in (5, 6):
        for i, data in enumerate(datas):
            check_event(reader.read(timeout=WAIT), (event_type - 5) * len(LENGTHS) + i, event_type, data)
    assert reader.try_read() is None


@pytest.mark.parametrize("length", [1, 64, 65, 1024, 16384])
def test_publish_packed_with_one_length_splits_into_equal_events(length):
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    count = 10
    datas = [payload(length, seed=400 + i) for i in range(count)]
    packed = bytearray(b"".join(datas))
    # A 2-D array whose rows are the events, split by its row length.
    rows = np.frombuffer(bytes(packed), dtype=np.uint8).reshape(count, length)
    for event_type, buf in ((3, packed), (4, rows)):
        # Each batch is read before the next: 20 XL events at once would
        # need more than the 15 slots XL has by default.
        assert writer.publish_packed(buf, length, event_type, timeout=WAIT) == count
        for i, data in enumerate(datas):
            with reader.read(timeout=WAIT) as ev:
                check_event(ev, (event_type - 3) * count + i, event_type, data)
    assert reader.try_read() is None


def test_iterating_a_reader_yields_every_event_then_stops_at_the_close():
    rt = slotcast.Runtime()
    reader = rt.reader()
    with rt.writer() as writer:
        for i in range(100):
            writer.publish(payload(i * 37 % 2000, seed=i), i)
    seen = [(ev.sequence, ev.event_type, ev.data) for ev in reader]
    assert seen == [(i, i, payload(i * 37 % 2000, seed=i)) for i in range(100)]


def test_read_batch_returns_every_event_there():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    for i in range(10):
        writer.publish(payload(100 * i, seed=i), i)
    events = reader.read_batch(timeout=WAIT)
    assert [(e.sequence, e.event_type, e.data) for e in events] == [(i, i, payload(100 * i, seed=i)) for i in range(10)]
    assert reader.try_read() is None


def test_read_batch_returns_at_most_max_events():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    for i in range(10):
        writer.publish(payload(100, seed=i), i)
    first = reader.read_batch(max_events=4, timeout=WAIT)
    assert [e.sequence for e in first] == [0, 1, 2, 3]
    rest = reader.read_batch(timeout=WAIT)
    assert [e.sequence for e in rest] == list(range(4, 10))


def test_a_from_oldest_reader_starts_at_the_oldest_event_held():
    rt = slotcast.Runtime(ring_capacity=16)
    writer = rt.writer()
    for i in range(5):
        writer.publish(payload(10, seed=i))
    late = rt.reader()
    replay = rt.reader(from_oldest=True)
    writer.publish(payload(10, seed=5))
    assert late.read(timeout=WAIT).sequence == 5
    assert [replay.read(timeout=WAIT).data for _ in range(6)] == [payload(10, seed=i) for i in range(6)]
