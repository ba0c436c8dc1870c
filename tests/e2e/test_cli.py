"""The CLI, run as a user would, in a temporary folder."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import nothing_written

pytestmark = pytest.mark.slow


def arena(cwd, *args, timeout=300, db=None):
    """Run the CLI in ``cwd``; ``db`` goes to it as ARENA_DB (default: ./arena.db there)."""
    env = {k: v for k, v in os.environ.items() if k != "ARENA_DB"}
    if db is not None:
        env["ARENA_DB"] = db
    return subprocess.run(
        [sys.executable, "-m", "arena.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def test_simulate_then_export_reads_back_with_datasets(tmp_path, db_url):
    r = arena(tmp_path, "simulate", "--cases", "20", db=db_url)
    assert r.returncode == 0, r.stderr[-3000:]
    run_id = re.search(r"Results: run (run-[0-9a-f]+)", r.stdout).group(1)
    assert "consultations" in r.stdout and "diagnosis accuracy" in r.stdout and "QA items made" in r.stdout
    assert not nothing_written(db_url)

    from arena.store import Store

    store = Store(db_url)
    summary = store.summary(run_id)
    assert summary.consultations == 20 and summary.errors == 0

    out = tmp_path / "ds"
    r = arena(tmp_path, "export", "hf", run_id, "--out", str(out), db=db_url)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "README.md").read_text().startswith("---\n")

    import datasets

    expected = {
        "qa": (summary.qa_items, {"scenario", "question", "answer", "options", "mistake_id"}),
        "mistakes": (summary.mistakes, {"title", "description", "category", "cause", "risk", "tags"}),
        "transcripts": (20, {"id", "case_id", "doctor", "stop_reason", "turns", "final_diagnosis"}),
        "verdicts": (len(store.verdicts(run_id)), {"consultation_id", "item_id", "judge", "outcome", "points"}),
    }
    for config, (rows, columns) in expected.items():
        ds = datasets.load_dataset(str(out), config, split="train")
        assert ds.num_rows == rows, config
        assert columns <= set(ds.column_names), config
    assert summary.mistakes > 0 and summary.qa_items > 0
    turns = datasets.load_dataset(str(out), "transcripts", split="train")[0]["turns"]
    assert turns[0]["role"] == "patient" and turns[0]["index"] == 0

    # Exporting over a non-empty folder is refused in one line, and the folder is untouched.
    before = sorted(p.name for p in out.rglob("*"))
    r = arena(tmp_path, "export", "hf", run_id, "--out", str(out), db=db_url)
    assert r.returncode == 2 and "already exists" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in out.rglob("*")) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--doctor", "nope"], "provider/name"),
        (["simulate", "--doctor", "builtin/surgeon"], "unknown built-in doctor"),
        (["simulate", "--persona", "pirate"], "unknown persona"),
        (["simulate", "--cases", "-3"], "--cases"),
        (["simulate", "--case-file", "missing.jsonl"], "missing.jsonl: no such file"),
        (["show", "run-doesnotexist"], "no run 'run-doesnotexist'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, db_url, args, message):
    r = arena(tmp_path, *args, timeout=120, db=db_url)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("arena: error:"), r.stderr
    assert message in lines[0]
    if args[0] == "simulate":
        assert nothing_written(db_url)


def test_bad_case_file_names_the_line(tmp_path, db_url):
    (tmp_path / "c.jsonl").write_text('{"id": "x"}\n')
    r = arena(tmp_path, "simulate", "--case-file", "c.jsonl", timeout=120, db=db_url)
    assert r.returncode == 2
    assert re.search(r"c\.jsonl:1: field \w+", r.stderr), r.stderr
    assert nothing_written(db_url)


def test_personas_mix_gives_each_case_its_drawn_persona(tmp_path, db_url):
    r = arena(tmp_path, "simulate", "--cases", "12", "--personas", "mix", "--seed", "3", "--no-distill", db=db_url)
    assert r.returncode == 0, r.stderr[-3000:]
    from arena.pipeline import plan_jobs
    from arena.store import Store

    store = Store(db_url)
    (run, n, errors), *_ = store.list_runs()
    assert (n, errors) == (12, 0) and run.config.persona == "mix"
    stored = {t.case_id: t.persona for t in store.transcripts(run.id)}
    planned = {j.case_id: j.persona for j in plan_jobs(run.id, run.config, list(store.cases(run.id).values()))}
    assert stored == planned and len(set(stored.values())) > 3
