"""A 200-consultation run against providers that fail in every way: nothing dropped, retries bounded and counted."""

import pytest
from sqlalchemy import func, select

from arena import pipeline
from arena.core.store import Store
from arena.core.tables import CONSULTATIONS, TURNS
from arena.core.types import RunConfig
from arena.display import SilentDisplay

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]

RETRIES = 2
FAULTS = "429,500,timeout,reset,empty,garbage"
TRANSIENT = ("rate limited", "server error", "timed out", "connection reset")


def test_200_consultations_under_provider_faults_each_finish_or_keep_their_error(db_url):
    store = Store(db_url)
    # 30% of calls fail; two retries each, so about 1 call in 37 runs out of tries
    # and its consultation must end with that error, not vanish.
    common = f"fail=0.3&faults={FAULTS}&retries={RETRIES}&backoff=0.001&max_backoff=0.002"
    doctor = f"mock/doctor?questions=2&fault_seed=11&{common}"
    patient = f"mock/patient?fault_seed=12&{common}"
    config = RunConfig(cases=50, trials=4, doctors=[doctor], patient=patient, concurrency=32, max_turns=6, seed=5)
    run = pipeline.simulate(store, config, SilentDisplay())
    assert run.status == "finished"

    with store.engine.connect() as conn:
        by_status = dict(
            conn.execute(select(CONSULTATIONS.c.status, func.count()).group_by(CONSULTATIONS.c.status)).all()
        )
        rows = conn.execute(select(CONSULTATIONS.c.id, CONSULTATIONS.c.n_turns, CONSULTATIONS.c.error)).all()
        stored_turns = dict(
            conn.execute(select(TURNS.c.consultation_id, func.count()).group_by(TURNS.c.consultation_id)).all()
        )
    assert sum(by_status.values()) == 200, by_status
    assert set(by_status) <= {"done", "error"}, "nothing left running, nothing in a third state"
    assert len({r.id for r in rows}) == 200
    for r in rows:
        assert stored_turns.get(r.id, 0) == r.n_turns, r.id

    transcripts = list(store.transcripts(run.id))
    assert len(transcripts) == 200
    failed = [t for t in transcripts if t.error]
    assert len(failed) == by_status.get("error", 0)
    # Faults really happened and some outlasted their retries: those consultations say which.
    assert failed, "with 30% failures and 2 retries some calls must run out of tries"
    assert all(any(k in t.error for k in TRANSIENT) for t in failed), {t.error for t in failed}
    for t in transcripts:
        assert t.stop_reason in ("final_answer", "max_turns") or t.error, t.id
        assert [x.index for x in t.turns] == list(range(len(t.turns)))
        for role, u in t.usage.items():
            # Each call is made at most 1 + RETRIES times; a failed consultation's last call also retried.
            assert u.retries <= RETRIES * (u.calls + (1 if t.error else 0)), (t.id, role, u)
    retries = sum(u.retries for t in transcripts for u in t.usage.values())
    calls = sum(u.calls for t in transcripts for u in t.usage.values())
    # Two in three faults are transient and retried: about 0.2 retries a call.
    assert 0.08 * calls < retries < 0.4 * calls, (retries, calls)
    summary = store.summary(run.id)
    assert (summary.consultations, summary.errors) == (200, len(failed))
