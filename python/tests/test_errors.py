"""Every error the module raises, provoked: its class, its fields, its
message, and that the call that raised it changed nothing it should not."""

import math
import os
import time

import numpy as np
import pytest
import slotcast

from helpers import WAIT, assert_readable, payload

ERRORS = ("Full", "Timeout", "Closed", "Lagged", "WriterDead", "TooLarge", "WriterTaken", "TooManyReaders", "BadFile",
          "Released")


def test_every_error_class_is_a_slotcast_error():
    assert issubclass(slotcast.SlotcastError, Exception)
    for name in ERRORS:
        cls = getattr(slotcast, name)
        assert issubclass(cls, slotcast.SlotcastError), name
        assert cls is not slotcast.SlotcastError
    # One except clause catches them all.
    rt = slotcast.Runtime()
    with pytest.raises(slotcast.SlotcastError):
        rt.reader().read(timeout=0)


def full_ring():
    """A runtime of 8 entries that a gating reader, which reads nothing, has
    let the writer fill."""
    rt = slotcast.Runtime(ring_capacity=8)
    reader = rt.reader()
    writer = rt.writer()
    for i in range(8):
        assert writer.try_publish(payload(10, seed=i)) == i
    return rt, reader, writer


def test_full_ring_with_a_gating_reader():
    rt, reader, writer = full_ring()
    for publish in (lambda: writer.try_publish(b"more"), lambda: writer.publish(b"more", timeout=0)):
        with pytest.raises(slotcast.Full) as caught:
            publish()
        assert caught.value.what == "ring"
        assert caught.value.published == 0
        assert_readable(caught.value)
    assert rt.published == writer.published == 8
    # Temporary: the reader moving on makes room for one more.
    assert reader.read(timeout=WAIT).sequence == 0
    assert writer.try_publish(b"more") == 8
    with pytest.raises(slotcast.Full):
        writer.try_publish(b"again")


def test_full_ring_partway_through_a_batch_says_how_many_went_in():
    rt = slotcast.Runtime(ring_capacity=8)
    reader = rt.reader()
    writer = rt.writer()
    writer.publish_batch([b"a"] * 5)
    with pytest.raises(slotcast.Full) as caught:
        writer.publish_batch([payload(20, seed=i) for i in range(5)], timeout=0)
    assert caught.value.what == "ring"
    assert caught.value.published == 3
    assert rt.published == 8
    with pytest.raises(slotcast.Timeout) as caught:
        writer.publish_packed(b"x" * 40, 10, timeout=0.05)
    assert caught.value.published == 0
    # The three that went in are there, whole, in order.
    events = [reader.read(timeout=WAIT) for _ in range(8)]
    assert [e.data for e in events[5:]] == [payload(20, seed=i) for i in range(3)]


def test_full_pool_with_events_held():
    rt = slotcast.Runtime(slots={"S": 4})
    reader = rt.reader()
    writer = rt.writer()
    for i in range(4):
        writer.publish(payload(200, seed=i))
    # Each of the four slots is held by an event that was read.
    held = [reader.read(timeout=WAIT) for _ in range(4)]
    with pytest.raises(slotcast.Full) as caught:
        writer.try_publish(payload(200, seed=4))
    assert caught.value.what == "S"
    assert caught.value.published == 0
    assert "S" in str(caught.value)
    assert_readable(caught.value)
    # Other classes are not affected.
    assert writer.try_publish(payload(30)) == 4
    assert writer.try_publish(payload(500)) == 5
    # Releasing one gives the pool a slot back.
    held.pop(0).release()
    assert writer.try_publish(payload(200, seed=4)) == 6
    assert [e.data for e in held] == [payload(200, seed=i) for i in (1, 2, 3)]


def test_timeout_reading_nothing():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()  # publishes nothing; kept, as dropping it closes the stream
    for read in (lambda: reader.read(timeout=0.05), lambda: reader.read_batch(timeout=0.05)):
        start = time.monotonic()
        with pytest.raises(slotcast.Timeout) as caught:
            read()
        waited = time.monotonic() - start
        assert 0.04 <= waited < WAIT, f"waited {waited:.3f} s for a 0.05 s timeout"
        assert caught.value.published == 0
        assert_readable(caught.value)
    assert reader.try_read() is None
    assert writer.published == 0


def test_timeout_publishing_into_a_full_ring():
    rt, reader, writer = full_ring()
    start = time.monotonic()
    with pytest.raises(slotcast.Timeout) as caught:
        writer.publish(b"late", timeout=0.05)
    waited = time.monotonic() - start
    assert 0.04 <= waited < WAIT, f"waited {waited:.3f} s for a 0.05 s timeout"
    assert caught.value.published == 0
    assert_readable(caught.value)
    assert rt.published == 8
    assert reader.lag == 8


def test_closed_after_the_writer_closed_and_everything_was_read():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    writer.publish_batch([b"one", b"two", b"three"])
    writer.close()
    writer.close()  # idempotent
    # What was published before the close is read first.
    assert [reader.read(timeout=WAIT).data for _ in range(3)] == [b"one", b"two", b"three"]
    start = time.monotonic()
    with pytest.raises(slotcast.Closed) as caught:
        reader.read(timeout=WAIT)
    assert time.monotonic() - start < WAIT / 2, "a closed stream must not wait for the timeout"
    assert_readable(caught.value)
    with pytest.raises(slotcast.Closed):
        reader.try_read()
    with pytest.raises(slotcast.Closed):
        reader.read_batch(timeout=WAIT)
    assert list(reader) == []


def test_a_new_writer_reopens_a_closed_stream():
    rt = slotcast.Runtime()
    reader = rt.reader()
    first = rt.writer()
    first.publish(b"first")
    first.close()
    assert reader.read(timeout=WAIT).data == b"first"
    with pytest.raises(slotcast.Closed):
        reader.read(timeout=WAIT)
    second = rt.writer()
    assert second.publish(b"second") == 1
    assert reader.read(timeout=WAIT).data == b"second"


def test_every_call_after_close_raises_closed():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    writer.close()
    reader.close()
    reader.close()  # idempotent
    calls = {
        "publish": lambda: writer.publish(b"x"),
        "publish(timeout=0)": lambda: writer.publish(b"x", timeout=0),
        "try_publish": lambda: writer.try_publish(b"x"),
        "publish_batch": lambda: writer.publish_batch([b"x"]),
        "publish_packed": lambda: writer.publish_packed(b"xy", 1),
        "read": lambda: reader.read(timeout=WAIT),
        "read()": reader.read,
        "try_read": reader.try_read,
        "read_batch": lambda: reader.read_batch(timeout=WAIT),
        "next": lambda: next(reader),
    }
    for name, call in calls.items():
        start = time.monotonic()
        with pytest.raises(slotcast.Closed) as caught:
            call()
        assert time.monotonic() - start < WAIT / 2, f"{name} waited on a closed object"
        assert_readable(caught.value)
    # A closed reader no longer counts: the runtime has none.
    assert rt.stats()["readers"] == []


def test_lagged_says_exactly_how_many_events_were_lost():
    rt = slotcast.Runtime(ring_capacity=8)
    tap = rt.reader(lossy=True)
    assert tap.lossy
    writer = rt.writer()
    # A lossy reader never holds the writer back: 40 events into 8 entries.
    for i in range(40):
        writer.try_publish(payload(30 + i, seed=i), i)
    with pytest.raises(slotcast.Lagged) as caught:
        tap.read(timeout=WAIT)
    missed = caught.value.missed
    assert 32 <= missed < 40, f"missed {missed} of 40 events in a ring of 8"
    assert_readable(caught.value)
    assert str(missed) in str(caught.value)
    assert tap.lost == missed
    assert tap.cursor == missed
    # It goes on from the oldest event still there: exactly the events
    # after the missed ones, in order, whole.
    rest = []
    while (ev := tap.try_read()) is not None:
        rest.append((ev.sequence, ev.event_type, ev.data))
    assert rest == [(i, i, payload(30 + i, seed=i)) for i in range(missed, 40)]
    assert tap.lost == missed and tap.lag == 0


def test_iteration_goes_on_after_a_lag():
    rt = slotcast.Runtime(ring_capacity=8)
    tap = rt.reader(lossy=True)
    with rt.writer() as writer:
        for i in range(20):
            writer.publish(payload(10, seed=i))
    seen, lost = [], 0
    while True:
        try:
            seen.extend(ev.sequence for ev in tap)
            break
        except slotcast.Lagged as e:
            lost += e.missed
    assert lost > 0
    assert seen == list(range(lost, 20))


def test_too_large():
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    big = bytes(slotcast.MAX_PAYLOAD + 1)
    for call in (
        lambda: writer.publish(big),
        lambda: writer.try_publish(big),
        # Every item is checked before any is published.
        lambda: writer.publish_batch([b"ok", big]),
        lambda: writer.publish_packed(b"ok" + big, [2, len(big)]),
    ):
        with pytest.raises(slotcast.TooLarge) as caught:
            call()
        assert_readable(caught.value)
    assert rt.published == 0
    assert reader.try_read() is None
    assert writer.publish(bytes(slotcast.MAX_PAYLOAD)) == 0


def test_too_large_for_the_classes_left():
    # No XL slots: what only XL holds is too large for this runtime.
    rt = slotcast.Runtime(slots={"XL": 0})
    writer = rt.writer()
    with pytest.raises(slotcast.TooLarge) as caught:
        writer.publish(bytes(4097))
    assert_readable(caught.value)
    assert writer.publish(bytes(4096)) == 0
    assert rt.stats()["pools"]["XL"]["slots"] == 0
    # Without L and XL, everything over M's 1024 bytes.
    small = slotcast.Runtime(slots={"L": 0, "XL": 0})
    with pytest.raises(slotcast.TooLarge):
        small.writer().publish(bytes(1025))


def test_writer_taken():
    rt = slotcast.Runtime()
    writer = rt.writer()
    with pytest.raises(slotcast.WriterTaken) as caught:
        rt.writer()
    assert_readable(caught.value)
    # The first writer is unharmed.
    assert writer.publish(b"still mine") == 0


def test_too_many_readers():
    rt = slotcast.Runtime(max_readers=2)
    first, second = rt.reader(), rt.reader(lossy=True)
    with pytest.raises(slotcast.TooManyReaders) as caught:
        rt.reader()
    assert_readable(caught.value)
    with pytest.raises(slotcast.TooManyReaders):
        rt.reader(lossy=True)
    # Leaving frees the entry.
    first.close()
    third = rt.reader()
    rt.writer().publish(b"x")
    assert third.read(timeout=WAIT).data == second.read(timeout=WAIT).data == b"x"


def test_bad_file_of_garbage(tmp_path):
    path = tmp_path / "garbage"
    # Deterministic junk, larger than a runtime's header.
    path.write_bytes(((np.arange(1 << 16, dtype=np.uint64) * 2654435761) >> 7).astype(np.uint8).tobytes())
    with pytest.raises(slotcast.BadFile) as caught:
        slotcast.Runtime.open(str(path), wait_for_creator=0.2)
    assert_readable(caught.value)


def test_bad_file_truncated(shm_path, tmp_path):
    rt = slotcast.Runtime.create_shared(shm_path)
    rt.writer().publish(b"something")
    size = os.path.getsize(shm_path)
    # A copy of the first half of a good file: its header is right, but
    # the file is shorter than the layout the header describes.
    truncated = tmp_path / "truncated"
    with open(shm_path, "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read(size // 2))
    with pytest.raises(slotcast.BadFile) as caught:
        slotcast.Runtime.open(str(truncated), wait_for_creator=0.2)
    assert_readable(caught.value)
    # The good file still opens.
    assert slotcast.Runtime.open(shm_path).published == 1


def test_file_exists_and_file_not_found(shm_path, tmp_path):
    rt = slotcast.Runtime.create_shared(shm_path)
    assert rt.published == 0
    with pytest.raises(FileExistsError):
        slotcast.Runtime.create_shared(shm_path)
    plain = tmp_path / "plain"
    plain.write_bytes(b"not a runtime")
    with pytest.raises(FileExistsError):
        slotcast.Runtime.create_shared(str(plain))
    assert plain.read_bytes() == b"not a runtime"
    with pytest.raises(FileNotFoundError):
        slotcast.Runtime.open(str(tmp_path / "missing"), wait_for_creator=0.2)


def test_the_path_of_a_shared_runtime_is_a_str(shm_path):
    created = slotcast.Runtime.create_shared(shm_path)
    assert created.path == shm_path and isinstance(created.path, str)
    assert slotcast.Runtime.open(shm_path).path == shm_path
    assert slotcast.Runtime().path is None


def test_type_error_for_what_is_not_a_buffer():
    rt = slotcast.Runtime()
    writer = rt.writer()
    for bad in (5, "text", None, 1.5, [1, 2, 3]):
        for call in (
            lambda: writer.publish(bad),
            lambda: writer.try_publish(bad),
            lambda: writer.publish_batch([b"ok", bad]),
            lambda: writer.publish_packed(bad, 1),
        ):
            with pytest.raises(TypeError):
                call()
    # Checked before anything was published.
    assert rt.published == 0


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan, -math.inf])
def test_value_error_for_a_bad_timeout(timeout):
    rt = slotcast.Runtime()
    reader = rt.reader()
    writer = rt.writer()
    for call in (
        lambda: writer.publish(b"x", timeout=timeout),
        lambda: writer.publish_batch([b"x"], timeout=timeout),
        lambda: writer.publish_packed(b"x", 1, timeout=timeout),
        lambda: reader.read(timeout=timeout),
        lambda: reader.read_batch(timeout=timeout),
    ):
        with pytest.raises(ValueError):
            call()
    assert rt.published == 0


def test_value_error_for_a_bad_config():
    for kwargs in ({"ring_capacity": 1000}, {"ring_capacity": 3}, {"ring_capacity": 0}, {"wait": "sleepy"}):
        with pytest.raises(ValueError):
            slotcast.Runtime(**kwargs)


def test_overflow_error_for_a_type_tag_out_of_32_bits():
    rt = slotcast.Runtime()
    writer = rt.writer()
    for event_type in (-1, 2**32, 2**64):
        for call in (
            lambda: writer.publish(b"x", event_type),
            lambda: writer.try_publish(b"x", event_type),
            lambda: writer.publish_batch([b"x"], event_type),
            lambda: writer.publish_packed(b"x", 1, event_type),
        ):
            with pytest.raises(OverflowError):
                call()
    assert rt.published == 0
    assert writer.publish(b"x", 2**32 - 1) == 0


def check_buffer_error(*bad_buffers, error=BufferError):
    rt = slotcast.Runtime()
    writer = rt.writer()
    for bad in bad_buffers:
        for call in (
            lambda: writer.publish(bad),
            lambda: writer.publish_batch([b"ok", bad]),
            lambda: writer.publish_packed(bad, 1),
        ):
            with pytest.raises(error):
                call()
    assert rt.published == 0
    # A contiguous copy is fine.
    assert writer.publish(bytes(bad_buffers[0])) == 0


def test_buffer_error_for_a_non_contiguous_memoryview():
    check_buffer_error(memoryview(bytes(range(100)))[::3], memoryview(bytearray(64)).cast("B", (8, 8))[::2])


# NumPy refuses a C-contiguous export of a strided array with ValueError
# ("ndarray is not C-contiguous"): the module passes the exporter's own error
# on, as the stub says, and publishes nothing.
def test_numpys_own_error_for_a_non_contiguous_numpy_array():
    strided = np.arange(100, dtype=np.uint8)[::2]
    fortran = np.asfortranarray(np.arange(64, dtype=np.uint8).reshape(8, 8))
    assert not strided.flags.c_contiguous and not fortran.flags.c_contiguous
    check_buffer_error(strided, fortran, error=ValueError)


def test_value_error_for_packed_lengths_that_do_not_fit():
    rt = slotcast.Runtime()
    writer = rt.writer()
    for data, lengths in (
        (b"abcdef", [1, 2]),  # add up to less
        (b"abcdef", [4, 4]),  # add up to more
        (b"abcdef", 4),  # does not divide
        (b"abcdef", [7]),
    ):
        with pytest.raises(ValueError):
            writer.publish_packed(data, lengths)
    assert rt.published == 0
