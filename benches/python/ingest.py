"""The Python side of the `ingest` bench group (benches/ingest.rs): the native
package (`import slotcast`, the PyO3 module) beside the C ABI's ctypes client
(`import slotcast_ctypes`, examples/python/slotcast_ctypes.py), in one
process, so that a round's ratios compare figures taken seconds apart.

    python ingest.py publish SECONDS      # one round of every ingest case
    python ingest.py read SECONDS         # one round of every read case
    python ingest.py publish --check      # a small fixed run, every event verified
    python ingest.py read --check
    python ingest.py count native|ctypes N   # N single publishes, nothing else (callgrind)

Prints one "<case> <events/s>" line per case (with --check: "<case> ok
<events>"); any wrong event, count or sum raises, and the exit status is
not 0. benches/ingest.rs runs it with the venv's python (the native package
installed by .ci/python), examples/python on PYTHONPATH and SLOTCAST_LIB
pointing at the C library.

Ingest: 64-byte events into an in-process runtime with no reader, so what
is measured is the cost of getting an event in. The 32 payloads differ
(event `s` carries payload `s % 32`), so that the check run can tell
events apart; the timed runs publish the same objects.

Read: 4 KB events (class L) read from Python, touching the first and the
last byte of each: in place through a memoryview (native), as a copy
(`event.data`, native), and as the ctypes client's copy. The ring is
filled before the reads are timed, by the same runtime's writer
(`publish_packed` of 256 events per call: a Rust copy per event), and the
timed part is the reader alone. Why not a Rust writer process feeding the
reader live (`slotcast bench-writer`, examples/ipc_writer.rs): the reader
is what is compared (in place against a copy), and a live writer on this
2-core machine shares the cores with it; whenever the Python reader is the
slower, the writer finds the ring full and waits (spinning, yielding or
sleeping by the runtime's wait strategy), and what it does then, and how
the reader is woken, would be timed with the read and differ with the
machine's load. A pre-filled ring gives every read case an event ready at
every call, the reader of a writer at full speed at its best, and the same
for all three cases; it needs no second process per round either.
"""

import sys
import time

import slotcast
import slotcast_ctypes

#: Events per batch call (publish_batch, publish_packed) and payloads cycled.
BATCH = 32
#: Events in the large packed buffer.
PACKED_LARGE = 1024
#: Events published between two looks at the clock.
CHUNK = 1024
#: Ingest payload size: class XS.
SMALL = 64
#: Read payload size: class L.
LARGE = 4096
#: Events per publish_packed call of the fill, and the payloads cycled.
FILL_CHUNK = 256
#: Events in the ring per fill: the ring and the L pool hold them all.
FILL_EVENTS = 16384
#: Events the check run publishes per ingest case (a multiple of
#: PACKED_LARGE; below the default ring of 4096, which the gating reader
#: the check adds would otherwise fill).
CHECK_EVENTS = 2048
#: Events the check run reads per read case.
CHECK_READS = 1024

SMALL_PAYLOADS = [bytes((i + j) % 256 for j in range(SMALL)) for i in range(BATCH)]
#: 4 KB payload j: first byte j, last byte (3 j + 1) mod 256, the rest j ^ 0x5a.
LARGE_PAYLOADS = [bytes([j]) + bytes([j ^ 0x5A]) * (LARGE - 2) + bytes([(3 * j + 1) % 256]) for j in range(FILL_CHUNK)]
FILL_BUFFER = b"".join(LARGE_PAYLOADS)
TOUCH = [p[0] + p[-1] for p in LARGE_PAYLOADS]


# --- ingest ---------------------------------------------------------------------------


def single(w, until, limit):
    # The same loop for both clients: their `publish` and `publish_batch`
    # take the same arguments.
    publish = w.publish
    payloads = SMALL_PAYLOADS
    n = 0
    while n < limit and time.perf_counter() < until:
        for _ in range(CHUNK // BATCH):
            for d in payloads:
                publish(d, 1)
        n += CHUNK
    return n


def batch(w, until, limit):
    publish_batch = w.publish_batch
    payloads = SMALL_PAYLOADS
    n = 0
    while n < limit and time.perf_counter() < until:
        for _ in range(CHUNK // BATCH):
            if publish_batch(payloads, 1) != BATCH:
                raise AssertionError("publish_batch published fewer events than given")
        n += CHUNK
    return n


def native_packed(events):
    buf = b"".join(SMALL_PAYLOADS) * (events // BATCH)
    calls = max(1, CHUNK // events)

    def run(w, until, limit):
        publish_packed = w.publish_packed
        n = 0
        while n < limit and time.perf_counter() < until:
            for _ in range(calls):
                if publish_packed(buf, SMALL, 1) != events:
                    raise AssertionError("publish_packed published fewer events than given")
            n += calls * events
        return n

    return run


def check_small(events, n, what):
    """Every event of a check run: sequence, type and bytes in order."""
    count = 0
    for seq, event_type, data in events:
        if seq != count or event_type != 1 or data != SMALL_PAYLOADS[count % BATCH]:
            raise AssertionError(f"{what}: event {count} is ({seq}, {event_type}, {data[:8]!r}...)")
        count += 1
    if count != n:
        raise AssertionError(f"{what}: read {count} events of {n} published")


def ingest(rt, events_of, fn, seconds, check, what):
    """One ingest case into `rt` (a native or a ctypes runtime); a check run
    joins a gating reader first and reads every event back through
    `events_of(reader)` as (sequence, type, bytes); the timed run has none
    (ingest alone)."""
    reader = rt.reader() if check else None
    w = rt.writer()
    start = time.perf_counter()
    n = fn(w, start + seconds if not check else float("inf"), CHECK_EVENTS if check else float("inf"))
    took = time.perf_counter() - start
    if w.published != n:
        raise AssertionError(f"{what}: the writer published {w.published} events, the loop counted {n}")
    w.close()
    if check:
        check_small(events_of(reader), n, what)
        reader.close()
    return n, took


def ingest_native(fn, seconds, check, what):
    return ingest(
        slotcast.Runtime(), lambda r: ((ev.sequence, ev.event_type, ev.data) for ev in r), fn, seconds, check, what
    )


def ingest_ctypes(fn, seconds, check, what):
    rt = slotcast_ctypes.Runtime.new()
    try:
        return ingest(rt, lambda r: r.events(timeout=0), fn, seconds, check, what)
    finally:
        rt.close()


INGEST = [
    ("py-native-publish", ingest_native, single),
    ("py-native-publish_batch32", ingest_native, batch),
    ("py-native-publish_packed32", ingest_native, native_packed(BATCH)),
    ("py-native-publish_packed1024", ingest_native, native_packed(PACKED_LARGE)),
    ("py-ctypes-publish", ingest_ctypes, single),
    ("py-ctypes-publish_batch32", ingest_ctypes, batch),
]


# --- read -----------------------------------------------------------------------------


def read_native_view(reader, n):
    """In place: a memoryview of each event, its first and last byte."""
    got = touched = 0
    read_batch = reader.read_batch
    while got < n:
        events = read_batch(FILL_CHUNK, 0)
        for ev in events:
            # No `with`: the view is released when the name is rebound (or
            # the function returns), as in a plain loop; `with` would add
            # two method calls per event.
            mv = memoryview(ev)
            touched += mv[0] + mv[-1]
        got += len(events)
    return got, touched


def read_native_copy(reader, n):
    """A copy of each event (`event.data`), its first and last byte."""
    got = touched = 0
    read_batch = reader.read_batch
    while got < n:
        events = read_batch(FILL_CHUNK, 0)
        for ev in events:
            d = ev.data
            touched += d[0] + d[-1]
        got += len(events)
    return got, touched


def read_ctypes(reader, n):
    """The ctypes client's read: a copy per event (borrow_batch, string_at)."""
    got = touched = 0
    for ev in reader.events(timeout=0):
        d = ev.data
        touched += d[0] + d[-1]
        got += 1
        if got == n:
            break
    return got, touched


def check_large(events, first, what):
    """Every byte of every event of a check run, in order from `first`."""
    k = -1
    for k, (seq, data) in enumerate(events):
        if seq != first + k or data != LARGE_PAYLOADS[(first + k) % FILL_CHUNK]:
            raise AssertionError(f"{what}: event {first + k} is sequence {seq}, {len(data)} bytes, wrong content")
    return k + 1


def timed_reads(case, fn, fill, reader_cursor, seconds, check):
    """Fills the ring and reads it with `fn` until `seconds` of reading
    (once in a check run); checks each read's count and its sum of the
    first and last bytes. Returns (events, seconds read)."""
    per_fill = CHECK_READS if check else FILL_EVENTS
    total, took = 0, 0.0
    while took < seconds or total == 0:
        fill(per_fill)
        first = reader_cursor()
        start = time.perf_counter()
        got, touched = fn(per_fill)
        took += time.perf_counter() - start
        want = sum(TOUCH[(first + k) % FILL_CHUNK] for k in range(got))
        if got != per_fill or touched != want:
            raise AssertionError(f"{case}: read {got} of {per_fill} events, first+last bytes {touched} != {want}")
        total += got
    return total, took


def read_cases(seconds, check):
    """Yields (case, events, seconds) for each read case. A check run first
    reads one fill and compares every byte (through the case's own access:
    the memoryview, `data`), then runs the timed code once."""
    # Twice a fill: the ctypes reader hands out a batch it borrowed and
    # moves its cursor past it at its next call, so up to a batch of the
    # last fill is still in the ring when the next fill starts.
    ring = 2 << (FILL_EVENTS - 1).bit_length()
    # Room for a whole fill, and a margin so that an event still being
    # dropped when the next fill starts does not make it wait.
    slots = FILL_EVENTS + 2 * FILL_CHUNK
    # Every fill waits for room at most 10 s: an event leaked by a read loop
    # would hold its slot, and the bench must fail then, not hang.
    native = [
        ("py-native-read-memoryview", read_native_view, lambda ev: bytes(memoryview(ev))),
        ("py-native-read-copy", read_native_copy, lambda ev: ev.data),
    ]
    for case, fn, content in native:
        rt = slotcast.Runtime(ring_capacity=ring, slots={"L": slots})
        reader = rt.reader()
        w = rt.writer()

        def fill(n, w=w):
            for _ in range(n // FILL_CHUNK):
                w.publish_packed(FILL_BUFFER, LARGE, 2, timeout=10)

        if check:
            fill(CHECK_READS)
            first = reader.cursor
            events = reader.read_batch(CHECK_READS, 0)
            if check_large(((ev.sequence, content(ev)) for ev in events), first, case) != CHECK_READS:
                raise AssertionError(f"{case}: read {len(events)} of {CHECK_READS} events")
            del events
        total, took = timed_reads(
            case, lambda n, reader=reader, fn=fn: fn(reader, n), fill, lambda r=reader: r.cursor, seconds, check
        )
        if reader.lag != 0:
            raise AssertionError(f"{case}: {reader.lag} events left unread")
        w.close()
        yield case, total, took

    case = "py-ctypes-read"
    rt = slotcast_ctypes.Runtime.new(ring_capacity=ring, slots=[2000, 1000, 300, slots, 15])
    reader = rt.reader()
    w = rt.writer()
    # The ctypes reader has no cursor: count what it handed out.
    seen = [0]

    def fill(n):
        for _ in range(n // FILL_CHUNK):
            w.publish_batch(LARGE_PAYLOADS, 2, timeout=10)

    def read(n):
        got, touched = read_ctypes(reader, n)
        seen[0] += got
        return got, touched

    if check:
        fill(CHECK_READS)
        got = check_large(((ev.sequence, ev.data) for ev in reader.events(timeout=0)), 0, case)
        if got != CHECK_READS:
            raise AssertionError(f"{case}: read {got} of {CHECK_READS} events")
        seen[0] = got
    total, took = timed_reads(case, read, fill, lambda: seen[0], seconds, check)
    if reader.lag != 0:
        raise AssertionError(f"{case}: {reader.lag} events left unread")
    w.close()
    rt.close()
    yield case, total, took


# --- main -----------------------------------------------------------------------------


def count(which, n):
    """N single publishes of one 64-byte payload: for callgrind, whose
    count of a run of N and of 2N differ by N publishes."""
    payload = SMALL_PAYLOADS[0]
    if which == "native":
        w = slotcast.Runtime().writer()
    elif which == "ctypes":
        w = slotcast_ctypes.Runtime.new().writer()
    else:
        raise SystemExit(f"count: native or ctypes, not {which!r}")
    publish = w.publish
    for _ in range(n):
        publish(payload, 1)
    if w.published != n:
        raise AssertionError(f"published {w.published} of {n}")


def main():
    usage = "usage: ingest.py publish|read SECONDS|--check, or ingest.py count native|ctypes N"
    if len(sys.argv) != 3 and not (len(sys.argv) == 4 and sys.argv[1] == "count"):
        raise SystemExit(usage)
    # The native package, not a module of that name elsewhere on the path.
    if not hasattr(slotcast, "Runtime") or not hasattr(slotcast.Writer, "publish_packed"):
        raise SystemExit(f"`import slotcast` found {slotcast.__file__}, not the native package")
    mode = sys.argv[1]
    if mode == "count":
        count(sys.argv[2], int(sys.argv[3]))
        return
    check = sys.argv[2] == "--check"
    seconds = 0.0 if check else float(sys.argv[2])
    if mode == "publish":
        for case, run, fn in INGEST:
            n, took = run(fn, seconds, check, case)
            print(f"{case} ok {n}" if check else f"{case} {n / took:.0f}", flush=True)
    elif mode == "read":
        for case, n, took in read_cases(seconds, check):
            print(f"{case} ok {n}" if check else f"{case} {n / took:.0f}", flush=True)
    else:
        raise SystemExit(usage)


if __name__ == "__main__":
    main()
