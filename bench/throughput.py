"""Consultation throughput: the engine alone, the Ray runner with the store, and a latency-bound model.

Every consultation is 10 doctor questions, 10 patient replies and one final
answer from the doctor: 21 model calls. Two kinds of model answer them:

* the ``mock/...`` scripts, in-process (no socket), through the official
  openai client as every OpenAI-compatible endpoint is called;
* the same scripts served over real HTTP by an OpenAI-compatible server on
  127.0.0.1 that the bench starts (:mod:`arena.models.mock_server`), called
  as ``openai/doctor?...&api_base=...``: the figures then include the HTTP
  client, as real use does.

Against the server the bench also runs the same dialogue shape as a plain
asyncio loop over ``litellm.acompletion``, the yardstick, and splits the
engine's CPU per call into the client library, the engine, the patient
(guard, leak check, matcher) and the rest, from a profile of one run.

Run ``python bench/throughput.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.core.store import Store
from arena.core.types import Case, Run, RunConfig, Transcript
from arena.doctors import get_doctor
from arena.engine import run_consultation
from arena.models import closing, load_litellm
from arena.ray_local import init_ray, shutdown_ray
from arena.runner import default_actor_count, run_jobs
from arena.worker import ActorSettings, Job
from cases.loader import builtin_cases, select_cases
from cases.synthesizer import generate
from personas.catalog import get_persona
from personas.factory import get_patient
from personas.measurement import CaseMeasurement

QUESTIONS = 10
"""T: doctor questions per consultation."""
LATENCY_S = 0.5
"""L: seconds per model call in the latency-injected stage."""
BASE_LATENCY_S = 0.05
"""Latency of the memory baseline, which plays the widest stage's consultations with few in flight."""
CALLS = 2 * QUESTIONS + 1
"""Model calls per consultation: T asks, T replies, one final answer."""
MAX_TURNS = 20
PERSONA = "plain"
HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def doctor_name(latency: float = 0.0, api_base: str | None = None) -> str:
    if api_base:
        return f"openai/doctor?questions={QUESTIONS}&api_base={api_base}" + (f"&latency={latency:g}" if latency else "")
    return f"mock/doctor?questions={QUESTIONS}" + (f"&latency={latency:g}" if latency else "")


def patient_name(latency: float = 0.0, api_base: str | None = None) -> str:
    if api_base:
        return f"openai/patient?api_base={api_base}" + (f"&latency={latency:g}" if latency else "")
    return "mock/patient" + (f"?latency={latency:g}" if latency else "")


SYNTHESIZED = False
"""Whether the stages play synthesized cases, as ``arena simulate`` does, rather than the hand-written ones."""


def bench_cases(n: int) -> list[Case]:
    """The n cases a stage plays: the hand-written ones cycled (the default, as the issue's figures were
    taken), or with ``--synthesized`` n distinct synthesized cases, each needing its own patient preparation."""
    return generate(n, 7) if SYNTHESIZED else select_cases(builtin_cases(), n)


# ---------------------------------------------------------------- the local OpenAI-compatible server


NOT_OURS: set[int] = set()
"""Child processes that stand for the outside world (the HTTP server), left out of this tree's CPU and memory."""


@contextlib.contextmanager
def local_server() -> Iterator[str]:
    """Run the mock server in its own process on 127.0.0.1; yield its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "arena.models.mock_server", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    NOT_OURS.add(proc.pid)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"the mock server did not start: {line!r}")
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------- CPU accounting (Linux /proc; "-" elsewhere)


def _machine_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies summed over all CPUs."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, utime + stime jiffies, resident bytes) for every process."""
    out: dict[int, tuple[int, int, int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            raw = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        f = raw[raw.rindex(")") + 2 :].split()
        out[int(d)] = (int(f[1]), int(f[11]) + int(f[12]), int(f[21]) * PAGE)
    return out


def _kind_of(pid: int) -> str:
    if pid == os.getpid():
        return "driver"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    # A Ray worker is renamed after the actor class it hosts once the actor is created; the workers Ray
    # starts ahead are named ray::IDLE until then, and actors are made on them.
    worker = "ConsultationWorker" in cmd or "default_worker" in cmd or cmd.startswith("ray::IDLE")
    return "actors" if worker else "ray daemons"


class TreeCpu:
    """CPU used by this process and all its descendants (Ray's raylet, GCS and workers), sampled in a thread.

    Processes that exit between samples lose at most one interval of CPU.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.ok = Path("/proc/self/stat").exists()
        self._base: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._kind: dict[int, str] = {}
        self.peak_rss = 0
        """Most resident memory the tree held at one sample, in bytes."""
        self.peak_rss_by_kind: dict[str, int] = {}
        """Most resident memory each kind of process held at one sample, in bytes."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self, first: bool = False) -> None:
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        todo, tree = [os.getpid()], set()
        while todo:
            p = todo.pop()
            if p in NOT_OURS:
                continue
            tree.add(p)
            todo.extend(children.get(p, []))
        self.peak_rss = max(self.peak_rss, sum(table[pid][2] for pid in tree))
        rss: dict[str, int] = {}
        for pid in tree:
            if pid not in self._kind:
                self._kind[pid] = _kind_of(pid)
            rss[self._kind[pid]] = rss.get(self._kind[pid], 0) + table[pid][2]
            ticks = table[pid][1]
            if first:
                self._base[pid] = ticks
            self._base.setdefault(pid, 0)  # born during the stage: all its CPU counts
            self._last[pid] = ticks
        for kind, b in rss.items():
            self.peak_rss_by_kind[kind] = max(self.peak_rss_by_kind.get(kind, 0), b)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> TreeCpu:
        if self.ok:
            self._sample(first=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.ok:
            self._stop.set()
            self._thread.join()
            self._sample()

    def by_process(self) -> dict[str, float]:
        """CPU seconds per kind of process: this driver, Ray's actors, Ray's own daemons."""
        out: dict[str, float] = {}
        for pid in self._last:
            kind = self._kind.get(pid, "other")
            out[kind] = out.get(kind, 0.0) + max(0, self._last[pid] - self._base[pid]) / HZ
        return out

    @property
    def seconds(self) -> float | None:
        if not self.ok:
            return None
        return sum(max(0, self._last[p] - self._base[p]) for p in self._last) / HZ


# ---------------------------------------------------------------- results


@dataclass
class Result:
    stage: str
    concurrency: int
    n: int
    wall_s: float
    startup_s: float
    """Until the first model reply, less one call's latency (Ray: actors start and import litellm)."""
    active_s: float
    """End of startup to the last consultation's end."""
    calls: int
    errors: int
    own_cores: float | None
    """CPU of this process tree (driver + Ray) per wall second."""
    other_cores: float | None
    """CPU of everything else on the machine per wall second."""
    latency: float = 0.0
    peak_rss_mb: float = 0.0
    """Most memory this process tree (driver + Ray) held at once."""
    cores_by_process: dict[str, float] = field(default_factory=dict)
    """CPU per wall second of the driver, the actors and Ray's daemons."""
    peak_mb_by_process: dict[str, float] = field(default_factory=dict)
    """Most memory the driver, the actors and Ray's daemons each held at once."""

    @property
    def in_flight(self) -> int:
        return min(self.concurrency, self.n)

    @property
    def rate(self) -> float:
        return self.n / self.wall_s

    @property
    def active_rate(self) -> float:
        return self.n / self.active_s if self.active_s > 0 else float("nan")

    @property
    def ideal(self) -> float | None:
        return self.in_flight / (2 * QUESTIONS * self.latency) if self.latency else None

    @property
    def ideal_exact(self) -> float | None:
        return self.in_flight / (CALLS * self.latency) if self.latency else None


def measure(stage: str, concurrency: int, latency: float, fn: Callable[[], Sequence[Transcript]]) -> Result:
    """Time ``fn``, which runs the consultations and returns their transcripts."""
    ticks0 = _machine_ticks()
    with TreeCpu() as own:
        t0_wall = time.time()
        t0 = time.perf_counter()
        out = fn()
        wall = time.perf_counter() - t0
    ticks1 = _machine_ticks()
    own_cores = other_cores = None
    if own.seconds is not None:
        own_cores = own.seconds / wall
        if ticks0 and ticks1 and ticks1[1] > ticks0[1]:
            busy_cores = (ticks1[0] - ticks0[0]) / (ticks1[1] - ticks0[1]) * (os.cpu_count() or 1)
            other_cores = max(0.0, busy_cores - own_cores)
    # Startup ends when the first consultation starts: Ray actors import litellm when they are created, before
    # they take work. (Transcripts from Ray come back without their turns, which went to the store as they happened.)
    first_start = min((tr.started_at.timestamp() for tr in out), default=t0_wall)
    startup = max(0.0, first_start - t0_wall)
    last = max((tr.finished_at.timestamp() for tr in out), default=t0_wall)
    return Result(
        stage=stage,
        concurrency=concurrency,
        n=len(out),
        wall_s=wall,
        startup_s=startup,
        active_s=last - t0_wall - startup,
        calls=sum(tr.usage["doctor"].calls + tr.usage["patient"].calls for tr in out),
        errors=sum(1 for tr in out if tr.error or tr.stop_reason != "final_answer"),
        own_cores=own_cores,
        other_cores=other_cores,
        latency=latency,
        peak_rss_mb=own.peak_rss / 2**20,
        cores_by_process={k: v / wall for k, v in own.by_process().items()} if own.ok else {},
        peak_mb_by_process={k: v / 2**20 for k, v in own.peak_rss_by_kind.items()},
    )


# ---------------------------------------------------------------- 1. engine only


async def _engine(cases: list[Case], concurrency: int, api_base: str | None = None) -> list[Transcript]:
    sem = asyncio.Semaphore(concurrency)
    persona = get_persona(PERSONA)
    doctor, patient = doctor_name(api_base=api_base), patient_name(api_base=api_base)

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

    return list(await closing(asyncio.gather(*(one(i, c) for i, c in enumerate(cases)))))


def bench_engine(n: int, concurrency: int, profile: bool, api_base: str | None = None, stage: str = "") -> Result:
    cases = bench_cases(n)
    asyncio.run(_engine(cases[:20], concurrency, api_base))  # warm-up: lazy imports and caches
    prof = cProfile.Profile() if profile else None

    def go() -> list[Transcript]:
        if prof is not None:
            prof.enable()
        try:
            return asyncio.run(_engine(cases, concurrency, api_base))
        finally:
            if prof is not None:
                prof.disable()

    res = measure(stage or "engine (asyncio, instant)", concurrency, 0.0, go)
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
        print(buf.getvalue())
    return res


# ---------------------------------------------------------------- CPU per call, and where it goes

BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mock model (in-process scripts)", ("/arena/models/mock_",)),
    ("client library", ("/openai/", "/httpx2/", "/httpx/", "/aiohttp/", "/litellm/", "/tenacity/", "/aiolimiter/")),
    ("patient (guard, leak check, matcher)", ("/personas/", "/cases/")),
    ("engine", ("/arena/", "/asyncio/")),
)
"""Where a profiled function's own time is counted, by the path of its file; the rest is "other"."""


def _part_of(filename: str) -> str | None:
    path = filename.replace("\\", "/")
    return next((name for name, marks in BUCKETS if any(m in path for m in marks)), None)


def split_by_part(stats: Any) -> dict[str, float]:
    """Profiled own-time per part: builtins and the standard library count for the part that called them.

    ``isinstance`` called by the client library is the client's time; the time a function spent
    called from each caller is split accordingly, up the call chain until a part claims it.
    """
    memo: dict[Any, dict[str, float]] = {}

    def shares(func: Any, depth: int) -> dict[str, float]:
        # The fraction of ``func``'s own time that belongs to each part.
        part = _part_of(func[0])
        if part is not None:
            return {part: 1.0}
        if depth > 6 or func not in stats:
            return {"other": 1.0}
        if func in memo:
            return memo[func]
        callers = stats[func][4]
        total = sum(v[2] for v in callers.values())
        out: dict[str, float] = {}
        if total <= 0:
            out = {"other": 1.0}
        else:
            for caller, v in callers.items():
                for p, f in shares(caller, depth + 1).items():
                    out[p] = out.get(p, 0.0) + f * v[2] / total
        memo[func] = out
        return out

    own: dict[str, float] = {}
    for func, (_cc, _nc, tottime, _ct, _callers) in stats.items():
        for part, f in shares(func, 0).items():
            own[part] = own.get(part, 0.0) + tottime * f
    return own


def cpu_per_call(n: int, concurrency: int, api_base: str, runs: int) -> tuple[list[float], dict[str, float]]:
    """CPU per model call of the engine and client in one process, ``runs`` times; and its split by part.

    The split is the share of profiled own-time per part in one further profiled run, applied to the
    median unprofiled figure (a profile slows small functions more than large ones: a guide, not a meter).
    """
    cases = bench_cases(n)
    asyncio.run(_engine(cases[:20], concurrency, api_base))
    per_call: list[float] = []
    for _ in range(runs):
        t0 = time.process_time()
        out = asyncio.run(_engine(cases, concurrency, api_base))
        calls = sum(tr.usage["doctor"].calls + tr.usage["patient"].calls for tr in out)
        per_call.append((time.process_time() - t0) / calls * 1000)
    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(_engine(cases, concurrency, api_base))
    prof.disable()
    stats: Any = pstats.Stats(prof).stats
    own = split_by_part(stats)
    total = sum(own.values()) or 1.0
    median = statistics.median(per_call)
    return per_call, {part: median * t / total for part, t in own.items()}


# ---------------------------------------------------------------- the yardstick: a plain loop over litellm


async def _plain_litellm(n: int, concurrency: int, api_base: str) -> int:
    """The same dialogue shape with nothing but ``litellm.acompletion``; returns the calls made."""
    litellm = load_litellm()
    sem = asyncio.Semaphore(concurrency)
    calls = 0

    async def one() -> None:
        nonlocal calls
        messages: list[dict[str, str]] = [{"role": "user", "content": "I have chest pain."}]
        async with sem:
            for k in range(QUESTIONS + 1):
                ask = await litellm.acompletion(
                    model="openai/doctor", messages=messages, api_base=api_base, api_key="none", questions=QUESTIONS
                )
                calls += 1
                messages.append({"role": "assistant", "content": ask.choices[0].message.content or ""})
                if k == QUESTIONS:
                    break
                reply = await litellm.acompletion(
                    model="openai/patient", messages=messages[-1:], api_base=api_base, api_key="none"
                )
                calls += 1
                messages.append({"role": "user", "content": reply.choices[0].message.content or ""})

    await asyncio.gather(*(one() for _ in range(n)))
    return calls


def bench_plain_litellm(n: int, concurrency: int, api_base: str) -> Result:
    asyncio.run(_plain_litellm(min(n, 20), concurrency, api_base))  # warm-up
    t0 = time.perf_counter()
    calls = asyncio.run(_plain_litellm(n, concurrency, api_base))
    wall = time.perf_counter() - t0
    return Result(
        stage="plain litellm loop (HTTP, instant)",
        concurrency=concurrency,
        n=n,
        wall_s=wall,
        startup_s=0.0,
        active_s=wall,
        calls=calls,
        errors=0,
        own_cores=None,
        other_cores=None,
    )


# ---------------------------------------------------------------- 2./3. Ray runner + SQLite store


def bench_ray(
    store: Store, stage: str, n: int, concurrency: int, latency: float, actors: int | None, api_base: str | None = None
) -> Result:
    doctor, patient = doctor_name(latency, api_base), patient_name(latency, api_base)
    config = RunConfig(cases=n, doctor=doctor, patient=patient, max_turns=MAX_TURNS, concurrency=concurrency)
    run_id = f"bench-{concurrency}-{time.monotonic_ns()}"
    cases = bench_cases(n)
    store.create_run(Run(id=run_id, name=run_id, config=config), cases)
    jobs = [
        Job(consultation_id=f"{run_id}/{c.id}", case_id=c.id, trial=0, seed=i, doctor=doctor, persona=PERSONA)
        for i, c in enumerate(cases)
    ]
    settings = ActorSettings(run_id=run_id, patient=patient, max_turns=MAX_TURNS)
    done: list[Transcript] = []

    def go() -> list[Transcript]:
        run_jobs(
            store, settings, {c.id: c for c in cases}, jobs, concurrency=concurrency, actors=actors, on_done=done.append
        )
        return done

    # A Ray of its own, as each `arena simulate` starts one: the workers Ray starts ahead (with the
    # consultation modules imported) then serve this stage's actors, whichever stages ran before.
    init_ray()
    try:
        res = measure(stage, concurrency, latency, go)
    finally:
        shutdown_ray()
    status = store.consultation_status(run_id)
    if status.get("running"):
        print(f"  warning: store still has running consultations: {status}", file=sys.stderr)
    store.set_run_status(run_id, "finished")
    return res


# ---------------------------------------------------------------- output


def _f(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def print_table(results: list[Result]) -> None:
    head = (
        "stage",
        "C",
        "N",
        "wall s",
        "startup s",
        "cons/s",
        "cons/s excl startup",
        "calls/s",
        "ideal C/(2TL)",
        "ratio",
        f"ideal C/({CALLS}L)",
        "ratio",
        "own cores",
        "other cores",
        "peak MB",
        "errors",
    )
    rows = []
    for r in results:
        ideal, exact = r.ideal, r.ideal_exact
        c = str(r.concurrency) if r.in_flight == r.concurrency else f"{r.concurrency}({r.in_flight})"
        rows.append(
            (
                r.stage,
                c,
                str(r.n),
                f"{r.wall_s:.1f}",
                f"{r.startup_s:.1f}",
                f"{r.rate:.1f}",
                f"{r.active_rate:.1f}",
                f"{r.calls / r.wall_s:.0f}",
                _f(ideal, ".1f"),
                _f(r.rate / ideal if ideal else None, ".2f"),
                _f(exact, ".1f"),
                _f(r.rate / exact if exact else None, ".2f"),
                _f(r.own_cores, ".2f"),
                _f(r.other_cores, ".2f"),
                f"{r.peak_rss_mb:.0f}",
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
    ap = argparse.ArgumentParser(description="Consultations per second: engine, Ray + SQLite, latency-bound model.")
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute and a half)")
    ap.add_argument("--engine-n", type=int, help="consultations in the engine-only stage (default 1000; quick 150)")
    ap.add_argument("--ray-n", type=int, help="consultations in the instant Ray stage (default 1000; quick 150)")
    ap.add_argument("--concurrency", type=int, default=200, help="concurrency of the instant stages (default 200)")
    ap.add_argument("--latency-c", type=int, nargs="+", default=[50, 200, 1000], help="C values of the latency stage")
    ap.add_argument("--waves", type=int, help="latency-stage consultations per C, in multiples of C (3; quick 1)")
    ap.add_argument("--max-latency-n", type=int, help="cap on latency-stage consultations (default 2000; quick 300)")
    ap.add_argument("--actors", type=int, help="Ray actors (default: one per CPU)")
    ap.add_argument("--profile", action="store_true", help="cProfile the engine-only stage and print the top entries")
    ap.add_argument("--skip-latency", action="store_true", help="skip the latency-injected stage")
    ap.add_argument(
        "--synthesized", action="store_true", help="play distinct synthesized cases, as arena simulate does"
    )
    args = ap.parse_args(argv)
    global SYNTHESIZED
    SYNTHESIZED = args.synthesized

    engine_n = args.engine_n or (150 if args.quick else 1000)
    ray_n = args.ray_n or (150 if args.quick else 1000)
    waves = args.waves or (1 if args.quick else 3)
    max_latency_n = args.max_latency_n or (300 if args.quick else 2000)
    load_litellm()

    t_start = time.perf_counter()
    results: list[Result] = []
    ratio_line = ""
    split_lines: list[str] = []
    memory_base: Result | None = None
    print(f"CPUs: {os.cpu_count()} (usable {len(os.sched_getaffinity(0))})", flush=True)
    with local_server() as api_base:
        print(f"local OpenAI-compatible server: {api_base}", flush=True)
        print(f"[1] engine only, in-process mock: N={engine_n}, C={args.concurrency}", flush=True)
        results.append(bench_engine(engine_n, args.concurrency, args.profile))
        print(f"    {results[-1].rate:.1f} consultations/s", flush=True)
        print(f"[1b] engine only, HTTP server: N={engine_n}, C={args.concurrency}", flush=True)
        results.append(bench_engine(engine_n, args.concurrency, False, api_base, "engine (HTTP, instant)"))
        print(f"    {results[-1].rate:.1f} consultations/s", flush=True)
        cpu_n = min(engine_n, 300)
        print(f"[1c] CPU per call, engine + client, HTTP server: N={cpu_n}, 3 runs", flush=True)
        runs, split = cpu_per_call(cpu_n, args.concurrency, api_base, 3)
        split_lines.append(
            f"CPU per model call, engine + client, HTTP server: median {statistics.median(runs):.3f} ms "
            f"(runs: {', '.join(f'{r:.3f}' for r in runs)}; target <= 1.0)"
        )
        for part, ms in sorted(split.items(), key=lambda kv: -kv[1]):
            split_lines.append(f"    {part:40s} {ms:.3f} ms")
        print("\n".join(split_lines), flush=True)
        print(f"[1d] plain litellm loop, HTTP server: N={engine_n}, C={args.concurrency}", flush=True)
        plain = bench_plain_litellm(engine_n, args.concurrency, api_base)
        results.append(plain)
        print(f"    {plain.rate:.1f} consultations/s", flush=True)

        with tempfile.TemporaryDirectory(prefix="medarena-bench-") as tmp:
            store = Store(f"sqlite:///{tmp}/bench.db")
            t0 = time.perf_counter()
            init_ray()
            actors = args.actors or default_actor_count()
            shutdown_ray()
            print(
                f"Ray started in {time.perf_counter() - t0:.1f}s; {actors} actors; each stage starts its own",
                flush=True,
            )
            try:
                print(f"[2] Ray + SQLite, instant in-process mock: N={ray_n}, C={args.concurrency}", flush=True)
                results.append(bench_ray(store, "ray+sqlite (instant)", ray_n, args.concurrency, 0.0, args.actors))
                print(f"    {results[-1].rate:.1f} consultations/s", flush=True)
                print(f"[2b] Ray + SQLite, instant HTTP server: N={ray_n}, C={args.concurrency}", flush=True)
                http = bench_ray(
                    store, "ray+sqlite (HTTP, instant)", ray_n, args.concurrency, 0.0, args.actors, api_base
                )
                results.append(http)
                ratio_line = (
                    f"Ray + SQLite over HTTP: {http.rate:.1f} consultations/s = {http.rate / plain.rate:.2f}x "
                    f"the plain litellm loop's {plain.rate:.1f} (target >= 3x)"
                )
                print(f"    {http.rate:.1f} consultations/s", flush=True)
                if not args.skip_latency:
                    for c in args.latency_c:
                        n = min(waves * c, max_latency_n)
                        print(f"[3] Ray + SQLite, latency {LATENCY_S:g}s: N={n}, C={c}", flush=True)
                        res = bench_ray(store, f"ray+sqlite (L={LATENCY_S:g}s)", n, c, LATENCY_S, args.actors)
                        results.append(res)
                        print(f"    {res.rate:.1f} consultations/s (ideal {res.ideal_exact:.1f})", flush=True)
                    widest = max((r for r in results if r.latency > 0), key=lambda r: r.in_flight)
                    base_c = min(args.latency_c)
                    if widest.in_flight > base_c:
                        # The same consultations with few in flight: the cases' own memory (in the driver,
                        # the object store and every actor) is then the same on both sides.
                        print(f"[4] memory baseline: N={widest.n}, C={base_c}, latency {BASE_LATENCY_S:g}s", flush=True)
                        memory_base = bench_ray(store, "memory baseline", widest.n, base_c, BASE_LATENCY_S, args.actors)
            finally:
                store.engine.dispose()

    print()
    print(f"CPUs: {os.cpu_count()}; Ray actors: {actors}; total {time.perf_counter() - t_start:.0f}s")
    print(
        f"T={QUESTIONS} questions, L={LATENCY_S:g}s per call; a consultation is {CALLS} calls. "
        "C(n): only n in flight, since N < C; the ideals use n."
    )
    print_table(results)
    print("\ncores busy per process kind (CPU seconds per wall second):")
    for r in results:
        if r.cores_by_process:
            parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.cores_by_process.items()))
            print(f"  {r.stage:36s} {parts}")
    if memory_base is not None:
        lo = memory_base
        hi = max((r for r in results if r.latency > 0 and r is not lo), key=lambda r: r.in_flight)
        per_1000 = (hi.peak_rss_mb - lo.peak_rss_mb) / (hi.in_flight - lo.in_flight) * 1000
        kinds = sorted(set(hi.peak_mb_by_process) | set(lo.peak_mb_by_process))
        extra = hi.in_flight - lo.in_flight
        by_kind = ", ".join(
            f"{k} {(hi.peak_mb_by_process.get(k, 0.0) - lo.peak_mb_by_process.get(k, 0.0)) / extra * 1000:.0f}"
            for k in kinds
        )
        print(
            f"\nmemory: {per_1000:.0f} MB more per 1000 consultations in flight "
            f"(peak {hi.peak_rss_mb:.0f} MB with {hi.in_flight} in flight vs {lo.peak_rss_mb:.0f} MB with "
            f"{lo.in_flight}, the same {hi.n} consultations; driver, Ray processes and actors together; target <= 100)"
            f"\n    per process kind, each at its own peak: {by_kind}"
        )
    print()
    print("\n".join(split_lines))
    if ratio_line:
        print(ratio_line)
    bad = sum(r.errors for r in results)
    if bad:
        print(f"\n{bad} consultations did not end with a final answer", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
