"""Where consultations run: a few async Ray actors, or the driver's own event loop.

One driver loop (:func:`drive`) serves both, through a small pool interface
(:class:`RayPool`, :class:`InProcessPool`, and :class:`arena.driver_pool.HybridPool`,
which plays in the driver while a local Ray starts). It feeds consultations to the
pool's workers with backpressure (never more
than ``concurrency`` in flight), collects finished transcripts as they come,
and every tick drains the turns the workers produced so far. All database
writes happen in the driver, in batches, so actors on other nodes need no
database access and a viewer sees turns within a tick of their happening.

A dead actor is replaced and the consultations it had in flight are played
again from the start (once); a consultation that fails in any other way
keeps its error and the run goes on. A ``summary`` consultation waits for
the dialogue it summarizes: the driver holds it until that dialogue is
stored, then hands it the facts the dialogue drew out. With a cost budget the driver stops
scheduling new consultations once the turns it has seen cost that much; the
ones in flight finish.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from arena.core.store import Store
from arena.core.types import (
    DEFAULT_GATEKEEPER,
    Case,
    RunProgress,
    Transcript,
    Turn,
    utcnow,
)
from arena.driver_pool import DriverPool, Finished, HybridPool, WorkerPool, driver_capacity
from arena.models.registry import resolve, run_policies
from arena.worker import ActorSettings, Collected, ConsultationWorker, Job, failed_transcript

TICK_S = 0.25
"""How often the driver drains turns and writes them."""


LINGER_S = 0.02
"""How long an actor holds a finished consultation for others to join it, before the driver refills the slots.
Short, because a slot stands idle meanwhile; not nothing, because each exchange costs the driver a store write."""


def default_actor_count() -> int:
    """One actor per CPU the Ray cluster offers (at least one)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", os.cpu_count() or 1)))


def uses_openai(
    doctors: Iterable[str], patient: str, gatekeeper: str = DEFAULT_GATEKEEPER, verifier: str | None = None
) -> bool:
    """Whether any chat model of a run (doctor, patient, gatekeeper, verifier) is called with the openai client."""
    from arena.models import OpenAIModel, get_model

    named = run_policies(doctors, patient, gatekeeper, verifier)
    return any(resolve(r, n).provider.fallback and isinstance(get_model(n), OpenAIModel) for r, n in named)


def uses_litellm(jobs: Sequence[Job], patient: str, gatekeeper: str = DEFAULT_GATEKEEPER) -> bool:
    """Whether any policy in these jobs calls litellm, as the providers that play them say."""
    return any(resolve(r, n).uses_litellm for r, n in run_policies((j.doctor for j in jobs), patient, gatekeeper))


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
                "format": job.format,
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


class RayPool:
    """A few async Ray actors, each running many consultations, spread over the cluster's nodes.

    Jobs go to an actor in one batch per tick, and one long-polling call per
    actor brings back its turns and ended consultations, so Ray carries a
    handful of tasks per tick rather than one per consultation.
    """

    def __init__(
        self,
        settings: ActorSettings,
        cases: dict[str, Case],
        *,
        concurrency: int,
        actors: int,
        uses_litellm: bool,
        uses_openai: bool = False,
    ) -> None:
        """Start the actors.

        Args:
            settings: Shared settings (``share`` is set here from the actor count).
            cases: The run's cases by id; each job takes its case to its actor.
            concurrency: Most consultations in flight at once, over all actors.
            actors: Number of actors.
            uses_litellm: Whether any policy of the run calls litellm.
            uses_openai: Whether any policy of the run calls the official openai client.
        """
        import ray

        self._ray = ray
        self.concurrency = concurrency
        self.per_actor = max(1, math.ceil(concurrency / actors))
        self._settings = dataclasses.replace(settings, share=1.0 / actors)
        self._remote: Any = ray.remote(ConsultationWorker)
        # Each job takes its case along, so an actor holds only the cases it plays: sending every case to
        # every actor up front took 0.8 s before the first job at 2,000 cases, and each actor kept them all.
        # The rubric stays here: the judges read it, a consultation never does (it is 29 of a synthesized
        # case's 67 KB in memory).
        self._cases = cases
        self._played: dict[str, Case] = {}
        self._llm = uses_litellm
        self._openai = uses_openai
        self._actors = [self._new_actor(a) for a in range(actors)]
        self._jobs: list[dict[str, Job]] = [{} for _ in range(actors)]
        """Each actor's consultations in flight, by id."""
        self._outbox: list[list[Job]] = [[] for _ in range(actors)]
        """Jobs submitted since the last tick, per actor, sent in one call at the next."""
        self._polls: dict[Any, int] = {}
        """Each actor's outstanding :meth:`ConsultationWorker.collect` call, and the actor it went to."""
        self._turns: list[list[Turn]] = []

    def _new_actor(self, slot: int) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # Actors go round-robin over the nodes alive right now. Ray's SPREAD
        # strategy, and soft node affinity too, left every zero-CPU actor on
        # the node the driver is attached to.
        nodes = sorted(n["NodeID"] for n in self._ray.nodes() if n.get("Alive"))
        strategy: Any = "SPREAD"
        if len(nodes) > 1:
            strategy = NodeAffinitySchedulingStrategy(node_id=nodes[slot % len(nodes)], soft=False)
        return self._remote.options(
            max_concurrency=4,  # a batch of jobs and a collect call at once, never one task per consultation
            num_cpus=0,
            scheduling_strategy=strategy,
            max_restarts=0,
        ).remote(self._settings, {}, self._llm, self._openai)

    def has_room(self) -> bool:
        """Room under the run's concurrency and on the least busy actor."""
        return self.in_flight() < self.concurrency and min(map(len, self._jobs)) < self.per_actor

    def submit(self, job: Job) -> None:
        """Give ``job`` to the least busy actor; it is sent with the next :meth:`wait`."""
        a = min(range(len(self._actors)), key=lambda i: len(self._jobs[i]))
        self._jobs[a][job.consultation_id] = job
        case = self._played.get(job.case_id)
        if case is None:
            case = self._played[job.case_id] = self._cases[job.case_id].model_copy(update={"rubric": []})
        self._outbox[a].append(dataclasses.replace(job, case=case))

    def in_flight(self) -> int:
        """Consultations on the actors now."""
        return sum(map(len, self._jobs))

    def wait(self, timeout_s: float) -> list[Finished]:
        """Send the new jobs, then return what the first actors to answer hand back; a dead actor is replaced.

        Each actor answers soon after a consultation ends there (:data:`LINGER_S`), or after ``timeout_s``.
        """
        from ray.exceptions import RayActorError

        for a, batch in enumerate(self._outbox):
            if batch:
                # The call's result is nothing; a dead actor shows up in its collect call instead.
                self._actors[a].start.remote(batch)
                self._outbox[a] = []
        polling = set(self._polls.values())
        for a, actor in enumerate(self._actors):
            if a not in polling:
                self._polls[actor.collect.remote(timeout_s, LINGER_S)] = a
        # Some slack past the actors' own timeout: a busy actor's loop answers a little late.
        ready, _ = self._ray.wait(list(self._polls), num_returns=1, timeout=timeout_s * 2)
        if ready:
            ready, _ = self._ray.wait(list(self._polls), num_returns=len(self._polls), timeout=0)
        out: list[Finished] = []
        for ref in ready:
            a = self._polls.pop(ref)
            try:
                got: Collected = self._ray.get(ref)
            except RayActorError as exc:
                out.extend(Finished(job, error=exc, lost=True) for job in self._jobs[a].values())
                self._jobs[a] = {}
                self._outbox[a] = []
                self._actors[a] = self._new_actor(a)
                continue
            self._turns.append(got.turns)
            for tr in got.finished:
                job = self._jobs[a].pop(tr.id)
                out.append(Finished(job, transcript=tr))
        return out

    def drain(self) -> list[list[Turn]]:
        """The turns the actors handed back in :meth:`wait` (a dead actor's consultations come back lost)."""
        out, self._turns = self._turns, []
        return out

    def close(self) -> None:
        """Kill every actor."""
        for actor in self._actors:
            self._ray.kill(actor)


class InProcessPool:
    """One worker whose consultations are tasks on an event loop that runs while the driver waits.

    For a policy that needs the driver's own terminal (``--doctor human``). The
    loop runs only inside :meth:`wait` and :meth:`drain`, as it ran only between
    the driver's bookkeeping before; Ctrl-C during a wait cancels the wait and
    raises KeyboardInterrupt, as :func:`asyncio.run` does.
    """

    def __init__(
        self, settings: ActorSettings, cases: dict[str, Case], *, concurrency: int, uses_litellm: bool
    ) -> None:
        """Create the worker and its event loop.

        Args:
            settings: Shared settings.
            cases: The run's cases by id.
            concurrency: Most consultations in flight at once.
            uses_litellm: Whether any policy of the run calls litellm.
        """
        self.concurrency = concurrency
        self._worker = ConsultationWorker(settings, cases, uses_litellm)
        self._runner = asyncio.Runner()
        self._running: dict[asyncio.Task[Transcript], Job] = {}

    def has_room(self) -> bool:
        """Room under the concurrency."""
        return len(self._running) < self.concurrency

    def submit(self, job: Job) -> None:
        """Start ``job`` as a task; it runs when the loop next does."""
        self._running[self._runner.get_loop().create_task(self._worker.run(job))] = job

    def in_flight(self) -> int:
        """Consultations started and not yet returned."""
        return len(self._running)

    def wait(self, timeout_s: float) -> list[Finished]:
        """Run the loop until a consultation ends or the timeout passes."""
        ended, _ = self._runner.run(
            asyncio.wait(set(self._running), timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        )
        out: list[Finished] = []
        for task in ended:
            job = self._running.pop(task)
            exc = task.exception()
            out.append(Finished(job, error=exc) if exc else Finished(job, transcript=task.result()))
        return out

    def drain(self) -> list[list[Turn]]:
        """The worker's turns since the last call."""
        return [self._runner.run(self._worker.drain())]

    def close(self) -> None:
        """Cancel what still runs, close the model clients and the loop."""
        from arena.models.openai_compat import close_clients

        self._runner.run(close_clients())
        self._runner.close()


def run_jobs(
    store: Store,
    settings: ActorSettings,
    cases: dict[str, Case],
    jobs: Sequence[Job],
    *,
    concurrency: int,
    actors: int | None = None,
    in_process: bool = False,
    ray_ready: Future[Any] | None = None,
    max_cost_usd: float | None = None,
    on_done: Callable[[Transcript], None] | None = None,
) -> RunProgress:
    """Run consultations on Ray actors (or in this process) and store everything as it happens.

    Args:
        store: Where turns and transcripts go.
        settings: Shared settings.
        cases: The run's cases by id.
        jobs: Consultations to run.
        concurrency: Most consultations in flight at once, over all workers.
        actors: Number of Ray actors; default one per CPU (never more than jobs).
        in_process: Run them on this process's event loop instead of Ray, for
            a policy that needs the driver's own terminal (``--doctor human``).
        ray_ready: A local Ray still starting (see :func:`arena.ray_local.start_ray_in_background`):
            the driver plays consultations itself until it is up (:class:`arena.driver_pool.HybridPool`).
            Only for a run the driver may play (:func:`arena.driver_pool.driver_capacity`). None: Ray is up already.
        max_cost_usd: Stop scheduling new consultations once this is spent.
        on_done: Called with each stored transcript (progress display).

    Returns:
        What happened: consultations done, failed, left unscheduled, restarted.
    """
    llm = uses_litellm(jobs, settings.patient, settings.gatekeeper)
    doctors = [j.doctor for j in jobs]  # repeats are counted once wherever a run's policies are walked
    openai = uses_openai(doctors, settings.patient, settings.gatekeeper, settings.guard_verifier)

    def ray_pool() -> RayPool:
        n_actors = max(1, min(actors or default_actor_count(), len(jobs) or 1))
        return RayPool(settings, cases, concurrency=concurrency, actors=n_actors, uses_litellm=llm, uses_openai=openai)

    # What the driver may play while a local Ray starts; a run it may not play waits for Ray.
    room = 0
    if not in_process and ray_ready is not None and not ray_ready.done():
        room = driver_capacity(
            doctors, settings.patient, settings.gatekeeper, settings.guard_verifier, settings.guard_matcher
        )
    pool: WorkerPool
    if in_process:
        pool = InProcessPool(settings, cases, concurrency=concurrency, uses_litellm=llm)
    elif room and ray_ready is not None:
        local = DriverPool(settings, cases, concurrency=min(concurrency, room), uses_openai=openai)
        pool = HybridPool(local, ray_ready, ray_pool, concurrency=concurrency)
    else:
        if ray_ready is not None:
            ray_ready.result()
        pool = ray_pool()
    try:
        return drive(pool, store, settings, jobs, max_cost_usd=max_cost_usd, on_done=on_done)
    finally:
        pool.close()


def drive(
    pool: WorkerPool,
    store: Store,
    settings: ActorSettings,
    jobs: Sequence[Job],
    *,
    max_cost_usd: float | None = None,
    on_done: Callable[[Transcript], None] | None = None,
) -> RunProgress:
    """Feed ``jobs`` to ``pool`` with backpressure and store what comes back, every tick.

    A consultation whose worker died is played again from the start, once; a
    second loss, or any other failure, is stored as its error. Arguments are
    those of :func:`run_jobs`.

    Returns:
        What happened, with the consultations never started as ``unscheduled``.
    """
    ledger = _Ledger(store, settings, max_cost_usd, on_done)
    queue = deque(jobs)
    replayed: set[str] = set()
    # Summaries wait here for the dialogue they summarize, keyed by its id; one
    # whose dialogue was stored before (a resumed run) goes straight ahead.
    pending = {j.consultation_id for j in jobs}
    held: dict[str, list[Job]] = {}
    while pool.in_flight() or (queue and ledger.can_start()):
        started: list[Job] = []
        while queue and pool.has_room() and ledger.can_start():
            job = queue.popleft()
            if job.source is not None:
                if job.source in pending and job.source not in ledger.finished:
                    held.setdefault(job.source, []).append(job)
                    continue
                job = dataclasses.replace(job, disclosed=_disclosed(store, settings.run_id, job.source))
            pool.submit(job)
            started.append(job)
        ledger.start(started)
        finished = pool.wait(TICK_S)
        # Drained after the wait: a consultation's turns are buffered before it returns, so a
        # finished one's last turns are written before its transcript is.
        ledger.turns(pool.drain())
        done: list[Transcript] = []
        for f in finished:
            if f.transcript is not None:
                done.append(f.transcript)
            elif f.lost and f.job.consultation_id not in replayed:
                replayed.add(f.job.consultation_id)
                ledger.restart([f.job])
                queue.appendleft(f.job)
            else:
                done.append(failed_transcript(ledger.settings, f.job, f.error or RuntimeError("no transcript")))
        ledger.finish(done)
        for tr in done:
            queue.extendleft(reversed(held.pop(tr.id, [])))
    ledger.progress.unscheduled = len(queue) + sum(len(v) for v in held.values())
    return ledger.progress


def _disclosed(store: Store, run_id: str, consultation_id: str) -> tuple[str, ...]:
    """The fact ids a stored consultation drew out (none if it is not stored)."""
    from arena.engine import disclosed

    for tr in store.transcripts(run_id, consultation_id):
        return disclosed(tr)
    return ()
