import os

# Offline first: litellm must not fetch its price map, Hugging Face must not reach the hub.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.pop("ARENA_DB", None)

import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from arena.core.store import Store
from arena.core.types import Case
from cases.loader import builtin_cases

PG_ADMIN_URL = os.environ.get("ARENA_TEST_PG")
"""A PostgreSQL server URL with rights to create databases (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``). When set, every test
that takes ``db_url`` or ``store`` gets a fresh database on that server instead
of a SQLite file; .ci/run sets it for its second pass."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``postgres`` every test that gets its database from ``db_url``.

    Those are exactly the tests that ``ARENA_TEST_PG`` moves to PostgreSQL, so
    ``pytest -m postgres`` is the PostgreSQL pass. ``fixturenames`` holds every
    fixture a test needs, through other fixtures too (``store``, ``finished``).
    It runs first so that ``-m``, which deselects in the same hook, sees the mark.
    """
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def db_url(tmp_path):
    """A fresh, empty database for one test: PostgreSQL when ``ARENA_TEST_PG`` is set, else SQLite."""
    if not PG_ADMIN_URL:
        yield f"sqlite:///{tmp_path / 'arena.db'}"
        return
    name = f"arena_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE ends the sessions the test's stores (and any CLI it ran) still hold.
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def arena_argv(*args: str, prelude: str = "") -> list[str]:
    """The command that runs ``arena ARGS`` with this interpreter, so the code under test is this checkout's.

    Args:
        *args: The command line after ``arena``.
        prelude: Python to run in the new process before the CLI starts (e.g. to hide a package).

    Returns:
        The argument vector for ``subprocess``.
    """
    if not prelude:
        return [sys.executable, "-m", "arena.cli", *args]
    code = prelude + "import sys; from arena.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def arena(
    cwd: str | Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    db: str | None = None,
    input: str | bytes | None = None,
    timeout: float = 300,
    text: bool = True,
    prelude: str = "",
) -> subprocess.CompletedProcess:
    """Run the ``arena`` command line in a process of its own, as a user would, and wait for it.

    Args:
        cwd: The folder it runs in (its default ``./arena.db`` is there).
        *args: The command line after ``arena``.
        env: Its whole environment; by default this process's, without ``ARENA_DB``.
        db: A database URL, given to it as ``ARENA_DB``.
        input: What it reads on standard input.
        timeout: Seconds after which the test fails.
        text: Whether stdout and stderr are read as text (else bytes).
        prelude: Python to run before the CLI starts (see ``arena_argv``).

    Returns:
        The finished process, with stdout and stderr captured.
    """
    environ = {k: v for k, v in os.environ.items() if k != "ARENA_DB"} if env is None else dict(env)
    if db is not None:
        environ["ARENA_DB"] = db
    return subprocess.run(
        arena_argv(*args, prelude=prelude),
        cwd=cwd,
        env=environ,
        input=input,
        capture_output=True,
        text=text,
        timeout=timeout,
    )


def nothing_written(url: str) -> bool:
    """Whether a database from ``db_url`` is still untouched: no SQLite file, or no tables at all."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not os.path.exists(path):
            return True
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray of two CPUs for one test module, stopped after its last test."""
    from arena.ray_local import init_ray, shutdown_ray

    init_ray(num_cpus=2)
    yield
    shutdown_ray()


@pytest.fixture
def store(db_url) -> Store:
    return Store(db_url)


@pytest.fixture
def stemi() -> Case:
    return next(c for c in builtin_cases() if c.id == "acs-stemi")


@pytest.fixture
def bank() -> tuple[Case, ...]:
    return builtin_cases()


def start_consultation(store: Store, cid: str, run_id: str = "r1", case_id: str = "acs-stemi") -> None:
    """Record one consultation as started (doctor ``d``, patient ``p``, plain persona, trial and seed 0)."""
    from arena.core.types import utcnow

    store.start_consultations(
        [
            {
                "id": cid,
                "run_id": run_id,
                "case_id": case_id,
                "trial": 0,
                "seed": 0,
                "doctor": "d",
                "patient": "p",
                "persona": "plain",
                "started_at": utcnow(),
            }
        ]
    )


def store_run(store: Store, name: str, diligence: float, n: int = 12, trials: int = 2) -> str:
    """Store a run of checklist-doctor consultations without Ray (engine + store only)."""
    from arena.core.types import Run, RunConfig, utcnow
    from cases.synthesizer import generate

    cases = generate(n, seed=3)
    run = Run(id=f"run-{name}", name=name, config=RunConfig(cases=n, trials=trials))
    store.create_run(run, cases)
    transcripts = []
    for i, case in enumerate(cases):
        for trial in range(trials):
            cid = f"{run.id}/{case.id}/t{trial}"
            store.start_consultations(
                [
                    {
                        "id": cid,
                        "run_id": run.id,
                        "case_id": case.id,
                        "trial": trial,
                        "seed": i,
                        "doctor": "builtin/checklist",
                        "patient": "builtin/patient",
                        "persona": "plain",
                        "started_at": utcnow(),
                    }
                ]
            )
            tr, _ = consult(case, diligence, seed=i * trials + trial, cid=cid, run_id=run.id, trial=trial)
            transcripts.append(tr)
    store.finish_consultations(transcripts, {})
    return run.id


def consult(case: Case, diligence: float = 1.0, seed: int = 0, cid: str = "c1", run_id: str = "r1", trial: int = 0):
    """Play one consultation in-process: the checklist doctor and the built-in patient.

    Returns:
        ``(transcript, doctor)`` so a test can read what the doctor did.
    """
    import asyncio

    from arena.doctors import ChecklistDoctor
    from arena.engine import run_consultation
    from personas.builtin_patient import BuiltinPatient
    from personas.catalog import get_persona
    from personas.measurement import CaseMeasurement

    doc = ChecklistDoctor("builtin/checklist", seed=seed, diligence=diligence)
    tr = asyncio.run(
        run_consultation(
            case,
            doc,
            BuiltinPatient(case, get_persona("plain")),
            CaseMeasurement(case),
            consultation_id=cid,
            run_id=run_id,
            trial=trial,
            max_turns=20,
        )
    )
    return tr, doc
