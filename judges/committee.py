"""The committee: several judges, every verdict kept, one aggregated verdict per item."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Literal

from arena.models import BuiltinRef, ModelError, get_model
from arena.types import Case, Score, Transcript, Verdict, Verdict3
from judges.base import Judge
from judges.builtin_rubric import BuiltinRubricJudge
from judges.diagnosis import match_diagnosis
from judges.llm_rubric import LLMRubricJudge
from judges.scoring import score_consultation

COMMITTEE = "committee"
Rule = Literal["majority", "unanimous"]
BUILTIN_JUDGES = ("rubric",)


def check_judge(name: str) -> None:
    """Raise if ``name`` cannot judge.

    Raises:
        ModelError: for malformed names and unknown built-in judges.
    """
    model = get_model(name)
    if isinstance(model, BuiltinRef) and model.policy not in BUILTIN_JUDGES:
        raise ModelError(f"unknown built-in judge {name!r} (known: builtin/rubric)")


def get_judge(name: str) -> Judge:
    """Return the judge a model name asks for."""
    check_judge(name)
    model = get_model(name)
    if isinstance(model, BuiltinRef):
        return BuiltinRubricJudge(name)
    return LLMRubricJudge(model)


def aggregate(outcomes: Sequence[Verdict3], rule: Rule = "majority") -> Verdict3:
    """Combine judges' outcomes on one item.

    ``majority``: the outcome most scored judges gave; a tie is unscored.
    ``unanimous``: met only if every scored judge said met.
    Unscored verdicts do not vote; with no votes the item is unscored.
    """
    votes = [o for o in outcomes if o != "unscored"]
    if not votes:
        return "unscored"
    met = votes.count("met")
    if rule == "unanimous":
        return "met" if met == len(votes) else "not_met"
    if met * 2 == len(votes):
        return "unscored"
    return "met" if met * 2 > len(votes) else "not_met"


async def judge_run(
    transcripts: Sequence[Transcript],
    cases: dict[str, Case],
    judge_names: Sequence[str],
    *,
    rule: Rule = "majority",
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Verdict], list[Score]]:
    """Judge every transcript with every judge, aggregate, and score.

    Args:
        transcripts: Finished consultations.
        cases: Their cases by id.
        judge_names: Model names of the committee.
        rule: Aggregation rule.
        progress: Called with the number of consultations just judged.

    Returns:
        Every verdict (each judge's and the committee's) and one score per
        consultation that has a case.
    """
    judges = [get_judge(n) for n in judge_names]
    verdicts: list[Verdict] = []
    scores: list[Score] = []

    async def one(tr: Transcript) -> None:
        case = cases[tr.case_id]
        per_judge = await asyncio.gather(*(j.judge(tr, case) for j in judges))
        by_item: dict[str, list[Verdict]] = defaultdict(list)
        for vs in per_judge:
            for v in vs:
                verdicts.append(v)
                by_item[v.item_id].append(v)
        committee: list[Verdict] = []
        for item in case.rubric:
            vs = by_item[item.id]
            outcome = aggregate([v.outcome for v in vs], rule)
            split = len({v.outcome for v in vs if v.outcome != "unscored"}) > 1
            committee.append(
                Verdict(
                    consultation_id=tr.id,
                    item_id=item.id,
                    judge=COMMITTEE,
                    outcome=outcome,
                    points=item.points,
                    tags=item.tags,
                    explanation=f"{rule} of {len(vs)} judge(s){'; judges split' if split else ''}",
                    evidence_turns=sorted({i for v in vs for i in v.evidence_turns}),
                )
            )
        verdicts.extend(committee)
        scores.append(score_consultation(tr.id, committee, match_diagnosis(tr.final, case)))
        if progress:
            progress(1)

    usable = [tr for tr in transcripts if tr.case_id in cases]
    # Bounded batches keep memory flat on large runs while LLM judges overlap.
    batch = 64
    for i in range(0, len(usable), batch):
        await asyncio.gather(*(one(tr) for tr in usable[i : i + batch]))
    return verdicts, scores
