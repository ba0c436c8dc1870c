"""The Ray layer: a few async actors, each running many consultations at once.

The driver feeds consultations to the actors with backpressure (never more
than ``concurrency`` in flight), collects finished transcripts as they come,
and every tick drains the turns the actors produced so far. All database
writes happen in the driver, in batches, so actors on other nodes need no
database access and a viewer sees turns within a tick of their happening.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from arena.store import Store
from arena.types import Case, Transcript, Turn, utcnow

TICK_S = 0.25
"""How often the driver drains turns and writes them."""


@dataclass(frozen=True)
class Job:
    """One consultation to run."""

    consultation_id: str
    """Its id."""
    case_id: str
    """The case to play."""
    trial: int
    """Trial number."""
    seed: int
    """Seed for its policies."""


@dataclass(frozen=True)
class ActorSettings:
    """What every consultation of a run shares."""

    run_id: str
    doctor: str
    patient: str
    persona: str
    max_turns: int
    timeout_s: float | None = None


class ConsultationWorker:
    """Runs consultations inside one Ray actor (also usable in-process in tests)."""

    def __init__(self, settings: ActorSettings, cases: dict[str, Case]) -> None:
        """Keep the run's settings and cases.

        Args:
            settings: Shared settings.
            cases: Every case of the run, by id (sent once, not per job).
        """
        self.settings = settings
        self.cases = cases
        self._turns: list[Turn] = []
        if not (settings.doctor.startswith("builtin/") and settings.patient.startswith("builtin/")):
            # Importing litellm takes seconds; doing it here keeps it from
            # stalling the event loop under the first wave of consultations.
            from arena.models import load_litellm

            load_litellm()

    async def run(self, job: Job) -> Transcript:
        """Run one consultation; turns are buffered for :meth:`drain`."""
        from arena.doctors import get_doctor
        from arena.engine import run_consultation
        from personas.catalog import get_persona
        from personas.factory import get_patient
        from personas.measurement import CaseMeasurement

        s = self.settings
        case = self.cases[job.case_id]
        persona = get_persona(s.persona)
        return await run_consultation(
            case,
            get_doctor(s.doctor, job.seed, s.max_turns),
            get_patient(s.patient, case, persona),
            CaseMeasurement(case),
            consultation_id=job.consultation_id,
            run_id=s.run_id,
            trial=job.trial,
            seed=job.seed,
            persona=s.persona,
            max_turns=s.max_turns,
            timeout_s=s.timeout_s,
            on_turn=self._turns.append,
        )

    async def drain(self) -> list[Turn]:
        """Return and forget the turns produced since the last call."""
        out, self._turns = self._turns, []
        return out

    async def pid(self) -> tuple[int, str]:
        """Return this worker's process id and node id (for tests of placement)."""
        import ray

        return os.getpid(), ray.get_runtime_context().get_node_id()


def default_actor_count() -> int:
    """One actor per CPU the Ray cluster offers (at least one)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", os.cpu_count() or 1)))


def run_jobs(
    store: Store,
    settings: ActorSettings,
    cases: dict[str, Case],
    jobs: Sequence[Job],
    *,
    concurrency: int,
    actors: int | None = None,
    on_done: Callable[[Transcript], None] | None = None,
) -> dict[str, int]:
    """Run consultations on Ray actors and store everything as it happens.

    Args:
        store: Where turns and transcripts go.
        settings: Shared settings.
        cases: The run's cases by id.
        jobs: Consultations to run.
        concurrency: Most consultations in flight at once, over all actors.
        actors: Number of actors; default one per CPU (never more than jobs).
        on_done: Called with each stored transcript (progress display).

    Returns:
        Counts: ``done``, ``error``.
    """
    import ray

    n_actors = max(1, min(actors or default_actor_count(), len(jobs) or 1))
    per_actor = max(1, math.ceil(concurrency / n_actors))
    remote_cls: Any = ray.remote(ConsultationWorker)
    cases_ref = ray.put(cases)
    pool = [
        remote_cls.options(
            max_concurrency=per_actor + 4,  # room for drain() beside the consultations
            num_cpus=0,
            scheduling_strategy="SPREAD",
        ).remote(settings, cases_ref)
        for _ in range(n_actors)
    ]
    queue = deque(jobs)
    pending: dict[Any, tuple[int, Job]] = {}
    inflight = [0] * n_actors
    written: dict[str, int] = {}
    finished: set[str] = set()
    counts = {"done": 0, "error": 0}
    try:
        while queue or pending:
            started: list[dict[str, Any]] = []
            while queue and len(pending) < concurrency:
                a = min(range(n_actors), key=inflight.__getitem__)
                if inflight[a] >= per_actor:
                    break
                job = queue.popleft()
                pending[pool[a].run.remote(job)] = (a, job)
                inflight[a] += 1
                written[job.consultation_id] = 0
                started.append(
                    {
                        "id": job.consultation_id,
                        "run_id": settings.run_id,
                        "case_id": job.case_id,
                        "trial": job.trial,
                        "seed": job.seed,
                        "doctor": settings.doctor,
                        "patient": settings.patient,
                        "persona": settings.persona,
                        "started_at": utcnow(),
                    }
                )
            store.start_consultations(started)
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=TICK_S)
            new_turns: list[Turn] = []
            for batch in ray.get([a.drain.remote() for a in pool]):
                for t in batch:
                    if t.consultation_id in finished or t.index != written.get(t.consultation_id, -1):
                        continue
                    new_turns.append(t)
                    written[t.consultation_id] += 1
            store.add_turns(settings.run_id, new_turns)
            done: list[Transcript] = []
            for ref in ready:
                a, job = pending.pop(ref)
                inflight[a] -= 1
                try:
                    tr = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - an actor crash fails its consultations, not the run
                    tr = Transcript(
                        id=job.consultation_id,
                        run_id=settings.run_id,
                        case_id=job.case_id,
                        trial=job.trial,
                        seed=job.seed,
                        doctor=settings.doctor,
                        patient=settings.patient,
                        persona=settings.persona,
                        stop_reason="error",
                        error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:500]}",
                    )
                done.append(tr)
            store.finish_consultations(done, written)
            for tr in done:
                finished.add(tr.id)
                written.pop(tr.id, None)
                counts["error" if tr.error else "done"] += 1
                if on_done:
                    on_done(tr)
    finally:
        for a in pool:
            ray.kill(a)
    return counts
