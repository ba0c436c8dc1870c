"""Export a run to a Hugging Face dataset folder: one parquet config per record kind."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from arena.store import Store
from arena.templating import render


class ExportError(RuntimeError):
    """The export cannot be written where asked."""


def _features() -> dict[str, Any]:
    from datasets import Features, List, Value

    s = Value("string")
    return {
        "qa": Features(
            {
                "id": s,
                "mistake_id": s,
                "run_id": s,
                "case_id": s,
                "doctor": s,
                "category": s,
                "risk": s,
                "scenario": s,
                "question": s,
                "answer": s,
                "rationale": s,
                "options": List(s),
            }
        ),
        "mistakes": Features(
            {
                "id": s,
                "run_id": s,
                "consultation_id": s,
                "case_id": s,
                "doctor": s,
                "item_id": s,
                "title": s,
                "description": s,
                "category": s,
                "cause": s,
                "tags": List(s),
                "risk": s,
                "turns": List(Value("int32")),
            }
        ),
        "transcripts": Features(
            {
                "id": s,
                "run_id": s,
                "case_id": s,
                "trial": Value("int32"),
                "doctor": s,
                "patient": s,
                "persona": s,
                "stop_reason": s,
                "error": s,
                "final_diagnosis": s,
                "differential": List(s),
                "plan": s,
                "turns": List({"index": Value("int32"), "role": s, "content": s}),
            }
        ),
        "verdicts": Features(
            {
                "consultation_id": s,
                "item_id": s,
                "judge": s,
                "outcome": s,
                "points": Value("float32"),
                "tags": List(s),
                "explanation": s,
                "evidence_turns": List(Value("int32")),
            }
        ),
    }


_DOCS = {
    "qa": "a single-shot question that reproduces one mistake, with its expected answer",
    "mistakes": "a structured record of one failure in one consultation",
    "transcripts": "one whole consultation, turn by turn",
    "verdicts": "one judge's (or the committee's) verdict on one rubric item",
}


def _rows(store: Store, run_id: str) -> dict[str, list[dict[str, Any]]]:
    mistakes = store.mistakes(run_id)
    by_id = {m.id: m for m in mistakes}
    qa = [
        {
            "id": q.id,
            "mistake_id": q.mistake_id,
            "run_id": q.run_id,
            "case_id": by_id[q.mistake_id].case_id,
            "doctor": by_id[q.mistake_id].doctor,
            "category": by_id[q.mistake_id].category,
            "risk": by_id[q.mistake_id].risk,
            "scenario": q.scenario,
            "question": q.question,
            "answer": q.answer,
            "rationale": q.rationale,
            "options": q.options,
        }
        for q in store.qa_items(run_id)
        if q.valid and q.mistake_id in by_id
    ]
    transcripts = [
        {
            "id": t.id,
            "run_id": t.run_id,
            "case_id": t.case_id,
            "trial": t.trial,
            "doctor": t.doctor,
            "patient": t.patient,
            "persona": t.persona,
            "stop_reason": t.stop_reason,
            "error": t.error or "",
            "final_diagnosis": t.final.diagnosis if t.final else "",
            "differential": t.final.differential if t.final else [],
            "plan": t.final.plan if t.final else "",
            "turns": [{"index": x.index, "role": x.role, "content": x.content} for x in t.turns],
        }
        for t in store.transcripts(run_id)
    ]
    verdicts = [
        {
            "consultation_id": v.consultation_id,
            "item_id": v.item_id,
            "judge": v.judge,
            "outcome": v.outcome,
            "points": v.points,
            "tags": v.tags,
            "explanation": v.explanation,
            "evidence_turns": v.evidence_turns,
        }
        for v in store.verdicts(run_id)
    ]
    return {
        "qa": qa,
        "mistakes": [m.model_dump(mode="json", exclude={"schema_version"}) for m in mistakes],
        "transcripts": transcripts,
        "verdicts": verdicts,
    }


def _size_category(n: int) -> str:
    if n < 1000:
        return "n<1K"
    if n < 10_000:
        return "1K<n<10K"
    if n < 100_000:
        return "10K<n<100K"
    return "100K<n<1M"


def export_hf(
    store: Store, run_ref: str, out: Path, *, force: bool = False, license: str = "cc-by-4.0"
) -> dict[str, int]:
    """Write a run as a dataset folder that ``datasets.load_dataset(out, config)`` reads.

    The folder is built beside ``out`` and moved into place at the end, so a
    failure leaves nothing half-written.

    Args:
        store: The store.
        run_ref: Run id or name.
        out: Destination folder; it must not exist (or be empty) unless ``force``.
        force: Replace an existing folder.
        license: Licence identifier for the card.

    Returns:
        Rows written per config.

    Raises:
        ExportError: if ``out`` exists and is not empty, and ``force`` is not set.
    """
    from datasets import Dataset

    run = store.get_run(run_ref)
    out = out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ExportError(f"{out} already exists and is not empty (use --force to replace it)")
    rows = _rows(store, run.id)
    features = _features()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, data in rows.items():
            (tmp / name).mkdir()
            ds = (
                Dataset.from_list(data, features=features[name])
                if data
                else Dataset.from_dict({k: [] for k in features[name]}, features=features[name])
            )
            ds.to_parquet(str(tmp / name / "train-00000-of-00001.parquet"))
        configs = [{"name": n, "rows": len(r), "doc": _DOCS[n]} for n, r in rows.items()]
        card = render(
            "distill",
            "dataset_card.md.j2",
            license=license,
            pretty_name=f"medarena mistakes: {run.name}",
            size_category=_size_category(max(len(r) for r in rows.values())),
            configs=configs,
            run=run,
            consultations=len(rows["transcripts"]),
            doctors=sorted({t["doctor"] for t in rows["transcripts"]}) or [run.config.doctor],
            judges=run.config.judges,
            rule="majority",
        )
        (tmp / "README.md").write_text(card + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {n: len(r) for n, r in rows.items()}
