"""The events the example clients publish and the tests verify (the same
pattern as examples/c/pattern.h): event i has a length, a type and bytes that
depend on i only."""


def length(i):
    """1000 bytes for every tenth event (an M slot), else 8 to 64 bytes."""
    return 1000 if i % 10 == 0 else 8 + i % 57


def event_type(i):
    """Constant over each aligned block of 32 events."""
    return (i // 32) % 7 + 1


def payload(i):
    """i little-endian, then byte k is (i * 131 + k) & 0xff."""
    n = length(i)
    base = i * 131
    return i.to_bytes(8, "little") + bytes((base + k) & 0xFF for k in range(8, n))


def check(i, event):
    """Raises AssertionError unless `event` is event i of the pattern."""
    if event.sequence != i:
        raise AssertionError(f"expected sequence {i}, got {event.sequence}")
    if event.event_type != event_type(i):
        raise AssertionError(f"event {i}: type {event.event_type}, expected {event_type(i)}")
    if event.data != payload(i):
        raise AssertionError(f"event {i}: {len(event.data)} bytes differ from the pattern ({length(i)} expected)")
