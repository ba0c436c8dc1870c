"""What a user waits for: ``arena simulate`` run as a command, start-up and exit included.

Each run is the installed ``arena`` command in a fresh process, with ``HOME``
and ``TMPDIR`` pointing at new empty folders (as on a machine never used
before) and its own SQLite file. Three kinds of run:

* latency-bound: ``--doctor 'mock/doctor?questions=10&latency=0.5' --patient
  'mock/patient?latency=0.5' --no-judge --no-distill`` at (N, C) = (600, 200)
  and (2000, 1000); the wall time against the ideal ``C/(2TL)`` (targets:
  0.90 at C = 200, 0.60 at C = 1000) and ``C/(21L)`` (a consultation is 21
  calls, so ``C/(2TL)`` can be reached to 0.95 at most);
* start-up: ``arena simulate --cases 20`` on built-in agents, the time from
  launch, and from the moment the run starts Ray, to the first consultation
  starting (its first turn's time in the store; target: 3 s after Ray's
  start). The command runs through a short wrapper that notes when
  ``arena.pipeline.start_ray`` is entered and when the local Ray is up, then
  calls the ``arena`` command's own entry point. It reports too when Ray was
  up, and how many consultations the driver played meanwhile;
* the whole job: ``arena simulate --cases 5000`` then ``arena export hf``
  (target: at most 120 s in all).

Run ``python bench/cli.py [--only latency|startup|job] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from arena.core.store import Store

QUESTIONS = 10
LATENCY_S = 0.5
CALLS = 2 * QUESTIONS + 1


@dataclass
class Timed:
    """One command's wall time, and when its run's first consultation started after launch."""

    wall_s: float
    first_start_s: float | None
    consultations: int
    errors: int
    ray_start_s: float | None = None
    """When the run started Ray, after launch (start-up runs only)."""
    ray_up_s: float | None = None
    """When Ray was up (its actors could take work), after launch (start-up runs only)."""
    in_driver: int = 0
    """Consultations the driver played itself, not a Ray actor."""


_NOTE_RAY_START = """
import os, sys, time
from arena import pipeline, ray_local
from arena.cli import run

started, joined = pipeline.start_ray, ray_local._start_or_join


def note(what):
    with open(os.environ["BENCH_RAY_START_FILE"], "a") as f:
        f.write(f"{what} {time.time()}\\n")


def noted(*args, **kwargs):
    note("start")
    return started(*args, **kwargs)


def up(*args, **kwargs):
    info = joined(*args, **kwargs)
    note("up")
    return info


pipeline.start_ray, ray_local._start_or_join = noted, up
sys.argv = ["arena", *sys.argv[1:]]
run()
"""
"""The ``arena`` command, noting when the run starts Ray (the start-up runs' reference point) and when Ray is up."""


def _arena() -> str:
    here = Path(sys.executable).with_name("arena")
    return str(here) if here.exists() else "arena"


def run_command(args: list[str], work: Path, name: str | None = None, *, note_ray_start: bool = False) -> Timed:
    """Run ``arena ARGS`` in ``work`` as a new user would; time it and read its run from the store.

    With ``note_ray_start`` the command runs through :data:`_NOTE_RAY_START`, which notes when the run starts Ray.

    Raises:
        RuntimeError: when the command fails.
    """
    home, tmp = work / "home", work / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{work}/arena.db"
    noted = work / "ray-start.txt"
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp), "ARENA_DB": db, "BENCH_RAY_START_FILE": str(noted)}
    command = [sys.executable, "-c", _NOTE_RAY_START, *args] if note_ray_start else [_arena(), *args]
    launched = time.time()
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"arena {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    if name is None:
        return Timed(wall, None, 0, 0)
    store = Store(db)
    try:
        run = store.get_run(name)
        transcripts = list(store.transcripts(run.id))
    finally:
        store.engine.dispose()
    # A consultation's first turn is made by the worker that plays it as it starts; the stored
    # started_at is when the driver handed it over, before a Ray actor had it.
    starts = [tr.turns[0].created_at for tr in transcripts if tr.turns and isinstance(tr.turns[0].created_at, datetime)]
    first = min(starts).timestamp() - launched if starts else None
    errors = sum(1 for tr in transcripts if tr.error or tr.stop_reason != "final_answer")
    marks: dict[str, float] = {}
    if noted.exists():
        for line in noted.read_text().splitlines():
            what, when = line.split()
            marks.setdefault(what, float(when) - launched)
    in_driver = sum(1 for tr in transcripts if tr.worker is None)
    return Timed(wall, first, len(transcripts), errors, marks.get("start"), marks.get("up"), in_driver)


def latency_runs(repeat: int) -> list[str]:
    lines = []
    for n, c in ((600, 200), (2000, 1000)):
        ideal_s = n / (c / (2 * QUESTIONS * LATENCY_S))
        exact_s = n / (c / (CALLS * LATENCY_S))
        walls, firsts = [], []
        for k in range(repeat):
            with tempfile.TemporaryDirectory(prefix="medarena-bench-cli-") as tmp:
                t = run_command(
                    [
                        "simulate",
                        "--cases",
                        str(n),
                        "--concurrency",
                        str(c),
                        "--doctor",
                        f"mock/doctor?questions={QUESTIONS}&latency={LATENCY_S:g}",
                        "--patient",
                        f"mock/patient?latency={LATENCY_S:g}",
                        "--no-judge",
                        "--no-distill",
                        "--name",
                        "bench",
                    ],
                    Path(tmp),
                    "bench",
                )
            if t.errors or t.consultations != n:
                raise RuntimeError(f"N={n} C={c}: {t.consultations} consultations, {t.errors} not ended well")
            walls.append(t.wall_s)
            firsts.append(t.first_start_s or float("nan"))
            print(
                f"  N={n} C={c} run {k + 1}: {t.wall_s:.1f} s, first consultation {firsts[-1]:.1f} s after launch",
                flush=True,
            )
        wall = statistics.median(walls)
        lines.append(
            f"N={n:5d} C={c:5d}  wall {wall:5.1f} s (runs: {', '.join(f'{w:.1f}' for w in walls)})  "
            f"of C/(2TL): {ideal_s / wall:.2f}  of C/(21L): {exact_s / wall:.2f}  "
            f"first consultation {statistics.median(firsts):.1f} s after launch"
        )
    return lines


def startup_runs(repeat: int) -> list[str]:
    walls, firsts, after_ray, ray_up, in_driver = [], [], [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="medarena-bench-cli-") as tmp:
            t = run_command(["simulate", "--cases", "20", "--name", "bench"], Path(tmp), "bench", note_ray_start=True)
        if t.first_start_s is None or t.ray_start_s is None or t.ray_up_s is None:
            raise RuntimeError("arena simulate --cases 20: no consultation started, or Ray was never started")
        walls.append(t.wall_s)
        firsts.append(t.first_start_s)
        after_ray.append(t.first_start_s - t.ray_start_s)
        ray_up.append(t.ray_up_s - t.ray_start_s)
        in_driver.append(t.in_driver)
    verdict = "met" if statistics.median(after_ray) <= 3 else "NOT met"
    each = ", ".join(f"{a:.2f}" for a in after_ray)
    return [
        f"arena simulate --cases 20 (built-in agents, judged and distilled): first consultation started "
        f"{statistics.median(after_ray):.2f} s after the run started Ray (runs: {each}; "
        f"target <= 3 s: {verdict}), {statistics.median(firsts):.1f} s after launch; "
        f"whole command {statistics.median(walls):.1f} s",
        f"  Ray up {statistics.median(ray_up):.2f} s after the run started it "
        f"(runs: {', '.join(f'{u:.2f}' for u in ray_up)}); consultations the driver played meanwhile: "
        f"{', '.join(str(k) for k in in_driver)} of 20",
    ]


def job_run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="medarena-bench-cli-") as tmp:
        sim = run_command(["simulate", "--cases", "5000", "--name", "bench"], Path(tmp), "bench")
        exp = run_command(["export", "hf", "bench", "--out", str(Path(tmp) / "export")], Path(tmp))
    total = sim.wall_s + exp.wall_s
    verdict = "met" if total <= 120 else "NOT met"
    return [
        f"arena simulate --cases 5000: {sim.wall_s:.1f} s ({sim.consultations} consultations, {sim.errors} errors); "
        f"arena export hf: {exp.wall_s:.1f} s; total {total:.1f} s (target <= 120 s: {verdict})"
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["latency", "startup", "job"], help="run one kind only")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each latency-bound and start-up command (median)")
    args = ap.parse_args(argv)
    lines: list[str] = []
    try:
        if args.only in (None, "latency"):
            print(f"latency-bound runs, L={LATENCY_S:g} s, T={QUESTIONS}:", flush=True)
            lines += latency_runs(args.repeat)
        if args.only in (None, "startup"):
            lines += startup_runs(max(args.repeat, 3))
        if args.only in (None, "job"):
            lines += job_run()
    except RuntimeError as exc:
        print(f"bench/cli.py: {exc}", file=sys.stderr)
        return 1
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
