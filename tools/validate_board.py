"""Check board files against boards/board.schema.json AND the firmware's own
check (firmware/device/config.py, what the board runs at boot), naming the
key at fault:

    python tools/validate_board.py boards/*.json
    boards/pico-w.json: ok
    boards/bad.json: watchdog.timeout_ms: must be 1000..8300 on rp2040

Exit status 0 when every file is valid for both, 1 otherwise. The two
should agree; a file one accepts and the other refuses is reported as a
disagreement (a bug in the schema or in config.py). A few checks only the
firmware can make (unique monitor ids, min <= max, thresholds within
min..max, an ina219's bus in the i2c list, that a driver module exists):
there the schema is silent and the firmware's word stands.
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(ROOT, "boards", "board.schema.json")
_validator = []


def validator():
    if not _validator:
        import jsonschema
        with open(SCHEMA) as f:
            s = json.load(f)
        jsonschema.Draft202012Validator.check_schema(s)
        _validator.append(jsonschema.Draft202012Validator(s))
    return _validator[0]


def dotted(parts):
    """['variables', 0, 'sensor', 'pin'] -> 'variables[0].sensor.pin' (config.py's spelling)."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        else:
            out += ("." if out else "") + p
    return out or "(top)"


def _key(e):
    parts = list(e.absolute_path)
    inst = e.instance
    if e.validator == "required" and isinstance(inst, dict):
        m = re.match(r"^'(.+)' is a required property$", e.message)
        missing = [m.group(1)] if m else [k for k in e.validator_value if k not in inst]
        if missing:
            parts.append(missing[0])
    elif e.validator == "additionalProperties" and isinstance(inst, dict):
        props = e.schema.get("properties", {})
        pats = e.schema.get("patternProperties", {})
        extra = [k for k in inst if k not in props and not any(re.search(p, k) for p in pats)]
        if extra:
            parts.append(extra[0])
    return dotted(parts)


def schema_errors(board):
    """[(key, message)] for every schema violation, in about the order config.py checks:
    shallow keys first, top-level keys in the schema's order (config.py's)."""
    v = validator()
    order = list(v.schema["properties"])

    def rank(e):
        p = list(e.absolute_path)
        top = p[0] if p else ""
        return len(p), order.index(top) if top in order else len(order)
    return [(_key(e), e.message) for e in sorted(v.iter_errors(board), key=rank)]


def firmware_error(board, folder="."):
    """(key, why) of the firmware's check (the first fault), or None."""
    fw = os.path.join(ROOT, "firmware")
    if fw not in sys.path:
        sys.path.insert(0, fw)
    from device import config
    b = json.loads(json.dumps(board))
    if isinstance(b, dict):
        b["_dir"] = folder
    try:
        config.check(b)
    except config.ConfigError as e:
        return e.key, e.why
    return None


def problems(path):
    """Lines describing what is wrong with the board file at path (empty: valid)."""
    try:
        with open(path) as f:
            board = json.load(f)
    except (OSError, ValueError) as e:
        return ["(file): %s" % e]
    fw = firmware_error(board, os.path.dirname(path) or ".")
    sch = schema_errors(board)
    out = []
    if fw is not None:
        out.append("%s: %s" % fw)
    for k, m in sch:
        if fw is None or k != fw[0]:
            out.append("%s: %s (schema)" % (k, m))
    if fw is None and sch:
        out.append("the schema refuses what the firmware accepts: fix one of them")
    return out


def main(argv):
    if not argv:
        print(__doc__.strip())
        return 2
    bad = 0
    for p in argv:
        if p.endswith(".schema.json"):
            print("%s: skipped (a schema, not a board)" % p)
            continue
        lines = problems(p)
        if not lines:
            print("%s: ok" % p)
            continue
        bad += 1
        for ln in lines:
            print("%s: %s" % (p, ln))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
