"""The engine under real conditions: several doctors, trials, budgets, timeouts, faults, dying workers."""

from collections import Counter

import pytest
from sqlalchemy import text

from arena import pipeline
from arena.core.store import Store
from arena.core.types import RunConfig
from arena.display import SilentDisplay

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

FAST_DOCTOR = "mock/doctor?questions=3"


@pytest.fixture
def db(db_url):
    return Store(db_url)


def _simulate(store, **config):
    config.setdefault("case_file", "builtin")
    return pipeline.simulate(store, RunConfig(**config), SilentDisplay())


def _keys(store, run_id):
    with store.engine.connect() as conn:
        return conn.execute(
            text("select case_id, doctor, trial, seed, status, worker from consultations where run_id = :r"),
            {"r": run_id},
        ).all()


def test_several_doctors_play_the_same_cases_and_seeds_with_trials(db):
    doctors = ["builtin/checklist", "builtin/checklist?diligence=0.5", FAST_DOCTOR]
    run = _simulate(db, cases=4, trials=2, doctors=doctors, actors=2)
    rows = _keys(db, run.id)
    assert len(rows) == 4 * 2 * 3
    assert len({(r.case_id, r.doctor, r.trial) for r in rows}) == len(rows)
    assert Counter(r.doctor for r in rows) == {d: 8 for d in doctors}
    seeds = {}
    for r in rows:
        seeds.setdefault((r.case_id, r.trial), set()).add(r.seed)
    assert all(len(s) == 1 for s in seeds.values()), "every doctor gets the same seed for a (case, trial)"
    assert len({next(iter(s)) for s in seeds.values()}) == len(seeds), "trials differ in seed"
    assert {r.status for r in rows} == {"done"}
    assert all(r.worker and ":" in r.worker for r in rows)

    pipeline.judge(db, run.id, SilentDisplay())
    from judges.analysis import analyze_run

    a = analyze_run(db, run.id)
    assert set(a.pass_k_by_doctor) == set(doctors)
    assert all(set(pk) == {1, 2} for pk in a.pass_k_by_doctor.values())
    assert set(a.breakdowns["doctor"]) == set(doctors)


def test_a_cost_budget_stops_scheduling_and_lets_running_ones_finish(db):
    # Each model call costs $0.01; a consultation of 2 questions makes 5 calls ($0.05).
    doctor = "mock/doctor?questions=2&cost=0.01&latency=0.05"
    patient = "mock/patient?cost=0.01&latency=0.05"
    run = _simulate(db, cases=12, trials=5, doctors=[doctor], patient=patient, concurrency=4, max_cost_usd=0.3)
    assert run.status == "budget_reached"
    rows = _keys(db, run.id)
    assert {r.status for r in rows} == {"done"}, "consultations in flight when the budget ran out still finish"
    spent = db.run_cost(run.id)
    assert spent >= 0.3
    # Nothing starts once the budget is reached: at most the in-flight ones run past it.
    assert spent <= 0.3 + 4 * 0.05 + 1e-9
    assert len(rows) < 60


def test_a_consultation_over_its_time_limit_keeps_its_error_and_the_run_goes_on(db):
    run = _simulate(
        db, cases=3, doctors=["mock/doctor?questions=40&latency=0.05"], patient="builtin/patient", timeout_s=0.5
    )
    transcripts = list(db.transcripts(run.id))
    assert run.status == "finished" and len(transcripts) == 3
    assert {t.stop_reason for t in transcripts} == {"timeout"}
    assert all("0.5 s" in (t.error or "") and t.turns for t in transcripts)


def test_provider_faults_are_retried_and_every_consultation_is_accounted_for(db):
    doctor = "mock/doctor?questions=4&fail=0.2&fault_seed=7&backoff=0.001&retries=6"
    patient = "mock/patient?fail=0.2&fault_seed=8&faults=429,500,timeout,reset&backoff=0.001&retries=6"
    run = _simulate(db, cases=12, trials=4, doctors=[doctor], patient=patient, concurrency=16, max_turns=8)
    transcripts = list(db.transcripts(run.id))
    assert len(transcripts) == 48 and len({t.id for t in transcripts}) == 48
    retries = sum(u.retries for t in transcripts for u in t.usage.values())
    calls = sum(u.calls for t in transcripts for u in t.usage.values())
    assert retries > 0.1 * calls, (retries, calls)
    # Empty and garbage doctor replies are parsed as best they can be; nothing is lost.
    for t in transcripts:
        assert t.stop_reason in ("final_answer", "max_turns") or t.error
        assert [x.index for x in t.turns] == list(range(len(t.turns)))


def test_a_worker_that_dies_mid_run_has_its_consultations_played_again(db, tmp_path):
    marker = tmp_path / "died"
    doctor = f"mock/doctor?questions=3&latency=0.05&die={marker}"
    run = _simulate(db, cases=10, doctors=[doctor], actors=2, concurrency=6)
    assert marker.exists(), "one worker process exited mid-run"
    transcripts = list(db.transcripts(run.id))
    assert len(transcripts) == 10 and all(t.error is None for t in transcripts)
    assert len({t.worker for t in transcripts}) >= 2
    with db.engine.connect() as conn:
        dup = conn.execute(
            text("select consultation_id, idx, count(*) from turns group by consultation_id, idx having count(*) > 1")
        ).all()
    assert dup == []
    for t in transcripts:
        assert [x.index for x in t.turns] == list(range(len(t.turns)))
