"""OCPP-J 2.0.1 codec: framing, encoders and table-driven payload validation.

decode() reads a frame and checks its structure only; validate() checks a
payload against the tables in protocol/schema.py (generated from the official
JSON schemas by tools/gen_schema.py). Every problem is a CallError carrying
the CALLERROR code of OCPP-J 2.0.1 section 4.3; docs/codec.md has the mapping
and the reasons. Runs unchanged on MicroPython and CPython.

Speed notes (MicroPython): nothing on the success path allocates beyond
json.loads (decode returns the list it built; a block of more than 16 bytes
is slow to find in a heap full of garbage). A call whose frame (locals +
value stack + 3 words a try) exceeds 11 words gets its frame from the heap,
so the success-path functions (decode, _fast, _ok, _okv, _tup, _open, _dt,
validate) are kept that small: one try each at most, few locals, error
construction moved out to helpers. Validation walks with a yes/no fast
path (_ok/_okv/_tup) that builds nothing; only when it says no does the
slow path (_slow, then _eval) walk again to find the code and path.
On CPython, json's C scanner and a regex take over parsing and date-times
(protocol/codec_cpython.py).
"""
import json

from compat import IS_MPY
from protocol.schema import REQ, RES

CALL = 2
CALLRESULT = 3
CALLERROR = 4

# Builtins as module globals: MicroPython caches a global's slot, while a
# builtin costs a failed globals lookup first; this halves _ok's time.
_type, _int, _str, _dict, _list, _tuple, _float, _len = type, int, str, dict, list, tuple, float, len



class CallError(Exception):
    """A problem to answer with a CALLERROR.

    code: the OCPP-J error code; description: names the offending path;
    details: a dict (the CALLERROR errorDetails); msg_id: the message id the
    CALLERROR answers ("-1" when it could not be read, None when the raiser
    did not know it); msg_type: CALL/CALLRESULT/CALLERROR when the frame said
    so (OCPP-J answers only a CALL with a CALLERROR), else None.
    """

    def __init__(self, code, description="", details=None, msg_id=None, msg_type=None):
        super().__init__(code, description)
        self.code = code
        self.description = description
        self.details = details or {}
        self.msg_id = msg_id
        self.msg_type = msg_type


def known(action):
    """True when the action is in the tables (its inbound message resident, the other on demand)."""
    return action in REQ or action in RES


# ---------------------------------------------------------------- encoders

_SEP = {"separators": (",", ":")}
try:
    json.dumps([], **_SEP)
except TypeError:  # a MicroPython port built without separators support
    _SEP = {}


def dumps(obj):
    """Compact JSON text (no spaces), as every frame is."""
    return json.dumps(obj, **_SEP)


def call(msg_id, action, payload):
    """A CALL frame as compact JSON text."""
    return dumps([2, msg_id, action, payload])


def result(msg_id, payload):
    """A CALLRESULT frame as compact JSON text."""
    return dumps([3, msg_id, payload])


def error(msg_id, code, description="", details=None):
    """A CALLERROR frame; the description is cut to the 255 characters OCPP-J allows."""
    return dumps([4, msg_id, code, description[:255], details or {}])


# ---------------------------------------------------------------- decoder

_BAD = object()  # decode: not JSON
_JSONERR = (ValueError, TypeError)
# Frames too deep or too large to parse: CPython's RecursionError (a
# RuntimeError), and MicroPython's MemoryError, as its json.loads keeps its
# stack and strings on the heap (a frame nested a few thousand deep, or a
# string of kB when no free block is that large). A frame we cannot read, not
# a reason to drop the connection (host_tests/test_fuzz.py, docs/robustness.md).
_TOOBIG = (RuntimeError, MemoryError)
_loads = json.loads


def decode(text):
    """Parse one OCPP-J frame (str or bytes); check its structure, not its payload.

    Returns a list of four: [CALL, msg_id, action, payload],
    [CALLRESULT, msg_id, payload, None] or [CALLERROR, msg_id,
    (code, description, details), None]; raises CallError. For a CALL and a
    CALLRESULT it is the list json.loads built (the CALLRESULT's None goes
    in the slot the list has spare): nothing is allocated beyond the parse.
    """
    try:
        a = _loads(text)
    except _JSONERR:
        a = _BAD
    except _TOOBIG:
        a = text    # never what json.loads returns: _frame_error tells it so
    # OCPP-J: the message id is a string of at most 36 characters
    if _type(a) is _list and _len(a) > 2 and _type(a[0]) is _int and _type(a[1]) is _str \
            and _len(a[1]) <= 36:
        if a[0] == 2:
            if _len(a) == 4 and _type(a[2]) is _str:
                return a
        elif a[0] == 3:
            if _len(a) == 3:
                a.append(None)
                return a
        elif a[0] == 4:
            if _len(a) == 5 and _type(a[2]) is _str and _type(a[3]) is _str and _type(a[4]) is _dict:
                return [4, a[1], (a[2], a[3], a[4]), None]
    raise _frame_error(a, text)


def _frame_error(a, text):
    """The CallError for a frame decode() did not accept (the slow path).

    The code says what is wrong (docs/codec.md); the description only
    narrows it down. a is text: too deep or too large to parse, when the
    frame's first bytes read as a CALL ('[2,"<id>"') the CSMS still learns
    which request failed.
    """
    if a is text:
        a = _BAD
        try:
            h = text[:48]
            if type(h) is not str:
                h = str(bytes(h), "utf-8")
            h = h.replace(" ", "")
            j = h.find('"', 4)
            if h[:4] == '[2,"' and 4 <= j <= 40 and "\\" not in h[4:j]:
                return CallError("RpcFrameworkError", "frame too deep or too large to read", None, h[4:j], 2)
        except (ValueError, MemoryError):
            pass
    if a is _BAD or type(a) is not list or len(a) < 2 or type(a[1]) is not str or len(a[1]) > 36:
        return CallError("RpcFrameworkError", "invalid JSON" if a is _BAD else "bad message id",
                         None, "-1")
    t = a[0]
    if type(t) is int and 1 < t < 5:  # CALL, CALLRESULT, CALLERROR: wrong length or element types
        return CallError("ProtocolError", "malformed frame", None, a[1], t)
    # a type that is not an integer: not an RPC message at all
    return CallError("MessageTypeNotSupported" if type(t) is int else "RpcFrameworkError",
                     "bad message type", None, a[1])


# ---------------------------------------------------------------- validation
#
# Table format (protocol/schema.py): a spec is
#   int >= 0      string with that maxLength (0x3FFFFFFF: unbounded)
#   -1 -2 -3 -4   integer, number, boolean, date-time string
#   tuple         (str, ...) enum | (min, max, item) array | (-1|-2, lo, hi) bounded number
#                 | (-5, dict) object allowing extra properties (customData)
#   dict          object {0: required names, [1: True: extra properties allowed], name: spec}
# Draft 4 types: integer is a JSON number without a fraction or exponent
# (json gives int), so 5.0 is not an integer; a bool is neither integer nor
# number, although Python's bool is an int subclass (type() is bool).

# days in month m & 15 (Feb 29; 0 for months 0, 13-15); a byte's digit value, 99 for a non-digit
_MDAYS = b"\x00\x1f\x1d\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f\x00\x00\x00"
_DIG = b"c" * 48 + bytes(range(10)) + b"c" * 198     # "c": 99


def _dt(v):
    """RFC 3339 section 5.6 date-time with a real calendar date: True/False.

    YYYY-MM-DD"T"hh:mm:ss[.f+]("Z"|+hh:mm|-hh:mm), T and Z in either case,
    second 60 allowed (leap second) as RFC 3339 and compat.parse_iso allow.
    Byte arithmetic on the UTF-8 form, nothing sliced; every byte is checked
    against an ASCII one, so a non-ASCII character never passes. A field's
    value is read through _DIG, where a non-digit is 99, so one range test
    per field also checks its digits: "limit - value" for every field and
    "-(byte ^ separator)" for every separator or-ed, negative when one is
    wrong. Never laxer than compat.parse_iso (host_tests/unit/test_codec.py).
    """
    b = v.encode()
    n = _len(b)
    if n < 20:
        return False
    t = _DIG
    i = t[b[5]] * 10 + t[b[6]]  # month
    n = t[b[8]] * 10 + t[b[9]]  # day (month 0 or 13-15: _MDAYS 0, below any day)
    if ((12 - i) | (n - 1) | (_MDAYS[i & 15] - n) | (23 - t[b[11]] * 10 - t[b[12]])
            | (59 - t[b[14]] * 10 - t[b[15]]) | (60 - t[b[17]] * 10 - t[b[18]])
            | (15 - (t[b[0]] | t[b[1]] | t[b[2]] | t[b[3]]))
            | -((b[4] ^ 45) | (b[7] ^ 45) | ((b[10] | 32) ^ 116) | (b[13] ^ 58) | (b[16] ^ 58))) < 0:
        return False
    if i == 2 and n == 29:
        i = t[b[0]] * 1000 + t[b[1]] * 100 + t[b[2]] * 10 + t[b[3]]  # year
        if i % 4 or (i % 100 == 0 and i % 400):
            return False
    i = _len(b) - 1
    if i == 23 and b[19] == 46 and b[23] | 32 == 122:  # ".sssZ", what compat.iso writes
        return t[b[20]] | t[b[21]] | t[b[22]] < 16
    if b[i] | 32 != 122:  # not "Z": "+hh:mm" or "-hh:mm"
        i -= 5
        if i < 19 or (b[i] != 43 and b[i] != 45) or b[i + 3] != 58 \
                or (23 - t[b[i + 1]] * 10 - t[b[i + 2]] | 59 - t[b[i + 4]] * 10 - t[b[i + 5]]) < 0:
            return False
    # b[19:i]: nothing, or "." and one digit or more
    if i == 19:
        return True
    if b[19] != 46 or i == 20:
        return False
    for n in range(20, i):
        if t[b[n]] > 9:
            return False
    return True


def _ok(d, o):
    """Fast path: does dict d satisfy object table o? Builds nothing.

    A property the table does not have raises KeyError (o[k]), caught once
    per message in _fast: cheaper than a .get() and a None test per key.
    Open objects (customData, extra properties allowed) never come here:
    their spec is (-5, table), checked by _tup with _open. Scalars, enums
    and objects are checked inline, arrays and the other tuples by _tup.
    """
    for k in o[0]:
        if k in d:
            continue
        return False
    for k in d:
        s = o[k]
        k = d[k]  # the value from here on: a local fewer keeps the frame off the heap
        # each check continues to the next key when it holds (one jump, no not)
        if _type(s) is _int:
            if s >= 0:
                if _type(k) is _str and _len(k) <= s:
                    continue
            elif s == -1:
                if _type(k) is _int:
                    continue
            elif s == -4:
                if _type(k) is _str and _dt(k):
                    continue
            elif s == -2:
                if _type(k) is _int or _type(k) is _float:
                    continue
            elif k is True or k is False:
                continue
        elif _type(s) is _dict:
            if _type(k) is _dict and _ok(k, s):
                continue
        elif _type(s[0]) is _str:  # enum: a non-string is never equal to a member
            if k in s:
                continue
        elif _tup(k, s):
            continue
        return False
    return True


def _open(d, o):
    """_ok for an object that allows extra properties."""
    for k in o[0]:
        if k not in d:
            return False
    for k in d:
        if k in o and not _okv(d[k], o[k]):
            return False
    return True


def _fast(d, o):
    try:
        return _ok(d, o)
    except KeyError:  # a property the schema does not have
        return False


def _okv(v, s):
    """Fast path for any spec."""
    if _type(s) is _int:
        if s >= 0:
            return _type(v) is _str and _len(v) <= s
        if s == -1:
            return _type(v) is _int
        if s == -2:
            return _type(v) is _int or _type(v) is _float
        if s == -3:
            return v is True or v is False
        return _type(v) is _str and _dt(v)
    if _type(s) is _dict:
        return _type(v) is _dict and _ok(v, s)
    if _type(s[0]) is _str:  # enum: a non-string is never equal to a member
        return v in s
    return _tup(v, s)


def _tup(v, s):
    """Fast path for an array, an open object or a bounded number (a tuple spec, not an enum).
    Array items that are objects, integers or enums are checked inline."""
    if s[0] >= 0:  # array
        if _type(v) is not _list or _len(v) < s[0] or _len(v) > s[1]:
            return False
        s = s[2]
        if _type(s) is _dict:
            for x in v:
                if _type(x) is _dict and _ok(x, s):
                    continue
                return False
        elif s == -1:
            for x in v:
                if _type(x) is _int:
                    continue
                return False
        elif _type(s) is _tuple and _type(s[0]) is _str:
            for x in v:
                if x in s:
                    continue
                return False
        else:
            for x in v:
                if _okv(x, s):
                    continue
                return False
        return True
    if s[0] == -5:  # open object
        return _type(v) is _dict and _open(v, s[1])
    return _okv(v, s[0]) and (s[1] is None or v >= s[1]) and (s[2] is None or v <= s[2])


# The explain path: same checks, run only after _ok said no. Returns None or
# [code, what, segment, ...] with the path segments (".key", "[i]") appended
# innermost first while the error unwinds.

def _eval(v, s):
    w = "string"  # what a type error expects
    t = type(s)
    if t is int:
        if _okv(v, s):
            return None
        if -4 < s < 0:
            w = ("integer", "number", "boolean")[~s]
        elif type(v) is str:
            return ["PropertyConstraintViolation", "maxLength %d" % s if s >= 0 else "date-time expected"]
    elif t is dict or s[0] == -5:  # object: closed, or open (1 in s: extra properties allowed)
        if type(v) is dict:
            if t is not dict:
                s = s[1]
            for k in s[0]:
                if k not in v:
                    return ["OccurrenceConstraintViolation", "required", "." + k]
            for k in v:
                if k in s:
                    e = _eval(v[k], s[k])
                    if e:
                        e.append("." + k)
                        return e
                elif 1 not in s:
                    return ["FormatViolation", "unknown property", "." + k]
            return None
        w = "object"
    elif type(s[0]) is str:  # enum
        if v in s:
            return None
        if type(v) is str:
            return ["PropertyConstraintViolation", "not in enum"]
    elif s[0] >= 0:  # array
        if type(v) is list:
            if len(v) < s[0]:
                return ["OccurrenceConstraintViolation", "minItems %d" % s[0]]
            if len(v) > s[1]:
                return ["OccurrenceConstraintViolation", "maxItems %d" % s[1]]
            i = 0
            for x in v:
                e = _eval(x, s[2])
                if e:
                    e.append("[%d]" % i)
                    return e
                i += 1
            return None
        w = "array"
    else:  # bounded number: its type, else the bound it breaks
        if _okv(v, s):
            return None
        return _eval(v, s[0]) or ["PropertyConstraintViolation", "minimum %s" % s[1]
                                  if s[1] is not None and v < s[1] else "maximum %s" % s[2]]
    return ["TypeConstraintViolation", w + " expected"]


def _slow(action, is_request, payload, msg_id, t):
    """validate() when the fast path said no, or when t is None: then the
    action is one of the station's own messages, whose tables (schema_out.py)
    load on first use (the station never checks what it sends, tests and
    tools do; deploy leaves schema_out out, tools/mpy_build.py HOST_ONLY, so
    on a device such an action is unknown: NotImplemented) and the explain
    path is their validator. Raises the CallError of the first violation."""
    own = t is None
    if own and known(action):
        try:
            from protocol import schema_out
            t = (schema_out.REQ if is_request else schema_out.RES).get(action)
        except ImportError:
            pass
    if t is None:
        raise CallError("NotImplemented", "unknown action " + str(action)[:64], None, msg_id)
    e = _eval(payload, t)
    if e is None:
        if own:
            return
        e = ["InternalError", "validator inconsistency"]    # the two paths disagree: a bug
    p = "".join(e[:1:-1])[1:]  # the segments outermost first, without the root's "."
    # a payload that is not an object does not have the message's shape
    raise CallError(e[0] if p or type(payload) is dict else "FormatViolation",
                    (p + ": " if p else "") + e[1], None, msg_id)


def validate(action, is_request, payload, msg_id=None):
    """Check a CALL payload (is_request) or a CALLRESULT payload of `action`.

    Raises CallError: NotImplemented for an action not in the tables, else the
    code of the first violation with its path in the description; msg_id,
    when given, is put in the CallError.
    """
    t = (REQ if is_request else RES).get(action)
    if t is None or _type(payload) is not _dict or (payload or t[0]) and not _fast(payload, t):
        _slow(action, is_request, payload, msg_id, t)


if not IS_MPY:  # CPython: json's C scanner and one regex do the same (protocol/codec_cpython.py)
    from protocol.codec_cpython import loads as _loads, dt as _dt
