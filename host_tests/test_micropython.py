"""Every firmware unit test module, run again under the MicroPython unix port.

pytest runs host_tests/unit/test_*.py on CPython directly; this file runs the
same modules under `micropython -X heapsize=256k` with tools/mprun.py, one
pytest test per module, so a failure on either runtime fails the build.
"""
import glob
import os
import subprocess

import pytest

from conftest import ROOT, MICROPYTHON, MP_HEAP

MODULES = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "host_tests", "unit", "test_*.py")))


@pytest.mark.parametrize("module", MODULES, ids=[os.path.basename(m)[:-3] for m in MODULES])
def test_module_on_micropython(module):
    p = subprocess.run([MICROPYTHON, "-X", "heapsize=" + MP_HEAP, "tools/mprun.py", module],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert " passed, 0 failed" in out, out
