"""CPython's path through protocol/codec.py: the same checks, done by C code CPython has.

protocol/codec.py imports this on CPython only (compat.IS_MPY) and takes
from it the two functions where CPython has a much faster way than the
codec's own bytecode, which is written for MicroPython:

- loads(): json.loads without its Python-level wrapper. json.loads runs a
  few Python calls and two regex matches around the C scanner; for a frame
  that is a plain str (no leading or trailing whitespace, no BOM) it calls
  the scanner exactly as here, so the result and the errors are the same.
  Anything else goes to json.loads itself.
- dt(): the date-time check as one regular expression, the calendar
  included (days per month, Feb 29 in leap years): the language of
  codec._dt, which host_tests/unit/test_codec.py checks both against.

A device never imports it: deploy does not copy it (tools/mpy_build.py
HOST_ONLY), so it costs no flash.
"""
import json
import re

_scan = json.JSONDecoder().scan_once  # what json.loads ends in, with the same defaults


def loads(s):
    try:
        o, n = _scan(s, 0)
    except (StopIteration, TypeError):  # no value at 0 (whitespace, BOM, nothing), bytes
        return json.loads(s)
    if n != len(s):  # trailing whitespace, or extra data: json.loads decides
        return json.loads(s)
    return o


_D2 = "(?:0[1-9]|1[0-9]|2[0-8])"  # a day every month has
dt = re.compile(
    "(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:%s|29|30|31)|(?:0[469]|11)-(?:%s|29|30)|02-%s)"
    "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"  # leap years
    "[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\\.[0-9]+)?"
    "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])" % (_D2, _D2, _D2)).fullmatch
