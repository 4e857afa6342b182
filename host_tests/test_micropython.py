"""Every firmware unit test module, run again under the MicroPython unix port.

pytest runs host_tests/unit/test_*.py on CPython directly; this file runs the
same modules under `micropython -X heapsize=384k` (conftest.MP_HEAP) with tools/mprun.py, against
the firmware compiled by mpy-cross (with line numbers; deploy adds -O3), one
pytest test per module, so a failure on either runtime fails the build.
"""
import glob
import os
import re
import subprocess

import pytest

from conftest import ROOT, MICROPYTHON, MP_HEAP

MODULES = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "host_tests", "unit", "test_*.py")))


@pytest.fixture(scope="module")
def mpy_tree():
    """The firmware compiled with mpy-cross as deploy compiles it, line numbers kept: tests run what ships."""
    import mpy_build
    out, _ = mpy_build.build()
    return out


@pytest.mark.parametrize("module", MODULES, ids=[os.path.basename(m)[:-3] for m in MODULES])
def test_module_on_micropython(module, mpy_tree):
    env = dict(os.environ, MPRUN_TREE=os.path.relpath(mpy_tree, ROOT))
    with open(os.path.join(ROOT, module)) as f:
        m = re.search(r'^MPY_HEAP = "(\d+k)"', f.read(), re.M)
    heap = m.group(1) if m else MP_HEAP   # a module that must hold hundreds of monitors says so
    p = subprocess.run([MICROPYTHON, "-X", "heapsize=" + heap, "tools/mprun.py", module],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert " passed, 0 failed" in out, out
