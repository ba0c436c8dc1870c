"""The garbage collector of the processes that play consultations: frozen once ready, run less often."""

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_a_settled_heap_is_out_of_collections_but_new_cycles_are_still_freed():
    out = _run(
        """
        import gc, weakref
        from arena.heap import COLLECTOR_THRESHOLDS, settle_heap

        before = gc.get_freeze_count()
        settle_heap()
        assert before == 0 and gc.get_freeze_count() > 0
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle made after the freeze, as a consultation makes them
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        print("freed" if gone() is None else "kept")
        """
    )
    assert out == "freed"


def test_only_a_worker_inside_ray_settles_its_process_heap():
    code = """
        import gc
        import arena.worker as w
        from arena.worker import ActorSettings, ConsultationWorker

        w._where = lambda: WHERE
        ConsultationWorker(ActorSettings(run_id="r", patient="builtin/patient", max_turns=4), {}, uses_litellm=False)
        print(gc.get_freeze_count() > 0, gc.get_threshold()[0])
        """
    in_ray = _run(code.replace("WHERE", "'node:123'"))
    in_driver = _run(code.replace("WHERE", "None"))
    assert in_ray == "True 50000"
    assert in_driver == "False 700"
