"""Board files: the JSON Schema and the firmware's check agree, on every
shipped board and on the bad variants of host_tests/unit/test_boards_check.py;
tools/validate_board.py names the key at fault; the host never imports the
device services or hardware modules."""
import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, MICROPYTHON, MP_HEAP
import validate_board
from test_boards_check import CASES, BOARDS, GOOD, bad

SHIPPED = sorted(p for p in glob.glob(os.path.join(ROOT, "boards", "*.json")) if not p.endswith(".schema.json"))


def test_the_shipped_boards_are_the_documented_ones():
    assert sorted(os.path.basename(p)[:-5] for p in SHIPPED) == sorted(BOARDS)
    with open(os.path.join(ROOT, "docs", "boards.md")) as f:
        doc = f.read()
    for name in BOARDS:
        assert "boards/%s.json" % name in doc


@pytest.mark.parametrize("path", SHIPPED, ids=[os.path.basename(p) for p in SHIPPED])
def test_shipped_board_valid_for_schema_and_firmware(path):
    with open(path) as f:
        board = json.load(f)
    assert validate_board.schema_errors(board) == []
    assert validate_board.firmware_error(board, os.path.dirname(path)) is None
    assert validate_board.problems(path) == []


@pytest.mark.parametrize("case", CASES, ids=["%s:%s" % (c[0], c[1]) for c in CASES])
def test_schema_and_firmware_name_the_same_key(case):
    board = bad(case)
    del board["_dir"]
    fw = validate_board.firmware_error(board, os.path.join(ROOT, "boards"))
    assert fw is not None and fw[0] == case[3], fw
    keys = [k for k, _ in validate_board.schema_errors(board)]
    if case[4]:
        assert keys and keys[0] == case[3], keys
    else:
        assert keys == []   # beyond the schema: keep this list honest


def test_validator_cli_names_the_key_and_fails(tmp_path):
    files = []
    for i, case in enumerate(CASES[:6] + CASES[-3:]):
        b = bad(case)
        del b["_dir"]
        p = tmp_path / ("bad%d.json" % i)
        p.write_text(json.dumps(b))
        files.append((str(p), case[3]))
    good = os.path.join(ROOT, "boards", "pico-w.json")
    r = subprocess.run([sys.executable, "tools/validate_board.py", good] + [f for f, _ in files],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == good + ": ok"
    for f, key in files:
        mine = [ln for ln in lines if ln.startswith(f + ": ")]
        assert mine and mine[0].startswith("%s: %s: " % (f, key)), (key, mine)
    ok = subprocess.run([sys.executable, "tools/validate_board.py"] + SHIPPED, cwd=ROOT,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.count(": ok") == len(SHIPPED), ok.stdout


def test_validator_reports_broken_json(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"board": ')
    r = subprocess.run([sys.executable, "tools/validate_board.py", str(p)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "(file)" in r.stdout


def test_main_exits_2_with_one_line_naming_the_key(tmp_path):
    b = bad(CASES[5])   # pico-w, watchdog.timeout_ms 9000
    del b["_dir"]
    p = tmp_path / "board.json"
    p.write_text(json.dumps(b))
    for cmd in ([sys.executable, "firmware/main.py"], [MICROPYTHON, "-X", "heapsize=" + MP_HEAP, "firmware/main.py"]):
        r = subprocess.run(cmd + [str(p)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, r.stdout + r.stderr
        assert r.stdout.strip().splitlines() == ["bad board file %s: watchdog.timeout_ms: must be 1000..8300 on rp2040"
                                                 % p]


PROBE = """
import sys
sys.path.insert(0, 'firmware')
from device import config
from station import Station
import main
for name in ('host', 'sim'):
    b = config.load('boards/%s.json' % name)
    b['storage'] = sys.argv[-1] + '/' + name
    st = Station(b)
    assert main.services(st) == [], name
    for i in range(3):
        st.tick()
bad = [m for m in ('machine', 'network', 'onewire', 'ds18x20', 'esp32', 'ntptime', 'drivers.wifi',
                   'drivers.clock', 'drivers.watchdog', 'drivers.adc', 'drivers.ds18b20') if m in sys.modules]
print('IMPORTED', bad)
"""


@pytest.mark.parametrize("exe", ["micropython", "cpython"])
def test_host_and_sim_boards_import_no_hardware_or_device_service(exe, tmp_path):
    cmd = [MICROPYTHON, "-X", "heapsize=" + MP_HEAP] if exe == "micropython" else [sys.executable]
    r = subprocess.run(cmd + ["-c", PROBE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "IMPORTED []" in r.stdout, r.stdout + r.stderr


def test_the_schema_lists_every_controller_variable_as_the_firmware_checks_it():
    from device import model
    props = validate_board.validator().schema["properties"]["settings"]["properties"]
    ctrl = [model.Ctrl(None, i) for i in range(len(model.CTRL))]
    assert list(props) == [c.name for c in ctrl]
    board = bad(("host", "settings", {c.name: model.CTRL[c.i][3] for c in ctrl}, "", True))   # every default
    del board["_dir"]
    assert validate_board.schema_errors(board) == [] and validate_board.firmware_error(board) is None
    for c in ctrl:
        wrong = [5 if c.dtype in ("OptionList", "MemberList") else "x"]
        if c.min is not None:
            wrong.append(c.min - 1)
        if c.max is not None:
            wrong.append(c.max + 1)
        if c.dtype == "integer":
            wrong.append((c.min or 0) + 1.5)
        if c.values:
            wrong.append("Nope")
            wrong.append(c.values.split(",")[0] + ",Nope")
        for w in wrong:
            board["settings"] = {c.name: w}
            fw = validate_board.firmware_error(board)
            keys = [k for k, _ in validate_board.schema_errors(board)]
            assert fw and fw[0] == "settings." + c.name and keys[:1] == [fw[0]], (c.name, w, fw, keys)


def test_the_schema_takes_the_urls_the_firmware_takes():
    for case in GOOD:
        board = bad(("host",) + case)
        del board["_dir"]
        board["csms"]["ca"] = "ca.der"
        assert validate_board.schema_errors(board) == [], case
