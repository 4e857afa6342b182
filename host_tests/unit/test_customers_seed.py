"""The board's customers seed the store once, even across a power cut in the middle of seeding."""
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
