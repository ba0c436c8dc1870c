"""`arena judge`, `arena report` and `arena compare` on runs stored without Ray."""

import asyncio
import json

from arena.cli import main
from arena.doctors import ChecklistDoctor
from arena.engine import run_consultation
from arena.store import Store
from arena.types import Run, RunConfig, utcnow
from cases.synthesizer import generate
from personas.builtin_patient import BuiltinPatient
from personas.catalog import get_persona
from personas.measurement import CaseMeasurement


def _store_run(store: Store, name: str, diligence: float, n: int = 12) -> str:
    cases = generate(n, seed=3)
    run = Run(id=f"run-{name}", name=name, config=RunConfig(cases=n, trials=2))
    store.create_run(run, cases)
    transcripts = []
    for i, case in enumerate(cases):
        for trial in range(2):
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
            doc = ChecklistDoctor("builtin/checklist", seed=i * 2 + trial, diligence=diligence)
            transcripts.append(
                asyncio.run(
                    run_consultation(
                        case,
                        doc,
                        BuiltinPatient(case, get_persona("plain")),
                        CaseMeasurement(case),
                        consultation_id=cid,
                        run_id=run.id,
                        trial=trial,
                        max_turns=20,
                    )
                )
            )
    store.finish_consultations(transcripts, {})
    return run.id


def test_judge_report_and_compare(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    store = Store(url)
    a = _store_run(store, "a", 1.0)
    b = _store_run(store, "b", 0.5)
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
