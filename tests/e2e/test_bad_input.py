"""Malformed input of every kind, through the real command line: one clear line, exit 2, nothing written."""

import json

import pytest
from sqlalchemy import MetaData, func, select

from arena.core.store import Store
from cases.loader import builtin_cases
from tests.conftest import arena, nothing_written, store_run

pytestmark = pytest.mark.slow


def _case_line(**over) -> str:
    case = builtin_cases()[0].model_dump(mode="json")
    case.update(over)
    return json.dumps(case)


def _files(tmp_path) -> None:
    """Write every malformed input file the cases below name."""
    good = _case_line()
    texts = {
        "empty.jsonl": "",
        "blank.jsonl": "\n   \n\n",
        "bad-json.jsonl": good + "\n{not json\n",
        "array.jsonl": "[1, 2, 3]\n",
        "id-only.jsonl": '{"id": "x"}\n',
        "dup.jsonl": good + "\n" + good + "\n",
        "truncated.jsonl": good[:-7] + "\n",
        "deep.jsonl": "[" * 100_000 + "]" * 100_000 + "\n",
        "age-text.jsonl": _case_line(demographics={"age": "forty", "sex": "male"}) + "\n",
        "facts-not-list.jsonl": _case_line(facts="chest pain") + "\n",
        "bad-difficulty.jsonl": _case_line(difficulty="nightmare") + "\n",
        "labels-bad-json.jsonl": "consultation_id,item_id,label\n",
        "labels-missing.jsonl": '{"consultation_id": "c1"}\n',
        "agentclinic-bad.jsonl": '{"OSCE_Examination": 3}\n',
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "latin1.jsonl").write_bytes(b'{"id": "caf\xe9"}\n')
    (tmp_path / "a-folder.jsonl").mkdir()


# (command line, what the one line must say). RUN stands for a stored run's id.
BAD_INPUTS = {
    # case files
    "case-file-missing": (["simulate", "--case-file", "missing.jsonl"], "missing.jsonl: no such file"),
    "case-file-empty": (["simulate", "--case-file", "empty.jsonl"], "empty.jsonl: no cases in file"),
    "case-file-blank-lines": (["simulate", "--case-file", "blank.jsonl"], "blank.jsonl: no cases in file"),
    "case-file-bad-json": (["simulate", "--case-file", "bad-json.jsonl"], "bad-json.jsonl:2: invalid JSON"),
    "case-file-not-object": (["simulate", "--case-file", "array.jsonl"], "array.jsonl:1:"),
    "case-file-missing-fields": (["simulate", "--case-file", "id-only.jsonl"], "id-only.jsonl:1: field "),
    "case-file-duplicate-id": (["simulate", "--case-file", "dup.jsonl"], "dup.jsonl:2: field id: duplicate"),
    "case-file-truncated": (["simulate", "--case-file", "truncated.jsonl"], "truncated.jsonl:1: invalid JSON"),
    "case-file-nested-too-deep": (["simulate", "--case-file", "deep.jsonl"], "deep.jsonl:1: invalid JSON"),
    "case-file-wrong-type": (["simulate", "--case-file", "age-text.jsonl"], "age-text.jsonl:1: field demographics.age"),
    "case-file-list-as-text": (
        ["simulate", "--case-file", "facts-not-list.jsonl"],
        "facts-not-list.jsonl:1: field facts",
    ),
    "case-file-bad-enum": (
        ["simulate", "--case-file", "bad-difficulty.jsonl"],
        "bad-difficulty.jsonl:1: field difficulty",
    ),
    "case-file-not-utf8": (["simulate", "--case-file", "latin1.jsonl"], "latin1.jsonl: cannot read"),
    "case-file-is-a-folder": (["simulate", "--case-file", "a-folder.jsonl"], "a-folder.jsonl: cannot read"),
    "validate-missing-fields": (["cases", "validate", "id-only.jsonl"], "id-only.jsonl:1: field "),
    "stats-empty": (["cases", "stats", "empty.jsonl"], "empty.jsonl: no cases in file"),
    "import-unknown-format": (["cases", "import", "dup.jsonl", "--format", "nope", "--out", "o.jsonl"], "nope"),
    "import-bad-record": (
        ["cases", "import", "agentclinic-bad.jsonl", "--format", "agentclinic", "--out", "o.jsonl", "--strict"],
        "agentclinic-bad.jsonl:1",
    ),
    "import-missing-file": (
        ["cases", "import", "missing.jsonl", "--format", "mediq", "--out", "o.jsonl"],
        "missing.jsonl: no such file",
    ),
    # models, personas and their parameters
    "doctor-no-provider": (["simulate", "--doctor", "nope"], "provider/name"),
    "doctor-unknown-builtin": (["simulate", "--doctor", "builtin/surgeon"], "unknown built-in doctor"),
    "patient-unknown-builtin": (["simulate", "--patient", "builtin/nobody"], "builtin/nobody"),
    "judge-unknown-builtin": (["simulate", "--judge", "builtin/oracle"], "builtin/oracle"),
    "doctor-param-not-a-number": (["simulate", "--doctor", "openai/gpt-4o?temperature=hot"], "temperature"),
    "doctor-param-not-an-int": (["simulate", "--doctor", "openai/gpt-4o?max_tokens=1.5"], "max_tokens"),
    "doctor-negative-retries": (["simulate", "--doctor", "mock/doctor?retries=-1"], "retries"),
    "doctor-bad-rate-limit": (["simulate", "--doctor", "mock/doctor?rpm=lots"], "rpm"),
    "doctor-bad-style": (["simulate", "--doctor", "mock/doctor?style=rude"], "style"),
    "checklist-bad-diligence": (["simulate", "--doctor", "builtin/checklist?diligence=much"], "diligence"),
    "guard-matcher-unknown": (["simulate", "--guard-matcher", "fuzzy"], "--guard-matcher: unknown matcher 'fuzzy'"),
    "guard-verifier-builtin": (["simulate", "--guard-verifier", "builtin/rubric"], "'builtin/rubric' is a built-in"),
    "guard-verifier-no-provider": (["simulate", "--guard-verifier", "gpt"], "--guard-verifier:"),
    "persona-unknown": (["simulate", "--persona", "pirate"], "unknown persona"),
    "persona-empty": (["simulate", "--persona", ""], "unknown persona"),
    # counts and options
    "cases-negative": (["simulate", "--cases", "-3"], "--cases"),
    "cases-not-a-number": (["simulate", "--cases", "many"], "--cases"),
    "trials-zero": (["simulate", "--trials", "0"], "--trials"),
    "max-turns-zero": (["simulate", "--max-turns", "0"], "--max-turns"),
    "concurrency-negative": (["simulate", "--concurrency", "-1"], "--concurrency"),
    "actors-zero": (["simulate", "--actors", "0"], "--actors"),
    "timeout-zero": (["simulate", "--timeout", "0"], "--timeout"),
    "max-cost-negative": (["simulate", "--max-cost", "-1"], "--max-cost"),
    "unknown-option": (["simulate", "--casess", "3"], "--casess"),
    "generate-zero": (["cases", "generate", "--n", "0"], "--n"),
    "generate-rate-above-one": (["cases", "generate", "--atypical-rate", "2"], "--atypical-rate"),
    "generate-out-is-a-folder": (
        ["cases", "generate", "--n", "2", "--out", "a-folder.jsonl"],
        "a-folder.jsonl: Is a directory",
    ),
    # databases
    "db-not-a-url": (["simulate", "--db", "arena.sqlite"], "arena.sqlite"),
    "db-unknown-driver": (["runs", "--db", "nosuchdb://x/y"], "nosuchdb"),
    "db-folder-missing": (["runs", "--db", "sqlite:///no/such/dir/a.db"], "no medarena database at sqlite:///no/such"),
    "db-server-refuses": (["runs", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/x"], "cannot open database"),
    # commands on a stored run
    "show-unknown-run": (["show", "run-doesnotexist"], "no run 'run-doesnotexist'"),
    "show-unknown-consultation": (["show", "RUN", "nope"], "no consultation 'nope'"),
    "resume-unknown-run": (["simulate", "--resume", "nope"], "no run 'nope'"),
    "judge-bad-rule": (["judge", "RUN", "--rule", "loudest"], "loudest"),
    "judge-diagnosis-judge-builtin": (
        ["judge", "RUN", "--diagnosis-judge", "builtin/rubric"],
        "--diagnosis-judge: 'builtin/rubric' is a built-in policy, not a chat model (accepted: provider/name",
    ),
    "judge-reference-not-json": (["judge", "RUN", "--reference", "labels-bad-json.jsonl"], "labels-bad-json.jsonl:1"),
    "judge-reference-missing-field": (
        ["judge", "RUN", "--reference", "labels-missing.jsonl"],
        "labels-missing.jsonl:1",
    ),
    "judge-reference-missing-file": (["judge", "RUN", "--reference", "missing.jsonl"], "missing.jsonl"),
    "distill-threshold-above-one": (["distill", "RUN", "--threshold", "2"], "--threshold"),
    "export-bad-min-risk": (["export", "hf", "RUN", "--out", "ds", "--min-risk", "huge"], "--min-risk"),
    "export-bad-split": (["export", "hf", "RUN", "--out", "ds", "--split-by", "colour"], "--split-by"),
    "export-push-without-repo": (["export", "hf", "RUN", "--out", "ds", "--push"], "--repo"),
    "report-html-in-missing-folder": (["report", "RUN", "--html", "no/such/dir/r.html"], "no/such/dir"),
}


def _row_counts(url: str) -> dict[str, int]:
    store = Store(url)
    md = MetaData()
    md.reflect(store.engine)
    with store.engine.connect() as conn:
        counts = {name: conn.execute(select(func.count()).select_from(t)).scalar_one() for name, t in md.tables.items()}
    store.engine.dispose()
    return counts


@pytest.mark.parametrize(("args", "message"), list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_is_one_clear_line_exit_2_and_writes_nothing(tmp_path, db_url, args, message):
    _files(tmp_path)
    before = None
    if "RUN" in args:
        run_id = store_run(Store(db_url), "stored", diligence=0.6, n=3, trials=1)
        args = [run_id if a == "RUN" else a for a in args]
        before = _row_counts(db_url)
    elif args[0] == "show" or "--resume" in args:
        Store(db_url).engine.dispose()  # a database without that run (with none, the error says so instead)
    r = arena(tmp_path, *args, db=db_url, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-3000:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("arena: error: "), r.stderr[-3000:]
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert message in lines[0], lines[0]
    if before is not None:
        assert _row_counts(db_url) == before
    elif args[0] == "show" or "--resume" in args:
        # Reading records nothing.
        assert {t: n for t, n in _row_counts(db_url).items() if t != "migrations" and n} == {}
    else:
        assert nothing_written(db_url)
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "ds").exists()
