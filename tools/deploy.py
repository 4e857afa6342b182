"""Deploy the firmware to a board over USB with mpremote (`make deploy`):

    python tools/deploy.py --board boards/esp32-devkitc.json --port /dev/ttyUSB0

1. checks the board file (tools/validate_board.py: schema and firmware),
2. compiles firmware/ with mpy-cross, release flags (tools/mpy_build.py,
   build/deploy), and picks the modules this board can import,
3. reads the device's /deploy.json (the sha256 of every file the last
   deploy put there) and plans to copy only what differs: each firmware
   module as /lib/<module>.mpy, boards/main.py as /main.py (the boot file),
   the board file as /board.json, and the CA file the board names,
4. when something differs: puts the board in maintenance (/maintenance:
   boards/main.py then starts no station, so no watchdog bites mid-copy)
   and resets it, makes the folders, copies the files in one mpremote run
   with a line per file, removes files an earlier deploy left that are gone
   now, writes the new /deploy.json, ends maintenance and resets the board,
   which boots the station.

An interrupted deploy leaves /deploy.json without the files it was about
to copy, so the next one copies them again. --full ignores /deploy.json
(e.g. after erasing the flash by other means). Nothing differs: nothing is
copied, and the board is only reset (reading /deploy.json interrupted the
station).

The mpremote command is --mpremote CMD, else $MPREMOTE, else the mpremote
beside this Python (the venv's), else the one on PATH; tests pass a fake
(host_tests/fakes/fake_mpremote.py) whose device is a folder.

    python tools/deploy.py --package-json    # rewrite package.json (mip)
"""
import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import mpy_build  # noqa: E402
import validate_board  # noqa: E402

BOOT = os.path.join(ROOT, "boards", "main.py")
MANIFEST = "deploy.json"
MAINTENANCE = "maintenance"
VERSION = "0.1.0"


class DeployError(Exception):
    pass


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def mpremote_cmd(opt=None):
    cmd = opt or os.environ.get("MPREMOTE")
    if cmd:
        return shlex.split(cmd)
    mine = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return [mine] if os.path.exists(mine) else ["mpremote"]


def plan(board_path, tree):
    """[(remote path, local path)]: everything the device gets, in copy order."""
    with open(board_path) as f:
        board = json.load(f)
    files = []
    for rel in mpy_build.deploy_set(board):
        files.append(("lib/" + rel[:-3].replace(os.sep, "/") + ".mpy", os.path.join(tree, rel[:-3] + ".mpy")))
    files.append(("main.py", BOOT))
    ca = (board.get("csms") or {}).get("ca")
    if ca and not ca.startswith("/"):
        remote = os.path.normpath(ca).replace(os.sep, "/")
        if remote.startswith(".."):
            raise DeployError("csms.ca %s is outside the board file's folder: the device cannot have it" % ca)
        files.append((remote, os.path.join(os.path.dirname(os.path.abspath(board_path)), ca)))
    files.append(("board.json", board_path))
    return files, board


def package_json():
    """The mip package: every firmware source a device can use into its lib
    folder (not mpy_build.HOST_ONLY: tables and paths only the host runs)."""
    urls = [[rel.replace(os.sep, "/"), "firmware/" + rel.replace(os.sep, "/")] for _, rel in mpy_build.sources()
            if rel.replace(os.sep, "/") not in mpy_build.HOST_ONLY]
    return {"urls": urls, "version": VERSION}


def write_package_json():
    p = os.path.join(ROOT, "package.json")
    with open(p, "w") as f:
        json.dump(package_json(), f, indent=1)
        f.write("\n")
    return p


class Device:
    """mpremote on one port: every call is one mpremote run."""

    def __init__(self, cmd, port):
        self.cmd = cmd
        self.port = port or "auto"
        self.runs = 0

    def run(self, *steps, **kw):
        """Run mpremote steps (lists of arguments) chained with '+'; returns stdout."""
        argv = list(self.cmd) + ["connect", self.port]
        for i, s in enumerate(steps):
            if i:
                argv.append("+")
            argv.extend(s)
        self.runs += 1
        on_line = kw.get("on_line")
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = []
        for line in p.stdout:
            out.append(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))
        p.wait()
        text = "".join(out)
        if p.returncode != 0 and not kw.get("ok_fail"):
            raise DeployError("mpremote %s failed (%d): %s" % (" ".join(steps[0][:2]), p.returncode,
                                                               text.strip()[-500:]))
        return p.returncode, text

    def manifest(self):
        rc, text = self.run(["fs", "cat", ":" + MANIFEST], ok_fail=True)
        if rc != 0:
            if "No such file" in text or "ENOENT" in text or "not found" in text.lower():
                return {}
            raise DeployError("cannot talk to the board on %s: %s" % (self.port, text.strip()[-500:]))
        try:
            m = json.loads(text[text.index("{"):])
            return m.get("files") or {}
        except ValueError:
            return {}   # unreadable: copy everything


def _write_manifest(files, board_name):
    fd, p = tempfile.mkstemp(suffix=".json", prefix="deploy-")
    with os.fdopen(fd, "w") as f:
        json.dump({"board": board_name, "files": files, "tool": "tools/deploy.py",
                   "deployed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, f, sort_keys=True)
    return p


def _wait_back(dev, reset):
    """After a hard reset a USB port vanishes a moment: wait until mpremote answers again."""
    if not reset:
        return
    end = time.time() + 15
    while True:
        rc, _ = dev.run(["exec", "pass"], ok_fail=True)
        if rc == 0:
            return
        if time.time() > end:
            raise DeployError("the board did not come back on %s after the reset" % dev.port)
        time.sleep(0.5)


def deploy(board_path, port, mpremote=None, full=False, reset=True, dry_run=False, out=print):
    """Deploy; returns a dict of figures (copied, unchanged, removed, bytes, runs)."""
    t0 = time.time()
    bad = validate_board.problems(board_path)
    if bad:
        raise DeployError("bad board file %s: %s" % (board_path, bad[0]))
    with open(board_path) as f:
        if json.load(f).get("mcu", "host") == "host":
            raise DeployError('board %s is a host board ("mcu": "host"): deploy a device board, e.g. '
                              'BOARD=boards/esp32-devkitc.json' % board_path)
    tree, total = mpy_build.build(os.path.join(ROOT, "build", "deploy"), release=True)
    files, board = plan(board_path, tree)
    lib = [l for r, l in files if r.startswith("lib/")]
    out("board %s (%s) -> %s; firmware: %d modules, %d bytes of .mpy" % (
        board["board"], board_path, port or "auto", len(lib), sum(os.path.getsize(l) for l in lib)))
    url = board["csms"]["url"]
    if board.get("mcu", "host") != "host" and ("//127." in url or "//localhost" in url):
        out("warning: csms.url %s is the board itself: set it to your CSMS" % url)
    dev = Device(mpremote_cmd(mpremote), port)
    old = {} if full else dev.manifest()
    new = {}
    for remote, local in files:
        if not os.path.exists(local):
            raise DeployError("missing %s (for the device's /%s)" % (local, remote))
        new[remote] = sha256(local)
    changed = [(r, lc) for r, lc in files if old.get(r) != new[r]]
    removed = sorted(r for r in old if r not in new)
    stats = {"copied": len(changed), "unchanged": len(files) - len(changed), "removed": len(removed),
             "bytes": sum(os.path.getsize(lc) for _, lc in changed), "files": len(files)}
    # Reading /deploy.json interrupted the station: when nothing is copied
    # (up to date, or a dry run) a reset starts it again.
    again = "board reset" if reset else "no reset (--no-reset): the station is stopped, reset the board to start it"
    if not changed and not removed:
        if reset:
            dev.run(["reset"])
        out("up to date: %d files, nothing copied; %s" % (len(files), again))
        stats["runs"] = dev.runs
        return stats
    out("%d of %d files to copy (%d bytes), %d unchanged, %d to remove" % (
        len(changed), len(files), stats["bytes"], stats["unchanged"], len(removed)))
    if dry_run:
        for r, lc in changed:
            out("  would copy /%s" % r)
        for r in removed:
            out("  would remove /%s" % r)
        if reset:
            dev.run(["reset"])
        out("dry run: nothing copied; " + again)
        stats["runs"] = dev.runs
        return stats
    # Maintenance first (a running watchdog gives us seconds), then a manifest
    # that no longer vouches for what is about to change.
    keep = dict((r, h) for r, h in old.items() if r in new and new[r] == h)
    partial = _write_manifest(keep, board["board"])
    try:
        steps = [["fs", "touch", ":" + MAINTENANCE], ["fs", "cp", "-f", partial, ":" + MANIFEST]]
        if reset:
            steps.append(["reset"])
        dev.run(*steps)
        out("maintenance: /%s made%s" % (MAINTENANCE, ", board reset" if reset else ""))
        _wait_back(dev, reset)
    finally:
        os.remove(partial)
    dirs = sorted(set(r.rsplit("/", 1)[0] for r, _ in changed if "/" in r))
    parents = []
    for d in dirs:
        parts = d.split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p not in parents:
                parents.append(p)
    if parents:
        dev.run(["exec", "import os\nfor d in %r:\n    try:\n        os.mkdir(d)\n    except OSError:\n"
                         "        pass" % (parents,)])
    n = [0]
    width = len(str(len(changed)))
    sizes = dict((":" + r, os.path.getsize(lc)) for r, lc in changed)

    def progress(line):
        w = line.split()
        if len(w) == 3 and w[0] == "cp" and w[2] in sizes:
            n[0] += 1
            out("[%*d/%d] /%s  %d bytes" % (width, n[0], len(changed), w[2][1:], sizes[w[2]]))
        elif w and w[0] == "rm":
            out("removed /%s" % line.split(":", 1)[-1])
        elif line.strip() and not (w and w[0] in ("cp", "rm")):
            out("  " + line)
    steps = [["fs", "cp", "-f", lc, ":" + r] for r, lc in changed]
    steps += [["fs", "rm", ":" + r] for r in removed]
    dev.run(*steps, on_line=progress)
    final = _write_manifest(new, board["board"])
    try:
        steps = [["fs", "cp", "-f", final, ":" + MANIFEST], ["fs", "rm", ":" + MAINTENANCE]]
        if reset:
            steps.append(["reset"])
        dev.run(*steps)
    finally:
        os.remove(final)
    stats["runs"] = dev.runs
    out("done in %.1f s: %d files copied (%d bytes), %d unchanged, %d removed; %s" % (
        time.time() - t0, stats["copied"], stats["bytes"], stats["unchanged"], stats["removed"],
        "board reset: the station starts" if reset else "no reset (--no-reset): reset the board to start"))
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", help="the board file, e.g. boards/esp32-devkitc.json")
    ap.add_argument("--port", default="", help="serial port (default: mpremote's auto)")
    ap.add_argument("--mpremote", help="the mpremote command (default $MPREMOTE, then mpremote)")
    ap.add_argument("--full", action="store_true", help="copy everything, whatever /deploy.json says")
    ap.add_argument("--no-reset", dest="reset", action="store_false", help="no reset before and after")
    ap.add_argument("--dry-run", action="store_true", help="show what would be copied, copy nothing")
    ap.add_argument("--package-json", action="store_true", help="rewrite package.json and stop")
    a = ap.parse_args(argv)
    if a.package_json:
        print("wrote %s (%d files)" % (write_package_json(), len(package_json()["urls"])))
        return 0
    if not a.board:
        ap.error("--board is needed")
    try:
        deploy(a.board, a.port, a.mpremote, a.full, a.reset, a.dry_run)
    except DeployError as e:
        print("deploy failed: %s" % e)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the next deploy copies what is missing")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
