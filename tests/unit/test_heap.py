"""ioc.heap: long-lived data settled out of the garbage collector's full passes."""

import gc
import subprocess
import sys
import textwrap

from ioc import heap


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_settle_does_nothing_in_a_process_that_did_not_enable_it():
    frozen = gc.get_freeze_count()
    assert not heap.enabled()
    assert heap.settle("a test") is False
    assert gc.get_freeze_count() == frozen


def test_settle_moves_what_is_alive_out_of_the_collections_once_enabled():
    out = run_python("""
        import gc
        from ioc import heap
        heap.enable()
        rows = [(str(i), [i]) for i in range(10_000)]
        print(heap.settle("rows"), gc.get_freeze_count() > 10_000, any(o is rows for o in gc.get_objects()))
    """)
    assert out == "True True False"


def test_a_settled_fleet_is_still_freed_once_it_is_replaced():
    out = run_python("""
        import gc, weakref
        from ioc import heap
        from ioc.domain.city_state import DeviceRow, FleetIndex
        heap.enable()
        fleet = FleetIndex([DeviceRow(f"d{i}", "manhole", f"d{i}", 120.5, 31.9, "yangshe", i % 2 == 0) for i in range(2000)])
        fleet.derived["map"] = b"layer"
        gone = weakref.ref(fleet)
        heap.settle("the fleet")
        del fleet
        print(gone() is None)
    """)
    assert out == "True"
