"""Entry point: `micropython firmware/main.py BOARD.json` (or python3, the same code).

On a board, the deployed board file is /board.json and boot runs main().
"""
import sys


def main(path="board.json"):
    import asyncio
    from device import config
    try:
        board = config.load(path)
    except config.ConfigError as e:
        print("bad board file %s: %s" % (path, e))
        sys.exit(2)
    from station import Station
    try:
        st = Station(board)
    except config.ConfigError as e:
        print("bad board file %s: %s" % (path, e))
        sys.exit(2)
    try:
        asyncio.run(st.run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "board.json")
