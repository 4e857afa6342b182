"""Monitor loop benchmark, the same code on MicroPython and CPython.

    micropython -X heapsize=1M -c "import sys; sys.path[:0] = [TREE, 'tools']; import bench_tick; bench_tick.main()"

A Station in-process with N monitors (10, 100, 500) on N/10 variables that
integrating code pushes (no sensor: a sensor driver's read() is the
driver's cost, not the engine's). Two loads:

idle   thresholds never crossed, Deltas on a constant value, Periodic of an
       hour: nothing fires. Measured: Station.tick().
firing every monitor a Delta of 1 on a value that alternates 20.0 / 30.0
       (two preallocated floats, so the flip itself allocates nothing):
       every monitor fires at every tick. Measured: Monitors.evaluate()
       alone, and Station.tick() (sample + evaluate + Outbox.post, which
       writes one file per event); the outbox is emptied between ticks,
       outside the measured time.

Bytes per tick (MicroPython) are gc.mem_alloc() differences with the
collector disabled around the measured calls; microseconds are the best
of REPS rounds. Prints BENCH lines for tools/bench.py.
"""
import gc
import os

import bench_kit as kit

REPS = 5
COUNTS = (10, 100, 500)
A = 20.0
B = 30.0


def build(n, firing, root):
    from diag import monitors as mon
    nv = max(1, n // 10)
    st = kit.station(kit.board(kit.fresh("%s/st-%d-%d" % (root, n, firing)),
                               [kit.var(i + 1) for i in range(nv)], queue_size=max(200, 2 * n)))
    vs = []
    for i in range(nv):
        v = st.model.find({"name": "EVSE", "evse": {"id": i + 1}}, {"name": "Temperature"})
        v.value = A
        vs.append(v)
    kinds = ((mon.UPPER, 100), (mon.LOWER, -30), (mon.DELTA, 5), (mon.PERIODIC, 3600))
    for k in range(n):
        v = vs[k % nv]
        if firing:
            t, val = mon.DELTA, 1
        else:
            t, val = kinds[k % 4]
        st.monitors.install(mon.new(st.monitors.alloc_id(), t, val, k % 10, mon.CUSTOM, v), False)
    st.tick()            # Deltas take their reference
    drain(st)
    return st, vs


def drain(st):
    d = st.outbox.dir
    for name in os.listdir(d):
        os.remove(d + "/" + name)
    st.outbox.count = 0


def flip(vs, k):
    x = B if k & 1 else A
    for v in vs:
        v.value = x


def measure(st, vs, fn, firing, ticks):
    """(best microseconds per call, bytes allocated per call) of fn() over `ticks` calls."""
    best = None
    alloc = None
    k = 1
    for _ in range(REPS):
        total_us = 0
        total_b = 0
        for _ in range(ticks):
            if firing:
                flip(vs, k)
                k += 1
            gc.collect()
            gc.disable()
            m0 = kit.mem()
            t0 = kit.now_us()
            fn()
            dt = kit.since_us(t0)
            m1 = kit.mem()
            gc.enable()
            total_us += dt
            total_b += m1 - m0
            if firing:
                drain(st)
        per = total_us / ticks
        if best is None or per < best:
            best = per
        alloc = total_b // ticks
    return best, alloc


def main(root="build/bench/tmp", counts=COUNTS, firing_counts=COUNTS, idle_ticks=200):
    from compat import ticks_ms
    kit.makedirs(root)
    for n in counts:
        st, vs = build(n, False, root)
        us, b = measure(st, vs, st.tick, False, idle_ticks)
        assert st.outbox.count == 0, "something fired in the idle load"
        kit.emit("tick", monitors=n, load="idle", what="tick", us=us, bytes=b if kit.MPY else None)
        kit.rmtree(st.store.root)
        del st, vs
        gc.collect()
    for n in firing_counts:
        st, vs = build(n, True, root)
        ms = st.monitors

        def ev():
            ms.evaluate(ticks_ms())
        us, b = measure(st, vs, ev, True, 20)
        kit.emit("tick", monitors=n, load="firing", what="evaluate", us=us, bytes=b if kit.MPY else None)
        ticks = 5 if n >= 500 else 10
        c0 = st.outbox.sent + st.outbox.count
        us, b = measure(st, vs, st.tick, True, ticks)
        kit.emit("tick", monitors=n, load="firing", what="tick+post", us=us, bytes=b if kit.MPY else None,
                 dropped=st.outbox.dropped)
        kit.rmtree(st.store.root)
        del st, vs, ms
        gc.collect()


if __name__ == "__main__":
    import sys
    sys.path.insert(0, "firmware")
    main()
