"""protocol.codec against the official OCPP 2.0.1 JSON schemas and jsonschema.

For every message in the tables (19 actions x Request/Response) this builds,
from the official schema in the PyPI `ocpp` package (not from our tables):
valid payloads (required only; every property; every property at its limits),
and a systematic corpus of single-change variants: each required property
dropped, a wrong JSON type for each property (bools in integer fields, 5.0
for integers...), bad and good enum values, maxLength and maxLength+1 (in
characters, with multi-byte UTF-8), empty arrays where minItems is 1,
maxItems+1, an extra property at each object level, bad and good date-times.

jsonschema's Draft4Validator (the validator the `ocpp` package uses) is the
judge: the codec must reject exactly what it rejects, with the CALLERROR code
of the mapping in docs/codec.md and the same path. The same corpus then runs
through the codec under MicroPython (host_tests/clients/codec_corpus.py),
which must give the same verdicts, codes and descriptions as on CPython.

Date-time: jsonschema checks "format" only through the optional
rfc3339-validator package (not installed), so the reference checker here is
a regex of the RFC 3339 section 5.6 grammar plus real calendar days.
"""
import copy
import importlib.util
import json
import os
import re
import subprocess

import jsonschema
import pytest

from conftest import ROOT, MICROPYTHON, MP_HEAP
from protocol import codec

_spec = importlib.util.spec_from_file_location("gen_schema", os.path.join(ROOT, "tools", "gen_schema.py"))
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

MESSAGES = [(a, s) for a in gen.ACTIONS for s in ("Request", "Response")]
IDS = [a + s for a, s in MESSAGES]

FMT, OCC, TYP, PROP = ("FormatViolation", "OccurrenceConstraintViolation",
                       "TypeConstraintViolation", "PropertyConstraintViolation")
# jsonschema keyword -> CALLERROR code (docs/codec.md); a root "type" error is FormatViolation
KEYWORD_CODE = {"required": OCC, "minItems": OCC, "maxItems": OCC, "type": TYP,
                "enum": PROP, "maxLength": PROP, "format": PROP, "minimum": PROP, "maximum": PROP,
                "additionalProperties": FMT}

# ---------------------------------------------------------------- reference date-time

_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
                      r"(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)", re.ASCII)


def rfc3339(s):
    if not isinstance(s, str):
        return True  # format applies to strings only
    m = _RFC3339.fullmatch(s)
    if not m:
        return False
    y, mo, d = int(m[1]), int(m[2]), int(m[3])
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    return 1 <= mo <= 12 and 1 <= d <= days[mo - 1]


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(rfc3339)

_validators = {}


def validator(action, suffix):
    k = (action, suffix)
    if k not in _validators:
        s = gen.load(action, suffix)
        jsonschema.Draft4Validator.check_schema(s)
        _validators[k] = jsonschema.Draft4Validator(s, format_checker=FORMATS)
    return _validators[k]


# ---------------------------------------------------------------- payload builders

def fill(n):
    """n characters of 1-, 2-, 3- and 4-byte UTF-8."""
    return ("a\u00e9\u20ac\U0001F600" * (n // 4 + 1))[:n]


def deref(node, defs):
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def build(node, defs, mode):
    """mode: "min" required only; "full" every property, plain values; "max" every property at its limits."""
    node = deref(node, defs)
    t = node["type"]
    if "enum" in node:
        return node["enum"][-1 if mode == "max" else 0]
    if t == "string":
        if node.get("format") == "date-time":
            return "2026-11-23T19:00:00.123456+01:00" if mode == "max" else "2026-11-23T19:00:00.000Z"
        if mode == "max" and "maxLength" in node:
            return fill(node["maxLength"])
        return "x"
    if t == "integer":
        return 2 ** 64 + 1 if mode == "max" else 1
    if t == "number":
        return -12.5 if mode == "max" else 1
    if t == "boolean":
        return mode == "max"
    if t == "array":
        n = max(node.get("minItems", 0), 1)
        if mode == "max":
            n = node.get("maxItems", 2)
        return [build(node["items"], defs, mode) for _ in range(n)]
    assert t == "object", node
    out = {}
    for k, sub in node.get("properties", {}).items():
        if mode == "min" and k not in node.get("required", ()):
            continue
        out[k] = build(sub, defs, mode)
    if node.get("additionalProperties", True) is not False and mode != "min":
        out["zzVendorExtra"] = {"free": [1, None, "x", {"customData": 5}]}
    return out


def locations(node, defs, value, path=()):
    node = deref(node, defs)
    yield path, node, value
    if node.get("type") == "object" and isinstance(value, dict):
        for k, sub in node.get("properties", {}).items():
            if k in value:
                yield from locations(sub, defs, value[k], path + (k,))
    elif node.get("type") == "array" and value:
        yield from locations(node["items"], defs, value[0], path + (0,))


def _at(p, path):
    for k in path:
        p = p[k]
    return p


def replaced(payload, path, new):
    if not path:
        return copy.deepcopy(new)
    p = copy.deepcopy(payload)
    _at(p, path[:-1])[path[-1]] = copy.deepcopy(new)
    return p


def edited(payload, path, fn):
    p = copy.deepcopy(payload)
    fn(_at(p, path))
    return p


WRONG = {
    "string": [5, 5.5, True, None, [], {}],
    "integer": [5.0, 5.5, 1e20, "5", True, False, None, [], {}],
    "number": ["5", "5.5", True, False, None, [], {}],
    "boolean": [1, 0, "true", "false", None, [], {}],
    "object": ["x", 5, True, None, [], [{}]],
    "array": ["x", 5, True, None, {}],
}
GOOD_DT = ["2026-11-23T19:00:00Z", "2026-11-23t19:00:00z", "2024-02-29T23:59:60.123456789+14:00",
           "2026-01-01T00:00:00-00:00", "2000-02-29T00:00:00.5+05:30", "0000-01-01T00:00:00Z",
           "9999-12-31T23:59:59-23:59"]
BAD_DT = ["", "x", "2026-11-23", "2026-11-23T19:00:00", "2026-11-23 19:00:00Z", "2026-13-01T00:00:00Z",
          "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z",
          "2026-11-23T24:00:00Z", "2026-11-23T19:60:00Z", "2026-11-23T19:00:61Z", "2026-11-23T19:00:00.Z",
          "2026-11-23T19:00:00+24:00", "2026-11-23T19:00:00+01:60", "2026-11-23T19:00:00+0100",
          "+026-11-23T19:00:00Z", "2026-1-23T19:00:00Z", "2026-11-23T19:00:00Z ", "2026-11-23T19:00:00Z\n",
          "\uff12026-11-23T19:00:00Z", "2026-11-23T19:00:00+01:00Z", "2026-11-23T19:00:00+ 1:00",
          "2026-11-23T19:00:00.\u0661Z", "20261-11-23T19:00:00Z"]


def variants(node, value, path, payload):
    """(what, payload) single-change variants of payload at path."""
    t = node["type"]
    for w in WRONG[t]:
        yield "wrong type %r" % (w,), replaced(payload, path, w)
    if "enum" in node:
        for e in node["enum"]:
            yield "enum %s" % e, replaced(payload, path, e)
        for b in ("NotAnEnumValue", node["enum"][0].lower(), node["enum"][0].upper(), node["enum"][0] + " ", ""):
            if b not in node["enum"]:
                yield "bad enum %r" % b, replaced(payload, path, b)
    elif t == "string" and node.get("format") == "date-time":
        for s in GOOD_DT + BAD_DT:
            yield "date-time %r" % s, replaced(payload, path, s)
    elif t == "string":
        ml = node.get("maxLength")
        yield "empty string", replaced(payload, path, "")
        if ml is not None:
            yield "maxLength", replaced(payload, path, fill(ml))
            yield "maxLength+1", replaced(payload, path, fill(ml + 1))
            yield "maxLength+1 ascii", replaced(payload, path, "z" * (ml + 1))
    elif t == "integer":
        for v in (0, -1, 2 ** 31, -(2 ** 63), 2 ** 70):
            yield "integer %r" % v, replaced(payload, path, v)
    elif t == "number":
        for v in (0, -0.5, 5.0, 1e300, 2 ** 70):
            yield "number %r" % v, replaced(payload, path, v)
    elif t == "boolean":
        for v in (True, False):
            yield "boolean %r" % v, replaced(payload, path, v)
    elif t == "array":
        lo, hi = node.get("minItems", 0), node.get("maxItems")
        if lo:
            yield "empty array", replaced(payload, path, [])
        if hi is not None:
            yield "maxItems", replaced(payload, path, [value[0]] * hi)
            yield "maxItems+1", replaced(payload, path, [value[0]] * (hi + 1))
        yield "3 items", replaced(payload, path, [value[0]] * 3)
    elif t == "object":
        for k in node.get("required", ()):
            yield "drop required %s" % k, edited(payload, path, lambda o, k=k: o.pop(k))
        for k in node.get("properties", {}):
            if k not in node.get("required", ()) and k in value:
                yield "drop optional %s" % k, edited(payload, path, lambda o, k=k: o.pop(k))
        yield "extra property", edited(payload, path, lambda o: o.__setitem__("zzUnknown", 1))
        yield "extra customData-like property", edited(payload, path, lambda o: o.__setitem__("CustomData", {}))


def corpus_for(action, suffix):
    """[(what, payload)] for one message; the first three are the valid builds."""
    s = gen.load(action, suffix)
    defs = s.get("definitions", {})
    full = build(s, defs, "full")
    out = [("minimal", build(s, defs, "min")), ("full", full), ("maximal", build(s, defs, "max"))]
    for path, node, value in locations(s, defs, full):
        for what, p in variants(node, value, path, full):
            out.append((_fmt(path) + ": " + what, p))
    return out


# ---------------------------------------------------------------- verdicts

def _fmt(path):
    out = ""
    for k in path:
        if isinstance(k, int):
            out += "[%d]" % k
        else:
            out += ("." + k) if out else k
    return out


def expected(action, suffix, payload):
    """None when jsonschema accepts, else (code, path) by the mapping."""
    errs = list(validator(action, suffix).iter_errors(payload))
    if not errs:
        return None
    paths = {tuple(e.absolute_path) for e in errs}
    assert len(paths) == 1, "corpus variant changes more than one place: %s" % [e.message for e in errs]
    e = next((e for e in errs if e.validator == "type"), errs[0])
    path = tuple(e.absolute_path)
    if e.validator == "type" and not path:
        return FMT, ""
    if e.validator == "required":
        path += (next(r for r in e.validator_value if r not in e.instance),)
    elif e.validator == "additionalProperties":
        path += (sorted(set(e.instance) - set(e.schema.get("properties", {})))[0],)
    return KEYWORD_CODE[e.validator], _fmt(path)


def got(action, suffix, payload):
    try:
        codec.validate(action, suffix == "Request", payload)
        return None
    except codec.CallError as e:
        return e.code, e.description


def _path_of(desc):
    return desc.split(": ")[0] if ": " in desc else ""


def compare(action, suffix, items):
    bad = []
    for what, p in items:
        exp = expected(action, suffix, p)
        g = got(action, suffix, p)
        if exp is None and g is None:
            continue
        if exp is None or g is None or exp != (g[0], _path_of(g[1])):
            bad.append("%s%s %s: jsonschema %s, codec %s" % (action, suffix, what, exp, g))
    return bad


_CORPUS = {}


def corpus():
    if not _CORPUS:
        for a, s in MESSAGES:
            _CORPUS[(a, s)] = corpus_for(a, s)
    return _CORPUS


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("action,suffix", MESSAGES, ids=IDS)
def test_valid_builds_accepted_by_both(action, suffix):
    items = corpus()[(action, suffix)][:3]
    for what, p in items:
        assert expected(action, suffix, p) is None, (what, p)
        assert got(action, suffix, p) is None, (what, got(action, suffix, p))


@pytest.mark.parametrize("action,suffix", MESSAGES, ids=IDS)
def test_codec_rejects_exactly_what_jsonschema_rejects(action, suffix):
    items = corpus()[(action, suffix)]
    bad = compare(action, suffix, items)
    assert not bad, "\n".join(bad[:20]) + "\n(%d mismatches)" % len(bad)
    n_invalid = sum(1 for _, p in items if expected(action, suffix, p) is not None)
    assert n_invalid >= 10, n_invalid  # every message, even an empty response, has variants that fail


def test_corpus_size_and_every_code_exercised():
    codes = {}
    n = n_invalid = 0
    for (a, s), items in corpus().items():
        for _, p in items:
            n += 1
            exp = expected(a, s, p)
            if exp:
                n_invalid += 1
                codes[exp[0]] = codes.get(exp[0], 0) + 1
    assert set(codes) == {FMT, OCC, TYP, PROP}, codes
    assert n_invalid > 3000, (n, n_invalid)
    print("corpus: %d payloads, %d invalid, by code %s" % (n, n_invalid, codes))


def test_same_verdicts_under_micropython():
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    path = os.path.join(ROOT, "build", "codec_corpus.jsonl")
    want = {}
    i = 0
    with open(path, "w", encoding="utf-8") as f:
        for (a, s), items in corpus().items():
            for what, p in items:
                # raw UTF-8, not \u escapes: MicroPython's json does not join surrogate pairs
                f.write(json.dumps([i, a, s == "Request", p], ensure_ascii=False) + "\n")
                want[i] = (a, s, what, expected(a, s, p), got(a, s, p))
                i += 1
    r = subprocess.run([MICROPYTHON, "-X", "heapsize=" + MP_HEAP, "host_tests/clients/codec_corpus.py", path],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "done %d" % i, lines[-3:]
    bad = []
    seen = 0
    for ln in lines[:-1]:
        idx, rest = ln.split(" ", 1)
        a, s, what, exp, cp = want[int(idx)]
        seen += 1
        mp = None if rest == "OK" else tuple(rest.split(" ", 1)) if " " in rest else (rest, "")
        if mp != cp:
            bad.append("%s%s %s: CPython %s, MicroPython %s" % (a, s, what, cp, mp))
        elif (exp is None) != (mp is None) or (exp and exp != (mp[0], _path_of(mp[1]))):
            bad.append("%s%s %s: jsonschema %s, MicroPython %s" % (a, s, what, exp, mp))
    assert seen == i
    assert not bad, "\n".join(bad[:20]) + "\n(%d mismatches)" % len(bad)


def test_schema_tables_are_up_to_date():
    for name, own in (("schema.py", False), ("schema_out.py", True)):
        with open(os.path.join(ROOT, "firmware", "protocol", name), encoding="utf-8") as f:
            assert f.read() == gen.generate(own), "firmware/protocol/%s is stale: run tools/gen_schema.py" % name


def test_tables_cover_the_messages_inbound_resident_own_on_demand():
    from protocol import schema, schema_out
    csms = set(gen.CSMS_INITIATED)
    station = set(gen.ACTIONS) - csms
    assert set(schema.REQ) == csms and set(schema.RES) == station          # what the station receives
    assert set(schema_out.REQ) == station and set(schema_out.RES) == csms  # what it sends
    assert len(MESSAGES) == 38
    # shared definitions are one object, not copies
    comp = schema.REQ["SetVariableMonitoring"]["setMonitoringData"][2]["component"]
    assert schema.REQ["GetVariables"]["getVariableData"][2]["component"] is comp
    assert schema.RES["NotifyEvent"] is schema.RES["LogStatusNotification"]  # both {customData} only
    assert schema.REQ["SetMonitoringBase"] is not schema_out.RES["SetMonitoringBase"]


def test_generator_refuses_what_it_cannot_express():
    for node in ({"type": "string", "pattern": "^a"}, {"type": "string", "minLength": 1},
                 {"type": "number", "multipleOf": 2}, {"type": ["string", "null"]},
                 {"type": "string", "format": "uri"}, {"type": "object", "additionalProperties": {"type": "string"}},
                 {"type": "array", "items": [{"type": "string"}]}, {"type": "integer", "exclusiveMinimum": True},
                 {"type": "object", "patternProperties": {}}, {"$ref": "#/definitions/X", "maxLength": 3}):
        with pytest.raises(gen.Unsupported):
            gen.compile_node(node, {"X": {"type": "string"}}, "t")
    # and what it can
    assert gen.compile_node({"type": "integer", "minimum": 0, "maximum": 9}, {}, "t") == ("num", -1, 0, 9)
    assert gen.compile_node({"type": "string"}, {}, "t") == gen.NOMAX
