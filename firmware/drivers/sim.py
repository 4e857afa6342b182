"""Simulated sensor (sim board): waveforms, steps, noise and dropouts.

    {"driver": "sim", "wave": "sine", "base": 40, "amp": 30, "period_s": 60,
     "noise": 0.5, "dropout": 0.01, "step_s": 20}
wave: sine, square, ramp (sawtooth), step or toggle (base, then base+amp after step_s,
then back after another step_s), const. The clock is ticks-based, so the
same board gives the same curve on every run; noise and dropout are random.
"""
import math
import random

from compat import ticks_ms, ticks_diff

KEYS = ("wave:e:sine:square:ramp:step:const:toggle base:n amp:n period_s:p noise:n dropout:n:0:1 "
        "step_s:p")


class SimSensor:
    error = None

    def __init__(self, board, spec, s):
        self.wave = s.get("wave", "sine")
        self.base = float(s.get("base", 0))
        self.amp = float(s.get("amp", 1))
        self.period = float(s.get("period_s", 60)) * 1000
        self.noise = float(s.get("noise", 0))
        self.dropout = float(s.get("dropout", 0))
        self.step = float(s.get("step_s", 10)) * 1000
        self.dtype = spec["dataType"]
        self.t0 = ticks_ms()

    def read(self):
        if self.dropout and random.random() < self.dropout:
            self.error = "simulated dropout"
            return None
        t = ticks_diff(ticks_ms(), self.t0)
        w = self.wave
        if w == "sine":
            v = self.base + self.amp * math.sin(2 * math.pi * t / self.period)
        elif w == "square":
            v = self.base + (self.amp if (t % self.period) < self.period / 2 else -self.amp)
        elif w == "ramp":
            v = self.base + self.amp * (t % self.period) / self.period
        elif w == "step" or w == "toggle":
            v = self.base + (self.amp if (t // self.step) % 2 else 0)
        else:
            v = self.base
        if self.noise:
            v += (random.random() * 2 - 1) * self.noise
        if self.dtype == "integer":
            return int(v)
        if self.dtype == "boolean":
            return v > self.base
        if self.dtype == "decimal":
            return round(v, 2)
        return str(round(v, 2))


make = SimSensor
