"""Fixtures of the Python package's tests: paths for shared runtimes, and
the Rust example programs that the cross-process tests run."""

import faulthandler
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import slotcast

#: The repository's root (this file is python/tests/conftest.py).
ROOT = Path(__file__).resolve().parents[2]


def pytest_report_header(config):
    # Which module the tests run against: the installed wheel's, not a
    # build lying in the source tree.
    return f"slotcast module: {slotcast.__file__}"


#: Seconds any one test may take. Every wait in the tests has a timeout of
#: its own; this is the net under them, for a call that ignores its
#: timeout while holding the GIL (no Python-level timer could fire then).
TEST_DEADLINE = 600


@pytest.fixture(autouse=True)
def _deadline():
    # faulthandler's watchdog is a C thread: it dumps every thread's stack
    # and ends the run even when the GIL is never released.
    faulthandler.dump_traceback_later(TEST_DEADLINE, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _shm_dir():
    # Shared runtimes live in files; /dev/shm keeps them in memory, as users
    # are told to.
    return Path("/dev/shm") if Path("/dev/shm").is_dir() else Path("/tmp")


@pytest.fixture
def shm_path():
    """A path for a shared runtime's file that does not exist yet; removed
    after the test if something made it."""
    path = _shm_dir() / f"slotcast-pytest-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    yield str(path)
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _target_dir():
    # As cargo: CARGO_TARGET_DIR if set (relative to where cargo runs,
    # which is ROOT below), else the workspace's target/.
    env = os.environ.get("CARGO_TARGET_DIR")
    return (ROOT / env) if env else ROOT / "target"


@pytest.fixture(scope="session")
def rust_example():
    """``rust_example(name)``: the path of ``examples/NAME.rs`` built in
    release mode, building it first (``cargo build --release --example
    NAME``) if it is not in the target directory."""
    built = {}

    def get(name):
        if name in built:
            return built[name]
        exe = _target_dir() / "release" / "examples" / name
        if not exe.is_file():
            # A fresh clone: build it. Its output goes to our stderr, which
            # pytest shows if the test fails.
            result = subprocess.run(
                ["cargo", "build", "--release", "--example", name],
                cwd=ROOT,
                stdout=sys.stderr,
                stderr=sys.stderr,
                timeout=900,
            )
            if result.returncode != 0 or not exe.is_file():
                pytest.fail(f"`cargo build --release --example {name}` failed ({result.returncode}); no {exe}")
        built[name] = exe
        return exe

    return get
