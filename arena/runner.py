"""Where consultations run: a few async Ray actors, or the driver's own event loop.

The driver feeds consultations to the actors with backpressure (never more
than ``concurrency`` in flight), collects finished transcripts as they come,
and every tick drains the turns the actors produced so far. All database
writes happen in the driver, in batches, so actors on other nodes need no
database access and a viewer sees turns within a tick of their happening.

A dead actor is replaced and the consultations it had in flight are played
again from the start (once); a consultation that fails in any other way
keeps its error and the run goes on. With a cost budget the driver stops
scheduling new consultations once the turns it has seen cost that much; the
ones in flight finish.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arena.core.store import Store
from arena.core.types import Case, RunProgress, Transcript, Turn, utcnow

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
    doctor: str
    """Doctor model name."""
    persona: str = "plain"
    """Persona id the patient speaks with."""


@dataclass(frozen=True)
class ActorSettings:
    """What every consultation of a run shares."""

    run_id: str
    patient: str
    max_turns: int
    timeout_s: float | None = None
    share: float = 1.0
    """This worker's share of each model's rate limits (1/number of workers)."""
    guard_matcher: str = "lexical"
    """Matcher of the hallucination guard on a model-played patient."""
    guard_verifier: str | None = None
    """Chat model that reviews the guard's verdicts that are not firm; None trusts the matcher."""


class ConsultationWorker:
    """Runs consultations inside one Ray actor, or in the driver's own loop."""

    def __init__(self, settings: ActorSettings, cases: dict[str, Case], uses_litellm: bool = True) -> None:
        """Keep the run's settings and cases.

        Args:
            settings: Shared settings.
            cases: Every case of the run, by id (sent once, not per job).
            uses_litellm: Whether any policy of the run calls litellm.
        """
        from arena.models.call_policy import set_share

        self.settings = settings
        self.cases = cases
        self._turns: list[Turn] = []
        self.where = _where()
        set_share(settings.share)
        if uses_litellm:
            # Importing litellm takes seconds; doing it here keeps it from
            # stalling the event loop under the first wave of consultations.
            from arena.models import load_litellm

            load_litellm()

    async def run(self, job: Job) -> Transcript:
        """Run one consultation; its turns are buffered for :meth:`drain`, not returned.

        The transcript comes back without its turns: every turn already goes
        to the driver through :meth:`drain`, and sending them twice doubled
        the pickling on both sides.
        """
        from arena.doctors import get_doctor
        from arena.engine import run_consultation
        from personas.catalog import get_persona
        from personas.factory import get_patient
        from personas.measurement import CaseMeasurement

        s = self.settings
        case = self.cases[job.case_id]
        tr = await run_consultation(
            case,
            get_doctor(job.doctor, job.seed, s.max_turns, case=case),
            get_patient(s.patient, case, get_persona(job.persona), s.guard_matcher, s.guard_verifier),
            CaseMeasurement(case),
            consultation_id=job.consultation_id,
            run_id=s.run_id,
            trial=job.trial,
            seed=job.seed,
            persona=job.persona,
            max_turns=s.max_turns,
            timeout_s=s.timeout_s,
            on_turn=self._buffer,
        )
        tr.worker = self.where
        tr.turns = []
        return tr

    def _buffer(self, turn: Turn) -> None:
        # Looks the list up on each call: drain() swaps in a new one, and a
        # consultation holding the old list's append would lose its later turns.
        self._turns.append(turn)

    async def drain(self) -> list[Turn]:
        """Return and forget the turns produced since the last call."""
        out, self._turns = self._turns, []
        return out


def _where() -> str | None:
    """``node-id:pid`` of this Ray worker; None outside Ray."""
    import ray

    if not ray.is_initialized():
        return None
    return f"{ray.get_runtime_context().get_node_id()}:{os.getpid()}"


def default_actor_count() -> int:
    """One actor per CPU the Ray cluster offers (at least one)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", os.cpu_count() or 1)))


def uses_litellm(jobs: Sequence[Job], patient: str) -> bool:
    """Whether any policy in these jobs calls litellm, as the providers that play them say."""
    from arena.models.registry import Role, resolve

    doctors = {j.doctor for j in jobs}
    return resolve(Role.PATIENT, patient).uses_litellm or any(resolve(Role.DOCTOR, d).uses_litellm for d in doctors)


@dataclass
class _Ledger:
    """The driver's bookkeeping: which turns are stored, what was spent, what is left."""

    store: Store
    settings: ActorSettings
    max_cost_usd: float | None
    on_done: Callable[[Transcript], None] | None
    written: dict[str, int] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    progress: RunProgress = field(default_factory=RunProgress)

    def can_start(self) -> bool:
        return self.max_cost_usd is None or self.progress.cost_usd < self.max_cost_usd

    def start(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            self.written[job.consultation_id] = 0
        self.store.start_consultations(
            {
                "id": job.consultation_id,
                "run_id": self.settings.run_id,
                "case_id": job.case_id,
                "trial": job.trial,
                "seed": job.seed,
                "doctor": job.doctor,
                "patient": self.settings.patient,
                "persona": job.persona,
                "started_at": utcnow(),
            }
            for job in jobs
        )

    def turns(self, batches: Sequence[Sequence[Turn]]) -> None:
        new: list[Turn] = []
        for batch in batches:
            for t in batch:
                # Turns of a consultation that was restarted or already saved whole are dropped.
                if t.consultation_id in self.finished or t.index != self.written.get(t.consultation_id, -1):
                    continue
                new.append(t)
                self.written[t.consultation_id] += 1
                self.progress.cost_usd += t.usage.cost_usd
        self.store.add_turns(self.settings.run_id, new)

    def finish(self, done: Sequence[Transcript]) -> None:
        for tr in done:
            for t in tr.turns[self.written.get(tr.id, 0) :]:
                self.progress.cost_usd += t.usage.cost_usd
        self.store.finish_consultations(done, self.written)
        for tr in done:
            self.finished.add(tr.id)
            self.written.pop(tr.id, None)
            if tr.error:
                self.progress.error += 1
            else:
                self.progress.done += 1
            self.progress.retries += sum(u.retries for u in tr.usage.values())
            if self.on_done:
                self.on_done(tr)

    def restart(self, jobs: Sequence[Job]) -> None:
        """Forget consultations whose worker died, so they can be played again from the start."""
        ids = [j.consultation_id for j in jobs]
        self.store.discard_consultations(self.settings.run_id, ids)
        for cid in ids:
            self.written.pop(cid, None)
        self.progress.restarted += len(ids)


def _failed(settings: ActorSettings, job: Job, exc: BaseException) -> Transcript:
    return Transcript(
        id=job.consultation_id,
        run_id=settings.run_id,
        case_id=job.case_id,
        trial=job.trial,
        seed=job.seed,
        doctor=job.doctor,
        patient=settings.patient,
        persona=job.persona,
        stop_reason="error",
        error=f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:500]}",
    )


def run_jobs(
    store: Store,
    settings: ActorSettings,
    cases: dict[str, Case],
    jobs: Sequence[Job],
    *,
    concurrency: int,
    actors: int | None = None,
    max_cost_usd: float | None = None,
    on_done: Callable[[Transcript], None] | None = None,
) -> RunProgress:
    """Run consultations on Ray actors and store everything as it happens.

    Args:
        store: Where turns and transcripts go.
        settings: Shared settings (``share`` is set here from the actor count).
        cases: The run's cases by id.
        jobs: Consultations to run.
        concurrency: Most consultations in flight at once, over all actors.
        actors: Number of actors; default one per CPU (never more than jobs).
        max_cost_usd: Stop scheduling new consultations once this is spent.
        on_done: Called with each stored transcript (progress display).

    Returns:
        What happened: consultations done, failed, left unscheduled, restarted.
    """
    import ray
    from ray.exceptions import RayActorError
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    n_actors = max(1, min(actors or default_actor_count(), len(jobs) or 1))
    per_actor = max(1, math.ceil(concurrency / n_actors))
    settings = dataclasses.replace(settings, share=1.0 / n_actors)
    remote_cls: Any = ray.remote(ConsultationWorker)
    cases_ref = ray.put(cases)
    llm = uses_litellm(jobs, settings.patient)

    def new_actor(slot: int) -> Any:
        # Actors go round-robin over the nodes alive right now. Ray's SPREAD
        # strategy, and soft node affinity too, left every zero-CPU actor on
        # the node the driver is attached to.
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive"))
        strategy: Any = "SPREAD"
        if len(nodes) > 1:
            strategy = NodeAffinitySchedulingStrategy(node_id=nodes[slot % len(nodes)], soft=False)
        return remote_cls.options(
            max_concurrency=per_actor + 4,  # room for drain() beside the consultations
            num_cpus=0,
            scheduling_strategy=strategy,
            max_restarts=0,
        ).remote(settings, cases_ref, llm)

    pool = [new_actor(a) for a in range(n_actors)]
    ledger = _Ledger(store, settings, max_cost_usd, on_done)
    queue = deque(jobs)
    pending: dict[Any, tuple[int, Job]] = {}
    inflight = [0] * n_actors
    replayed: set[str] = set()
    try:
        while pending or (queue and ledger.can_start()):
            started: list[Job] = []
            while queue and len(pending) < concurrency and ledger.can_start():
                a = min(range(n_actors), key=inflight.__getitem__)
                if inflight[a] >= per_actor:
                    break
                job = queue.popleft()
                pending[pool[a].run.remote(job)] = (a, job)
                inflight[a] += 1
                started.append(job)
            ledger.start(started)
            # Wake when a quarter of the slots have freed up, or at the tick.
            want = max(1, min(len(pending), concurrency // 4))
            ready, _ = ray.wait(list(pending), num_returns=want, timeout=TICK_S)
            batches: list[list[Turn]] = []
            for ref in [actor.drain.remote() for actor in pool]:
                try:
                    batches.append(ray.get(ref))
                except RayActorError:
                    continue  # its consultations are handled below
            ledger.turns(batches)
            done: list[Transcript] = []
            dead: set[int] = set()
            for ref in ready:
                a, job = pending.pop(ref)
                inflight[a] -= 1
                try:
                    done.append(ray.get(ref))
                except RayActorError as exc:
                    dead.add(a)
                    if job.consultation_id in replayed:
                        done.append(_failed(settings, job, exc))
                    else:
                        replayed.add(job.consultation_id)
                        ledger.restart([job])
                        queue.appendleft(job)
                except Exception as exc:  # noqa: BLE001 - one consultation fails alone
                    done.append(_failed(settings, job, exc))
            for a in dead:
                pool[a] = new_actor(a)
            ledger.finish(done)
    finally:
        for actor in pool:
            ray.kill(actor)
    ledger.progress.unscheduled = len(queue)
    return ledger.progress


def run_jobs_inline(
    store: Store,
    settings: ActorSettings,
    cases: dict[str, Case],
    jobs: Sequence[Job],
    *,
    concurrency: int,
    max_cost_usd: float | None = None,
    on_done: Callable[[Transcript], None] | None = None,
) -> RunProgress:
    """Run consultations in this process's event loop (no Ray), storing as they go.

    Used when a policy needs the driver's own terminal (``--doctor human``).
    Same arguments and result as :func:`run_jobs`.
    """
    worker = ConsultationWorker(settings, cases, uses_litellm(jobs, settings.patient))
    ledger = _Ledger(store, settings, max_cost_usd, on_done)
    queue = deque(jobs)

    async def main() -> None:
        running: set[asyncio.Task[Transcript]] = set()
        by_task: dict[asyncio.Task[Transcript], Job] = {}
        while running or (queue and ledger.can_start()):
            started: list[Job] = []
            while queue and len(running) < concurrency and ledger.can_start():
                job = queue.popleft()
                task = asyncio.create_task(worker.run(job))
                running.add(task)
                by_task[task] = job
                started.append(job)
            ledger.start(started)
            finished, running = await asyncio.wait(running, timeout=TICK_S, return_when=asyncio.FIRST_COMPLETED)
            ledger.turns([await worker.drain()])
            done: list[Transcript] = []
            for task in finished:
                job = by_task.pop(task)
                exc = task.exception()
                done.append(_failed(settings, job, exc) if exc else task.result())
            ledger.finish(done)

    asyncio.run(main())
    ledger.progress.unscheduled = len(queue)
    return ledger.progress
