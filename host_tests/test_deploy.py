"""tools/deploy.py without hardware: a fake mpremote (host_tests/fakes/
fake_mpremote.py) whose device is a folder. The first deploy copies the whole
.mpy tree, the boot file and the board; a second copies nothing; a changed
board copies one file; an interrupted deploy is finished by the next. Then
the copied tree boots under the MicroPython unix port, with the fake
hardware modules, against the real CSMS, and reports a monitor event.
package.json (mpremote mip install) lists every firmware source, and what
mip installs from it boots too."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, MICROPYTHON, MP_HEAP
import deploy
import mpy_build

FAKES = os.path.join(ROOT, "host_tests", "fakes")
MP = [MICROPYTHON, "-X", "heapsize=" + MP_HEAP]


def run_deploy(tmp, board, *extra, fail_after=None):
    dev = tmp / "device"
    dev.mkdir(exist_ok=True)
    cmd = "%s %s --root %s --log %s" % (sys.executable, os.path.join(FAKES, "fake_mpremote.py"), dev,
                                        tmp / "calls.jsonl")
    if fail_after is not None:
        cmd += " --fail-after %d" % fail_after
    open(tmp / "calls.jsonl", "w").close()
    r = subprocess.run([sys.executable, "tools/deploy.py", "--board", str(board), "--port", "/dev/ttyFAKE0",
                        "--mpremote", cmd] + list(extra), cwd=ROOT, capture_output=True, text=True, timeout=120)
    with open(tmp / "calls.jsonl") as f:
        calls = [json.loads(ln)["argv"] for ln in f]
    return r, calls, dev


def device_files(dev):
    out = set()
    for d, _, files in os.walk(dev):
        for f in files:
            out.add(os.path.relpath(os.path.join(d, f), dev).replace(os.sep, "/"))
    return out


def expected_tree(board):
    """The modules this board can import (tools/mpy_build.py deploy_set), as device paths."""
    with open(board) as f:
        b = json.load(f)
    return set("lib/" + rel[:-3].replace(os.sep, "/") + ".mpy" for rel in mpy_build.deploy_set(b))


def device_board(tmp, url, **over):
    with open(os.path.join(ROOT, "boards", "esp32-devkitc.json")) as f:
        b = json.load(f)
    b["csms"]["url"] = url
    b["sample_ms"] = 200
    b.update(over)
    src = tmp / "src"
    src.mkdir(exist_ok=True)
    p = src / "esp32.json"
    p.write_text(json.dumps(b, indent=1))
    return p


def hardware(path, tmp36_uv):
    """FAKE_HW state for the esp32-devkitc board: every sensor answers."""
    path.write_text(json.dumps({
        "uv": {"34": tmp36_uv}, "adc": {"34": 20000}, "pin": {"27": 1}, "mcu_temp": 45.0,
        "onewire": {"4": {"28aa00000000001f": 24.5}},
        "i2c": {"0:64": {"0": [57, 159], "1": [0x3a, 0x98], "2": [0x5e, 0x92]}}}))


def test_first_deploy_copies_everything_second_nothing_then_only_the_board(tmp_path):
    board = device_board(tmp_path, "ws://127.0.0.1:9/ocpp")
    r, calls, dev = run_deploy(tmp_path, board)
    assert r.returncode == 0, r.stdout + r.stderr
    want = expected_tree(board) | {"main.py", "board.json", "deploy.json"}
    assert device_files(dev) == want                           # and no /maintenance left
    # what this board cannot import stays on the host: other boards' drivers, the test-only tables,
    # the codec's CPython path
    assert {"lib/drivers/file.mpy", "lib/drivers/sim.mpy", "lib/protocol/schema_out.mpy",
            "lib/protocol/codec_cpython.mpy"}.isdisjoint(want)
    assert "lib/protocol/codec.mpy" in want
    assert {"lib/drivers/ds18b20.mpy", "lib/drivers/ina219.mpy", "lib/drivers/buses.mpy", "lib/drivers/wifi.mpy",
            "lib/drivers/upload.mpy", "lib/diag/logupload.mpy", "lib/station.mpy"} <= want
    for rel in expected_tree(board):
        with open(dev / rel, "rb") as a, open(os.path.join(ROOT, "build", "deploy", rel[4:]), "rb") as b:
            assert a.read() == b.read(), rel
    assert (dev / "main.py").read_text() == open(os.path.join(ROOT, "boards", "main.py")).read()
    assert json.loads((dev / "board.json").read_text()) == json.loads(board.read_text())
    n = len(want) - 1
    assert "[%d/%d] /board.json" % (n, n) in r.stdout
    assert "warning: csms.url ws://127.0.0.1:9/ocpp is the board itself" in r.stdout
    # the order that keeps a watchdog from biting mid-copy: maintenance and reset first
    assert calls[0][2:] == ["fs", "cat", ":deploy.json"]
    assert calls[1][2:5] == ["fs", "touch", ":maintenance"] and calls[1][-1] == "reset"
    assert all(c[:2] == ["connect", "/dev/ttyFAKE0"] for c in calls)
    assert "rm" in calls[-1] and ":maintenance" in calls[-1] and calls[-1][-1] == "reset"
    manifest = json.loads((dev / "deploy.json").read_text())
    assert set(manifest["files"]) == want - {"deploy.json"} and manifest["board"] == "esp32-devkitc"

    r, calls, _ = run_deploy(tmp_path, board)
    assert r.returncode == 0 and "up to date: %d files, nothing copied" % n in r.stdout, r.stdout
    assert calls == [["connect", "/dev/ttyFAKE0", "fs", "cat", ":deploy.json"],
                     ["connect", "/dev/ttyFAKE0", "reset"]]

    board.write_text(board.read_text().replace('"sample_ms": 200', '"sample_ms": 250'))
    r, calls, _ = run_deploy(tmp_path, board)
    assert r.returncode == 0, r.stdout
    assert "[1/1] /board.json" in r.stdout and "1 of %d files to copy" % n in r.stdout
    copies = [a for c in calls for a in c if a.startswith(":") and a not in (":deploy.json", ":maintenance")]
    assert copies == [":board.json"]
    assert json.loads((dev / "board.json").read_text())["sample_ms"] == 250


def test_an_interrupted_deploy_is_finished_by_the_next(tmp_path):
    board = device_board(tmp_path, "ws://127.0.0.1:9/ocpp")
    r, _, dev = run_deploy(tmp_path, board, "--no-reset")
    assert r.returncode == 0 and "no reset" in r.stdout
    board.write_text(board.read_text().replace('"sample_ms": 200', '"sample_ms": 300'))
    r, _, _ = run_deploy(tmp_path, board, "--no-reset", fail_after=0)
    assert r.returncode == 1 and "deploy failed" in r.stdout
    assert (dev / "maintenance").exists()
    assert "board.json" not in json.loads((dev / "deploy.json").read_text())["files"]
    r, calls, _ = run_deploy(tmp_path, board, "--no-reset")
    assert r.returncode == 0 and "[1/1] /board.json" in r.stdout, r.stdout
    assert not (dev / "maintenance").exists()
    assert not any("reset" in c for c in calls)


def test_a_bad_board_is_refused_before_the_device_is_touched(tmp_path):
    board = device_board(tmp_path, "ws://127.0.0.1:9/ocpp", watchdog={"timeout_ms": 100})
    r, calls, dev = run_deploy(tmp_path, board)
    assert r.returncode == 1 and "watchdog.timeout_ms" in r.stdout, r.stdout
    assert calls == [] and device_files(dev) == set()
    r, calls, _ = run_deploy(tmp_path, os.path.join(ROOT, "boards", "sim.json"))
    assert r.returncode == 1 and "is a host board" in r.stdout and calls == [], r.stdout


def test_maintenance_keeps_the_station_from_starting(tmp_path):
    board = device_board(tmp_path, "ws://127.0.0.1:9/ocpp")
    _, _, dev = run_deploy(tmp_path, board, "--no-reset")
    (dev / "maintenance").write_text("")
    r = subprocess.run(MP + ["main.py"], cwd=str(dev), capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, MICROPYPATH=".frozen:" + FAKES))
    assert r.returncode == 0 and "maintenance: station not started" in r.stdout
    assert not (dev / "state").exists()


def test_deployed_tree_boots_on_the_unix_port_and_reports_an_event(tmp_path, csms):
    csms.heartbeat = 2
    board = device_board(tmp_path, csms.url)
    r, _, dev = run_deploy(tmp_path, board)
    assert r.returncode == 0, r.stdout + r.stderr
    hw = tmp_path / "hw.json"
    hardware(hw, 750000)                     # TMP36 at 25 C
    env = dict(os.environ, MICROPYPATH=".frozen:" + FAKES, FAKE_HW=str(hw))
    out = open(tmp_path / "station.out", "wb")
    p = subprocess.Popen(MP + ["main.py"], cwd=str(dev), stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        boot = csms.wait_calls("BootNotification", cid="CS-ESP32-1", timeout=30)[0]
        assert boot["chargingStation"]["model"] == "M1-ESP32"
        csms.wait_calls("Heartbeat", cid="CS-ESP32-1", timeout=15)
        hardware(hw, 1250000)                # 75 C: above the board's UpperThreshold of 60
        ev = csms.wait(lambda: [e for e in csms.events("CS-ESP32-1") if e.get("variableMonitoringId") == 3],
                       timeout=20, what="the cabinet temperature alert")[0]
        assert ev["trigger"] == "Alerting" and ev["actualValue"] == "75"
        assert ev["component"] == {"name": "ChargingStation"} and ev["variable"] == {"name": "Temperature"}
        assert p.poll() is None
    finally:
        p.terminate()
        p.wait(10)
        out.close()
    with open(dev / "state" / "logs" / "diagnostics.0.log") as f:
        log = f.read()
    for line in ("wifi: connected to depot", "clock: NTP time from pool.ntp.org", "watchdog: started, 8000 ms"):
        assert line in log, log
    assert "change-me" not in log            # the Wi-Fi password is masked


def test_package_json_lists_every_firmware_source_a_device_can_use():
    with open(os.path.join(ROOT, "package.json")) as f:
        pkg = json.load(f)
    assert pkg == deploy.package_json(), "package.json is stale: python tools/deploy.py --package-json"
    assert pkg["version"] and all(os.path.isfile(os.path.join(ROOT, src)) for _, src in pkg["urls"])
    listed = set(dst for dst, _ in pkg["urls"])
    for _, rel in mpy_build.sources():
        rel = rel.replace(os.sep, "/")
        assert (rel in listed) == (rel not in mpy_build.HOST_ONLY), rel


class FolderTransport:
    """What mpremote's mip needs of a device, over a folder."""

    def __init__(self, root):
        self.root = root

    def _p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def fs_exists(self, path):
        return os.path.exists(self._p(path))

    def fs_mkdir(self, path):
        os.mkdir(self._p(path))

    def fs_writefile(self, path, data, progress_callback=None):
        with open(self._p(path), "wb") as f:
            f.write(data)

    def fs_hashfile(self, path, algo):
        raise FileNotFoundError(path)


def test_mip_install_from_package_json_boots(tmp_path, csms):
    from mpremote import mip
    dev = tmp_path / "device"
    dev.mkdir()
    mip._install_package(FolderTransport(str(dev)), os.path.join(ROOT, "package.json"), mip._PACKAGE_INDEX,
                         "lib", None, False)
    assert set(os.listdir(dev / "lib")) >= {"main.py", "station.py", "compat.py", "drivers", "device"}
    shutil.copy(os.path.join(ROOT, "boards", "main.py"), dev / "main.py")
    with open(os.path.join(ROOT, "boards", "sim.json")) as f:
        b = json.load(f)
    b["csms"]["url"] = csms.url
    b["storage"] = "state"
    b["echo"] = False
    (dev / "board.json").write_text(json.dumps(b))
    p = subprocess.Popen(MP + ["main.py"], cwd=str(dev), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                         env=dict(os.environ, MICROPYPATH=".frozen"))
    try:
        csms.wait_calls("BootNotification", cid="SIM-1", timeout=30)
    finally:
        p.terminate()
        p.wait(10)


@pytest.mark.parametrize("args", [["--dry-run"]])
def test_dry_run_copies_nothing(tmp_path, args):
    board = device_board(tmp_path, "ws://127.0.0.1:9/ocpp")
    r, calls, dev = run_deploy(tmp_path, board, *args)
    assert r.returncode == 0 and "would copy /lib/main.mpy" in r.stdout, r.stdout
    # Reading /deploy.json stopped the station: the reset starts it again.
    assert calls == [["connect", "/dev/ttyFAKE0", "fs", "cat", ":deploy.json"],
                     ["connect", "/dev/ttyFAKE0", "reset"]]
    assert "dry run: nothing copied; board reset" in r.stdout
    assert device_files(dev) == set()
