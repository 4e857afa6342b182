"""The board's customers seed the store once, even across a power cut in the middle of seeding."""
import os

import stationkit as kit
import support

A = {"customerIdentifier": "cust-1", "data": "first"}
B = {"customerIdentifier": "cust-2", "data": "second"}


def test_a_cut_mid_seed_adds_no_record_twice():
    st = kit.make(storage=support.tmpdir("seed"), customers=[A, B])
    assert st.customers.used()[0] == 2
    # As if power was cut after the first record's index write: B not yet added.
    st.customers.clear({"customerIdentifier": "cust-2"})
    idx = st.customers.idx()
    idx["seeded"] = 1
    st.customers.save("index.json", idx)
    st2 = kit.again(st)
    assert st2.customers.used()[0] == 2
    assert st2.customers.find({"customerIdentifier": "cust-1"}) == len("first")
    assert st2.customers.find({"customerIdentifier": "cust-2"}) == len("second")


def test_records_the_csms_cleared_do_not_come_back():
    st = kit.make(storage=support.tmpdir("seed"), customers=[A, B])
    st.customers.clear({"customerIdentifier": "cust-1"})
    st2 = kit.again(st)
    assert st2.customers.used()[0] == 1
    assert st2.customers.find({"customerIdentifier": "cust-1"}) == 0


def test_a_corrupt_index_deletes_the_records_and_does_not_seed_again():
    # Without its index no record can be attributed: they go (the privacy-safe
    # choice). The board's were seeded before, and one the CSMS cleared must not
    # come back (N10), so the store starts empty and seeded, and the log says why.
    for damage in ('{"salt": "ab12", "seeded": 2, "next": 4, "recs": [["k"', '{"recs": []}'):
        st = kit.make(storage=support.tmpdir("seed"), customers=[A, B])
        c = st.customers
        c.clear({"customerIdentifier": "cust-1"})
        c.add({"customerIdentifier": "cust-3"}, "third")
        with open(c.root + "/index.json", "w") as f:
            f.write(damage)
        st2 = kit.again(st)
        c2 = st2.customers
        assert c2.used() == (0, 0)
        assert [n for n in os.listdir(c2.root) if n.endswith(".txt")] == []
        assert c2.find({"customerIdentifier": "cust-1"}) == 0
        said = [ln for t, ln in st2.log.lines() if "customer index lost" in ln]
        assert len(said) == 1, damage
        assert kit.again(st2).customers.used() == (0, 0)      # and it stays so
        c2.add({"customerIdentifier": "cust-4"}, "fourth")    # the new store works
        assert kit.again(st2).customers.find({"customerIdentifier": "cust-4"}) == len("fourth")
