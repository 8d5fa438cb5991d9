"""Reader policies and the stream's life from Python, across processes: the
Python half of tests in tests/python.rs, which creates the shared runtime at
PATH, plays the other side and checks what this script prints. The same
modes and lines as tests/c/policies.c:

    policies.py tap PATH        a lossy reader: reads one event, prints
                                "STALLED <seq>", stops reading until a line
                                comes on stdin, then reads what is left and
                                prints "TAP <received> <lost> <lagged>"
    policies.py drain PATH      iterates a gating reader to the end of the
                                stream: "CLOSED <events>"
    policies.py dead PATH       reads until the writer is dead ("DEAD
                                <events>"), then on with the next writer
                                until it closes ("CLOSED <events>")
    policies.py oldest PATH     joins from the oldest event, gating then
                                lossy: "REPLAYED <first> <events>" for each
    policies.py write PATH START COUNT close|hang
                                publishes events START.. of the pattern,
                                prints "PUBLISHED <count>", then closes the
                                writer or waits to be killed

Every event read is checked against pattern.py and must come in order. Readers
print "JOINED" once joined.
"""

import signal
import sys

import pattern
import slotcast_ctypes

PATIENCE = 30.0


def say(*words):
    print(*words, flush=True)


def tap(path):
    rt = slotcast_ctypes.Runtime.open(path)
    reader = rt.reader(lossy=True)
    assert reader.lossy
    say("JOINED")
    first = reader.read(timeout=PATIENCE)
    pattern.check(first.sequence, first)
    received, lagged, reported, nxt = 1, 0, 0, first.sequence + 1
    say("STALLED", first.sequence)
    sys.stdin.readline()  # the reader stops reading until told
    while True:
        try:
            event = reader.read(timeout=0)
        except slotcast_ctypes.Lagged as e:
            lagged += 1
            reported += e.missed
            nxt += e.missed  # exactly the events missed are skipped
            continue
        except slotcast_ctypes.SlotcastError as e:
            if e.code == slotcast_ctypes.ERR_EMPTY:
                break
            raise
        pattern.check(nxt, event)
        nxt += 1
        received += 1
    assert reader.lost == reported, (reader.lost, reported)
    say("TAP", received, reader.lost, lagged)


def drain(path):
    rt = slotcast_ctypes.Runtime.open(path)
    reader = rt.reader(timeout=PATIENCE)
    say("JOINED")
    seen = 0
    for event in reader:  # ends at the close
        pattern.check(seen, event)
        seen += 1
    try:
        reader.read(timeout=0)
        raise AssertionError("an event after the close")
    except slotcast_ctypes.StreamClosed:
        pass
    say("CLOSED", seen)


def read_on(reader, seen):
    """Reads in order until a read raises; returns (events, exception)."""
    while True:
        try:
            event = reader.read(timeout=PATIENCE)
        except slotcast_ctypes.SlotcastError as e:
            return seen, e
        pattern.check(seen, event)
        seen += 1


def dead(path):
    rt = slotcast_ctypes.Runtime.open(path)
    reader = rt.reader()
    say("JOINED")
    seen, e = read_on(reader, 0)
    if not isinstance(e, slotcast_ctypes.WriterDead):
        raise e
    say("DEAD", seen)
    # Told once per dead writer: the next reads wait for the writer that
    # takes over, and end at its close (a second WriterDead fails).
    seen, e = read_on(reader, seen)
    if not isinstance(e, slotcast_ctypes.StreamClosed):
        raise e
    say("CLOSED", seen)


def oldest(path):
    rt = slotcast_ctypes.Runtime.open(path)
    for lossy in (False, True):
        reader = rt.reader(lossy=lossy, from_oldest=True)
        events = list(reader.events(timeout=0))
        first = events[0].sequence if events else 0
        for k, event in enumerate(events):
            pattern.check(first + k, event)
        say("REPLAYED", first, len(events))
        reader.close()


def write(path, start, count, then):
    rt = slotcast_ctypes.Runtime.open(path)
    writer = rt.writer()
    for i in range(start, start + count):
        seq = writer.publish(pattern.payload(i), pattern.event_type(i), timeout=PATIENCE)
        assert seq == i, (seq, i)
    say("PUBLISHED", count)
    if then == "hang":
        while True:  # holding the role until killed
            signal.pause()
    writer.close()


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        write(path, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        {"tap": tap, "drain": drain, "dead": dead, "oldest": oldest}[mode](path)


if __name__ == "__main__":
    main()
