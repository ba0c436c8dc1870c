"""Consultation throughput: the engine alone, the Ray runner with the store, and a latency-bound model.

Every consultation is 10 doctor questions, 10 patient replies and one final
answer from the doctor: 21 model calls, all through litellm's ``mock/...``
custom provider.

    python bench/throughput.py [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from arena.doctors import get_doctor
from arena.engine import run_consultation
from arena.models import load_litellm
from arena.ray_local import init_ray, shutdown_ray
from arena.runner import ActorSettings, Job, default_actor_count, run_jobs
from arena.store import Store
from arena.types import Case, Run, RunConfig, Transcript
from cases.loader import builtin_cases, select_cases
from personas.catalog import get_persona
from personas.factory import get_patient
from personas.measurement import CaseMeasurement

QUESTIONS = 10
"""T: doctor questions per consultation."""
LATENCY_S = 0.5
"""L: seconds per model call in the latency-injected stage."""
CALLS = 2 * QUESTIONS + 1
"""Model calls per consultation: T asks, T replies, one final answer."""
MAX_TURNS = 20
PERSONA = "plain"


def doctor_name(latency: float = 0.0) -> str:
    return f"mock/doctor?questions={QUESTIONS}" + (f"&latency={latency:g}" if latency else "")


def patient_name(latency: float = 0.0) -> str:
    return "mock/patient" + (f"?latency={latency:g}" if latency else "")


@dataclass
class Result:
    stage: str
    concurrency: int
    n: int
    wall_s: float
    calls: int
    errors: int
    driver_cpu: float
    """Driver process CPU seconds per wall second (1.0 = one core busy)."""
    machine_cpu: float | None
    """Busy share of all the machine's CPUs during the stage, from /proc/stat."""
    latency: float = 0.0

    @property
    def rate(self) -> float:
        return self.n / self.wall_s

    @property
    def ideal(self) -> float | None:
        return self.concurrency / (2 * QUESTIONS * self.latency) if self.latency else None

    @property
    def ideal_exact(self) -> float | None:
        return self.concurrency / (CALLS * self.latency) if self.latency else None


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs, or None off Linux."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def measure(stage: str, concurrency: int, latency: float, fn: Callable[[], Sequence[Transcript] | int]) -> Result:
    """Time ``fn`` (which returns transcripts, or a count of consultations stored) and collect CPU figures."""
    ticks0, cpu0, t0 = _cpu_ticks(), time.process_time(), time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    ticks1 = _cpu_ticks()
    machine = None
    if ticks0 and ticks1 and ticks1[1] > ticks0[1]:
        machine = (ticks1[0] - ticks0[0]) / (ticks1[1] - ticks0[1])
    if isinstance(out, int):
        n, calls, errors = out, out * CALLS, 0
    else:
        n = len(out)
        calls = sum(tr.usage["doctor"].calls + tr.usage["patient"].calls for tr in out)
        errors = sum(1 for tr in out if tr.error or tr.stop_reason != "final_answer")
    return Result(stage, concurrency, n, wall, calls, errors, cpu / wall, machine, latency)


# ---------------------------------------------------------------- 1. engine only


async def _engine(cases: list[Case], concurrency: int, doctor: str, patient: str) -> list[Transcript]:
    sem = asyncio.Semaphore(concurrency)
    persona = get_persona(PERSONA)

    async def one(i: int, case: Case) -> Transcript:
        async with sem:
            return await run_consultation(
                case,
                get_doctor(doctor, i, MAX_TURNS),
                get_patient(patient, case, persona),
                CaseMeasurement(case),
                consultation_id=f"bench-engine/{case.id}/{i}",
                run_id="bench-engine",
                seed=i,
                persona=PERSONA,
                max_turns=MAX_TURNS,
            )

    return await asyncio.gather(*(one(i, c) for i, c in enumerate(cases)))


def bench_engine(n: int, concurrency: int, profile: bool) -> Result:
    cases = select_cases(builtin_cases(), n)
    asyncio.run(_engine(cases[:20], concurrency, doctor_name(), patient_name()))  # warm-up: imports, caches
    prof = cProfile.Profile() if profile else None

    def go() -> list[Transcript]:
        if prof is None:
            return asyncio.run(_engine(cases, concurrency, doctor_name(), patient_name()))
        prof.enable()
        try:
            return asyncio.run(_engine(cases, concurrency, doctor_name(), patient_name()))
        finally:
            prof.disable()

    res = measure("engine (asyncio, instant)", concurrency, 0.0, go)
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        print(buf.getvalue())
    return res


# ---------------------------------------------------------------- 2./3. Ray runner + store


def bench_ray(store: Store, stage: str, n: int, concurrency: int, latency: float, actors: int | None) -> Result:
    doctor, patient = doctor_name(latency), patient_name(latency)
    config = RunConfig(cases=n, doctor=doctor, patient=patient, max_turns=MAX_TURNS, concurrency=concurrency)
    run_id = f"bench-{stage.split()[0]}-{concurrency}-{time.monotonic_ns()}"
    cases = select_cases(builtin_cases(), n)
    store.create_run(Run(id=run_id, name=run_id, config=config), cases)
    jobs = [Job(consultation_id=f"{run_id}/{c.id}", case_id=c.id, trial=0, seed=i) for i, c in enumerate(cases)]
    settings = ActorSettings(run_id=run_id, doctor=doctor, patient=patient, persona=PERSONA, max_turns=MAX_TURNS)
    done: list[Transcript] = []

    def go() -> list[Transcript]:
        run_jobs(
            store,
            settings,
            {c.id: c for c in cases},
            jobs,
            concurrency=concurrency,
            actors=actors,
            on_done=done.append,
        )
        return done

    res = measure(stage, concurrency, latency, go)
    stored = store.consultation_status(run_id)
    if sum(v for k, v in stored.items() if k != "running") != n:
        print(f"  warning: store holds {stored} for {n} consultations", file=sys.stderr)
    store.set_run_status(run_id, "finished")
    return res


# ---------------------------------------------------------------- output


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def print_table(results: list[Result]) -> None:
    head = (
        "stage",
        "C",
        "N",
        "wall s",
        "cons/s",
        "calls/s",
        "ideal C/(2TL)",
        "ratio",
        f"ideal C/({CALLS}L)",
        "ratio",
        "driver cpu",
        "machine cpu",
        "errors",
    )
    rows = []
    for r in results:
        ideal, exact = r.ideal, r.ideal_exact
        rows.append(
            (
                r.stage,
                str(r.concurrency),
                str(r.n),
                f"{r.wall_s:.1f}",
                f"{r.rate:.1f}",
                f"{r.calls / r.wall_s:.0f}",
                _fmt(ideal, ".1f"),
                _fmt(r.rate / ideal if ideal else None, ".2f"),
                _fmt(exact, ".1f"),
                _fmt(r.rate / exact if exact else None, ".2f"),
                f"{100 * r.driver_cpu:.0f}%",
                "-" if r.machine_cpu is None else f"{100 * r.machine_cpu:.0f}%",
                str(r.errors),
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(line(head))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument("--engine-n", type=int, help="consultations for the engine-only stage (default 2000; quick 300)")
    ap.add_argument("--ray-n", type=int, help="consultations for the instant Ray stage (default 2000; quick 300)")
    ap.add_argument("--concurrency", type=int, default=200, help="concurrency of the instant stages (default 200)")
    ap.add_argument(
        "--latency-concurrency", type=int, nargs="+", default=[50, 200, 1000], help="C values of the latency stage"
    )
    ap.add_argument("--waves", type=int, help="latency-stage consultations as multiples of C (3; quick 1)")
    ap.add_argument("--actors", type=int, help="Ray actors (default: one per CPU)")
    ap.add_argument("--profile", action="store_true", help="cProfile the engine-only stage and print the top functions")
    ap.add_argument("--skip-latency", action="store_true", help="skip the latency-injected stage")
    args = ap.parse_args(argv)

    engine_n = args.engine_n or (300 if args.quick else 2000)
    ray_n = args.ray_n or (300 if args.quick else 2000)
    waves = args.waves or (1 if args.quick else 3)
    load_litellm()

    t_start = time.perf_counter()
    results: list[Result] = []
    print(f"CPUs: os.cpu_count()={os.cpu_count()}, usable={len(os.sched_getaffinity(0))}", flush=True)

    print(f"[1] engine only: N={engine_n}, C={args.concurrency} ...", flush=True)
    results.append(bench_engine(engine_n, args.concurrency, args.profile))
    print(f"    {results[-1].rate:.1f} consultations/s", flush=True)

    with tempfile.TemporaryDirectory(prefix="medarena-bench-") as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        t0 = time.perf_counter()
        init_ray()
        import ray

        actors = args.actors or default_actor_count()
        print(f"Ray started in {time.perf_counter() - t0:.1f}s; {actors} actors", flush=True)
        try:
            # Warm-up: the first actors pay for worker processes and imports.
            bench_ray(store, "warm-up", 2 * actors, 2 * actors, 0.0, args.actors)

            print(f"[2] Ray + SQLite, instant: N={ray_n}, C={args.concurrency} ...", flush=True)
            results.append(bench_ray(store, "ray+sqlite (instant)", ray_n, args.concurrency, 0.0, args.actors))
            print(f"    {results[-1].rate:.1f} consultations/s", flush=True)

            if not args.skip_latency:
                for c in args.latency_concurrency:
                    n = waves * c
                    print(f"[3] Ray + SQLite, latency {LATENCY_S}s: N={n}, C={c} ...", flush=True)
                    res = bench_ray(store, f"ray+sqlite (L={LATENCY_S:g}s)", n, c, LATENCY_S, args.actors)
                    results.append(res)
                    print(f"    {res.rate:.1f} consultations/s (ideal {res.ideal_exact:.1f})", flush=True)
        finally:
            store.engine.dispose()
            if ray.is_initialized():
                shutdown_ray()

    print()
    print(f"CPUs: {os.cpu_count()}; Ray actors: {actors}; total time {time.perf_counter() - t_start:.0f}s")
    print(f"T={QUESTIONS} questions, L={LATENCY_S}s per call; a consultation is {CALLS} calls")
    print_table(results)
    bad = sum(r.errors for r in results)
    if bad:
        print(f"\n{bad} consultations did not end with a final answer", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
