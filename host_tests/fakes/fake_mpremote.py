"""A stand-in for mpremote whose "device" is a folder (tests of tools/deploy.py).

    python fake_mpremote.py --root DEVICE_DIR --log CALLS.jsonl connect PORT fs cp -f a.mpy :lib/a.mpy + reset

Understands what deploy uses, with mpremote's output and exit codes:
connect, fs cp/cat/touch/rm/mkdir/ls (and the cp/cat/... shortcuts),
exec (run with the device folder as the current directory), reset and
soft-reset (recorded only), commands chained with '+'. Every run appends
{"argv": [...]} to the log; --fail-after N makes a run fail after N file
copies, /deploy.json not counted (a cable pulled mid-deploy).
"""
import json
import os
import shutil
import sys

FS = ("cp", "cat", "touch", "rm", "mkdir", "ls", "rmdir")


def remote(root, p):
    return os.path.join(root, p[1:].lstrip("/")) if p.startswith(":") else p


def fail(msg):
    print("mpremote: " + msg)
    sys.exit(1)


def main(argv):
    root = log = None
    fail_after = None
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--root":
            root = argv.pop(0)
        elif opt == "--log":
            log = argv.pop(0)
        elif opt == "--fail-after":
            fail_after = int(argv.pop(0))
    root = root or os.environ["FAKE_DEVICE"]
    log = log or os.environ.get("FAKE_MPREMOTE_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"argv": argv}) + "\n")
    chain = [[]]
    for a in argv:
        if a == "+":
            chain.append([])
        else:
            chain[-1].append(a)
    copies = 0
    for cmd in chain:
        if not cmd:
            continue
        if cmd[0] == "connect":
            cmd = cmd[2:]
            if not cmd:
                continue
        if cmd[0] == "fs":
            cmd = cmd[1:]
        name, args = cmd[0], [a for a in cmd[1:] if not a.startswith("-")]
        if name in ("reset", "soft-reset"):
            continue
        if name == "exec":
            here = os.getcwd()
            os.chdir(root)
            try:
                exec(args[0], {})
            finally:
                os.chdir(here)
            continue
        if name not in FS:
            fail("unknown command " + name)
        if name == "cp":
            dst = args[-1]
            for src in args[:-1]:
                print("cp %s %s" % (src, dst))
                target = remote(root, dst)
                if not os.path.isdir(os.path.dirname(target)):
                    fail("cp: No such file or directory: %s" % dst)
                if dst != ":deploy.json":
                    if fail_after is not None and copies >= fail_after:
                        fail("failed to access the device (fake: cable pulled)")
                    copies += 1
                shutil.copyfile(remote(root, src), target)
            continue
        for p in args:
            path = remote(root, p if p.startswith(":") else ":" + p)
            if name != "cat":
                print("%s :%s" % (name, p.lstrip(":")))
            if name == "cat":
                if not os.path.isfile(path):
                    fail("cat: %s: No such file or directory." % p.lstrip(":"))
                with open(path) as f:
                    sys.stdout.write(f.read())
            elif name == "touch":
                open(path, "a").close()
            elif name == "rm":
                if not os.path.isfile(path):
                    fail("rm: %s: No such file or directory." % p.lstrip(":"))
                os.remove(path)
            elif name == "mkdir":
                if os.path.exists(path):
                    fail("mkdir: %s: File exists." % p.lstrip(":"))
                os.mkdir(path)
            elif name == "rmdir":
                os.rmdir(path)
            elif name == "ls":
                for n in sorted(os.listdir(path)):
                    q = os.path.join(path, n)
                    print("%12d %s%s" % (0 if os.path.isdir(q) else os.path.getsize(q), n,
                                         "/" if os.path.isdir(q) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
