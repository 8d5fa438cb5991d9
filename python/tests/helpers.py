"""Payloads, size classes and assertions shared by the tests."""

import numpy as np

#: Lengths at both edges of every size class: empty, one byte, the largest
#: XS (carried in the ring), the smallest S, and the largest S, M, L, XL.
LENGTHS = (0, 1, 64, 65, 256, 1024, 4096, 16384)

#: How long a test waits for anything that should happen at once: long
#: enough for a loaded CI machine, short enough that a hang fails quickly.
WAIT = 10.0


def size_class(length):
    """The class an event of ``length`` bytes is published in (the smallest
    that holds it, with every class's default slots)."""
    for name, capacity in (("XS", 64), ("S", 256), ("M", 1024), ("L", 4096), ("XL", 16384)):
        if length <= capacity:
            return name
    raise ValueError(f"no class holds {length} bytes")


def payload(length, seed=0):
    """``length`` bytes that depend on ``seed``: two events of one length
    differ, so a read of the wrong event shows."""
    return ((np.arange(length, dtype=np.uint64) * 7 + seed * 131 + 1) & 0xFF).astype(np.uint8).tobytes()


def seq_payload(sequence, length):
    """Cheap per-event bytes for the threaded tests: the sequence number,
    little-endian, repeated to ``length`` bytes."""
    word = sequence.to_bytes(8, "little")
    return (word * (length // 8 + 1))[:length]


def address(buffer):
    """The address of the first byte of ``buffer`` (anything with the
    buffer protocol, read-only included), found without copying: NumPy's
    ``frombuffer`` wraps the exporter's memory and reports where it is."""
    return np.frombuffer(buffer, dtype=np.uint8).__array_interface__["data"][0]


def assert_readable(exc):
    """An error's message is for people: one line of text, not empty, and
    not Rust's ``Debug`` form of an error value."""
    message = str(exc)
    assert message, f"{type(exc).__name__} has an empty message"
    assert message == message.strip() and "\n" not in message, f"message {message!r}"
    assert message.isprintable(), f"message {message!r}"
    for debug in ("Error {", "Err(", "Some(", "Ok(", "{ what:", "{ missed:"):
        assert debug not in message, f"{type(exc).__name__}'s message looks like Rust's Debug form: {message!r}"
