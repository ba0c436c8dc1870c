"""The whole job at scale: ``arena simulate --cases N`` on built-in agents, stage by stage.

Runs simulate (Ray actors, SQLite), judge, distill and export in one process,
as the CLI does, and prints the seconds each stage took, the total, and the
peak memory of this process. The target on the 2-core reference machine is
5,000 cases in at most 120 s end to end. Run ``python bench/pipeline.py
[--cases 5000]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from arena import pipeline
from arena.core.store import Store
from arena.core.types import RunConfig
from arena.display import SilentDisplay
from arena.ray_local import shutdown_ray
from distill.export_hf import export_hf


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--target-s", type=float, default=120.0)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="medarena-pipeline-") as tmp:
        store = Store(f"sqlite:///{tmp}/arena.db")
        config = RunConfig(cases=args.cases, concurrency=args.concurrency)
        times: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            run = pipeline.simulate(store, config, SilentDisplay())
        finally:
            shutdown_ray()
        times["simulate (incl. Ray start)"] = time.perf_counter() - t0
        t = time.perf_counter()
        pipeline.judge(store, run.id, SilentDisplay())
        times["judge"] = time.perf_counter() - t
        t = time.perf_counter()
        summary = pipeline.distill(store, run.id)
        times["distill"] = time.perf_counter() - t
        t = time.perf_counter()
        export_hf(store, run.id, Path(tmp) / "export")
        times["export"] = time.perf_counter() - t
        total = time.perf_counter() - t0
        s = store.summary(run.id)

    print(f"cases: {args.cases}; consultations: {s.consultations} ({s.errors} errors)")
    print(f"mistakes: {s.mistakes}; QA items: {summary}")
    for stage, sec in times.items():
        print(f"  {stage:<28} {sec:7.1f} s")
    verdict = "met" if total <= args.target_s else "NOT met"
    print(f"  {'total':<28} {total:7.1f} s   (target <= {args.target_s:g} s: {verdict})")
    print(f"  consultations/s over the whole job: {s.consultations / total:.1f}")
    print(f"  peak RSS of the driver: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
