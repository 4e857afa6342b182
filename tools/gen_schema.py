#!/usr/bin/env python3
"""Generate firmware/protocol/schema.py from the official OCPP 2.0.1 JSON schemas.

    .venv/bin/python tools/gen_schema.py          # rewrite firmware/protocol/schema.py
    .venv/bin/python tools/gen_schema.py --check  # exit 1 when the file is stale

Reads ocpp/v201/schemas/<Action>Request.json and <Action>Response.json from the
installed `ocpp` package (CPython only; never runs on the station) and writes
compact validation tables for firmware/protocol/codec.py. The table format is
described in the header of the generated file and in docs/codec.md.

The generator is strict: a schema keyword it does not know (pattern,
minLength, multipleOf, a `type` list, a format other than date-time...) stops
it, so a new schema version can never be validated more loosely than it says.
host_tests/test_codec_schemas.py checks the committed file equals generate().
"""
import json
import os
import sys

ACTIONS = (
    # Diagnostics (block N): 11 actions, 22 messages
    "GetLog", "LogStatusNotification", "GetMonitoringReport", "NotifyMonitoringReport",
    "SetMonitoringBase", "SetVariableMonitoring", "SetMonitoringLevel",
    "ClearVariableMonitoring", "NotifyEvent", "CustomerInformation",
    "NotifyCustomerInformation",
    # core
    "BootNotification", "Heartbeat", "StatusNotification",
    # device model and trigger
    "GetVariables", "SetVariables", "GetBaseReport", "NotifyReport", "TriggerMessage",
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "firmware", "protocol", "schema.py")
OUT_OWN = os.path.join(ROOT, "firmware", "protocol", "schema_out.py")

# Actions the CSMS starts. The station validates what it receives (their
# requests, and the responses to its own CALLs): those tables are resident in
# schema.py. The station's own messages (schema_out.py) are loaded only when
# something asks to check them (tests, tools), so they cost no heap on a board.
CSMS_INITIATED = ("GetLog", "GetMonitoringReport", "SetMonitoringBase", "SetVariableMonitoring",
                  "SetMonitoringLevel", "ClearVariableMonitoring", "CustomerInformation",
                  "GetVariables", "SetVariables", "GetBaseReport", "TriggerMessage")


def inbound(action, suffix):
    return (action in CSMS_INITIATED) == (suffix == "Request")

# Scalar codes; must match firmware/protocol/codec.py.
INTEGER, NUMBER, BOOLEAN, DATETIME = -1, -2, -3, -4
NOMAX = 0x3FFFFFFF  # "unbounded": the largest small int on a 32-bit MicroPython port

_IGNORED = {"description", "javaType", "default", "comment", "$schema", "definitions"}
_KNOWN = _IGNORED | {"type", "properties", "required", "additionalProperties", "items",
                     "additionalItems", "minItems", "maxItems", "enum", "maxLength",
                     "format", "minimum", "maximum", "$ref"}


def schema_dir():
    """ocpp/v201/schemas of the installed PyPI package `ocpp`, found by its metadata."""
    from importlib.metadata import distribution
    return str(distribution("ocpp").locate_file(os.path.join("ocpp", "v201", "schemas")))


def ocpp_version():
    try:
        from importlib.metadata import version
        return version("ocpp")
    except Exception:  # pragma: no cover
        return "?"


def load(action, suffix):
    with open(os.path.join(schema_dir(), action + suffix + ".json"), encoding="utf-8") as f:
        return json.load(f)


class Unsupported(Exception):
    pass


def compile_node(node, defs, where):
    """Schema node -> canonical spec (hashable, plain Python):

    int >= 0                     string with maxLength
    INTEGER/NUMBER/BOOLEAN/DATETIME
    ("enum", values)
    ("num", kind, lo, hi)        integer/number with minimum/maximum
    ("array", min, max, item)
    ("obj", required, additional_allowed, ((name, spec), ...))
    """
    bad = set(node) - _KNOWN
    if bad:
        raise Unsupported("%s: unsupported keywords %s" % (where, sorted(bad)))
    if "$ref" in node:
        extra = set(node) - _IGNORED - {"$ref"}
        if extra:
            raise Unsupported("%s: keywords beside $ref %s" % (where, sorted(extra)))
        ref = node["$ref"]
        if not ref.startswith("#/definitions/"):
            raise Unsupported("%s: $ref %s" % (where, ref))
        name = ref[len("#/definitions/"):]
        return compile_node(defs[name], defs, where)
    t = node.get("type")
    if not isinstance(t, str):
        raise Unsupported("%s: type %r" % (where, t))

    def only(*allowed):
        extra = set(node) - _IGNORED - {"type"} - set(allowed)
        if extra:
            raise Unsupported("%s: %s with %s" % (where, t, sorted(extra)))

    if t == "string":
        # additionalProperties means nothing on a string (the official enum
        # types carry it); Draft 4 ignores it for non-objects, so do we.
        only("enum", "maxLength", "format", "additionalProperties")
        if "enum" in node:
            only("enum", "additionalProperties")
            vals = node["enum"]
            if not vals or not all(isinstance(v, str) for v in vals):
                raise Unsupported("%s: enum of non-strings" % where)
            return ("enum", tuple(vals))
        if "format" in node:
            only("format", "additionalProperties")
            if node["format"] != "date-time":
                raise Unsupported("%s: format %s" % (where, node["format"]))
            return DATETIME
        ml = node.get("maxLength", NOMAX)
        if not isinstance(ml, int) or isinstance(ml, bool) or not 0 <= ml <= NOMAX:
            raise Unsupported("%s: maxLength %r" % (where, ml))
        return ml
    if t in ("integer", "number"):
        only("minimum", "maximum")
        kind = INTEGER if t == "integer" else NUMBER
        if "minimum" in node or "maximum" in node:
            return ("num", kind, node.get("minimum"), node.get("maximum"))
        return kind
    if t == "boolean":
        only()
        return BOOLEAN
    if t == "array":
        only("items", "additionalItems", "minItems", "maxItems")
        items = node.get("items")
        if not isinstance(items, dict):
            # a list of schemas would make additionalItems meaningful: not supported
            raise Unsupported("%s: items %r" % (where, items))
        item = compile_node(items, defs, where + "[]")
        if isinstance(item, tuple) and item[0] == "array":
            raise Unsupported("%s: array of arrays" % where)
        return ("array", node.get("minItems", 0), node.get("maxItems", NOMAX), item)
    if t == "object":
        only("properties", "required", "additionalProperties")
        ap = node.get("additionalProperties", True)
        if ap not in (True, False):
            raise Unsupported("%s: additionalProperties %r" % (where, ap))
        props = tuple((k, compile_node(v, defs, where + "." + k))
                      for k, v in node.get("properties", {}).items())
        req = tuple(node.get("required", ()))
        for r in req:
            if r not in dict(props) and not ap:
                raise Unsupported("%s: required %s is not a property" % (where, r))
        return ("obj", req, bool(ap), props)
    raise Unsupported("%s: type %s" % (where, t))


class Emitter:
    """Turns canonical specs into Python source, one local per shared table."""

    def __init__(self, hints):
        self.hints = hints  # spec -> definition name, for readable locals
        self.names = {}   # spec -> local name
        self.lines = []
        self.counts = {}

    def count(self, spec):
        if not isinstance(spec, tuple):
            return
        self.counts[spec] = self.counts.get(spec, 0) + 1
        if self.counts[spec] > 1:
            return
        if spec[0] == "array":
            self.count(spec[3])
        elif spec[0] == "obj":
            for _, s in spec[3]:
                self.count(s)

    def expr(self, spec, hint):
        """Python expression for spec; named (and emitted once) when shared or an object."""
        if isinstance(spec, int):
            return str(spec)
        if spec in self.names:
            return self.names[spec]
        kind = spec[0]
        if kind == "enum":
            src = "(" + ", ".join('"%s"' % v for v in spec[1]) + ("," if len(spec[1]) == 1 else "") + ")"
        elif kind == "num":
            src = "(%d, %r, %r)" % (spec[1], spec[2], spec[3])
        elif kind == "array":
            src = "(%d, %d, %s)" % (spec[1], spec[2], self.expr(spec[3], self.hints.get(spec[3], hint)))
        else:
            req = ", ".join('"%s"' % r for r in spec[1])
            parts = ["0: (" + req + ("," if len(spec[1]) == 1 else "") + ")"]
            if spec[2]:
                parts.append("1: True")
            for k, s in spec[3]:
                parts.append('"%s": %s' % (k, self.expr(s, self.hints.get(s, k))))
            src = "{" + ", ".join(parts) + "}"
            if spec[2]:
                src = "(-5, " + src + ")"  # open object: the fast path needs to know
        if kind != "obj" and self.counts.get(spec, 0) < 2:
            return src
        name = self.local(hint)
        self.names[spec] = name
        self.lines.append("    %s = %s" % (name, src))
        return name

    def local(self, hint):
        base = "".join(c for c in hint if c.isalnum() or c == "_") or "t"
        base = base.lower() if base.isupper() else base[0].lower() + base[1:]
        name = base
        n = 2
        used = set(self.names.values())
        while name in used or name in ("req", "res"):
            name = "%s%d" % (base, n)
            n += 1
        return name


def hints_cd(hints):
    for spec, name in hints.items():
        if name == "CustomData":
            return spec
    raise Unsupported("no CustomDataType")


def _strings(spec, out):
    if isinstance(spec, tuple):
        if spec[0] == "enum":
            out.update(spec[1])
        elif spec[0] == "array":
            _strings(spec[3], out)
        elif spec[0] == "obj":
            out.update(spec[1])
            for k, s in spec[3]:
                out.add(k)
                _strings(s, out)


def intern_block(specs, actions):
    """Source that makes MicroPython's parser intern every table string.

    MicroPython interns a string literal longer than 10 characters only when
    an identifier of the same text was seen earlier in the source; otherwise
    it becomes a heap str object (about 50 bytes more per occurrence, and
    json.loads can then not hand out the shared qstr for equal keys, so it
    allocates every such key and enum value it parses). Naming them once as
    identifiers in a function that is never called fixes both, also in a
    .mpy (mpy-cross would drop an `if 0:` block with its names).
    """
    import keyword
    out = set()
    for a in actions:
        out.add(a)
    for spec in specs.values():
        _strings(spec, out)
    names = sorted(x for x in out if len(x) > 10 and x.isidentifier() and not keyword.iskeyword(x))
    lines = ["def _q():  # never called: makes MicroPython intern the strings below (tools/gen_schema.py)"]
    row = "   "
    for n in names:
        if len(row) + len(n) + 2 > 96:
            lines.append(row.rstrip(","))
            row = "   "
        row += " " + n + ","
    lines.append(row.rstrip(","))
    return "\n".join(lines) + "\n\n\ndel _q\n"


def generate(own=False):
    """Source of schema.py (what the station receives) or, own=True, schema_out.py."""
    specs = {}
    for a in ACTIONS:
        for suffix in ("Request", "Response"):
            if inbound(a, suffix) == own:
                continue
            s = load(a, suffix)
            spec = compile_node(s, s.get("definitions", {}), a + suffix)
            if not (isinstance(spec, tuple) and spec[0] == "obj" and not spec[2]):
                raise Unsupported("%s%s: root is not a closed object" % (a, suffix))
            specs[(a, suffix)] = spec
    # Names for the shared tables: the definition name (ComponentType -> component)
    hints = {}
    for a in ACTIONS:
        for suffix in ("Request", "Response"):
            s = load(a, suffix)
            defs = s.get("definitions", {})
            for dname, d in defs.items():
                hints.setdefault(compile_node(d, defs, dname), dname[:-4] if dname.endswith("Type") else dname)
    # the one object with nothing but customData (empty responses, HeartbeatRequest)
    hints.setdefault(("obj", (), False, (("customData", hints_cd(hints)),)), "empty")
    em = Emitter(hints)
    for spec in specs.values():
        em.count(spec)
    rows = {"Request": [], "Response": []}
    for (a, suffix), spec in specs.items():
        rows[suffix].append('        "%s": %s,' % (a, em.expr(spec, hints.get(spec, a + suffix))))

    msgs = len(specs)
    actions = sorted(set(a for a, _ in specs))
    head = '''"""OCPP 2.0.1 validation tables. GENERATED by tools/gen_schema.py: do not edit.

%s
Source: ocpp %s, ocpp/v201/schemas/, %d messages of %d actions.
Read by firmware/protocol/codec.py. Format (docs/codec.md):
  spec int >= 0   string, maxLength = the int (%d = unbounded)
  spec -1/-2/-3   integer / number / boolean;   -4  string, format date-time
  spec tuple      (str, ...) enum of strings | (min, max, item) array | (-1|-2, lo, hi) bounded number
                  | (-5, dict) object that allows extra properties (CustomDataType)
  spec dict       object: {0: required names, [1: True if extra properties allowed], name: spec, ...}
Shared tables (ComponentType, VariableType, StatusInfoType, CustomDataType,
enums) exist once and are referenced; built in a function so that the
intermediate names cost no module-dict RAM.
"""


%s

def _build():
''' % ("The station's own messages (loaded on demand)." if own else
       "What the station receives: CSMS requests, answers to its CALLs.",
       ocpp_version(), msgs, len(actions), NOMAX, intern_block(specs, actions))
    body = "\n".join(em.lines)
    tail = "\n    return ({\n%s\n    }, {\n%s\n    })\n\n\nREQ, RES = _build()\ndel _build\n" % (
        "\n".join(rows["Request"]), "\n".join(rows["Response"]))
    return head + body + tail


def main(argv):
    stale = 0
    for path, own in ((OUT, False), (OUT_OWN, True)):
        src = generate(own)
        if "--check" in argv:
            with open(path, encoding="utf-8") as f:
                ok = f.read() == src
            print("%s: %s" % (os.path.relpath(path, ROOT), "up to date" if ok else "STALE: run tools/gen_schema.py"))
            stale += not ok
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(src)
        print("wrote %s (%d bytes)" % (os.path.relpath(path, ROOT), len(src)))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
