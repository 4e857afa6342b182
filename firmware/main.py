"""Entry point: `micropython firmware/main.py BOARD.json` (or python3, the same code).

On a board, deploy puts this module in /lib and a tiny /main.py (boards/main.py)
runs main("board.json"). A bad board file prints one line naming the key at
fault and exits with status 2.

The device services the board file asks for start beside the station:
"wifi" (drivers/wifi.py), "clock": "ntp" (drivers/clock.py) and "watchdog"
(drivers/watchdog.py). A board without them (the host and sim boards)
imports none of these modules.
"""
import sys


def services(st):
    """The device services the board asks for, each an object with async run()."""
    b = st.board
    out = []
    w = b.get("wifi")
    if w is not None:
        from drivers import wifi
        out.append(wifi.Wifi(st, w))
    if b.get("clock") == "ntp":
        from drivers import clock
        out.append(clock.Ntp(st, b.get("ntp") or {}))
    w = b.get("watchdog")
    if w is not None:
        from drivers import watchdog
        out.append(watchdog.Supervisor(st, w))
    return out


async def run(st):
    import asyncio
    st.services = services(st)
    for s in st.services:
        asyncio.create_task(s.run())
    await st.run()


def load():
    """Import the station's code, collecting every 4 KB meanwhile: the loader's
    garbage is freed while the code it leaves is small, so the code packs
    densely instead of between holes too small for a frame or a page later
    (the heap bench's scenario needs ~10 KB less heap). Station.__init__ sets
    the running threshold."""
    import compat
    compat.gc_every(4096)
    from station import Station
    return Station


def main(path="board.json"):
    import asyncio
    Station = load()
    from device import config
    try:
        board = config.load(path)
        st = Station(board)
    except config.ConfigError as e:
        print("bad board file %s: %s" % (path, e))
        sys.exit(2)
    st.drop_specs()
    try:
        asyncio.run(run(st))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(*sys.argv[1:2])
