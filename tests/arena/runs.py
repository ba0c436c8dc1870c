"""A small stored run for the runner's tests: its store, cases, one job per case, and settings."""

from arena.core.store import Store
from arena.core.types import Run, RunConfig
from arena.runner import ActorSettings, Job
from cases.loader import select_cases


def stored_run(db_url, bank, n, doctor):
    """Run ``r1``: ``n`` cases of ``bank`` for ``doctor``, stored, a job per case, the built-in patient."""
    store = Store(db_url)
    cases = select_cases(bank, n)
    store.create_run(Run(id="r1", name="r1", config=RunConfig(cases=n, doctor=doctor)), cases)
    jobs = [
        Job(consultation_id=f"r1/{c.id}/t0", case_id=c.id, trial=0, seed=i, doctor=doctor) for i, c in enumerate(cases)
    ]
    settings = ActorSettings(run_id="r1", patient="builtin/patient", max_turns=20)
    return store, {c.id: c for c in cases}, jobs, settings
