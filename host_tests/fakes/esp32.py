"""Fake `esp32`: the internal temperature sensor (fakehw state "mcu_temp", Celsius)."""
import fakehw


def mcu_temperature():
    return fakehw.get("mcu_temp")


def raw_temperature():
    """The classic ESP32's raw reading, in Fahrenheit."""
    return int(fakehw.get("mcu_temp") * 9 / 5 + 32)
