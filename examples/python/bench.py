"""Ingest throughput from Python through the C ABI's ctypes client
(slotcast_ctypes.py): events/s into an in-process runtime with no reader,
for Writer.publish (one call per event) and Writer.publish_batch (32 events
per call). The native package's figures are benches/python/ingest.py's.

    python3 bench.py SIZE [SECONDS [ROUNDS]]

Prints "<case> <size> <events/s>" lines, the best of ROUNDS (default 3).
examples/ffi_ingest.rs runs it next to the Rust and C figures.
"""

import sys
import time

import slotcast_ctypes

BATCH = 32


def measure(fn, seconds, rounds):
    best = 0.0
    for _ in range(rounds):
        rt = slotcast_ctypes.Runtime.new()
        w = rt.writer()
        start = time.perf_counter()
        n = fn(w, start + seconds)
        best = max(best, n / (time.perf_counter() - start))
        w.close()
        rt.close()
    return best


def main():
    size = int(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    data = b"\xab" * size
    batch = [data] * BATCH

    def single(w, until):
        n = 0
        publish = w.publish
        while time.perf_counter() < until:
            for _ in range(256):
                publish(data, 1)
            n += 256
        return n

    def batched(w, until):
        n = 0
        publish_batch = w.publish_batch
        while time.perf_counter() < until:
            for _ in range(16):
                publish_batch(batch, 1)
            n += 16 * BATCH
        return n

    print(f"python-single {size} {measure(single, seconds, rounds):.0f}")
    print(f"python-batch {size} {measure(batched, seconds, rounds):.0f}")


if __name__ == "__main__":
    main()
