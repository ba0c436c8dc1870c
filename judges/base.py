"""What every judge provides."""

from __future__ import annotations

from typing import Protocol

from arena.core.types import Case, DiagnosisMatch, RubricItem, Transcript, Verdict, Verdict3


class Judge(Protocol):
    """Decides rubric verdicts for one consultation."""

    name: str

    async def judge(self, transcript: Transcript, case: Case, diagnosis: DiagnosisMatch | None = None) -> list[Verdict]:
        """Return one verdict per rubric item of ``case``.

        Args:
            transcript: The consultation.
            case: Its case.
            diagnosis: The committee's diagnosis decision, for judges that
                decide diagnosis items structurally (others may ignore it).
        """
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
