"""The session in-process on both runtimes: what a flood of CSMS requests
costs the station (TriggerMessage)."""
import asyncio
import gc

import compat
from protocol import codec, session
import stationkit as kit


def held(st):
    """A CSMS that reads the station's CALLs and answers none until the
    returned event is set (as one that sits on them for MessageTimeout)."""
    gate = asyncio.Event()
    st.sent = []

    async def call(action, payload, timeout_ms=None, need_boot=True):
        codec.validate(action, True, payload)
        st.sent.append(action)
        await gate.wait()
        return {}
    st.session.call = call
    return gate


def trigger(st, m):
    r = st.session.handlers["TriggerMessage"]({"requestedMessage": m})
    codec.validate("TriggerMessage", False, r)
    return r["status"]


def tasks():
    """Live tasks (CPython; MicroPython's asyncio cannot list them: 0)."""
    return 0 if compat.IS_MPY else len(asyncio.all_tasks())


def test_a_trigger_flood_while_the_csms_sits_on_the_calls_keeps_two_under_way_per_message():
    # Each Accepted trigger started a task waiting its turn on the one-CALL
    # lock for up to MessageTimeout: 1000 TriggerMessage(Heartbeat) took
    # ~1 MB of MicroPython's heap, 5000 made 5000 tasks. Now at most
    # session.MAX_JOBS of each requested message are under way; one beyond
    # them is Rejected/Busy, and accepted again once they are sent.
    st = kit.make()
    gate = held(st)
    assert session.BUSY == {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}}

    async def go():
        out = {}
        for m in ("Heartbeat", "LogStatusNotification"):
            out[m] = [trigger(st, m) for _ in range(2)]
        await compat.sleep_ms(10)
        gc.collect()
        mem, n = compat.mem_alloc(), tasks()
        busy = {"Heartbeat": 0, "LogStatusNotification": 0}     # counts: a list would grow the heap
        for i in range(150):
            for m in out:
                busy[m] += trigger(st, m) == "Rejected"
            await compat.sleep_ms(0)
        await compat.sleep_ms(10)
        gc.collect()
        grew, more = compat.mem_alloc() - mem, tasks() - n
        assert st.session.handlers["TriggerMessage"]({"requestedMessage": "Heartbeat"}) == session.BUSY
        gate.set()
        while st.getlog is not None or len(st.sent) < 4:
            await compat.sleep_ms(5)
        await compat.sleep_ms(10)
        again = [trigger(st, m) for m in out]
        await compat.sleep_ms(10)
        return out, busy, grew, more, again
    out, busy, grew, more, again = asyncio.run(go())
    print("heap and tasks after 300 more triggers:", grew, more)
    for m in out:
        assert out[m] == ["Accepted", "Accepted"] and busy[m] == 150, m
    assert session.MAX_JOBS == 2 and more == 0, more
    assert grew < 2000, grew     # was ~1 kB per trigger on MicroPython
    assert sorted(st.sent) == ["Heartbeat"] * 3 + ["LogStatusNotification"] * 3
    assert again == ["Accepted", "Accepted"]


def test_a_triggered_bootnotification_needs_no_task():
    st = kit.make(online=False)
    held(st)

    async def go():
        n = tasks()
        r = [trigger(st, "BootNotification") for _ in range(50)]
        return r, tasks() - n
    r, more = asyncio.run(go())
    assert r == ["Accepted"] * 50 and more == 0 and st.session._trig and st.sent == []


def test_a_csms_time_before_2023_is_not_taken_and_is_logged():
    # Only a broken server sends one, and a 32-bit port's gmtime() fails before
    # its epoch (every log line would raise). A sane one steers the clock.
    st = kit.make()
    lines = []
    st.log.write = lines.append
    answers = ["1999-12-31T23:59:59Z", "2026-11-25T12:00:00Z"]

    async def call(action, payload, timeout_ms=None, need_boot=True):
        return {"currentTime": answers.pop(0)}
    st.session.call = call
    try:
        compat.set_time(1795600800)
        asyncio.run(st.session._own("Heartbeat"))
        assert abs(compat.now() - 1795600800) <= 1
        assert lines == ["CSMS time 1999-12-31T23:59:59Z not taken"]
        asyncio.run(st.session._own("Heartbeat"))
        assert abs(compat.now() - (1795600800 + 7200)) <= 1        # 1795600800 is 10:00
        assert compat.set_time(946684800) is False and compat.set_time(1795600800) is True
    finally:
        compat.set_time(compat.now())
