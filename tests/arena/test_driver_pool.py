"""The driver plays a run's first consultations while a local Ray starts, then hands over to Ray's actors."""

from concurrent.futures import Future

import pytest

from arena import runner
from arena.driver_pool import CPU_DRIVER_CONCURRENCY, DRIVER_CONCURRENCY, DriverPool, driver_capacity
from arena.ray_local import RayStartError
from arena.runner import run_jobs
from tests.arena.runs import stored_run

CHAT = "mock/doctor?questions=3&latency=0.05"


@pytest.mark.parametrize(
    ("doctors", "patient", "matcher", "room"),
    [
        ([CHAT], "builtin/patient", "lexical", DRIVER_CONCURRENCY),
        (["http://127.0.0.1:9/doctor"], "builtin/patient", "lexical", DRIVER_CONCURRENCY),
        (["builtin/checklist", CHAT], "mock/patient", "lexical", DRIVER_CONCURRENCY),
        # Built-in agents never wait: a few at a time on the driver's core.
        (["builtin/checklist"], "builtin/patient", "lexical", CPU_DRIVER_CONCURRENCY),
        # A rate limit would be counted in the driver and again in every actor.
        ([CHAT + "&rpm=60"], "builtin/patient", "lexical", 0),
        # Models called through litellm (a local model too, without its extra installed here) stay out of it.
        (["anthropic/claude-3-5-haiku"], "builtin/patient", "lexical", 0),
        (["builtin/checklist", "anthropic/claude-3-5-haiku"], "builtin/patient", "lexical", 0),
        # A model-played patient's guard with an embedding matcher would load it in the driver too.
        ([CHAT], "mock/patient", "minilm", 0),
    ],
)
def test_the_driver_plays_runs_it_can_call_cheaply_as_many_at_once_as_they_need(doctors, patient, matcher, room):
    assert driver_capacity(doctors, patient, "builtin/case", matcher=matcher) == room


class _Watched(DriverPool):
    """The driver's pool, noting the most consultations it ever held at once."""

    most = 0

    def submit(self, job):
        super().submit(job)
        _Watched.most = max(_Watched.most, self.in_flight())


@pytest.mark.parametrize(("doctor", "most"), [("builtin/checklist", CPU_DRIVER_CONCURRENCY), (CHAT, 30)])
def test_while_ray_starts_the_driver_plays_the_whole_run_as_wide_as_its_kind_allows(
    doctor, most, db_url, bank, monkeypatch
):
    store, cases, jobs, settings = stored_run(db_url, bank, 40, doctor)
    monkeypatch.setattr(runner, "DriverPool", _Watched)
    _Watched.most = 0
    never: Future[dict] = Future()  # a Ray that is still starting when the run ends
    counts = run_jobs(store, settings, cases, jobs, concurrency=30, ray_ready=never)
    assert (counts.done, counts.error) == (40, 0)
    assert _Watched.most == most
    assert all(t.worker is None and t.turns for t in store.transcripts("r1"))


class _StillStarting(Future):
    """A Ray that is not up yet, and fails to start once the run waits for it."""

    def done(self):
        return False

    def result(self, timeout=None):
        raise RayStartError("cannot start a local Ray: no room")


def test_a_run_the_driver_may_not_play_waits_for_ray_rather_than_starting_without_it(db_url, bank):
    store, cases, jobs, settings = stored_run(db_url, bank, 4, CHAT + "&rpm=60")
    with pytest.raises(RayStartError, match="no room"):
        run_jobs(store, settings, cases, jobs, concurrency=4, ray_ready=_StillStarting())
    assert list(store.transcripts("r1")) == []


def _setup(db_url, bank, n, doctor=CHAT):
    return stored_run(db_url, bank, n, doctor)


def _outcomes(store):
    return {t.id: (t.stop_reason, t.final, [x.content for x in t.turns]) for t in store.transcripts("r1")}


@pytest.mark.slow
@pytest.mark.parametrize("doctor", [CHAT, "builtin/checklist"])
def test_consultations_start_in_the_driver_and_move_to_ray_once_it_is_up(doctor, ray_local, db_url, bank, tmp_path):
    store, cases, jobs, settings = _setup(db_url, bank, 12, doctor)
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
    again, *_ = _setup(f"sqlite:///{tmp_path / 'ray-only.db'}", bank, 12, doctor)
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
