"""Fake `onewire`: a bus on a pin; its devices are fakehw.state["onewire"][pin]."""
import fakehw


class OneWireError(Exception):
    pass


class OneWire:
    def __init__(self, pin):
        self.pin = pin.id if hasattr(pin, "id") else pin
        fakehw.record("onewire", self.pin)

    def devices(self):
        return fakehw.get("onewire", self.pin, {})

    def scan(self):
        import binascii
        return [bytearray(binascii.unhexlify(r)) for r in sorted(self.devices())]
