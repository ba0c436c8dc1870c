"""The built-in rubric judge: decides items from what happened, without an LLM.

It reads each item's structured ``check``: which facts the doctor drew out
(patient turns after the opening), which exams and tests came back, the final
diagnosis, and words in what the doctor said and planned. Items without a
structured check are left unscored rather than guessed.
"""

from __future__ import annotations

from arena.types import Case, RubricItem, Transcript, Verdict
from judges.base import item_verdict
from judges.diagnosis import match_diagnosis
from personas.matcher import normalise, phrase_in


class BuiltinRubricJudge:
    """Judges rubric items from the transcript's structure."""

    def __init__(self, name: str = "builtin/rubric") -> None:
        """Create the judge under the name recorded on its verdicts."""
        self.name = name

    async def judge(self, transcript: Transcript, case: Case) -> list[Verdict]:
        """Return one verdict per rubric item."""
        return [self.judge_item(transcript, case, item) for item in case.rubric]

    def judge_item(self, tr: Transcript, case: Case, item: RubricItem) -> Verdict:
        """Decide one item."""
        check = item.check
        if check is None:
            return item_verdict(tr, item, self.name, "unscored", "no structured check; needs an LLM judge")
        evidence: list[int] = []
        if check.kind == "elicit":
            for t in tr.turns[1:]:
                if t.role == "patient" and set(t.revealed) & set(check.targets):
                    evidence.append(t.index)
            what = f"facts {check.targets} drawn out"
        elif check.kind == "order":
            for t in tr.turns:
                if t.role == "measurement" and set(t.revealed) & set(check.targets):
                    evidence.append(t.index)
            what = f"results {check.targets} obtained"
        elif check.kind == "diagnose":
            m = match_diagnosis(tr.final, case)
            if m == "exact":
                evidence = [t.index for t in tr.turns if t.role == "doctor" and t.action and t.action.kind == "final"]
            what = f"diagnosis match: {m}"
        else:
            said = " ".join(t.content for t in tr.turns if t.role == "doctor")
            if tr.final:
                said += " " + tr.final.plan + " " + tr.final.diagnosis
            norm = normalise(said)
            hits = [w for w in check.targets if phrase_in(w, norm)]
            if hits:
                evidence = [
                    t.index
                    for t in tr.turns
                    if t.role == "doctor" and any(phrase_in(w, normalise(t.content)) for w in hits)
                ]
                if not evidence and tr.turns:
                    # Only the final plan mentioned it: point at the final turn.
                    evidence = [tr.turns[-1].index]
            what = f"mentioned {hits}" if hits else f"none of {check.targets} mentioned"
        happened = bool(evidence)
        met = happened if check.met_when == "present" else not happened
        return item_verdict(
            tr, item, self.name, "met" if met else "not_met", f"{what}: {'yes' if happened else 'no'}", evidence
        )
