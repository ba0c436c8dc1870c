"""What every judge provides."""

from __future__ import annotations

from typing import Protocol

from arena.types import Case, RubricItem, Transcript, Verdict, Verdict3


class Judge(Protocol):
    """Decides rubric verdicts for one consultation."""

    name: str

    async def judge(self, transcript: Transcript, case: Case) -> list[Verdict]:
        """Return one verdict per rubric item of ``case``."""
        ...


def item_verdict(
    tr: Transcript,
    item: RubricItem,
    judge: str,
    outcome: Verdict3,
    explanation: str,
    evidence_turns: list[int] | None = None,
) -> Verdict:
    """A verdict on one rubric item, carrying the item's points and tags."""
    return Verdict(
        consultation_id=tr.id,
        item_id=item.id,
        judge=judge,
        outcome=outcome,
        points=item.points,
        tags=item.tags,
        explanation=explanation,
        evidence_turns=evidence_turns or [],
    )
