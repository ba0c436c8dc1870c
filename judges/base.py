"""What every judge provides."""

from __future__ import annotations

from typing import Protocol

from arena.core.types import Case, ConsultFormat, DiagnosisMatch, RubricItem, Transcript, Verdict, Verdict3


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


SINGLE_MESSAGE_LEFT_OUT = ("elicit", "order")
"""Structured checks that cannot apply when the case is handed over in one message: the doctor
could not ask the patient or order a test, and was told everything it was going to be told."""


def applies(item: RubricItem, fmt: ConsultFormat) -> bool:
    """Whether a rubric item can apply to a consultation in format ``fmt``.

    Every item applies to a dialogue. In a vignette or a summary, history
    questions and test orders cannot: items checked as ``elicit`` or
    ``order``, and items without a structured check tagged ``axis:history``.
    Diagnosis, plan, safety and harm items still apply.
    """
    if fmt == "dialogue":
        return True
    if item.check is not None:
        return item.check.kind not in SINGLE_MESSAGE_LEFT_OUT
    return "axis:history" not in item.tags
