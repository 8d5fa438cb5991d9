"""Across processes, with the Rust examples on the other side: a Python
writer feeding ``examples/ipc_reader.rs``, and ``examples/ipc_writer.rs``
feeding a Python reader. Both Rust programs use the self-checking payloads
of ``examples/common/pattern.rs`` (made here by ``rust_pattern``): the Rust
reader checks every event's sequence and checksum, the Python reader
compares every event's bytes with the ones the pattern gives."""

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import slotcast

import rust_pattern
from helpers import WAIT, assert_readable

#: Events each way.
EVENTS = 100_000
#: Seconds a whole exchange may take before it counts as hung.
EXCHANGE_DEADLINE = 180


class Child:
    """A child process, its stdout read line by line with a timeout on each
    line (a thread reads the pipe, so a silent child cannot block the
    test). As a context manager it kills the child if it is still running,
    reaps it and closes the pipe, whatever the test did."""

    def __init__(self, *argv, **kwargs):
        self.proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, text=True, **kwargs)
        self.name = os.path.basename(str(argv[0]))
        self.lines = queue.Queue()
        self.seen = []
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        # The pipe's end is near once the child is gone.
        self.pump.join(WAIT)
        self.proc.stdout.close()

    def next(self, timeout=WAIT):
        """The next line; fails if none comes in ``timeout`` seconds."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from {self.name} in {timeout} s; so far {self.seen}") from None
        if line is None:
            raise AssertionError(f"{self.name} ended (status {self.proc.wait()}) after {self.seen}")
        self.seen.append(line)
        return line

    def rest(self, timeout):
        """Every line it printed, once it has ended, and its exit status;
        fails if it does not end in ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{self.name} still running after {timeout} s: {self.seen}") from None
            if line is None:
                return self.seen, self.proc.wait(timeout=WAIT)
            self.seen.append(line)


def mixed_stream(count):
    """``count`` events of ``rust_pattern.mixed_length``: their lengths,
    and every event's payload as a row of one array per length."""
    lengths = np.array([rust_pattern.mixed_length(i) for i in range(count)])
    rows, index = {}, np.empty(count, dtype=np.int64)
    for length in np.unique(lengths):
        seqs = np.nonzero(lengths == length)[0]
        rows[int(length)] = rust_pattern.fill(seqs, int(length))
        index[seqs] = np.arange(len(seqs))
    return lengths, rows, index


def test_a_python_writer_feeds_the_rust_reader(rust_example, shm_path):
    exe = rust_example("ipc_reader")
    lengths, rows, index = mixed_stream(EVENTS)
    event = [memoryview(rows[int(lengths[i])][index[i]]) for i in range(EVENTS)]
    rt = slotcast.Runtime.create_shared(shm_path, ring_capacity=1024)
    with Child(exe, shm_path) as out:
        assert out.next() == f"joined {shm_path} at sequence 0"
        # It joined before the first event (its cursor is 0), so it sees
        # them all: sequence i is event i of the pattern.
        assert len(rt.stats()["readers"]) == 1
        start = time.monotonic()
        with rt.writer() as writer:
            block = 1000
            for b in range(0, EVENTS, block):
                part = range(b, min(b + block, EVENTS))
                # Three ways of publishing, a block each in turn.
                if (b // block) % 3 == 0:
                    packed = np.concatenate([np.asarray(event[i]) for i in part])
                    assert writer.publish_packed(packed, [int(lengths[i]) for i in part], timeout=WAIT) == len(part)
                elif (b // block) % 3 == 1:
                    assert writer.publish_batch([event[i] for i in part], timeout=WAIT) == len(part)
                else:
                    for i in part:
                        assert writer.publish(event[i], timeout=WAIT) == i
            assert writer.published == EVENTS
            # The reader's end marker (examples/ipc_writer.rs ends so).
            writer.publish(b"end", 1, timeout=WAIT)
        lines, status = out.rest(EXCHANGE_DEADLINE)
        seconds = time.monotonic() - start
    assert status == 0, f"ipc_reader failed (status {status}): {lines}"
    assert f"end of stream: {EVENTS} events, 0 corrupted or out of order" in lines, lines
    print(f"python writer -> rust reader: {EVENTS} events verified in {seconds:.2f} s")


@pytest.mark.parametrize("length", [64, 1000])
def test_the_rust_writer_feeds_a_python_reader(rust_example, shm_path, length):
    exe = rust_example("ipc_writer")
    expected = rust_pattern.fill(np.arange(EVENTS), length)
    got = np.zeros((EVENTS, length), dtype=np.uint8)
    flat = memoryview(got).cast("B")
    with Child(exe, shm_path, "--count", EVENTS, "--payload", length, "--readers", 1) as out:
        assert out.next().startswith(f"created {shm_path}")
        rt = slotcast.Runtime.open(shm_path)
        reader = rt.reader()
        start = time.monotonic()
        n, ended = 0, False
        while not ended:
            for ev in reader.read_batch(max_events=1024, timeout=WAIT):
                with ev:
                    if ended:
                        raise AssertionError(f"event {ev.sequence} after the end marker")
                    if ev.event_type == 1:
                        # The writer's end marker, right after the events.
                        assert (ev.sequence, ev.data) == (EVENTS, b"end")
                        ended = True
                        continue
                    if (ev.sequence, ev.event_type, len(ev)) != (n, 0, length):
                        raise AssertionError(f"event {n}: sequence {ev.sequence}, type {ev.event_type}, {len(ev)} B")
                    # Copied out (one memcpy) and compared all at once below.
                    flat[n * length : (n + 1) * length] = ev.view()
                n += 1
        seconds = time.monotonic() - start
        assert n == EVENTS
        bad = np.nonzero((got != expected).any(axis=1))[0]
        assert len(bad) == 0, f"{len(bad)} events differ from the pattern, the first is {bad[0]}"
        # The writer leaves once every reader has read its end marker.
        lines, status = out.rest(EXCHANGE_DEADLINE)
        reader.close()
    assert status == 0, f"ipc_writer failed (status {status}): {lines}"
    assert any(line.startswith(f"published {EVENTS} events") for line in lines), lines
    print(f"rust writer -> python reader: {EVENTS} events of {length} B verified in {seconds:.2f} s")


CHILD = textwrap.dedent(
    """
    import sys, slotcast
    rt = slotcast.Runtime.open(sys.argv[1])
    try:
        rt.writer()
    except slotcast.WriterTaken as e:
        print("WriterTaken", e)
    reader = rt.reader()
    print("JOINED", flush=True)
    for ev in reader:
        print(ev.sequence, ev.event_type, ev.data.hex(), flush=True)
    print("CLOSED")
    """
)


def test_a_python_reader_process_and_the_writer_role_across_processes(shm_path):
    rt = slotcast.Runtime.create_shared(shm_path)
    writer = rt.writer()
    with Child(sys.executable, "-c", CHILD, shm_path, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}) as out:
        line = out.next()
        assert line.startswith("WriterTaken ") and len(line) > len("WriterTaken "), line
        assert out.next() == "JOINED"
        payloads = [bytes([i]) * (i * 61 % 2000) for i in range(50)]
        writer.publish_batch(payloads[:25], 2)
        for p in payloads[25:]:
            writer.publish(p, 3)
        writer.close()
        lines, status = out.rest(EXCHANGE_DEADLINE)
    assert status == 0, lines
    expected = [f"{i} {2 if i < 25 else 3} {p.hex()}" for i, p in enumerate(payloads)]
    assert lines[2:] == expected + ["CLOSED"]


DYING_WRITER = textwrap.dedent(
    """
    import os, signal, sys, slotcast
    rt = slotcast.Runtime.open(sys.argv[1])
    writer = rt.writer()
    writer.publish_batch([b"one", b"two", b"three"], 4)
    print("PUBLISHED", flush=True)
    # Dies holding the writer role: no close, no clean-up.
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_writer_dead_when_the_writers_process_dies(shm_path):
    rt = slotcast.Runtime.create_shared(shm_path)
    reader = rt.reader()
    with Child(sys.executable, "-c", DYING_WRITER, shm_path, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}) as out:
        assert out.next() == "PUBLISHED"
        lines, status = out.rest(WAIT)
    assert status == -signal.SIGKILL, lines
    # Its events are read first, then the death is reported, once.
    assert [(e.sequence, e.event_type, e.data) for e in (reader.read(timeout=WAIT) for _ in range(3))] == [
        (0, 4, b"one"), (1, 4, b"two"), (2, 4, b"three")]
    start = time.monotonic()
    with pytest.raises(slotcast.WriterDead) as caught:
        reader.read(timeout=WAIT)
    assert time.monotonic() - start < WAIT / 2
    assert isinstance(caught.value, slotcast.SlotcastError)
    assert "died" in str(caught.value)
    assert_readable(caught.value)
    # Not a close: a new writer takes over and the stream goes on.
    writer = rt.writer()
    assert writer.publish(b"four", 5) == 3
    with reader.read(timeout=WAIT) as ev:
        assert (ev.sequence, ev.event_type, ev.data) == (3, 5, b"four")
