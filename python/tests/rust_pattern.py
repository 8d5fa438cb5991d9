"""The self-checking payloads of the Rust examples (``examples/common/pattern.rs``),
made and checked with NumPy, many events at once.

Layout of a payload of ``length >= MIN_LEN`` bytes (all little-endian): the
sequence number in ``[0, 8)``, a fill derived from it in ``[8, length - 8)``,
and in ``[length - 8, length)`` a checksum of everything before it. The Rust
reader (``examples/ipc_reader.rs``) checks the checksum and the sequence of
every event; the Rust writer (``examples/ipc_writer.rs``) fills every event
so. Writing both halves here in NumPy keeps 100,000 events to a few
milliseconds of Python instead of seconds of per-byte loops.

NumPy's ``uint64`` array arithmetic wraps like Rust's ``wrapping_mul``; every
value below is kept in arrays (never NumPy scalars, whose overflow warns).
"""

import numpy as np

MIN_LEN = 16
MAX_LEN = 16384

_K = np.array(0x9E3779B97F4A7C15, dtype=np.uint64)
_FILL_K = np.array(0xD6E8FEB86659FD93, dtype=np.uint64)
_LANES = (0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89)
_S31 = np.uint64(31)
_S33 = np.uint64(33)
_S32 = np.uint64(32)


def _mix(lane, word):
    """``(lane ^ word).wrapping_mul(K).rotate_left(31)``, element-wise."""
    x = (lane ^ word) * _K
    return (x << _S31) | (x >> _S33)


def _words(data, start, count):
    """``count`` little-endian u64 words of each row of ``data`` from byte ``start``."""
    return np.ascontiguousarray(data[:, start : start + 8 * count]).view("<u8").astype(np.uint64)


def checksum(data):
    """The checksum of each row of ``data`` (an ``(n, length)`` uint8 array),
    as ``pattern::checksum`` computes it: four lanes over 32-byte blocks, the
    leftover words into the first, then the zero-padded tail."""
    n, length = data.shape
    lanes = [np.full(n, v, dtype=np.uint64) for v in _LANES]
    blocks = length // 32
    if blocks:
        words = _words(data, 0, 4 * blocks).reshape(n, blocks, 4)
        for b in range(blocks):
            for lane in range(4):
                lanes[lane] = _mix(lanes[lane], words[:, b, lane])
    a, b, c, d = lanes
    rest = length - 32 * blocks
    for w in range(rest // 8):
        a = _mix(a, _words(data, 32 * blocks + 8 * w, 1)[:, 0])
    tail_at = 32 * blocks + 8 * (rest // 8)
    tail = np.zeros((n, 8), dtype=np.uint8)
    tail[:, : length - tail_at] = data[:, tail_at:]
    h = _mix(a, np.full(n, length, dtype=np.uint64))
    for lane in (b, c, d, tail.view("<u8")[:, 0].astype(np.uint64)):
        h = _mix(h, lane)
    return h ^ (h >> _S32)


def fill(sequences, length):
    """The payloads of events ``sequences`` (an array of sequence numbers),
    each ``length`` bytes: an ``(n, length)`` uint8 array, as
    ``pattern::fill`` writes them."""
    if not MIN_LEN <= length <= MAX_LEN:
        raise ValueError(f"a self-checking payload is {MIN_LEN}..={MAX_LEN} bytes, not {length}")
    seqs = np.asarray(sequences, dtype=np.uint64)
    n, body = len(seqs), length - 8
    out = np.zeros((n, length), dtype=np.uint8)
    out[:, :8] = seqs.astype("<u8").reshape(n, 1).view(np.uint8)
    base = seqs * _K
    nwords = (body - 8) // 8
    if nwords:
        index = np.arange(1, nwords + 1, dtype=np.uint64) * _FILL_K
        words = (base.reshape(n, 1) ^ index.reshape(1, nwords)).astype("<u8")
        out[:, 8 : 8 + 8 * nwords] = words.view(np.uint8).reshape(n, 8 * nwords)
    for i in range(8 + 8 * nwords, body):
        k = i - 8 - 8 * nwords
        out[:, i] = ((base >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.uint8)
    out[:, body:] = checksum(out[:, :body]).astype("<u8").reshape(n, 1).view(np.uint8)
    return out


def mixed_length(sequence):
    """The length of event ``sequence`` in the streams the tests publish to
    the Rust reader: every size class and the lengths at their edges, most
    events small, as ``pattern::mixed_len`` spreads them."""
    r = sequence % 100
    if r == 0:
        return 16384
    if r == 1:
        return 4096
    if r <= 4:
        return (1024, 1025, 257)[r - 2]
    if r <= 14:
        return 256 if r % 2 else 65
    return (16, 64, 17, 63, 40)[r % 5]
