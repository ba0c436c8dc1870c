"""How much the terminal app costs while it follows 1,000 consultations in flight.

A writer thread plays the runner: it keeps 1,000 consultations in flight in a
temporary SQLite store, each producing a turn every 1-3 s (a model call's
latency), written in one batch every 0.25 s like ``arena/runner.py`` does;
finished consultations are replaced by new ones. The app follows the run
headless (``App.run_test``) for ~20 s: half on the dashboard, half on the
consultations table (1,000+ rows updated live), pressing a key every second.

Printed: CPU the app used (the process's CPU minus the writer thread's),
poll time, database time per poll, the delay from a turn being written to the
app having applied it, and key-press round trips.

    python bench/tui_follow.py [--seconds 20] [--in-flight 1000] [--poll 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.core.store import Store
from arena.core.types import DoctorAction, Run, RunConfig, Transcript, Turn, Usage, utcnow
from cases.loader import builtin_cases
from tui.app import ArenaApp
from tui.screens.consultations import ConsultationsScreen
from tui.screens.dashboard import DashboardScreen

RUN_ID = "run-bench"
TICK_S = 0.25
SENTENCES = [
    "It started about two days ago and it has been getting worse since this morning.",
    "No, I haven't noticed anything like that.",
    "It's a sharp pain, mostly on the right side, and it hurts more when I move.",
    "I take a blood pressure tablet every morning, I think it's amlodipine.",
    "My father had a heart attack when he was sixty.",
]
QUESTIONS = [
    "When did this start, and did it come on suddenly?",
    "Have you had any fever, sweats or chills?",
    "Does the pain go anywhere else, such as your back or shoulder?",
    "Do you take any regular medicines or have any allergies?",
]


@dataclass
class Flight:
    """One consultation the writer is playing."""

    cid: str
    case_id: str
    planned: int
    due: float
    turns: list[Turn] = field(default_factory=list)


@dataclass
class WriterStats:
    """What the writer did."""

    turns: int = 0
    started: int = 0
    finished: int = 0
    cpu_clock: int | None = None
    write_s: list[float] = field(default_factory=list)


def make_turn(f: Flight, rng: random.Random) -> Turn:
    i = len(f.turns)
    if i % 2 == 0:
        return Turn(
            consultation_id=f.cid,
            index=i,
            role="patient",
            content=rng.choice(SENTENCES),
            revealed=[f"hpi.fact{i}"] if rng.random() < 0.5 else [],
            usage=Usage(calls=1, prompt_tokens=900 + 30 * i, completion_tokens=40, cost_usd=0.00016),
            created_at=utcnow(),
        )
    q = rng.choice(QUESTIONS)
    return Turn(
        consultation_id=f.cid,
        index=i,
        role="doctor",
        content=q,
        action=DoctorAction(kind="ask", text=q),
        usage=Usage(calls=1, prompt_tokens=1200 + 40 * i, completion_tokens=60, cost_usd=0.00025),
        created_at=utcnow(),
    )


def writer(url: str, in_flight: int, stop: threading.Event, ready: threading.Event, stats: WriterStats) -> None:
    """Keep ``in_flight`` consultations going until ``stop`` is set."""
    stats.cpu_clock = time.pthread_getcpuclockid(threading.get_ident())
    store = Store(url)
    rng = random.Random(0)
    cases = list(builtin_cases())
    run = Run(id=RUN_ID, name="bench", config=RunConfig(cases=len(cases), trials=10_000, doctor="openai/gpt-4o-mini"))
    store.create_run(run, cases)
    flights: dict[str, Flight] = {}
    serial = 0

    def start(n: int, now: float) -> None:
        nonlocal serial
        rows: list[dict[str, Any]] = []
        for _ in range(n):
            case = cases[serial % len(cases)]
            trial = serial // len(cases)
            serial += 1
            f = Flight(f"{RUN_ID}/{case.id}/t{trial}", case.id, rng.randint(6, 30), now + rng.uniform(0.0, 2.0))
            flights[f.cid] = f
            rows.append(
                {
                    "id": f.cid,
                    "run_id": RUN_ID,
                    "case_id": case.id,
                    "trial": trial,
                    "seed": serial,
                    "doctor": "openai/gpt-4o-mini",
                    "patient": "builtin/patient",
                    "persona": rng.choice(["plain", "anxious", "terse"]),
                    "started_at": utcnow(),
                }
            )
        store.start_consultations(rows)
        stats.started += n

    start(in_flight, time.monotonic())
    ready.set()
    while not stop.is_set():
        tick = time.monotonic()
        fresh: list[Turn] = []
        done: list[Transcript] = []
        for f in list(flights.values()):
            if f.due > tick:
                continue
            t = make_turn(f, rng)
            f.turns.append(t)
            fresh.append(t)
            f.due = tick + rng.uniform(1.0, 3.0)
            if len(f.turns) >= f.planned:
                usage: dict[str, Usage] = {"doctor": Usage(), "patient": Usage()}
                for x in f.turns:
                    usage[x.role].add(x.usage)
                failed = rng.random() < 0.02
                done.append(
                    Transcript(
                        id=f.cid,
                        run_id=RUN_ID,
                        case_id=f.case_id,
                        doctor="openai/gpt-4o-mini",
                        patient="builtin/patient",
                        turns=f.turns,
                        stop_reason="error" if failed else "max_turns",
                        error="RateLimitError: provider said slow down" if failed else None,
                        usage=usage,
                    )
                )
                del flights[f.cid]
        t0 = time.perf_counter()
        store.add_turns(RUN_ID, fresh)
        store.finish_consultations(done, {tr.id: len(tr.turns) for tr in done})
        if done:
            start(len(done), tick)
        stats.write_s.append(time.perf_counter() - t0)
        stats.turns += len(fresh)
        stats.finished += len(done)
        stop.wait(max(0.0, TICK_S - (time.monotonic() - tick)))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> str:
    p50, p95, top = pct(values, 0.5) * 1000, pct(values, 0.95) * 1000, max(values or [0]) * 1000
    return f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {top:6.1f} ms"


async def follow(url: str, seconds: float, poll: float, stats: WriterStats) -> None:
    app = ArenaApp(url, RUN_ID, poll_interval=poll)
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 10
        while not isinstance(app.screen, DashboardScreen) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert stats.cpu_clock is not None
        phases = [("dashboard", None), ("consultations", "c")]
        for name, key in phases:
            if key:
                await pilot.press(key)
                while not (isinstance(app.screen, ConsultationsScreen) and app.screen.ready):
                    await pilot.pause(0.05)
            follower = app.follower
            assert follower is not None
            n_lat, n_poll, n_query = len(follower.latencies), len(app.refresh_times), len(follower.query_times)
            cpu0, wcpu0, wall0 = time.process_time(), time.clock_gettime(stats.cpu_clock), time.monotonic()
            turns0 = stats.turns
            keys: list[float] = []
            end = wall0 + seconds / len(phases)
            while time.monotonic() < end:
                await pilot.pause(1.0)
                t = time.perf_counter()
                await pilot.press("down")
                keys.append(time.perf_counter() - t)
            wall = time.monotonic() - wall0
            app_cpu = (time.process_time() - cpu0) - (time.clock_gettime(stats.cpu_clock) - wcpu0)
            lat = list(follower.latencies)[n_lat:]
            polls = list(app.refresh_times)[n_poll:]
            queries = list(follower.query_times)[n_query:]
            p = follower.progress()
            rate = (stats.turns - turns0) / wall
            print(f"\n[{name}] {wall:.1f} s, {p.running} in flight, {rate:.0f} turns/s written")
            print(f"  app CPU             {app_cpu:6.2f} s = {100 * app_cpu / wall:5.1f}% of one core")
            print(f"  polls               {len(polls)} ({len(polls) / wall:.1f}/s)")
            print(f"  poll, end to end    {ms(polls)}")
            print(f"  database per poll   {ms(queries)}")
            print(f"  turn written->shown {ms(lat)}  ({len(lat)} turns)")
            print(f"  key press round trip{ms(keys)}")
            if isinstance(app.screen, ConsultationsScreen):
                print(f"  table rows          {app.screen.table.row_count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        Store(url)  # migrate once, before the writer and the app both open it
        stats = WriterStats()
        stop, ready = threading.Event(), threading.Event()
        thread = threading.Thread(target=writer, args=(url, args.in_flight, stop, ready, stats), daemon=True)
        thread.start()
        ready.wait()
        print(f"writer: {args.in_flight} consultations in flight, a turn each every 1-3 s, batches every {TICK_S} s")
        try:
            asyncio.run(follow(url, args.seconds, args.poll, stats))
        finally:
            stop.set()
            thread.join()
        print(
            f"\nwriter: {stats.turns} turns, {stats.started} consultations started, {stats.finished} finished; "
            f"batch write {ms(stats.write_s)}"
        )
        store = Store(url)
        counts = store.consultation_status(RUN_ID)
        print(f"store at the end: {counts}; mean batch {statistics.mean(stats.write_s) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
