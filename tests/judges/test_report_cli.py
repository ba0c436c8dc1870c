"""`arena judge`, `arena report` and `arena compare` on runs stored without Ray."""

import json

from arena.cli import main
from arena.core.store import Store
from tests.conftest import store_run


def test_judge_report_and_compare(tmp_path, db_url, capsys):
    url = db_url
    store = Store(url)
    a = store_run(store, "a", 1.0)
    b = store_run(store, "b", 0.5)
    [first] = list(store.transcripts(a))[:1]
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "\n".join(json.dumps({"consultation_id": first.id, "item_id": it, "label": True}) for it in ("dx", "plan"))
        + "\n"
    )
    judges = ["--judge", "builtin/rubric", "--judge", "mock/judge?met=true", "--judge", "builtin/safety"]
    assert main(["judge", a, *judges, "--rule", "weighted", "--reference", str(labels), "--db", url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "judged 24 consultations" in out
    assert "judge agreement" in out and "Fleiss kappa" in out
    assert "judges against reference labels" in out and "mock/judge?met=true" in out
    assert "pass^k: k=1" in out and "k=2" in out
    assert main(["judge", b, "--db", url]) == 0
    capsys.readouterr()

    html = tmp_path / "report.html"
    assert main(["report", a, "--html", str(html), "--db", url]) == 0
    page = html.read_text()
    assert page.count("<svg") >= 1 and "run-a" in page

    assert main(["compare", a, b, "--db", url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "b minus" in out or "run-b minus run-a" in out
    assert "overall" in out and "history" in out

    assert main(["judge", a, "--rule", "plurality", "--db", url]) == 2
    assert "unknown rule" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"consultation_id": "x", "item_id": "y", "label": "yes"}\n')
    assert main(["report", a, "--reference", str(bad), "--db", url]) == 2
    assert "bad.jsonl:1: field label" in capsys.readouterr().err
