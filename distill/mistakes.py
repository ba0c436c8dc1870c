"""Mistake records from the committee's failed verdicts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from arena.core.templating import render
from arena.core.types import Case, Mistake, MistakeCategory, RiskLevel, RubricItem, Transcript, Verdict
from judges.committee import COMMITTEE
from judges.scoring import failed

_CATEGORY: dict[str, MistakeCategory] = {
    "history": "history_taking",
    "examination": "test_ordering",
    "tests": "test_ordering",
    "diagnosis": "diagnosis",
    "safety": "safety",
    "communication": "communication",
    "management": "management",
}


def stable_id(*parts: str) -> str:
    """A short id that is the same whenever the parts are."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _risk(item: RubricItem) -> RiskLevel:
    if item.points <= -8:
        return "critical"
    if item.points < 0 or item.axis == "safety":
        return "high"
    if item.axis == "diagnosis" or "priority:must" in item.tags:
        return "medium"
    return "low"


def _cause(item: RubricItem, tr: Transcript) -> str:
    if item.axis == "diagnosis":
        asked = sum(1 for t in tr.turns if t.role == "doctor" and t.action and t.action.kind == "ask")
        return "premature closure" if asked < 5 else "knowledge gap"
    if item.points < 0:
        return "unsafe decision"
    return "omission"


def _title(item: RubricItem) -> str:
    if item.points < 0:
        return item.criterion.rstrip(".")
    if item.axis == "diagnosis":
        return "Missed the diagnosis"
    text = item.criterion.rstrip(".")
    if not text:
        return "Missed a rubric item"
    verb, _, rest = text.partition(" ")
    # "Asks whether..." -> "Did not ask whether...": rubric criteria open with a third-person verb.
    if verb.endswith("s") and not verb.endswith("ss") and rest:
        base = verb[:-2] if verb.endswith(("sses", "shes", "ches", "xes", "zes")) else verb[:-1]
        return f"Did not {base.lower()} {rest}"
    return "Did not meet: " + text[0].lower() + text[1:]


def simulator_caused(verdicts: Sequence[Verdict]) -> int:
    """How many of a consultation's failed committee verdicts the simulated side caused (they make no mistake)."""
    return sum(1 for v in verdicts if v.judge == COMMITTEE and failed(v) and v.simulator_cause is not None)


def mistakes_for(tr: Transcript, case: Case, verdicts: Sequence[Verdict]) -> list[Mistake]:
    """Turn one consultation's failed committee verdicts into mistake records.

    Args:
        tr: The transcript.
        case: Its case.
        verdicts: Its verdicts: the committee's decide what failed; each
            judge whose own verdict failed the item is linked from the record.

    Returns:
        One record per failure the doctor caused; failures the simulator
        caused (see :func:`simulator_caused`) make none.
    """
    items = {i.id: i for i in case.rubric}
    judges_failing: dict[str, list[str]] = {}
    for v in verdicts:
        if v.judge != COMMITTEE and failed(v):
            judges_failing.setdefault(v.item_id, []).append(v.judge)
    out: list[Mistake] = []
    for v in verdicts:
        if v.judge != COMMITTEE or not failed(v) or v.item_id not in items:
            continue
        if v.simulator_cause is not None:
            # The patient or gatekeeper kept the finding back: a doctor must not be trained on that.
            continue
        item = items[v.item_id]
        harmful = item.points < 0
        missed: list[str] = []
        if not harmful and item.check and item.check.kind in ("elicit", "order"):
            missed = [case.fact(f).text for f in item.check.targets]
        description = render(
            "distill",
            "mistake_description.j2",
            harmful=harmful,
            age=case.demographics.age,
            sex=case.demographics.sex,
            complaint=case.chief_complaint,
            criterion=item.criterion,
            missed=missed,
            diagnosis_given=(tr.final.diagnosis if tr.final else "") if item.axis == "diagnosis" else None,
            diagnosis=case.diagnosis.name,
        )
        tags = [*item.tags[:6], f"case:{case.id}", f"system:{case.organ_system or 'unknown'}"]
        out.append(
            Mistake(
                id=stable_id(tr.id, item.id),
                run_id=tr.run_id,
                consultation_id=tr.id,
                case_id=case.id,
                doctor=tr.doctor,
                item_id=item.id,
                title=_title(item),
                description=description,
                category=_CATEGORY.get(item.axis, "management"),
                cause=_cause(item, tr),
                tags=tags[:10],
                risk=_risk(item),
                turns=v.evidence_turns,
                verdicts=sorted(judges_failing.get(item.id, [])),
            )
        )
    return out
