"""A Python host pushing events into a shared slotcast runtime.

    python3 ingest.py PATH [EVENTS]

Opens the runtime another process created at PATH, takes the writer role and
publishes EVENTS events (default 100000) of pattern.py, alternating, one
block of 32 events each: Writer.publish per event, Writer.publish_batch (one
buffer, one cursor store per block) and Writer.publish_many (pairs). Prints
"DONE <events> <seconds>".
"""

import sys
import time

import pattern
import slotcast_ctypes

BLOCK = 32


def main():
    path = sys.argv[1]
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    rt = slotcast_ctypes.Runtime.open(path)
    writer = rt.writer()
    start = time.perf_counter()
    i = 0
    while i < events:
        n = min(BLOCK, events - i)
        block = (i // BLOCK) % 3
        if block == 0:
            for k in range(n):
                seq = writer.publish(pattern.payload(i + k), pattern.event_type(i + k))
                assert seq == i + k, f"event {i + k} got sequence {seq}"
        elif block == 1:
            done = writer.publish_batch([pattern.payload(i + k) for k in range(n)], pattern.event_type(i))
            assert done == n
        else:
            done = writer.publish_many([(pattern.event_type(i + k), pattern.payload(i + k)) for k in range(n)])
            assert done == n
        i += n
    secs = time.perf_counter() - start
    total = writer.published
    writer.close()
    rt.close()
    print(f"DONE {total} {secs:.3f}", flush=True)
    return 0 if total == events else 1


if __name__ == "__main__":
    sys.exit(main())
