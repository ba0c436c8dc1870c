"""Crash and resume: SIGKILL the driver mid-run, then ``arena simulate --resume``; and the human doctor."""

import contextlib
import os
import signal
import subprocess

import pytest
from sqlalchemy import text

from arena.core.store import Store
from tests.conftest import arena, arena_argv

pytestmark = pytest.mark.slow

CASES = 24
TRIALS = 2
DOCTORS = ("mock/doctor?questions=4&latency=0.1", "builtin/checklist")


def _finished(store: Store) -> int:
    try:
        with store.engine.connect() as conn:
            return conn.execute(text("select count(*) from consultations where status != 'running'")).scalar_one()
    except Exception:  # noqa: BLE001 - the database may not have its tables yet
        return 0


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path, db_url):
    args = ["simulate", "--cases", str(CASES), "--trials", str(TRIALS), "--concurrency", "6", "--no-judge"]
    for d in DOCTORS:
        args += ["--doctor", d]
    args += ["--patient", "mock/patient?latency=0.1", "--name", "crashy"]
    # The database comes through ARENA_DB, as a user would point at a shared one.
    env = {**os.environ, "ARENA_DB": db_url}
    proc = subprocess.Popen(
        arena_argv(*args),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    store = Store(db_url)
    try:
        # Wait (bounded by the process itself) until the run is well under way.
        while proc.poll() is None and _finished(store) < 10:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.2)
        assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        # Whatever Ray left in the killed driver's session goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()

    total = CASES * TRIALS * len(DOCTORS)
    with store.engine.connect() as conn:
        before = conn.execute(text("select status, count(*) from consultations group by status")).all()
        run_status = conn.execute(text("select status from runs")).scalar_one()
    assert run_status == "running", "a killed driver cannot mark its run; resume must cope"
    saved_before = {s: n for s, n in before}.get("done", 0)
    assert 0 < saved_before < total

    r = arena(tmp_path, "simulate", "--resume", "crashy", "--no-judge", db=db_url, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]

    with store.engine.connect() as conn:
        rows = conn.execute(text("select id, case_id, doctor, trial, status from consultations")).all()
        dup_turns = conn.execute(
            text("select consultation_id, idx from turns group by consultation_id, idx having count(*) > 1")
        ).all()
        orphan_turns = conn.execute(
            text("select count(*) from turns where consultation_id not in (select id from consultations)")
        ).scalar_one()
        run_status = conn.execute(text("select status from runs")).scalar_one()
    assert len(rows) == total, "0 lost"
    assert len({(r.case_id, r.doctor, r.trial) for r in rows}) == total, "0 duplicated"
    assert {r.status for r in rows} == {"done"}
    assert dup_turns == [] and orphan_turns == 0
    assert run_status == "finished"
    for tr in store.transcripts(rows[0].id.split("/")[0]):
        assert [t.index for t in tr.turns] == list(range(len(tr.turns)))
        assert tr.turns[-1].role == "doctor" and tr.final is not None


def test_resume_of_an_unknown_run_is_one_line(tmp_path, db_url):
    Store(db_url).engine.dispose()  # a database that holds no such run
    r = arena(tmp_path, "simulate", "--resume", "nope", db=db_url, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "no run 'nope'" in r.stderr


def test_human_doctor_plays_one_case_from_the_terminal(tmp_path, db_url):
    lines = "What brings you in today?\n/exam vital signs\n/final viral illness | influenza | fluids and rest\n"
    r = arena(tmp_path, "simulate", "--cases", "1", "--doctor", "human", "--no-distill", db=db_url, input=lines)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "doctor (" in r.stdout and "patient:" in r.stdout and "measurement:" in r.stdout
    store = Store(db_url)
    (run, n, errors), *_ = store.list_runs()
    assert (n, errors) == (1, 0)
    (tr,) = store.transcripts(run.id)
    assert tr.doctor == "human" and tr.final is not None and tr.final.diagnosis == "viral illness"
    assert [t.role for t in tr.turns] == ["patient", "doctor", "patient", "doctor", "measurement", "doctor"]
    assert len(store.scores(run.id)) == 1
