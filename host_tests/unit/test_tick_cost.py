"""The monitor loop costs nothing on the heap while nothing fires (issue 3, Cost)."""
import compat
import stationkit as kit
from stationkit import EVSE1


def test_tick_allocates_nothing_while_nothing_fires_with_100_monitors():
    vs = [kit.var(name="T%d" % i) for i in range(10)]
    st = kit.make(vs)
    kinds = (("UpperThreshold", 100), ("LowerThreshold", -30), ("Delta", 5), ("Periodic", 3600))
    for i in range(10):
        var = {"name": "T%d" % i}
        st.push(EVSE1, var, 20.0)
        for k in range(10):
            t, v = kinds[k % 4]
            kit.setmon(st, t, v, severity=k // 4, variable=var)
    assert len(st.monitors.active) == 100
    st.tick()
    kit.drain(st)
    import gc
    gc.collect()
    before = compat.mem_alloc()
    for _ in range(50):
        st.tick()
    used = compat.mem_alloc() - before
    assert kit.queued(st) == []
    if compat.IS_MPY:
        assert used == 0, used
