"""slotcast for Python: one writer, many readers, every event in order,
read in place.

A native module (PyO3) over slotcast's Rust API. One writer publishes
events (bytes and a 32-bit type tag) into a runtime; every reader sees every
event, in order. The runtime lives in this process (``Runtime()``) or in a
file that several processes share (``Runtime.create_shared(path)``,
``Runtime.open(path)``, a path under /dev/shm).

    import slotcast

    rt = slotcast.Runtime()
    reader = rt.reader()
    with rt.writer() as writer:
        writer.publish(b"tick", 1)
        writer.publish_batch([b"a", b"b", b"c"])    # one cursor store for all
    for event in reader:                             # ends when the writer closed
        print(event.sequence, event.event_type, bytes(event))

Zero copy both ways:

* Publishing takes any object with the buffer protocol (``bytes``,
  ``bytearray``, ``memoryview``, ``array.array``, a C-contiguous NumPy
  array) and copies its bytes once, straight into the event's slot. An
  object without it raises ``TypeError``; a non-contiguous buffer raises
  what its exporter raises (``BufferError`` from a strided memoryview,
  ``ValueError`` from NumPy). The buffer must stay unchanged until the
  call returns (as for ``socket.send``): a call that waits for room copies
  it once there is room.
* An ``Event`` is the event in place: ``memoryview(event)`` (or
  ``event.view()``) reads the bytes the writer wrote, without a copy. The
  event keeps its slot alive as Rust's ``RingPtr`` does (one reference
  count); the slot returns to its pool when the event and every memoryview
  of it are gone, or at once with ``event.release()``. Events of at most 64
  bytes (class XS) travel inside the ring itself, which the writer reuses:
  the event holds a copy of those few bytes instead.

Validity: an event and its memoryviews are valid until ``release()`` (or the
end of a ``with event:`` block), whatever the reader does meanwhile. After
it, reading the payload (``data``, ``view()``, ``memoryview(event)``,
``len``) raises ``Released``; ``sequence``, ``event_type``, ``size_class``
and ``released`` still answer. ``release()`` while a memoryview of it is
open raises ``BufferError`` (release the view first, as with ``mmap``); the
end of a ``with`` block instead leaves the slot to the last open view. No
use of any object of this module can crash the interpreter.

Threads: every object may be used from several threads; calls on one writer
or one reader take turns. The GIL is released while a call waits (for an
event, for room in the ring, or for its turn), in slices of 100 ms: Ctrl-C
interrupts a wait, a ``timeout`` counts the wait for the turn too, and
``try_read`` / ``try_publish`` do not wait for a turn either (``None``;
``Full`` with ``what == "writer"``). A signal handler that interrupts a
call on a writer or reader may ``close()`` it (the call then raises
``Closed``); any other call on it from the handler raises ``RuntimeError``
instead of waiting for itself.
"""

from typing import Any, Iterable, Iterator, Literal, Mapping, Optional, Sequence, Union

from typing_extensions import Buffer, Self  # typing.Buffer is Python 3.12+

#: The largest payload, in bytes (class XL).
MAX_PAYLOAD: int
#: The size classes, smallest first, with the payload each holds:
#: XS 64, S 256, M 1024, L 4096, XL 16384 bytes.
SIZE_CLASSES: tuple[str, ...]

WaitStrategy = Literal["blocking", "yield", "busy_spin"]

class SlotcastError(Exception):
    """Base class of every error this module raises (besides ``TypeError``,
    ``ValueError``, ``OverflowError``, ``BufferError`` and ``OSError`` for
    bad arguments and failed system calls)."""

class Full(SlotcastError):
    """A non-waiting publish (``try_publish``, or ``timeout=0``) found the
    ring full (the slowest gating reader is a whole ring behind) or the pool
    of the event's size class empty. Temporary: readers moving on and events
    being released make room. ``what`` is ``"ring"``, the class name
    (``"XS"`` … ``"XL"``), or ``"writer"`` when another thread's call is
    using the writer; ``published`` is how many events of a batch call went
    in before it (0 for a single publish)."""
    what: str
    published: int

class Timeout(SlotcastError):
    """A waiting call's ``timeout`` passed: no event to read (``what`` is
    ``"event"``), no room to publish (``"ring"`` or the class name), or
    another thread's call kept the writer (``"writer"``). ``published`` is
    how many events of a batch call went in before it (0 for single calls
    and reads)."""
    what: str
    published: int

class Closed(SlotcastError):
    """The stream is closed: on a reader, the writer closed it and every
    event was read (a new writer reopens it); on any object, it was closed
    with its own ``close()`` and cannot be used any more."""

class Lagged(SlotcastError):
    """A lossy reader was lapped: ``missed`` events are lost for good. The
    reader goes on from the oldest event still available; iteration may
    continue after catching it."""
    missed: int

class WriterDead(SlotcastError):
    """The writer's process died holding the writer role and every event it
    published was read. Not a close: once a new writer takes over, reads go
    on."""

class TooLarge(SlotcastError):
    """The payload is larger than every size class with slots in this
    runtime can hold (``MAX_PAYLOAD`` at most). Nothing of the call was
    published."""

class WriterTaken(SlotcastError):
    """Another writer (in this process or another) holds the writer role."""

class TooManyReaders(SlotcastError):
    """The runtime has ``max_readers`` readers already."""

class BadFile(SlotcastError):
    """The file is not a usable slotcast runtime: not one at all, another
    version or layout, truncated, corrupted, or left by processes that all
    died (``Runtime.open(path, recover_stale=True)`` recovers that one)."""

class Released(SlotcastError):
    """An event was used after its ``release()``."""

class Event:
    """One event, read in place. Supports the buffer protocol (read-only):
    ``memoryview(event)``, ``bytes(event)`` (a copy), ``numpy.frombuffer``.
    Keeps its slot alive until released (see the module docs)."""

    @property
    def sequence(self) -> int:
        """Its sequence number: 0 for the first event of the stream."""
    @property
    def event_type(self) -> int:
        """The 32-bit type tag the writer gave it."""
    @property
    def size_class(self) -> str:
        """The size class it was published in (``"XS"`` … ``"XL"``)."""
    @property
    def data(self) -> bytes:
        """A copy of the payload, as ``bytes``."""
    def view(self) -> memoryview:
        """A read-only memoryview of the payload in place (no copy);
        same as ``memoryview(event)``."""
    def release(self) -> None:
        """Gives the event's slot back now (idempotent). Later reads of the
        payload raise ``Released``; raises ``BufferError`` while a
        memoryview of it is open."""
    @property
    def released(self) -> bool:
        """Whether ``release()`` was called."""
    def __len__(self) -> int: ...
    def __bool__(self) -> bool:
        """Always ``True``, even for an empty payload (so
        ``while (event := reader.try_read()):`` does not stop at one)."""
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None:
        """Releases the event; with memoryviews of it still open, its slot
        goes back when the last of them is released."""

class Writer:
    """The one writer of a runtime (``Runtime.writer()``). Every publish is
    visible to readers when the call returns. Closing it, or dropping the
    last reference to it, closes the stream (``rt.writer().publish(...)``
    publishes one event and closes): keep the writer while publishing.

    ``timeout``: ``None`` waits for room as long as it takes, a number of
    seconds waits that long at most (then ``Timeout``), ``0`` does not wait
    (then ``Full``). The GIL is released while waiting."""

    def publish(self, data: Buffer, event_type: int = 0, *, timeout: Optional[float] = None) -> int:
        """Copies ``data`` into a slot of the smallest size class that
        holds it and publishes it as one event. Returns its sequence
        number."""
    def try_publish(self, data: Buffer, event_type: int = 0) -> int:
        """``publish`` that never waits: raises ``Full`` if there is no
        room now."""
    def publish_batch(self, items: Iterable[Buffer], event_type: int = 0, *, timeout: Optional[float] = None) -> int:
        """Publishes every item, in order, as one batch: one store of the
        published cursor for all of them. Returns how many were published.
        Every item is checked (buffer, size) before any is published; if
        waiting for room fails partway, the events before are published and
        the error's ``published`` says how many (every exception that
        ends a batch call carries it, ``KeyboardInterrupt`` and ``Closed``
        too)."""
    def publish_packed(
        self, data: Buffer, lengths: Union[int, Sequence[int]], event_type: int = 0, *, timeout: Optional[float] = None
    ) -> int:
        """Publishes the events packed back to back in one buffer, as one
        batch: ``lengths`` is either every event's length in order (they
        must add up to ``len(data)``), or one length that splits ``data``
        into equal events (it must divide ``len(data)``). Returns how many
        were published; errors as ``publish_batch``."""
    @property
    def published(self) -> int:
        """Events published so far (the next event's sequence number)."""
    def close(self) -> None:
        """Closes the stream: readers read what is left, then see
        ``Closed``. Later calls on this writer raise ``Closed``.
        Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None:
        """Closes the writer."""

class Reader:
    """A reader of a runtime (``Runtime.reader()``): sees every event
    published after it joined (or every event the ring still holds, with
    ``from_oldest=True``), in order.

    Iterating waits for each next event and stops when the writer closed
    the stream (``Closed``) and every event was read. It is not exhausted
    for good: iterated again, it yields the events of a writer that reopened
    the stream. A ``close()`` of the reader from another thread ends a
    waiting iteration with ``Closed`` (the reader's end, not the stream's). ``timeout`` as on
    ``Writer``: ``None`` waits as long as it takes, a number of seconds at
    most that long (then ``Timeout``). The GIL is released while waiting."""

    def read(self, timeout: Optional[float] = None) -> Event:
        """The next event. Raises ``Timeout``, ``Closed``, ``Lagged`` or
        ``WriterDead``."""
    def try_read(self) -> Optional[Event]:
        """The next event if there is one now, else ``None``. Raises as
        ``read`` for the stream's end."""
    def read_batch(self, max_events: int = 256, timeout: Optional[float] = None) -> list[Event]:
        """The events available now, at most ``max_events`` of them (the
        rest stay for the next call), waiting (up to ``timeout``) for the
        first. Raises as ``read`` when there is not even one."""
    def __iter__(self) -> Iterator[Event]: ...
    def __next__(self) -> Event: ...
    @property
    def lossy(self) -> bool:
        """Whether the writer may lap this reader (``lossy=True`` at join)."""
    @property
    def lag(self) -> int:
        """Events published that this reader has not read yet."""
    @property
    def lost(self) -> int:
        """Events this lossy reader missed, in all."""
    @property
    def cursor(self) -> int:
        """The sequence number of the next event it reads."""
    def close(self) -> None:
        """Leaves the runtime (it no longer holds the writer back). Later
        reads raise ``Closed``. Idempotent. Events already read stay
        valid."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None:
        """Closes the reader."""

class Runtime:
    """A slotcast runtime: a ring of events and pools of slots, in this
    process or shared through a file."""

    def __init__(
        self,
        *,
        ring_capacity: Optional[int] = None,
        slots: Optional[Mapping[str, int]] = None,
        max_readers: Optional[int] = None,
        wait: WaitStrategy = "blocking",
    ) -> None:
        """An in-process runtime. ``slots`` maps size-class names (``"XS"``
        … ``"XL"``, any case) to their slot counts (0 removes a class); the
        rest keep their defaults. ``ring_capacity`` is a power of two.
        ``ValueError`` for an unknown class or wait strategy and for
        settings the runtime refuses (a ring that is not a power of two,
        too many slots)."""
    @staticmethod
    def create_shared(
        path: str,
        *,
        ring_capacity: Optional[int] = None,
        slots: Optional[Mapping[str, int]] = None,
        max_readers: Optional[int] = None,
        max_processes: Optional[int] = None,
        wait: WaitStrategy = "blocking",
        mode: int = 0o600,
    ) -> Runtime:
        """Creates a runtime in a new file at ``path`` that other processes
        open with ``Runtime.open``. Raises ``FileExistsError`` if it
        exists. The file lives as long as a process has it open: the last
        one to close it (its last ``Runtime``, writer, reader or event gone)
        removes it."""
    @staticmethod
    def open(path: str, *, recover_stale: bool = False, wait_for_creator: float = 1.0) -> Runtime:
        """Opens the shared runtime another process created at ``path``,
        waiting up to ``wait_for_creator`` seconds (``inf``: as long as it
        takes) for its creator to finish setting it up; ``recover_stale``
        takes over a file whose processes all died."""
    @property
    def path(self) -> Optional[str]:
        """The file of a shared runtime; ``None`` in process."""
    @property
    def published(self) -> int:
        """Events published so far."""
    def writer(self) -> Writer:
        """Takes the writer role. Raises ``WriterTaken``."""
    def reader(self, *, lossy: bool = False, from_oldest: bool = False) -> Reader:
        """Joins a reader. A gating reader (the default) holds the writer
        back rather than miss an event; a lossy one never holds it back and
        raises ``Lagged`` when lapped. ``from_oldest`` starts at the oldest
        event the ring still holds instead of the next one published.
        Raises ``TooManyReaders``."""
    def stats(self) -> dict[str, Any]:
        """A snapshot: ``published``, ``writer_pid`` (or ``None``),
        ``readers`` (a list of dicts: ``pid``, ``cursor``, ``lag``,
        ``lossy``, ``lost``, ``alive``), ``processes`` (``pid``, ``alive``,
        ``writer``, ``retained``) and ``pools`` (class name to ``slots``,
        ``in_ring``, ``retained``, ``in_use``)."""
