"""The device's /main.py, copied there by tools/deploy.py: MicroPython runs it
at boot, it runs the station (the firmware's main module, /lib/main.mpy)
with /board.json.

The firmware lives in /lib (as `mpremote mip install` puts it too) and "lib"
goes first on sys.path, so `import main` finds the firmware's main module,
not this file. While a file /maintenance exists the station is not started:
no watchdog runs, the REPL stays free (tools/deploy.py makes that file
while it copies; `mpremote fs rm :maintenance` ends it by hand). A bad board
file prints its one line and leaves the board at the REPL.
"""
import os
import sys

try:
    os.stat("maintenance")
    hold = True
except OSError:
    hold = False

if hold:
    print("maintenance: station not started (mpremote fs rm :maintenance, then reset)")
else:
    sys.path.insert(0, "lib")
    import main
    try:
        main.main("board.json")
    except SystemExit:
        pass
