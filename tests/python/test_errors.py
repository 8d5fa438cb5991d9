"""Bad input from Python: every status code the C ABI can return on Linux,
through the slotcast_ctypes.py client where it exposes the call and through the C
functions themselves (slotcast_ctypes.lib) for what the wrapper never passes (null
pointers, handles of the wrong kind).

Run by tests/python.rs with SLOTCAST_LIB set and examples/python on the path:
    python3 -m unittest -v test_errors
ERR_UNSUPPORTED (other platforms only) and ERR_PANIC (a bug in slotcast) are
not provoked here; the Rust unit tests of src/ffi.rs cover the latter.
"""

import ctypes
import os
import shutil
import tempfile
import unittest

import slotcast_ctypes
from slotcast_ctypes import SlotcastError

MS = 0.001


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="slotcast-py-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def raises(self, code, fn, *args, **kwargs):
        with self.assertRaises(SlotcastError) as ctx:
            fn(*args, **kwargs)
        self.assertEqual(ctx.exception.code, code, str(ctx.exception))
        self.assertEqual(ctx.exception.name, slotcast_ctypes.CODE_NAMES[code])
        return ctx.exception


class Codes(Base):
    def test_err_null(self):
        lib = slotcast_ctypes.lib
        self.assertEqual(lib.slotcast_runtime_new(None, None), slotcast_ctypes.ERR_NULL)
        self.assertEqual(lib.slotcast_writer_publish(None, 1, b"x", 1, 0, None), slotcast_ctypes.ERR_NULL)
        self.assertEqual(lib.slotcast_reader_read(None, None, 0, 0, None), slotcast_ctypes.ERR_NULL)
        self.assertEqual(lib.slotcast_runtime_free(None), slotcast_ctypes.ERR_NULL)
        rt = slotcast_ctypes.Runtime.new()
        w = rt.writer()
        self.assertEqual(lib.slotcast_writer_publish(w._h, 1, None, 5, 0, None), slotcast_ctypes.ERR_NULL)
        self.assertEqual(lib.slotcast_runtime_stats(rt._h, None), slotcast_ctypes.ERR_NULL)
        self.assertIn("null", slotcast_ctypes.last_error())

    def test_err_bad_handle(self):
        rt = slotcast_ctypes.Runtime.new()
        w, r = rt.writer(), rt.reader()
        lib = slotcast_ctypes.lib
        # A handle of the wrong kind, memory that is no handle, a misaligned one.
        self.assertEqual(lib.slotcast_writer_publish(r._h, 1, b"x", 1, 0, None), slotcast_ctypes.ERR_BAD_HANDLE)
        self.assertEqual(lib.slotcast_reader_free(w._h), slotcast_ctypes.ERR_BAD_HANDLE)
        self.assertEqual(
            lib.slotcast_runtime_writer(w._h, ctypes.byref(ctypes.c_void_p())), slotcast_ctypes.ERR_BAD_HANDLE
        )
        junk = (ctypes.c_uint64 * 8)(0x1234)
        self.assertEqual(
            lib.slotcast_writer_publish(ctypes.addressof(junk), 1, b"x", 1, 0, None), slotcast_ctypes.ERR_BAD_HANDLE
        )
        self.assertEqual(lib.slotcast_writer_close(w._h.value + 1), slotcast_ctypes.ERR_BAD_HANDLE)
        self.assertEqual(w.publish(b"still fine"), 0)

    def test_err_closed(self):
        rt = slotcast_ctypes.Runtime.new()
        w, r = rt.writer(), rt.reader()
        w.close()
        self.raises(slotcast_ctypes.ERR_CLOSED, w.publish, b"x")
        self.raises(slotcast_ctypes.ERR_CLOSED, w.publish_batch, [b"x"])
        self.raises(slotcast_ctypes.ERR_CLOSED, w.close)
        w2 = rt.writer()  # the role came back
        w2.publish(b"y", 5)
        r.close()
        self.raises(slotcast_ctypes.ERR_CLOSED, r.read, 0)
        self.raises(slotcast_ctypes.ERR_CLOSED, lambda: r.lag)
        rt.close()
        self.raises(slotcast_ctypes.ERR_CLOSED, rt.reader)
        self.raises(slotcast_ctypes.ERR_CLOSED, rt.stats)
        w2.publish(b"z", 6)  # the writer outlives the closed runtime handle
        with slotcast_ctypes.Runtime.new() as scoped:
            pass
        self.raises(slotcast_ctypes.ERR_CLOSED, scoped.writer)

    def test_err_too_large(self):
        rt = slotcast_ctypes.Runtime.new()
        r, w = rt.reader(), rt.writer()
        self.raises(slotcast_ctypes.ERR_TOO_LARGE, w.publish, b"x" * (slotcast_ctypes.MAX_PAYLOAD + 1))
        e = self.raises(
            slotcast_ctypes.ERR_TOO_LARGE, w.publish_batch, [b"ok", b"x" * (slotcast_ctypes.MAX_PAYLOAD + 1)]
        )
        self.assertEqual(e.published, 0)
        e = self.raises(slotcast_ctypes.ERR_TOO_LARGE, w.publish_many, [(1, b"ok"), (1, b"x" * 20000)])
        self.assertEqual(e.published, 0)
        self.assertEqual(w.published, 0, "nothing of a bad batch is published")
        w.publish(b"m" * slotcast_ctypes.MAX_PAYLOAD, 3)
        self.assertEqual(r.read(0), slotcast_ctypes.Event(0, 3, b"m" * slotcast_ctypes.MAX_PAYLOAD))

    def test_err_buffer_too_small(self):
        rt = slotcast_ctypes.Runtime.new()
        r, w = rt.reader(), rt.writer()
        w.publish(b"0123456789" * 10, 4)
        small = bytearray(10)
        self.raises(slotcast_ctypes.ERR_BUFFER_TOO_SMALL, r.read_into, small, 0)
        big = bytearray(100)
        self.assertEqual(r.read_into(big, 0), (0, 4, 100), "nothing was consumed by the failed call")
        self.assertEqual(bytes(big), b"0123456789" * 10)

    def test_err_empty_and_read_timeout(self):
        rt = slotcast_ctypes.Runtime.new()
        r = rt.reader()
        self.raises(slotcast_ctypes.ERR_EMPTY, r.read, 0)
        self.raises(slotcast_ctypes.ERR_TIMEOUT, r.read, MS)
        self.assertEqual(list(r.events(timeout=0)), [])
        self.assertEqual(list(r.events(timeout=MS)), [])

    def test_err_ring_full_and_publish_timeout(self):
        rt = slotcast_ctypes.Runtime.new(ring_capacity=4)
        r, w = rt.reader(), rt.writer()
        for i in range(4):
            w.publish(bytes([i]), 1, timeout=0)
        self.raises(slotcast_ctypes.ERR_RING_FULL, w.publish, b"x", 1, 0)
        self.raises(slotcast_ctypes.ERR_TIMEOUT, w.publish, b"x", 1, MS)
        e = self.raises(slotcast_ctypes.ERR_RING_FULL, w.publish_batch, [b"a", b"b"], 1, 0)
        self.assertEqual(e.published, 0)
        self.assertEqual(r.lag, 4)
        self.assertEqual([ev.data for ev in r.events(timeout=0)], [b"\x00", b"\x01", b"\x02", b"\x03"])
        self.assertEqual(w.publish_batch([b"a", b"b"], 1, 0), 2, "reading made room")

    def test_err_pool_full(self):
        # Two S slots (XS events are carried in the ring and need none).
        rt = slotcast_ctypes.Runtime.new(slots=[0, 2, 0, 0, 0])
        r, w = rt.reader(), rt.writer()
        w.publish(b"a" * 100, timeout=0)
        w.publish(b"b" * 100, timeout=0)
        self.raises(slotcast_ctypes.ERR_POOL_FULL, w.publish, b"c" * 100, 0, 0)
        # No class from M up has slots: too large for this runtime, at once.
        self.raises(slotcast_ctypes.ERR_TOO_LARGE, w.publish, b"x" * 257, 0, 0)
        self.raises(slotcast_ctypes.ERR_TOO_LARGE, w.publish, b"x" * 257, 0, None)  # waiting for ever
        stats = rt.stats()
        self.assertEqual((stats["published"], stats["max_lag"], stats["pools"][1]["in_ring"]), (2, 2, 2))
        del r

    def test_err_writer_taken_and_too_many_readers(self):
        rt = slotcast_ctypes.Runtime.new(max_readers=1)
        w, r = rt.writer(), rt.reader()
        self.raises(slotcast_ctypes.ERR_WRITER_TAKEN, rt.writer)
        self.raises(slotcast_ctypes.ERR_TOO_MANY_READERS, rt.reader)
        del w, r

    def test_err_invalid_config(self):
        self.raises(slotcast_ctypes.ERR_INVALID_CONFIG, slotcast_ctypes.Runtime.new, ring_capacity=1000)
        self.raises(slotcast_ctypes.ERR_INVALID_CONFIG, slotcast_ctypes.Runtime.new, wait_strategy=9)
        self.raises(slotcast_ctypes.ERR_INVALID_CONFIG, slotcast_ctypes.Runtime.new, slots=[0, 0, 0, 0, 0])
        e = self.raises(
            slotcast_ctypes.ERR_INVALID_CONFIG, slotcast_ctypes.Runtime.create_shared, self.path("m"), file_mode=0o1000
        )
        self.assertIn("0777", e.detail)

    def test_err_invalid_argument(self):
        self.raises(slotcast_ctypes.ERR_INVALID_ARGUMENT, slotcast_ctypes.Runtime.open, self.path("any"), flags=0x80)
        rt = slotcast_ctypes.Runtime.new()
        r = rt.reader()
        views = (slotcast_ctypes._EventView * 1)()
        n = ctypes.c_size_t()
        self.assertEqual(
            slotcast_ctypes.lib.slotcast_reader_borrow_batch(r._h, views, 0, 0, ctypes.byref(n)),
            slotcast_ctypes.ERR_INVALID_ARGUMENT,
        )

    def test_err_io(self):
        self.raises(slotcast_ctypes.ERR_IO, slotcast_ctypes.Runtime.create_shared, "/nonexistent-dir/slotcast")
        self.raises(slotcast_ctypes.ERR_IO, slotcast_ctypes.Runtime.open, self.path("missing"))
        with open(self.path("exists"), "wb") as f:
            f.write(b"someone else's")
        self.raises(slotcast_ctypes.ERR_IO, slotcast_ctypes.Runtime.create_shared, self.path("exists"))

    def test_err_bad_file(self):
        with open(self.path("bad"), "wb") as f:
            f.write(b"not a slotcast arena")
        e = self.raises(slotcast_ctypes.ERR_BAD_FILE, slotcast_ctypes.Runtime.open, self.path("bad"))
        self.assertIn("truncated", e.detail)

    def test_err_too_many_processes_and_stale(self):
        path = self.path("shared")
        rt = slotcast_ctypes.Runtime.create_shared(path, max_processes=1, ring_capacity=64)
        self.raises(slotcast_ctypes.ERR_TOO_MANY_PROCESSES, slotcast_ctypes.Runtime.open, path)
        # A copy of a live file has no live process: stale.
        shutil.copyfile(path, self.path("copy"))
        self.raises(slotcast_ctypes.ERR_STALE, slotcast_ctypes.Runtime.open, self.path("copy"))
        recovered = slotcast_ctypes.Runtime.open(self.path("copy"), recover_stale=True)
        recovered.writer().publish(b"alive again")
        del recovered
        self.assertFalse(os.path.exists(self.path("copy")), "the last process out removed it")
        rt.close()
        self.assertFalse(os.path.exists(path))

    def test_err_corrupt(self):
        path = self.path("corrupt")
        rt = slotcast_ctypes.Runtime.create_shared(path)
        r = rt.reader()
        # The published cursor is the first word of the header's third
        # 128-byte line (src/layout.rs; pinned by the layout hash).
        fd = os.open(path, os.O_RDWR)
        os.pwrite(fd, (1 << 40).to_bytes(8, "little"), 256)
        os.close(fd)
        self.raises(slotcast_ctypes.ERR_CORRUPT, r.read, 0)
        with self.assertRaises(SlotcastError) as ctx:
            list(r.events(timeout=0))
        self.assertEqual(ctx.exception.code, slotcast_ctypes.ERR_CORRUPT)

    def test_err_forked(self):
        # A forked child's inherited handles are its parent's: every use is
        # ERR_FORKED, and closing them leaves the parent's file alone.
        path = self.path("forked")
        rt = slotcast_ctypes.Runtime.create_shared(path)
        r = rt.reader()
        w = rt.writer()
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                for fn in (rt.reader, rt.writer, lambda: w.publish(b"x"), lambda: r.read(0)):
                    try:
                        fn()
                        status = 1
                    except SlotcastError as e:
                        if e.code != slotcast_ctypes.ERR_FORKED:
                            status = 2
                r.close()
                w.close()
                rt.close()
            except BaseException:
                status = 3
            os._exit(status)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        w.publish(b"still mine")
        self.assertEqual(r.read(0).data, b"still mine")
        self.assertTrue(os.path.exists(path))

    def test_err_lagged(self):
        rt = slotcast_ctypes.Runtime.new(ring_capacity=4)
        tap, w = rt.reader(lossy=True), rt.writer()
        self.assertTrue(tap.lossy)
        for i in range(12):  # three rings without waiting: the tap holds nothing
            w.publish(bytes([i]), 1, timeout=0)
        e = self.raises(slotcast_ctypes.ERR_LAGGED, tap.read, 0)
        self.assertIsInstance(e, slotcast_ctypes.Lagged)
        self.assertTrue(0 < e.missed < 12)
        self.assertIn(f": {e.missed} events were lost", e.detail)
        self.assertEqual(tap.lost, e.missed)
        rest = [ev.data[0] for ev in tap.events(timeout=0)]
        self.assertEqual(rest, list(range(e.missed, 12)), "on from the oldest event still there, in order")
        self.assertEqual(len(rest) + tap.lost, 12)
        self.assertEqual(rt.reader().lost, 0, "a gating reader loses nothing")

    def test_err_stream_closed(self):
        rt = slotcast_ctypes.Runtime.new()
        r, tap, w = rt.reader(), rt.reader(lossy=True), rt.writer()
        w.publish(b"last words", 2)
        w.close()
        for reader in (r, tap):
            self.assertEqual([ev.data for ev in reader], [b"last words"], "iteration drains, then ends")
            e = self.raises(slotcast_ctypes.ERR_STREAM_CLOSED, reader.read, None)
            self.assertIsInstance(e, slotcast_ctypes.StreamClosed)
        rt.writer().publish(b"reopened")
        self.assertEqual(r.read(0).data, b"reopened")

    def test_err_writer_dead(self):
        # A writer process that exits without closing: not a close.
        path = self.path("dead")
        rt = slotcast_ctypes.Runtime.create_shared(path)
        r = rt.reader()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                child = slotcast_ctypes.Runtime.open(path)
                writer = child.writer()  # kept: freeing it would close the stream
                writer.publish(b"from the child", 3)
                status = 0
            finally:
                os._exit(status)  # dies holding the writer role
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(r.read(5).data, b"from the child")
        e = self.raises(slotcast_ctypes.ERR_WRITER_DEAD, r.read, 5)
        self.assertIsInstance(e, slotcast_ctypes.WriterDead)
        rt.writer().publish(b"taken over")
        self.assertEqual(r.read(0).data, b"taken over")

    def test_reader_flags_are_checked(self):
        rt = slotcast_ctypes.Runtime.new()
        out = ctypes.c_void_p(8)
        for bad in (4, 1 << 31):
            rc = slotcast_ctypes.lib.slotcast_runtime_reader_with(rt._h, bad, ctypes.byref(out))
            self.assertEqual(rc, slotcast_ctypes.ERR_INVALID_ARGUMENT)
            self.assertIsNone(out.value, "cleared on failure")
        self.assertEqual(slotcast_ctypes.lib.slotcast_runtime_reader_with(rt._h, 1, None), slotcast_ctypes.ERR_NULL)
        r = rt.reader()
        self.assertEqual(slotcast_ctypes.lib.slotcast_reader_lost(r._h, None), slotcast_ctypes.ERR_NULL)
        self.assertEqual(
            slotcast_ctypes.lib.slotcast_reader_lost(rt._h, ctypes.byref(ctypes.c_uint64())),
            slotcast_ctypes.ERR_BAD_HANDLE,
        )

    def test_every_code_has_a_distinct_message(self):
        codes = [v for k, v in vars(slotcast_ctypes).items() if k.startswith("ERR_")]
        self.assertEqual(sorted(codes), list(range(-24, 0)))
        messages = {slotcast_ctypes.strerror(c) for c in codes + [slotcast_ctypes.OK]}
        self.assertEqual(len(messages), 25)
        self.assertEqual(slotcast_ctypes.strerror(12345), "unknown status code")

    def test_python_type_errors_never_reach_c(self):
        w = slotcast_ctypes.Runtime.new().writer()
        with self.assertRaises(TypeError):
            w.publish("a str, not bytes")
        with self.assertRaises(TypeError):
            w.publish_batch([b"ok", 5])


class Threads(Base):
    def test_one_writer_shared_by_threads(self):
        """Several Python threads publish through one writer; the C side
        serialises them and a reader sees every event exactly once."""
        import threading

        rt = slotcast_ctypes.Runtime.new(ring_capacity=1024)
        r, w = rt.reader(), rt.writer()
        per_thread, threads = 2000, 4

        def publish(t):
            for i in range(per_thread):
                if i % 2:
                    w.publish(t.to_bytes(2, "little") + i.to_bytes(4, "little"), t)
                else:
                    w.publish_batch([t.to_bytes(2, "little") + i.to_bytes(4, "little")], t)

        workers = [threading.Thread(target=publish, args=(t,)) for t in range(threads)]
        for th in workers:
            th.start()
        seen = {t: [] for t in range(threads)}
        for event in r.events(timeout=5):
            t = int.from_bytes(event.data[:2], "little")
            self.assertEqual(event.event_type, t)
            seen[t].append(int.from_bytes(event.data[2:], "little"))
            if sum(map(len, seen.values())) == per_thread * threads:
                break
        for th in workers:
            th.join()
        for t in range(threads):
            self.assertEqual(seen[t], list(range(per_thread)), f"thread {t}'s events, in its order")


if __name__ == "__main__":
    unittest.main()
