"""Run firmware unit tests under MicroPython, which has no unittest or pytest.

    micropython tools/mprun.py host_tests/unit/test_codec.py [test_name ...]

With MPRUN_TREE=build/mpy it tests the compiled tree instead of the sources.
Imports the module, calls each test_* function (a coroutine function is run
with asyncio), prints one line per test and a closing 'N passed, N failed'.
Exit status 1 when anything failed. pytest drives it (host_tests/test_micropython.py).
"""
import gc
import sys

# MPRUN_TREE names the compiled .mpy tree to test (what deploy copies);
# without it the firmware sources are imported directly.
import os
sys.path.insert(0, os.getenv("MPRUN_TREE") or "firmware")
sys.path.insert(0, "host_tests/unit")


def main(argv):
    path = argv[1]
    only = argv[2:]
    name = path.rsplit("/", 1)[-1][:-3]
    mod = __import__(name)
    passed = failed = 0
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_") or (only and attr not in only):
            continue
        gc.collect()
        fn = getattr(mod, attr)
        if not callable(fn):
            continue
        try:
            r = fn()
            if r is not None and hasattr(r, "send"):
                import asyncio
                asyncio.run(r)
            passed += 1
            print("PASS", attr, gc.mem_alloc() if hasattr(gc, "mem_alloc") else "")
        except Exception as e:
            failed += 1
            print("FAIL", attr)
            sys.print_exception(e)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


sys.exit(main(sys.argv))
