"""A Python reader of a shared slotcast runtime.

    python3 consume.py PATH [EVENTS]

Opens the runtime at PATH, joins as a reader, prints "JOINED", then
reads EVENTS events (default 100000) by iterating the reader and checks each
against pattern.py (published from sequence 0 on, after it joined). Prints
"OK <events> <seconds>", or fails if 30 s pass without an event.
"""

import sys
import time

import pattern
import slotcast_ctypes


def main():
    path = sys.argv[1]
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    rt = slotcast_ctypes.Runtime.open(path)
    reader = rt.reader(timeout=30)
    print("JOINED", flush=True)
    start = time.perf_counter()
    seen = 0
    for event in reader:
        pattern.check(seen, event)
        seen += 1
        if seen == events:
            break
    secs = time.perf_counter() - start
    if seen != events:
        print(f"FAILED after {seen} events: none for 30 s", flush=True)
        return 1
    reader.close()
    rt.close()
    print(f"OK {seen} {secs:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
