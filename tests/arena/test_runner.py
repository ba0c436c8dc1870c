import threading

import pytest
from sqlalchemy import text

from arena.core.store import Store
from arena.runner import ActorSettings, run_jobs
from tests.arena.runs import stored_run

pytestmark = pytest.mark.slow


def test_every_consultation_and_turn_is_stored_once(ray_local, db_url, bank):
    store, cases, jobs, settings = stored_run(db_url, bank, 30, "builtin/checklist")
    done = []
    counts = run_jobs(store, settings, cases, jobs, concurrency=8, actors=2, on_done=done.append)
    assert (counts.done, counts.error, counts.unscheduled, counts.restarted) == (30, 0, 0, 0)
    assert len(done) == 30
    stored = list(store.transcripts("r1"))
    assert sorted(t.id for t in stored) == sorted(j.consultation_id for j in jobs)
    for t in stored:
        assert [x.index for x in t.turns] == list(range(len(t.turns)))
        assert t.stop_reason == "final_answer"
    with store.engine.connect() as conn:
        n_turns = conn.execute(text("select count(*) from turns")).scalar_one()
    assert n_turns == sum(len(t.turns) for t in stored)
    assert all(t.turns == [] for t in done), (
        "transcripts come back light; their turns went to the store as they happened"
    )


def test_turns_are_persisted_while_consultations_run(ray_local, db_url, bank):
    store, cases, jobs, settings = stored_run(db_url, bank, 6, "mock/doctor?questions=8&latency=0.1")
    viewer = Store(store.url)
    result = {}
    t = threading.Thread(
        target=lambda: result.update(progress=run_jobs(store, settings, cases, jobs, concurrency=6, actors=2)),
        daemon=True,
    )
    t.start()
    seen_live = False
    query = text(
        "select count(*) from turns join consultations c on c.id = turns.consultation_id where c.status = 'running'"
    )
    while t.is_alive() and not seen_live:
        with viewer.engine.connect() as conn:
            seen_live = conn.execute(query).scalar_one() > 0
        t.join(timeout=0.05)
    t.join(timeout=120)
    assert seen_live, "a viewer should see turns of consultations that are still running"
    assert (result["progress"].done, result["progress"].error) == (6, 0)


def test_a_failing_policy_fails_its_consultation_not_the_run(ray_local, db_url, bank):
    # mock/garbage never gives a final answer; the turn cap ends each consultation.
    store, cases, jobs, settings = stored_run(db_url, bank, 4, "mock/garbage")
    settings = ActorSettings(run_id="r1", patient="builtin/patient", max_turns=3, timeout_s=30)
    counts = run_jobs(store, settings, cases, jobs, concurrency=4, actors=1)
    assert (counts.done, counts.error) == (4, 0)
    assert {t.stop_reason for t in store.transcripts("r1")} == {"max_turns"}


def _home_in_a_worker() -> str:
    import os

    import arena.worker  # noqa: F401 - importing it is what gives a Ray worker the user's HOME

    return os.environ["HOME"]


def test_consultations_run_with_the_users_home_not_rays_private_one(ray_local):
    import os

    import ray

    from arena.ray_local import REAL_HOME_VAR

    # Ray's own processes start with a private HOME that holds its empty bootstrap config.
    assert os.environ[REAL_HOME_VAR] == os.environ["HOME"]
    assert ray.get(ray.remote(_home_in_a_worker).remote()) == os.environ["HOME"]


def _modules_in_a_worker() -> list[str]:
    import sys

    return sorted(sys.modules)


def test_a_local_rays_workers_have_the_consultation_modules_before_they_take_work(ray_local):
    import ray

    from arena.ray_local import OPENAI_MODULES, WORKER_MODULES

    # The task itself imports nothing: what it finds was imported as the worker started (the openai
    # client too, which a local Ray's workers import unless told the run does not call it).
    assert {*WORKER_MODULES, *OPENAI_MODULES} <= set(ray.get(ray.remote(_modules_in_a_worker).remote()))
