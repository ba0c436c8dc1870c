"""Export a run to a Hugging Face dataset folder: one parquet config per record kind, optionally pushed."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from arena.core.errors import error_line
from arena.core.store import Store
from arena.core.templating import render
from arena.core.types import DEFAULT_RULE, RISK_ORDER, ExportSplit, RiskLevel
from judges.committee import COMMITTEE, committee_rule


class ExportError(RuntimeError):
    """The export cannot be written or published as asked."""


def _features() -> dict[str, Any]:
    from datasets import Features, List, Value

    s = Value("string")
    return {
        "qa": Features(
            {
                "id": s,
                "mistake_id": s,
                "cluster_id": s,
                "cluster_size": Value("int32"),
                "run_id": s,
                "case_id": s,
                "doctor": s,
                "category": s,
                "risk": s,
                "organ_system": s,
                "complaint": s,
                "scenario": s,
                "question": s,
                "answer": s,
                "rationale": s,
                "options": List(s),
                "grading": List(s),
                "generator": s,
                "replicated": Value("bool"),
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
                "verdicts": List(s),
                "cluster_id": s,
                "organ_system": s,
                "complaint": s,
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
                "format": s,
                "stop_reason": s,
                "error": s,
                "final_diagnosis": s,
                "differential": List(s),
                "plan": s,
                "care_cost": Value("float64"),
                "currency": s,
                "turns": List(
                    {
                        "index": Value("int32"),
                        "role": s,
                        "content": s,
                        "revealed": List(s),
                        "synthesized": List({"topic": s, "rule": s, "source": s}),
                    }
                ),
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
                "simulator_cause": s,
            }
        ),
    }


_DOCS = {
    "qa": "a single-shot question that reproduces one (de-duplicated) mistake, with its expected answer",
    "mistakes": "a structured record of one failure in one consultation",
    "transcripts": "one whole consultation, turn by turn",
    "verdicts": "one judge's (or the committee's) verdict on one rubric item",
}


def _rows(
    store: Store, run_id: str, min_risk: RiskLevel | None, replicated_only: bool
) -> dict[str, list[dict[str, Any]]]:
    cases = store.cases(run_id)
    sizes = {c.id: c.count for c in store.clusters(run_id)}

    def where(case_id: str) -> dict[str, str]:
        case = cases.get(case_id)
        return {"organ_system": case.organ_system if case else "", "complaint": case.complaint if case else ""}

    floor = RISK_ORDER[min_risk] if min_risk else 0
    mistakes = [m for m in store.mistakes(run_id) if RISK_ORDER[m.risk] >= floor]
    by_id = {m.id: m for m in mistakes}
    items = [q for q in store.qa_items(run_id) if q.valid and q.mistake_id in by_id]
    if replicated_only:
        items = [q for q in items if q.replicated]
        keep = {q.cluster_id for q in items}
        mistakes = [m for m in mistakes if m.cluster_id in keep]
    qa = [
        {
            "id": q.id,
            "mistake_id": q.mistake_id,
            "cluster_id": q.cluster_id,
            "cluster_size": sizes.get(q.cluster_id, 1),
            "run_id": q.run_id,
            "case_id": by_id[q.mistake_id].case_id,
            "doctor": by_id[q.mistake_id].doctor,
            "category": by_id[q.mistake_id].category,
            "risk": by_id[q.mistake_id].risk,
            **where(by_id[q.mistake_id].case_id),
            "scenario": q.scenario,
            "question": q.question,
            "answer": q.answer,
            "rationale": q.rationale,
            "options": q.options,
            "grading": q.grading,
            "generator": q.generator,
            "replicated": q.replicated,
        }
        for q in items
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
            "format": t.format,
            "stop_reason": t.stop_reason,
            "error": t.error or "",
            "final_diagnosis": t.final.diagnosis if t.final else "",
            "differential": t.final.differential if t.final else [],
            "plan": t.final.plan if t.final else "",
            "care_cost": t.care.total if t.care else None,
            "currency": t.care.currency if t.care else "",
            "turns": [
                {
                    "index": x.index,
                    "role": x.role,
                    "content": x.content,
                    "revealed": x.revealed,
                    # What the simulator said beyond the case, so a reader can tell it from case facts.
                    "synthesized": [
                        {"topic": m.topic, "rule": m.rule.value, "source": m.source} for m in x.synthesized
                    ],
                }
                for x in t.turns
            ],
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
            "simulator_cause": v.simulator_cause or "",
        }
        for v in store.verdicts(run_id)
    ]
    return {
        "qa": qa,
        "mistakes": [{**m.model_dump(mode="json", exclude={"schema_version"}), **where(m.case_id)} for m in mistakes],
        "transcripts": transcripts,
        "verdicts": verdicts,
    }


def _committee(verdicts: list[dict[str, Any]], configured: list[str]) -> dict[str, Any]:
    """The judges and the rule the stored verdicts came from; the run's configuration when it has none.

    A run re-judged with ``arena judge --judge ... --rule ...`` differs from its configuration.
    """
    judges = sorted({v["judge"] for v in verdicts} - {COMMITTEE})
    rule = next((committee_rule(v["explanation"]) for v in verdicts if v["judge"] == COMMITTEE), DEFAULT_RULE)
    return {"judges": judges or configured, "rule": rule}


def _size_category(n: int) -> str:
    if n < 1000:
        return "n<1K"
    if n < 10_000:
        return "1K<n<10K"
    if n < 100_000:
        return "10K<n<100K"
    return "100K<n<1M"


def split_name(value: str) -> str:
    """A Hugging Face split name for a group value (word characters only)."""
    name = re.sub(r"\W+", "_", value.strip().lower()).strip("_")
    return name or "unknown"


def _splits(name: str, data: list[dict[str, Any]], split_by: ExportSplit | None) -> dict[str, list[dict[str, Any]]]:
    if split_by is None or name not in ("qa", "mistakes"):
        return {"train": data}
    key = "organ_system" if split_by == "system" else "complaint"
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in data:
        out[split_name(str(row.get(key, "")))].append(row)
    return dict(sorted(out.items())) or {"train": []}


def hf_token() -> str | None:
    """The Hugging Face token from ``HF_TOKEN`` or the login cache, if any."""
    from huggingface_hub import get_token

    return get_token()


def export_hf(
    store: Store,
    run_ref: str,
    out: Path,
    *,
    force: bool = False,
    license: str = "cc-by-4.0",
    min_risk: RiskLevel | None = None,
    replicated_only: bool = False,
    split_by: ExportSplit | None = None,
    push_repo: str | None = None,
    private: bool = False,
) -> dict[str, int]:
    """Write a run as a dataset folder that ``datasets.load_dataset(out, config)`` reads; optionally push it.

    The folder is built beside ``out`` and moved into place at the end, so a
    failure leaves nothing half-written. When pushing, a missing token is
    reported before anything is written.

    Args:
        store: The store.
        run_ref: Run id or name.
        out: Destination folder; it must not exist (or be empty) unless ``force``.
        force: Replace an existing folder.
        license: Licence identifier for the card.
        min_risk: Keep only mistakes (and their QA items) at or above this risk.
        replicated_only: Keep only QA items the doctor failed again (and their mistakes).
        split_by: Split ``qa`` and ``mistakes`` by organ system or complaint.
        push_repo: ``org/name`` of a Hugging Face dataset repository to publish to.
        private: Create the repository private.

    Returns:
        Rows written per config.

    Raises:
        ExportError: if ``out`` is taken, no token is available for a push, or the push fails.
    """
    import datasets
    import pyarrow as pa
    from datasets import Dataset, DatasetInfo

    # The CLI shows its own progress; per-file parquet bars would flood it.
    datasets.disable_progress_bars()
    run = store.get_run(run_ref)
    out = out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ExportError(f"{out} already exists and is not empty (use --force to replace it)")
    token = None
    if push_repo:
        token = hf_token()
        if not token:
            raise ExportError("no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")
    rows = _rows(store, run.id, min_risk, replicated_only)
    features = _features()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    configs = []
    try:
        for name, data in rows.items():
            (tmp / name).mkdir()
            splits = _splits(name, data, split_by)
            sizes: dict[str, dict[str, int]] = {}
            for split, part in splits.items():
                # pyarrow builds the table from the rows in C++, against the
                # features' own schema; Dataset.from_list encoded each value in
                # Python, a third of the export's time on a 5,000-case run.
                table = pa.Table.from_pylist(part, schema=features[name].arrow_schema)
                ds = Dataset(table, info=DatasetInfo(features=features[name]))
                ds.to_parquet(str(tmp / name / f"{split}-00000-of-00001.parquet"))
                sizes[split] = {"rows": len(part), "bytes": int(ds.data.nbytes)}
            configs.append({"name": name, "rows": len(data), "doc": _DOCS[name], "splits": sizes})
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
            **_committee(rows["verdicts"], run.config.judges),
            filters={"min_risk": min_risk, "replicated_only": replicated_only, "split_by": split_by},
        )
        (tmp / "README.md").write_text(card + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if push_repo:
        _push(out, push_repo, token, private)
    return {n: len(r) for n, r in rows.items()}


def _push(folder: Path, repo: str, token: str | None, private: bool) -> None:
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset")
    except Exception as exc:  # noqa: BLE001 - any hub or network failure is one line for the user
        raise ExportError(
            f"could not publish to {repo}: {error_line(exc)} (the local copy in {folder} is complete)"
        ) from None
