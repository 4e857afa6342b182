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
        g = s.get
        self.wave = g("wave", "sine")
        self.base = float(g("base", 0))
        self.amp = float(g("amp", 1))
        self.period = float(g("period_s", 60)) * 1000
        self.noise = float(g("noise", 0))
        self.dropout = float(g("dropout", 0))
        self.step = float(g("step_s", 10)) * 1000
        self.dtype = spec["dataType"]
        self.t0 = ticks_ms()

    def read(self):
        if self.dropout and random.random() < self.dropout:
            self.error = "simulated dropout"
            return None
        t = ticks_diff(ticks_ms(), self.t0)
        w = self.wave
        a = self.amp
        per = self.period
        if w == "sine":
            v = a * math.sin(2 * math.pi * t / per)
        elif w == "square":
            v = a if t % per < per / 2 else -a
        elif w == "ramp":
            v = a * (t % per) / per
        elif w == "const":
            v = 0
        else:   # step, toggle
            v = a if (t // self.step) % 2 else 0
        v += self.base
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
