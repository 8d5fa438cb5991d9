"""slotcast's C ABI from Python: ctypes over the C library, standard library
only.

Python programs should use the native package (``import slotcast``, built
from python/ with maturin): it reads events in place and publishes without
this module's per-call ctypes overhead. This module is named
``slotcast_ctypes`` so that it never shadows that package, and it stays for
what the package cannot do:

* hosts that load the C library through their own FFI without building an
  extension: it is the C ABI's Python client, the pattern such a host
  follows (ctypes here, cffi or another language's FFI there);
* the C ABI's tests from a dynamic language (tests/python.rs runs
  tests/python/*.py and examples/python/*.py over it);
* the baseline the native package is measured against (benches/ingest.rs,
  benches/python/ingest.py).

One writer publishes events (bytes and a 32-bit type) into a slotcast
runtime; every reader sees every event, in order. The runtime lives in this
process or in a file that several processes share (a path under /dev/shm).

    import slotcast_ctypes

    rt = slotcast_ctypes.Runtime.create_shared("/dev/shm/quotes")   # or Runtime.open(path)
    reader = rt.reader()
    writer = rt.writer()
    writer.publish(b"tick", 1)
    writer.publish_batch([b"a", b"b", b"c"], 2)   # one cursor store for all three
    for event in reader.events(timeout=0):        # what is there now
        print(event.sequence, event.event_type, event.data)
    writer.close()                                # readers drain, then the stream ends

A reader chooses its policy and start when it joins:

    tap = rt.reader(lossy=True, from_oldest=True)

A gating reader (the default) holds the writer back rather than miss an
event. A lossy reader never holds it back between its calls: when the
writer laps it, its next read raises Lagged (`e.missed` events were lost,
`reader.lost` adds them up) and reading goes on from the oldest event still
available. `from_oldest` replays what the ring still holds.

The library is found through $SLOTCAST_LIB (a path to libslotcast.so), then
next to this file's repository (target/release), then the system's library
path. Build it with `cargo build --release -p slotcast-capi`.

Errors raise SlotcastError, whose `code` is one of the ERR_* constants
below (the C ABI's status codes) and whose message carries the details. The
stream's events have subclasses: Lagged (a lossy reader was lapped),
StreamClosed (the writer closed the stream and every event was read) and
WriterDead (the writer's process died; a new writer may take over). Iterating
a reader ends at StreamClosed.

Thread safety: every object may be used from several Python threads at once.
The C library serialises calls on one writer or one reader with a lock, and
ctypes releases the GIL during each call, so a thread waiting for room or for
an event does not hold up the others.
"""

import collections
import ctypes
import ctypes.util
import os

__all__ = [
    "Runtime",
    "Writer",
    "Reader",
    "Event",
    "SlotcastError",
    "Lagged",
    "StreamClosed",
    "WriterDead",
    "MAX_PAYLOAD",
    "WAIT_FOREVER",
]

OK = 0
ERR_NULL = -1
ERR_BAD_HANDLE = -2
ERR_CLOSED = -3
ERR_TOO_LARGE = -4
ERR_BUFFER_TOO_SMALL = -5
ERR_EMPTY = -6
ERR_RING_FULL = -7
ERR_POOL_FULL = -8
ERR_TIMEOUT = -9
ERR_WRITER_TAKEN = -10
ERR_TOO_MANY_READERS = -11
ERR_INVALID_CONFIG = -12
ERR_INVALID_ARGUMENT = -13
ERR_IO = -14
ERR_BAD_FILE = -15
ERR_STALE = -16
ERR_TOO_MANY_PROCESSES = -17
ERR_CORRUPT = -18
ERR_UNSUPPORTED = -19
ERR_PANIC = -20
ERR_FORKED = -21
ERR_LAGGED = -22
ERR_STREAM_CLOSED = -23
ERR_WRITER_DEAD = -24

#: Names of the status codes, for messages.
CODE_NAMES = {v: k for k, v in globals().items() if k == "OK" or k.startswith("ERR_")}

MAX_PAYLOAD = 16384
SIZE_CLASSES = 5
WAIT_FOREVER = 2**64 - 1
WAIT_BUSY_SPIN, WAIT_YIELD, WAIT_BLOCKING = 0, 1, 2
OPEN_RECOVER_STALE = 1
READER_LOSSY = 1
READER_FROM_OLDEST = 2

Event = collections.namedtuple("Event", "sequence event_type data")
Event.__doc__ = "One event: its sequence number, type tag and payload (a copy)."


class SlotcastError(Exception):
    """A call into slotcast failed; `code` is one of the ERR_* constants."""

    def __init__(self, code, detail=""):
        self.code = code
        self.name = CODE_NAMES.get(code, "ERR_UNKNOWN")
        self.detail = detail
        super().__init__(f"{self.name} ({code}): {detail}")


class Lagged(SlotcastError):
    """A lossy reader was lapped: `missed` events are lost for good. The
    reader goes on from the oldest event still available."""

    def __init__(self, missed, detail=""):
        super().__init__(ERR_LAGGED, detail)
        self.missed = missed


class StreamClosed(SlotcastError):
    """The writer closed the stream and every event published was read. A
    new writer reopens it."""

    def __init__(self, detail=""):
        super().__init__(ERR_STREAM_CLOSED, detail)


class WriterDead(SlotcastError):
    """The writer's process died holding the role and every event it
    published was read. Not a close: once a new writer takes over, reads go
    on."""

    def __init__(self, detail=""):
        super().__init__(ERR_WRITER_DEAD, detail)


class _Config(ctypes.Structure):
    _fields_ = [
        ("slots", ctypes.c_uint32 * SIZE_CLASSES),
        ("ring_capacity", ctypes.c_uint32),
        ("max_readers", ctypes.c_uint32),
        ("max_processes", ctypes.c_uint32),
        ("wait_strategy", ctypes.c_uint32),
        ("file_mode", ctypes.c_uint32),
    ]


class _PoolStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("slots", "in_ring", "retained", "in_use")]


class _Stats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("published", "writer_pid", "readers", "max_lag", "processes")] + [
        ("pools", _PoolStats * SIZE_CLASSES)
    ]


class _EventInfo(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint64), ("len", ctypes.c_uint32), ("event_type", ctypes.c_uint32)]


class _EventView(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("sequence", ctypes.c_uint64),
        ("len", ctypes.c_uint32),
        ("event_type", ctypes.c_uint32),
    ]


class _EventIn(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t), ("event_type", ctypes.c_uint32)]


def _find_library():
    env = os.environ.get("SLOTCAST_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    local = os.path.join(here, "..", "..", "target", "release", "libslotcast.so")
    if os.path.exists(local):
        return local
    found = ctypes.util.find_library("slotcast")
    if found:
        return found
    raise OSError("libslotcast not found: set SLOTCAST_LIB or run `cargo build --release -p slotcast-capi`")


def _load(path):
    lib = ctypes.CDLL(path)
    p = ctypes.c_void_p
    pp = ctypes.POINTER(ctypes.c_void_p)
    u32, u64, size = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t
    signatures = {
        "slotcast_strerror": ([ctypes.c_int], ctypes.c_char_p),
        "slotcast_last_error": ([ctypes.c_char_p, size, ctypes.POINTER(size)], ctypes.c_int),
        "slotcast_config_default": ([ctypes.POINTER(_Config)], ctypes.c_int),
        "slotcast_runtime_new": ([ctypes.POINTER(_Config), pp], ctypes.c_int),
        "slotcast_runtime_create_shared": ([ctypes.c_char_p, ctypes.POINTER(_Config), pp], ctypes.c_int),
        "slotcast_runtime_open": ([ctypes.c_char_p, u32, pp], ctypes.c_int),
        "slotcast_runtime_writer": ([p, pp], ctypes.c_int),
        "slotcast_runtime_reader": ([p, pp], ctypes.c_int),
        "slotcast_runtime_reader_with": ([p, u32, pp], ctypes.c_int),
        "slotcast_runtime_stats": ([p, ctypes.POINTER(_Stats)], ctypes.c_int),
        "slotcast_runtime_close": ([p], ctypes.c_int),
        "slotcast_runtime_free": ([p], ctypes.c_int),
        "slotcast_writer_publish": ([p, u32, p, size, u64, ctypes.POINTER(u64)], ctypes.c_int),
        "slotcast_writer_publish_batch": ([p, ctypes.POINTER(_EventIn), size, u64, ctypes.POINTER(size)], ctypes.c_int),
        "slotcast_writer_publish_packed": (
            [p, u32, p, ctypes.POINTER(u32), size, u64, ctypes.POINTER(size)],
            ctypes.c_int,
        ),
        "slotcast_writer_published": ([p, ctypes.POINTER(u64)], ctypes.c_int),
        "slotcast_writer_close": ([p], ctypes.c_int),
        "slotcast_writer_free": ([p], ctypes.c_int),
        "slotcast_reader_read": ([p, p, size, u64, ctypes.POINTER(_EventInfo)], ctypes.c_int),
        "slotcast_reader_borrow": ([p, u64, ctypes.POINTER(_EventView)], ctypes.c_int),
        "slotcast_reader_borrow_batch": (
            [p, ctypes.POINTER(_EventView), size, u64, ctypes.POINTER(size)],
            ctypes.c_int,
        ),
        "slotcast_reader_lag": ([p, ctypes.POINTER(u64)], ctypes.c_int),
        "slotcast_reader_lost": ([p, ctypes.POINTER(u64)], ctypes.c_int),
        "slotcast_reader_close": ([p], ctypes.c_int),
        "slotcast_reader_free": ([p], ctypes.c_int),
    }
    for name, (args, res) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res
    return lib


#: The loaded C library, with argument and result types declared (for code
#: that calls the C ABI directly, like the tests).
lib = _load(_find_library())


def strerror(code):
    """The C library's message for a status code."""
    return lib.slotcast_strerror(code).decode()


def last_error():
    """Details of the last failed call on this thread."""
    buf = ctypes.create_string_buffer(1024)
    n = ctypes.c_size_t()
    if lib.slotcast_last_error(buf, len(buf), ctypes.byref(n)) != OK:
        buf = ctypes.create_string_buffer(n.value + 1)
        lib.slotcast_last_error(buf, len(buf), None)
    return buf.value.decode(errors="replace")


def check(code):
    """Raises SlotcastError (StreamClosed, WriterDead: its subclasses) for a
    failed status code. Readers raise Lagged themselves, with the count."""
    if code == ERR_STREAM_CLOSED:
        raise StreamClosed(last_error())
    if code == ERR_WRITER_DEAD:
        raise WriterDead(last_error())
    if code != OK:
        raise SlotcastError(code, last_error())
    return code


def _timeout_ns(timeout):
    """None: wait forever; 0: do not wait; else seconds."""
    if timeout is None:
        return WAIT_FOREVER
    if timeout < 0:
        raise ValueError("timeout must be None or >= 0")
    return min(int(timeout * 1e9), WAIT_FOREVER - 1) if timeout > 0 else 0


def _payload(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be bytes-like, not {type(data).__name__}")
    return bytes(data) if not isinstance(data, bytes) else data


class _Handle:
    _close = None
    _free = None

    def __init__(self, handle):
        self._h = ctypes.c_void_p(handle)

    def close(self):
        """Releases what the handle holds; later calls raise ERR_CLOSED."""
        check(self._close(self._h))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.close()
        except SlotcastError as e:
            if e.code != ERR_CLOSED:
                raise

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h is not None and h.value and self._free is not None:
            self._free(h)


def _config(slots=None, ring_capacity=None, max_readers=None, max_processes=None, wait_strategy=None, file_mode=0):
    c = _Config()
    check(lib.slotcast_config_default(ctypes.byref(c)))
    if slots is not None:
        if len(slots) != SIZE_CLASSES:
            raise ValueError(f"slots needs {SIZE_CLASSES} counts (XS, S, M, L, XL)")
        for i, n in enumerate(slots):
            c.slots[i] = n
    for name, value in [
        ("ring_capacity", ring_capacity),
        ("max_readers", max_readers),
        ("max_processes", max_processes),
        ("wait_strategy", wait_strategy),
        ("file_mode", file_mode),
    ]:
        if value is not None:
            setattr(c, name, value)
    return c


class Runtime(_Handle):
    """A slotcast runtime. Make one with new(), create_shared() or open()."""

    _close = lib.slotcast_runtime_close
    _free = lib.slotcast_runtime_free

    @classmethod
    def new(cls, **config):
        """An in-process runtime. Keywords: slots (5 counts), ring_capacity,
        max_readers, wait_strategy."""
        out = ctypes.c_void_p()
        check(lib.slotcast_runtime_new(ctypes.byref(_config(**config)), ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def create_shared(cls, path, **config):
        """A runtime in a new file at `path` that other processes can open.
        Keywords as new(), plus max_processes and file_mode."""
        out = ctypes.c_void_p()
        check(lib.slotcast_runtime_create_shared(os.fsencode(path), ctypes.byref(_config(**config)), ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def open(cls, path, recover_stale=False, flags=None):
        """Opens the shared runtime at `path`."""
        if flags is None:
            flags = OPEN_RECOVER_STALE if recover_stale else 0
        out = ctypes.c_void_p()
        check(lib.slotcast_runtime_open(os.fsencode(path), flags, ctypes.byref(out)))
        return cls(out.value)

    def writer(self):
        """Takes the writer role."""
        out = ctypes.c_void_p()
        check(lib.slotcast_runtime_writer(self._h, ctypes.byref(out)))
        return Writer(out.value)

    def reader(self, timeout=None, lossy=False, from_oldest=False):
        """Joins as a reader. `timeout` (seconds, None for ever) bounds the
        wait of each step of iterating the reader. `lossy`: the writer never
        waits for this reader between its calls, and laps it instead (reads
        then raise Lagged once). `from_oldest`: start at the oldest event the
        ring still holds, not at the next one published."""
        flags = (READER_LOSSY if lossy else 0) | (READER_FROM_OLDEST if from_oldest else 0)
        out = ctypes.c_void_p()
        check(lib.slotcast_runtime_reader_with(self._h, flags, ctypes.byref(out)))
        return Reader(out.value, timeout, lossy)

    def stats(self):
        """A snapshot of cursors and pools, as a dict."""
        s = _Stats()
        check(lib.slotcast_runtime_stats(self._h, ctypes.byref(s)))
        out = {n: getattr(s, n) for n in ("published", "writer_pid", "readers", "max_lag", "processes")}
        out["pools"] = [{n: getattr(p, n) for n in ("slots", "in_ring", "retained", "in_use")} for p in s.pools]
        return out


class Writer(_Handle):
    """The writer role of a runtime (one at a time per runtime). close()
    (also leaving a `with` block, or the writer being freed) closes the
    stream: readers drain what was published, then get StreamClosed."""

    _close = lib.slotcast_writer_close
    _free = lib.slotcast_writer_free

    def publish(self, data, event_type=0, timeout=None):
        """Copies `data` into a slot and publishes it; returns its sequence
        number. Waits for room up to `timeout` seconds (None: for ever; 0:
        raises ERR_RING_FULL or ERR_POOL_FULL at once)."""
        data = _payload(data)
        seq = ctypes.c_uint64()
        rc = lib.slotcast_writer_publish(self._h, event_type, data, len(data), _timeout_ns(timeout), ctypes.byref(seq))
        check(rc)
        return seq.value

    def publish_batch(self, items, event_type=0, timeout=None):
        """Publishes every payload of `items` with type `event_type` as one
        batch (one store of the published cursor). Returns the number
        published; on an error the first `e.published` were published."""
        items = [_payload(d) for d in items]
        lens = (ctypes.c_uint32 * len(items))(*(len(d) for d in items))
        done = ctypes.c_size_t()
        rc = lib.slotcast_writer_publish_packed(
            self._h, event_type, b"".join(items), lens, len(items), _timeout_ns(timeout), ctypes.byref(done)
        )
        return self._batch_result(rc, done.value)

    def publish_many(self, events, timeout=None):
        """Publishes `(event_type, data)` pairs as one batch, each with its own
        type. Returns the number published, like publish_batch."""
        events = [(t, _payload(d)) for t, d in events]
        arr = (_EventIn * len(events))()
        for slot, (t, d) in zip(arr, events):
            slot.data = ctypes.cast(ctypes.c_char_p(d), ctypes.c_void_p)
            slot.len = len(d)
            slot.event_type = t
        done = ctypes.c_size_t()
        rc = lib.slotcast_writer_publish_batch(self._h, arr, len(events), _timeout_ns(timeout), ctypes.byref(done))
        return self._batch_result(rc, done.value)

    @staticmethod
    def _batch_result(rc, published):
        if rc != OK:
            err = SlotcastError(rc, last_error())
            err.published = published
            raise err
        return published

    @property
    def published(self):
        """Events published so far (the next sequence number)."""
        n = ctypes.c_uint64()
        check(lib.slotcast_writer_published(self._h, ctypes.byref(n)))
        return n.value


class Reader(_Handle):
    """One reader: sees every event published while it is joined, in order
    (a lossy one: every event the writer did not lap it past).

    Iterating it yields Event tuples, waiting up to `timeout` seconds for
    each (None: for ever); iteration stops when that wait times out or the
    stream is closed, and raises Lagged or WriterDead (iterate again to go
    on)."""

    _close = lib.slotcast_reader_close
    _free = lib.slotcast_reader_free
    BATCH = 256

    def __init__(self, handle, timeout=None, lossy=False):
        super().__init__(handle)
        self.timeout = timeout
        #: Whether the reader joined as a lossy reader.
        self.lossy = lossy
        self._lost_seen = 0
        self._views = (_EventView * self.BATCH)()
        self._pending = collections.deque()
        self._buf = ctypes.create_string_buffer(MAX_PAYLOAD)

    def read(self, timeout=None):
        """The next event (a copy). Raises ERR_EMPTY (timeout 0) or
        ERR_TIMEOUT if none came."""
        if self._pending:
            return self._pending.popleft()
        info = _EventInfo()
        rc = lib.slotcast_reader_read(self._h, self._buf, len(self._buf), _timeout_ns(timeout), ctypes.byref(info))
        self._check(rc)
        return Event(info.sequence, info.event_type, self._buf.raw[: info.len])

    def _check(self, code):
        """check(), and Lagged with the count of this lap."""
        if code == ERR_LAGGED:
            detail = last_error()
            lost = self.lost
            missed, self._lost_seen = lost - self._lost_seen, lost
            raise Lagged(missed, detail)
        return check(code)

    def read_into(self, buf, timeout=None):
        """Copies the next event's payload into `buf` (a writable buffer such
        as a bytearray) and returns (sequence, event_type, length). Raises
        ERR_BUFFER_TOO_SMALL, consuming nothing, if it does not fit."""
        if self._pending:
            raise SlotcastError(ERR_INVALID_ARGUMENT, "events fetched by iteration are pending; iterate them first")
        view = memoryview(buf)
        if view.readonly:
            raise TypeError("read_into needs a writable buffer")
        cbuf = (ctypes.c_char * len(view)).from_buffer(view) if len(view) else None
        info = _EventInfo()
        self._check(lib.slotcast_reader_read(self._h, cbuf, len(view), _timeout_ns(timeout), ctypes.byref(info)))
        return info.sequence, info.event_type, info.len

    def _fill(self, timeout):
        """Borrows everything available (up to BATCH) and copies it out: one
        call, and one cursor store, per batch."""
        n = ctypes.c_size_t()
        rc = lib.slotcast_reader_borrow_batch(self._h, self._views, self.BATCH, _timeout_ns(timeout), ctypes.byref(n))
        for v in self._views[: n.value]:
            self._pending.append(Event(v.sequence, v.event_type, ctypes.string_at(v.data, v.len)))
        return rc

    def events(self, timeout=None):
        """Yields events, waiting up to `timeout` seconds for each; stops
        when none comes in time (timeout 0: what is available now) or the
        stream is closed. Raises Lagged or WriterDead: iterate again to go
        on."""
        while True:
            if not self._pending:
                rc = self._fill(timeout)
                if rc in (ERR_EMPTY, ERR_TIMEOUT, ERR_STREAM_CLOSED) and not self._pending:
                    return
                if rc != OK and not self._pending:
                    self._check(rc)
            yield self._pending.popleft()

    def __iter__(self):
        return self.events(self.timeout)

    @property
    def lag(self):
        """Published events this reader has not handed out yet."""
        n = ctypes.c_uint64()
        check(lib.slotcast_reader_lag(self._h, ctypes.byref(n)))
        return n.value + len(self._pending)

    @property
    def lost(self):
        """Events this reader lost to the writer lapping it since it joined:
        the sum of every Lagged's `missed` (always 0 for a gating reader)."""
        n = ctypes.c_uint64()
        check(lib.slotcast_reader_lost(self._h, ctypes.byref(n)))
        return n.value
