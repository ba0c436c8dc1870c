"""The driver plays a run's first consultations while a local Ray starts, then hands over to Ray's actors."""

from concurrent.futures import Future

import pytest

from arena.driver_pool import driver_can_play
from arena.ray_local import RayStartError
from arena.runner import run_jobs
from tests.arena.runs import stored_run

CHAT = "mock/doctor?questions=3&latency=0.05"


@pytest.mark.parametrize(
    ("doctors", "patient", "matcher", "plays"),
    [
        ([CHAT], "builtin/patient", "lexical", True),
        (["http://127.0.0.1:9/doctor"], "builtin/patient", "lexical", True),
        (["builtin/checklist", CHAT], "mock/patient", "lexical", True),
        # Built-in agents are CPU work, which belongs on the actors.
        (["builtin/checklist"], "builtin/patient", "lexical", False),
        # A rate limit would be counted in the driver and again in every actor.
        ([CHAT + "&rpm=60"], "builtin/patient", "lexical", False),
        # Models called through litellm (a local model too, without its extra installed here) stay out of it.
        (["anthropic/claude-3-5-haiku"], "builtin/patient", "lexical", False),
        # A model-played patient's guard with an embedding matcher would load it in the driver too.
        ([CHAT], "mock/patient", "minilm", False),
    ],
)
def test_the_driver_plays_only_runs_that_wait_on_models_it_can_call_cheaply(doctors, patient, matcher, plays):
    assert driver_can_play(doctors, patient, "builtin/case", matcher=matcher) is plays


def _setup(db_url, bank, n):
    return stored_run(db_url, bank, n, CHAT)


def _outcomes(store):
    return {t.id: (t.stop_reason, t.final, [x.content for x in t.turns]) for t in store.transcripts("r1")}


@pytest.mark.slow
def test_consultations_start_in_the_driver_and_move_to_ray_once_it_is_up(ray_local, db_url, bank, tmp_path):
    store, cases, jobs, settings = _setup(db_url, bank, 12)
    ready: Future[dict] = Future()
    done_before_ray: list[str] = []

    def on_done(tr):
        # Ray counts as up once the driver has finished three consultations of its own.
        if not ready.done():
            done_before_ray.append(tr.id)
            if len(done_before_ray) == 3:
                ready.set_result({})

    counts = run_jobs(store, settings, cases, jobs, concurrency=4, actors=2, ray_ready=ready, on_done=on_done)
    assert (counts.done, counts.error, counts.unscheduled) == (12, 0, 0)
    stored = list(store.transcripts("r1"))
    played_here = {t.id for t in stored if t.worker is None}
    on_ray = {t.id for t in stored if t.worker and ":" in t.worker}
    assert set(done_before_ray) <= played_here
    assert on_ray, "once Ray was up, new consultations went to its actors"
    assert played_here | on_ray == {j.consultation_id for j in jobs}
    assert all(t.turns and [x.index for x in t.turns] == list(range(len(t.turns))) for t in stored)

    # Where a consultation ran changes nothing in it: the same jobs on Ray alone end the same way.
    again, *_ = _setup(f"sqlite:///{tmp_path / 'ray-only.db'}", bank, 12)
    run_jobs(again, settings, cases, jobs, concurrency=4, actors=2)
    assert _outcomes(again) == _outcomes(store)


@pytest.mark.slow
def test_a_ray_that_fails_to_start_stops_the_run_with_its_error(ray_local, db_url, bank):
    store, cases, jobs, settings = _setup(db_url, bank, 6)
    ready: Future[dict] = Future()

    def on_done(_tr):
        if not ready.done():
            ready.set_exception(RayStartError("cannot start a local Ray: no room"))

    with pytest.raises(RayStartError, match="no room"):
        run_jobs(store, settings, cases, jobs, concurrency=2, ray_ready=ready, on_done=on_done)
