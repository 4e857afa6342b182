"""Fake `ntptime`: time() is the host's time (+ fakehw "ntp_offset") in the
port's epoch, or OSError(ETIMEDOUT) while fakehw "ntp_fail" is true."""
import time as _time

import fakehw

host = "pool.ntp.org"
timeout = 1


def time():
    fakehw.record("ntp", host, timeout)
    if fakehw.get("ntp_fail"):
        raise OSError(110)
    return int(_time.time()) + fakehw.get("ntp_offset", None, 0)


def settime():
    fakehw.record("settime")
