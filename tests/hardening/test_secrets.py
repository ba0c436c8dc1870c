"""Keys in the environment or in model names never reach the database, reports, exports or the terminal."""

import os
import re
import sqlite3
from pathlib import Path

import pytest

from arena.core.redaction import REDACTED, redact_data, redact_secrets
from tests import conftest

pytestmark = pytest.mark.slow

ENV_KEYS = {
    "OPENAI_API_KEY": "sk-proj-FAKEopenai0123456789",
    "ANTHROPIC_API_KEY": "sk-ant-FAKEanthropic0123456789",
    "HF_TOKEN": "hf_FAKEhuggingface0123456789",
}
PARAM_KEYS = {
    "doctor": "sk-FAKEdoctorparam0123456789",
    "patient": "sk-FAKEpatientparam0123456789",
    "judge": "FAKEjudgetoken0123456789",
}
SECRETS = [*ENV_KEYS.values(), *PARAM_KEYS.values()]


def _leaks(blob: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in blob]


def test_model_parameters_that_are_secrets_are_masked():
    name = f"openai/gpt-4o?temperature=0&api_key={PARAM_KEYS['doctor']}&max_tokens=64"
    assert redact_secrets(name) == f"openai/gpt-4o?temperature=0&api_key={REDACTED}&max_tokens=64"
    for param in ("api_key", "API-KEY", "token", "access_token", "aws_secret_access_key", "password", "client_secret"):
        assert redact_secrets(f"x/y?{param}=abc123") == f"x/y?{param}={REDACTED}", param
    # Parameters that only look alike stay as they are.
    for keep in ("x/y?max_tokens=5", "x/y?keywords=3", "mock/doctor?questions=3&latency=0.1"):
        assert redact_secrets(keep) == keep
    nested = {"doctors": [f"a/b?api_key={PARAM_KEYS['doctor']}"], "n": 3, f"c/d?token={PARAM_KEYS['judge']}": 1.0}
    assert not _leaks(repr(redact_data(nested)).encode())


def test_no_key_is_written_to_the_database_reports_exports_or_output(tmp_path):
    env = {**os.environ, **ENV_KEYS, "ARENA_DB": f"sqlite:///{tmp_path / 'arena.db'}"}
    doctor = f"mock/doctor?questions=3&api_key={PARAM_KEYS['doctor']}"
    patient = f"mock/patient?api_key={PARAM_KEYS['patient']}"
    judge = f"mock/judge?token={PARAM_KEYS['judge']}"
    said = b""

    def arena(*args, expect=0):
        nonlocal said
        r = conftest.arena(tmp_path, *args, env=env, text=False)
        said += r.stdout + r.stderr
        assert r.returncode == expect, r.stderr.decode()[-3000:]
        return r.stdout.decode()

    out = arena(
        "simulate", "--cases", "4", "--name", "keys", "--doctor", doctor, "--doctor", "builtin/checklist",
        "--patient", patient, "--judge", "builtin/rubric", "--judge", judge,
    )  # fmt: skip
    run_id = re.search(r"Results: run (run-[0-9a-f]+)", out).group(1)
    arena("judge", run_id, "--judge", judge, "--judge", "builtin/rubric")
    arena("distill", run_id)
    arena("report", run_id, "--html", "report.html")
    arena("export", "hf", run_id, "--out", "ds")
    arena("runs")
    arena("show", run_id)
    with sqlite3.connect(tmp_path / "arena.db") as conn:
        consultation = conn.execute("select id from consultations where doctor like 'mock/%' limit 1").fetchone()[0]
    arena("show", run_id, consultation)
    # Bad input quotes the model name it rejects: the key in it is masked there too.
    arena("simulate", "--doctor", f"mock/doctor?retries=-1&api_key={PARAM_KEYS['doctor']}", expect=2)
    arena("simulate", "--doctor", f"nope?api_key={PARAM_KEYS['doctor']}", expect=2)

    written = {p: p.read_bytes() for p in Path(tmp_path).rglob("*") if p.is_file()}
    assert {"arena.db", "report.html"} <= {p.name for p in written}
    assert any(p.suffix == ".parquet" for p in written), "the export wrote its tables"
    leaks = {str(p.relative_to(tmp_path)): _leaks(b) for p, b in written.items() if _leaks(b)}
    assert leaks == {}
    assert _leaks(said) == []
    # The runs really were played with those models: their names are stored, masked.
    db = written[tmp_path / "arena.db"] + written.get(tmp_path / "arena.db-wal", b"")
    assert b"api_key=" + REDACTED.encode() in db and b"token=" + REDACTED.encode() in db


def test_a_database_password_is_masked_in_errors_and_output(capsys):
    from arena.cli import main

    url = "postgresql+psycopg://arena:FAKEdbpassword0123@127.0.0.1:1/arena"
    assert main(["runs", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "FAKEdbpassword0123" not in err and "arena:***@127.0.0.1:1/arena" in err, err
