"""QA items written by any chat model, validated like the built-in ones."""

from __future__ import annotations

import json
import re

from arena.core.templating import render
from arena.core.types import Case, Mistake, QAItem, Transcript
from arena.models import ChatModel
from distill.mistakes import stable_id
from distill.qa import disclosed_lines, validate

MAX_ATTEMPTS = 2
"""Calls per mistake before the item is recorded as rejected."""


def _parse(text: str) -> dict[str, object] | None:
    m = re.search(r"\{.*\}", text, re.DOTALL)
    if not m:
        return None
    try:
        obj = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("scenario", "question", "answer")):
        return None
    return obj


def _strings(v: object) -> list[str]:
    return [str(x) for x in v if str(x).strip()] if isinstance(v, list) else []


async def llm_qa(model: ChatModel, mistake: Mistake, tr: Transcript, case: Case) -> QAItem:
    """Ask ``model`` for a QA item reproducing ``mistake``; bounded retries, then a rejected item.

    Args:
        model: The chat model that writes the item.
        mistake: The mistake to reproduce.
        tr: The consultation it came from.
        case: Its case.

    Returns:
        The validated item (``valid`` False with the reason when the model gave nothing usable).
    """
    said, found = disclosed_lines(tr, with_findings=True)
    prompt = render("distill", "qa_generate.j2", mistake=mistake, case=case, said=said, found=found)
    base = {
        "id": stable_id(mistake.id, "qa", model.name),
        "mistake_id": mistake.id,
        "run_id": mistake.run_id,
        "cluster_id": mistake.cluster_id,
        "generator": model.name,
    }
    last = ""
    for _ in range(MAX_ATTEMPTS):
        try:
            out = await model.complete([{"role": "user", "content": prompt}])
        except Exception as exc:  # noqa: BLE001 - a failed call rejects this item, not the run
            last = f"{type(exc).__name__}: {exc}"
            continue
        obj = _parse(out.text)
        if obj is None:
            last = f"unparseable reply: {out.text[:120]!r}"
            continue
        q = QAItem(
            scenario=str(obj["scenario"]),
            question=str(obj["question"]),
            answer=str(obj["answer"]),
            rationale=str(obj.get("rationale", "")),
            grading=_strings(obj.get("grading")),
            options=_strings(obj.get("options")),
            **base,
        )
        return validate(q, mistake, tr, case)
    return QAItem(scenario="", question="", answer="", valid=False, rejection=f"no usable item: {last}", **base)
