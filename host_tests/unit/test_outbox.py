"""NotifyEvent delivery from the outbox: pages, seqNo/tbc, retries, order (N07.FR.07, N08.FR.04)."""
import asyncio
import json

from protocol import codec
import stationkit as kit


def station_with_events(n, value_len=400, **extra):
    st = kit.make([kit.var(name="Text", dtype="string", lo=None, hi=None, value="")] +
                  [kit.var(name="T%d" % i) for i in range(n)], **extra)
    for i in range(n):
        kit.setmon(st, "UpperThreshold", 50, variable={"name": "T%d" % i})
        st.push(kit.EVSE1, {"name": "T%d" % i}, 60)
    st.tick()       # n events in one tick: one batch
    return st


def run_outbox(st, answers, until):
    """Run the outbox with a fake CSMS whose answers come from `answers` (None: ok, else CallError)."""
    sent = []

    async def call(action, payload, timeout_ms=None, need_boot=True):
        assert isinstance(payload, str)     # the stored events' text, as the CSMS reads it
        payload = json.loads(payload)
        codec.validate(action, True, payload)
        sent.append(payload)
        a = answers.pop(0) if answers else None
        if a is not None:
            raise a
        return {}

    st.session.call = call
    st.outbox.retry_ms = 0

    async def go():
        t = asyncio.create_task(st.outbox.run())
        for _ in range(2000):
            await asyncio.sleep(0)
            if until(sent):
                break
        t.cancel()
    asyncio.run(go())
    return sent


def test_events_of_one_tick_split_by_byte_budget_with_seqno_and_tbc():
    st = station_with_events(12)
    assert st.outbox.count == 12
    sent = run_outbox(st, [], lambda s: st.outbox.count == 0)
    assert len(sent) > 1
    assert [p["seqNo"] for p in sent] == list(range(len(sent)))
    assert all(p.get("tbc") is True for p in sent[:-1]) and not sent[-1].get("tbc", False)
    ids = [e["eventId"] for p in sent for e in p["eventData"]]
    assert ids == sorted(ids) and len(ids) == 12
    import json
    from diag import events
    # a page's events fit the page budget; the envelope adds under 120 bytes
    assert all(len(json.dumps(p)) <= events.PAGE_BYTES + 120 for p in sent)


def test_a_callerror_is_retried_then_the_batch_is_dropped_and_logged():
    st = station_with_events(2)
    err = codec.CallError("FormatViolation", "no")
    sent = run_outbox(st, [err, err, err, err, None], lambda s: st.outbox.count == 0)
    assert len(sent) == 4                                   # 1 try + 3 retries, then dropped
    assert [e["eventId"] for e in sent[0]["eventData"]] == [e["eventId"] for e in sent[3]["eventData"]]
    assert st.outbox.dropped == 2
    assert "NotifyEvent refused" in "".join(ln for t, ln in st.log.lines())


def test_a_lost_answer_redelivers_the_same_event_ids():
    from protocol.session import Offline
    st = station_with_events(1)
    sent = run_outbox(st, [Offline("gone"), None], lambda s: st.outbox.count == 0)
    assert len(sent) == 2 and sent[0]["eventData"] == sent[1]["eventData"]
    assert st.outbox.sent == 1


def test_a_backlog_goes_out_one_batch_at_a_time_in_order():
    # Three ticks' events queued offline: each page holds one tick's events, oldest first.
    st = kit.make([kit.var(name="T%d" % i) for i in range(2)], online=False)
    for i in range(2):
        kit.setmon(st, "Delta", 1, variable={"name": "T%d" % i})
    for v in (0, 5, 10, 15):
        for i in range(2):
            st.push(kit.EVSE1, {"name": "T%d" % i}, v)
        st.tick()
    assert st.outbox.count == 6
    st.session.online = True
    sent = run_outbox(st, [], lambda s: st.outbox.count == 0)
    ids = [[e["eventId"] for e in p["eventData"]] for p in sent]
    assert ids == [[1, 2], [3, 4], [5, 6]]
    assert [p["seqNo"] for p in sent] == [0, 0, 0] and not [p for p in sent if p.get("tbc")]


def test_a_lost_or_corrupt_eventid_json_never_reuses_a_queued_events_id():
    for damage in ("", '{"next": 6', None):     # intact, corrupt, lost
        st = kit.make(online=False)
        kit.setmon(st, "Delta", 0.5)
        for i in range(5):
            kit.push(st, 20.0 + i)
        before = kit.queued(st)
        assert len(before) == 4
        path = st.store.root + "/eventid.json"
        if damage is None:
            import os
            os.remove(path)
        elif damage:
            with open(path, "w") as f:
                f.write(damage)
        st2 = kit.again(st, online=False)
        for i in range(3):
            kit.push(st2, 40.0 + i)
        evs = kit.queued(st2)
        assert evs[:4] == before                  # the queued events untouched
        ids = [e["eventId"] for e in evs]
        assert len(ids) == 6 and ids == sorted(ids) and len(set(ids)) == 6
        said = [ln for t, ln in st2.log.lines() if "eventid.json behind outbox" in ln]
        assert len(said) == (1 if damage != "" else 0), damage
