"""Where the heap goes on MicroPython: import cost per module, per-object costs.

    micropython -X heapsize=1M -c "import sys; sys.path[:0] = [TREE, 'tools']; import bench_heap; bench_heap.main([...])"

Run from the .mpy tree deploy copies (tools/mpy_build.py). Every figure is
a gc.mem_alloc() difference after gc.collect(): what stays allocated.

imports   modules imported one at a time, in the order given (leaves first),
          each figure what that import added (its dependencies not yet
          imported included: `new` names them).
qstr      micropython.qstr_info() before and after: the interned names the
          .mpy files bring (never freed).
objects   per-object costs: a Variable, a monitor tuple (mon.new), a
          monitor installed in a Station (its record in the store's arrays),
          a board variable in a Station (its board dicts, Variable, index
          entries), the schema tables (protocol.schema's REQ/RES alone).
"""
import gc
import sys

import bench_kit as kit


def heap():
    gc.collect()
    return gc.mem_alloc()


def imports(order):
    import micropython
    print("QSTR before")
    micropython.qstr_info()
    start = heap()
    for name in order:
        before = set(sys.modules)
        a = heap()
        try:
            __import__(name)
        except Exception as e:  # a board-only module (needs machine, network...)
            kit.emit("import", module=name, error=repr(e))
            continue
        b = heap()
        new = sorted(k for k in sys.modules if k not in before and k != name)
        kit.emit("import", module=name, bytes=b - a, new=new)
        print("QSTR " + name)       # tools/bench.py reads the pool sizes per import
        micropython.qstr_info()
    print("QSTR after")
    micropython.qstr_info()
    kit.emit("imports_total", bytes=heap() - start)


def per(what, n, make):
    """Bytes per object of make(i), from n of them kept alive."""
    keep = []
    a = heap()
    for i in range(n):
        keep.append(make(i))
    b = heap()
    keep = None
    kit.emit("object", what=what, bytes=(b - a - _list_cost(n)) / n, n=n)


def _list_cost(n):
    a = heap()
    x = []
    for i in range(n):
        x.append(None)
    b = heap()
    return b - a


def objects(root):
    from device.model import Variable
    from diag import monitors as mon
    comp = {"name": "EVSE", "evse": {"id": 1}}
    names = [{"name": "T%d" % i} for i in range(100)]
    per("Variable (shared board dicts; its key string included)", 100,
        lambda i: Variable(comp, names[i], "decimal", "ReadOnly", "Celsius", -40, 150))
    v = Variable(comp, names[0], "decimal")
    v.value = 20.5
    per("monitor tuple, threshold (mon.new, int value)", 100,
        lambda i: mon.new(i, mon.UPPER, 80, 5, mon.CUSTOM, v))
    per("monitor tuple, threshold (float value)", 100,
        lambda i: mon.new(i, mon.UPPER, 80.5 + i, 5, mon.CUSTOM, v))

    # A board variable in a Station: 1 vs 51 variables.
    def station_heap(nv):
        gc.collect()
        a = heap()
        st = kit.station(kit.board(kit.fresh(root + "/heap-%d" % nv), [kit.var(i + 1) for i in range(nv)]))
        b = heap()
        return st, b - a
    st1, h1 = station_heap(1)
    kit.emit("object", what="Station with 1 board variable, 0 monitors", bytes=h1, n=1)
    st1 = None
    st51, h51 = station_heap(51)
    kit.emit("object", what="board variable in a Station (board dicts, Variable, index)",
             bytes=(h51 - h1) / 50, n=50)
    vs = st51.model.vars[:50]
    for x in vs:
        x.value = 20.5
    ms = st51.monitors
    a = heap()
    for i in range(100):
        ms.install(mon.new(ms.alloc_id(), mon.DELTA if i % 2 else mon.UPPER, 5 if i % 2 else 90, i % 10,
                           mon.CUSTOM, vs[i % 50]), False)
    b = heap()
    kit.emit("object", what="monitor installed in a Station (a record in the arrays; half Delta)",
             bytes=(b - a) / 100, n=100)
    st51 = None
    ms = None
    vs = None
    # The schema tables alone: imported afresh (its names are interned
    # already), then the module dropped and its tables kept.
    import protocol

    def forget():
        sys.modules.pop("protocol.schema", None)
        try:
            delattr(protocol, "schema")
        except AttributeError:
            pass
    forget()
    gc.collect()
    a = heap()
    import protocol.schema as s
    b = heap()
    tables = (s.REQ, s.RES)
    forget()
    s = None
    c = heap()
    kit.emit("object", what="protocol.schema import again (names interned already)", bytes=b - a, n=1)
    kit.emit("object", what="schema tables REQ/RES (the data; rest is bytecode/qstrs)", bytes=c - a, n=1)
    tables = None


def main(order, root="build/bench/tmp"):
    kit.makedirs(root)
    imports(order)
    objects(root)
