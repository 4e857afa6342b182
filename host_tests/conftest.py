"""Shared pytest set-up: firmware/ importable, tools on PATH, paths to the runtimes."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, os.path.join(ROOT, "host_tests", "unit"))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
BIN = os.path.dirname(sys.executable)
MICROPYTHON = os.path.join(BIN, "micropython")
# The 64-bit unix port needs about twice the heap of a 32-bit board: 384k here
# stands for the ~190 KB an ESP32 without PSRAM leaves to MicroPython.
MP_HEAP = os.environ.get("MP_HEAP", "384k")

import pytest  # noqa: E402


@pytest.fixture(params=["micropython", "cpython"])
def runtime(request):
    """End-to-end tests run the firmware on both runtimes."""
    return request.param


@pytest.fixture
def csms():
    """A real CSMS on 127.0.0.1 (tools/csms.py); every station frame is schema-checked."""
    from csms import CSMS
    c = CSMS().start()
    yield c
    c.stop()
    assert not c.violations, c.violations
