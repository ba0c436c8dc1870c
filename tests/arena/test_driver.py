"""The one driver loop, over a scripted pool (no Ray) and over the in-process pool."""

import dataclasses
from collections import deque

from arena.core.store import Store
from arena.core.types import Run, RunConfig, Transcript, Turn
from arena.driver_pool import Finished
from arena.runner import ActorSettings, InProcessPool, Job, drive, run_jobs
from cases.loader import select_cases

SETTINGS = ActorSettings(run_id="r1", patient="builtin/patient", max_turns=20)


def _setup(db_url, bank, n, doctor="builtin/checklist"):
    store = Store(db_url)
    cases = select_cases(bank, n)
    store.create_run(Run(id="r1", name="r1", config=RunConfig(cases=n, doctor=doctor)), cases)
    jobs = [
        Job(consultation_id=f"r1/{c.id}/t0", case_id=c.id, trial=0, seed=i, doctor=doctor) for i, c in enumerate(cases)
    ]
    return store, {c.id: c for c in cases}, jobs


class WorkerDied(Exception):
    """Stands in for a dead Ray actor."""


class ScriptedPool:
    """A pool whose consultations end, fail or lose their worker as each job's script says, one per wait."""

    def __init__(self, script: dict[str, list[str]], room: int = 2) -> None:
        self.script = {k: deque(v) for k, v in script.items()}
        self.room = room
        self.running: list[Job] = []
        self.submitted: list[str] = []
        self.closed = False

    def has_room(self) -> bool:
        return len(self.running) < self.room

    def submit(self, job: Job) -> None:
        self.running.append(job)
        self.submitted.append(job.consultation_id)

    def in_flight(self) -> int:
        return len(self.running)

    def wait(self, timeout_s: float) -> list[Finished]:
        job = self.running.pop(0)
        what = self.script[job.consultation_id].popleft()
        if what == "lost":
            return [Finished(job, error=WorkerDied("actor died"), lost=True)]
        if what == "fail":
            return [Finished(job, error=ValueError("bad case"))]
        return [Finished(job, transcript=_transcript(job))]

    def drain(self) -> list[list[Turn]]:
        return []

    def close(self) -> None:
        self.closed = True


def _transcript(job: Job) -> Transcript:
    return Transcript(
        id=job.consultation_id,
        run_id="r1",
        case_id=job.case_id,
        trial=job.trial,
        seed=job.seed,
        doctor=job.doctor,
        patient="builtin/patient",
        stop_reason="final_answer",
    )


def test_a_lost_consultation_is_played_once_more_and_a_second_loss_is_its_error(db_url, bank):
    store, _, jobs = _setup(db_url, bank, 3)
    a, b, c = (j.consultation_id for j in jobs)
    pool = ScriptedPool({a: ["lost", "done"], b: ["lost", "lost"], c: ["fail"]})
    done: list[Transcript] = []
    progress = drive(pool, store, SETTINGS, jobs, on_done=done.append)
    assert (progress.done, progress.error, progress.restarted, progress.unscheduled) == (1, 2, 2, 0)
    assert pool.submitted.count(a) == 2 and pool.submitted.count(b) == 2 and pool.submitted.count(c) == 1
    errors = {t.id: t.error for t in done if t.error}
    assert errors[b].startswith("WorkerDied: actor died") and errors[c] == "ValueError: bad case"
    assert {t.id: t.stop_reason for t in store.transcripts("r1")} == {a: "final_answer", b: "error", c: "error"}


def test_the_pool_is_never_given_more_than_it_has_room_for(db_url, bank):
    store, _, jobs = _setup(db_url, bank, 5)
    peak = []

    class Counting(ScriptedPool):
        def submit(self, job: Job) -> None:
            super().submit(job)
            peak.append(len(self.running))

    pool = Counting({j.consultation_id: ["done"] for j in jobs}, room=2)
    assert drive(pool, store, SETTINGS, jobs).done == 5
    assert max(peak) == 2


def test_the_in_process_pool_stores_every_consultation_and_turn(db_url, bank):
    store, cases, jobs = _setup(db_url, bank, 4)
    done: list[Transcript] = []
    progress = run_jobs(store, SETTINGS, cases, jobs, concurrency=2, in_process=True, on_done=done.append)
    assert (progress.done, progress.error, progress.unscheduled) == (4, 0, 0)
    stored = {t.id: t for t in store.transcripts("r1")}
    assert sorted(stored) == sorted(j.consultation_id for j in jobs)
    assert all(t.turns and [x.index for x in t.turns] == list(range(len(t.turns))) for t in stored.values())
    assert all(t.turns == [] and t.worker is None for t in done)


def test_the_in_process_pool_returns_a_failing_consultation_with_its_error(bank):
    cases = {c.id: c for c in select_cases(bank, 1)}
    pool = InProcessPool(SETTINGS, cases, concurrency=1, uses_litellm=False)
    try:
        pool.submit(Job(consultation_id="r1/x/t0", case_id="no-such-case", trial=0, seed=0, doctor="builtin/checklist"))
        finished: list[Finished] = []
        while pool.in_flight():
            finished += pool.wait(0.25)
    finally:
        pool.close()
    [f] = finished
    assert f.transcript is None and not f.lost and isinstance(f.error, KeyError)


def test_a_spent_budget_leaves_every_consultation_unscheduled(db_url, bank):
    store, _, jobs = _setup(db_url, bank, 3)
    pool = ScriptedPool({j.consultation_id: ["done"] for j in jobs})
    progress = drive(pool, store, SETTINGS, jobs, max_cost_usd=0.0)
    assert (progress.done, progress.unscheduled) == (0, 3) and pool.submitted == []


def _summary_of(job: Job) -> Job:
    """The summary consultation of a dialogue job."""
    return dataclasses.replace(
        job, consultation_id=f"{job.consultation_id}/summary", format="summary", source=job.consultation_id
    )


def test_a_summary_waits_for_its_dialogue_and_is_told_what_it_drew_out(db_url, bank):
    store, _, [job] = _setup(db_url, bank, 1)
    summary = _summary_of(job)
    seen: list[tuple[str, int, tuple[str, ...]]] = []

    class Watching(ScriptedPool):
        def submit(self, j: Job) -> None:
            seen.append((j.consultation_id, len(self.running), j.disclosed))
            super().submit(j)

    class Telling(Watching):
        def wait(self, timeout_s: float) -> list[Finished]:
            finished = super().wait(timeout_s)
            for f in finished:
                if f.transcript is not None and f.job.format == "dialogue":
                    told = Turn(consultation_id=f.job.consultation_id, index=0, role="patient", content="x")
                    f.transcript.turns = [told.model_copy(update={"revealed": ["hpi.a", "hpi.b", "hpi.a"]})]
            return finished

    pool = Telling({job.consultation_id: ["done"], summary.consultation_id: ["done"]}, room=2)
    progress = drive(pool, store, SETTINGS, [job, summary])
    assert progress.done == 2 and progress.unscheduled == 0
    # Room for both, yet the summary went in only once the dialogue had left the pool, with its facts.
    assert seen == [(job.consultation_id, 0, ()), (summary.consultation_id, 0, ("hpi.a", "hpi.b"))]


def test_a_summary_whose_dialogue_was_stored_before_starts_at_once(db_url, bank):
    store, _, [job] = _setup(db_url, bank, 1)
    pool = ScriptedPool({job.consultation_id: ["done"]})
    drive(pool, store, SETTINGS, [job])
    summary = _summary_of(job)
    pool = ScriptedPool({summary.consultation_id: ["done"]})
    assert drive(pool, store, SETTINGS, [summary]).done == 1
    assert pool.submitted == [summary.consultation_id]
    assert {t.id: t.format for t in store.transcripts("r1")}[summary.consultation_id] == "summary"


def test_a_worker_without_the_runs_cases_plays_the_case_each_job_brings_and_shares_one_copy(bank):
    import asyncio
    import pickle

    from arena.worker import ConsultationWorker

    case = select_cases(bank, 1)[0]
    # Each job arrives as a Ray actor gets it: with its own unpickled copy of the case.
    jobs = [
        Job(consultation_id=f"r1/{case.id}/t{t}", case_id=case.id, trial=t, seed=t, doctor="builtin/checklist")
        for t in range(3)
    ]
    jobs = [pickle.loads(pickle.dumps(dataclasses.replace(j, case=case))) for j in jobs]
    worker = ConsultationWorker(SETTINGS, {}, uses_litellm=False)

    async def play() -> list[Transcript]:
        await worker.start(jobs)
        shared = {id(worker._shared(j.case, j.case_id)) for j in jobs}
        assert len(shared) == 1, "the jobs of one case play one copy of it"
        ended: list[Transcript] = []
        while len(ended) < len(jobs):
            ended += (await worker.collect(5.0)).finished
        return ended

    ended = asyncio.run(play())
    assert sorted(t.id for t in ended) == sorted(j.consultation_id for j in jobs)
    assert all(t.stop_reason == "final_answer" and t.case_id == case.id for t in ended)
