"""Shared buses: one machine.I2C per entry of the board's "i2c" list.

    "i2c": [{"id": 0, "scl": 22, "sda": 21, "freq": 400000}]

Sensors name a bus by its id ("bus": 0); every sensor on that bus shares the
one machine.I2C object, made at the first sensor's make().
"""
_i2c = {}


def i2c(board, n):
    spec = None
    for b in board.get("i2c") or ():
        if b["id"] == n:
            spec = b
    key = (n, spec["scl"], spec["sda"], spec.get("freq") or 400000)
    bus = _i2c.get(key)
    if bus is None:
        import machine
        bus = machine.I2C(n, scl=machine.Pin(spec["scl"]), sda=machine.Pin(spec["sda"]), freq=key[3])
        _i2c[key] = bus
    return bus

