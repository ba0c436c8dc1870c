"""The committee: several judges, every verdict kept, one aggregated verdict per item.

Rules:

* ``majority``: the outcome most scoring judges gave; a tie is unscored.
* ``unanimous``: met only when every scoring judge said met.
* ``weighted``: like majority, each vote counted with its judge's weight
  (``?weight=2`` on the judge's name; default 1).
* ``mean``: item verdicts as ``majority`` (they feed the distiller), but the
  consultation's score is the mean of the scores each judge alone would give.

Unscored verdicts never vote; an item no judge scored stays unscored.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence

from arena.core.types import DEFAULT_RULE, Case, CommitteeRule, Score, Transcript, Verdict, Verdict3
from arena.models import ModelError, parse_model_name
from arena.models.registry import Provider, Role, chat_model, resolve
from judges.base import Judge, applies
from judges.builtin_rubric import BuiltinRubricJudge, BuiltinSafetyJudge
from judges.diagnosis import DiagnosisDecider, match_diagnosis
from judges.llm_rubric import LLMRubricJudge
from judges.scoring import score_consultation
from judges.simulator_review import review

COMMITTEE = "committee"
Rule = CommitteeRule
RULES: tuple[str, ...] = tuple(CommitteeRule)


def judge_weight(name: str) -> float:
    """The vote weight a judge name carries (``?weight=``), default 1.

    Raises:
        ModelError: if the weight is not a positive number.
    """
    raw = parse_model_name(name).params.get("weight", "1")
    try:
        w = float(raw)
    except ValueError:
        raise ModelError(f"{name!r}: weight must be a number, not {raw!r}") from None
    if w <= 0:
        raise ModelError(f"{name!r}: weight must be positive")
    return w


def _check_params(name: str) -> None:
    judge_weight(name)
    mode = parse_model_name(name).params.get("mode", "item")
    if mode not in ("item", "batch"):
        raise ModelError(f"{name!r}: mode must be item or batch, not {mode!r}")


def _check_chat(name: str) -> None:
    chat_model(name)
    _check_params(name)


RUBRIC_JUDGE = Provider(
    Role.JUDGE, "rubric", lambda name, **_: BuiltinRubricJudge(name), builtin=True, check=_check_params
)
"""``builtin/rubric``: reads the rubric's items off the transcript."""
SAFETY_JUDGE = Provider(
    Role.JUDGE, "safety", lambda name, **_: BuiltinSafetyJudge(name), builtin=True, check=_check_params
)
"""``builtin/safety``: the safety items only."""
CHAT_JUDGE = Provider(
    Role.JUDGE,
    "chat",
    lambda name, **_: LLMRubricJudge(chat_model(name), batch=parse_model_name(name).params.get("mode") == "batch"),
    fallback=True,
    check=_check_chat,
    uses_litellm=True,
)
"""Any chat model (``?mode=batch`` asks for every item in one call; ``?weight=`` is its vote)."""


def check_judge(name: str) -> None:
    """Raise if ``name`` cannot judge.

    Raises:
        ModelError: for malformed names, unknown built-in judges and bad parameters.
    """
    resolve(Role.JUDGE, name)


def check_rule(rule: str) -> Rule:
    """Return ``rule`` if it is a known aggregation rule.

    Raises:
        ModelError: naming the known rules.
    """
    if rule not in RULES:
        raise ModelError(f"unknown rule {rule!r} (known: {', '.join(RULES)})")
    return CommitteeRule(rule)


def get_judge(name: str) -> Judge:
    """Return the judge a model name asks for."""
    judge: Judge = resolve(Role.JUDGE, name).build()
    return judge


def aggregate(
    outcomes: Sequence[Verdict3], rule: Rule = DEFAULT_RULE, weights: Sequence[float] | None = None
) -> Verdict3:
    """Combine judges' outcomes on one item (see the module docstring for the rules).

    Args:
        outcomes: One outcome per judge.
        rule: Aggregation rule.
        weights: Vote weights, one per outcome (``weighted`` only; default 1 each).

    Returns:
        The committee's outcome.
    """
    ws = list(weights) if weights is not None and rule == CommitteeRule.WEIGHTED else [1.0] * len(outcomes)
    votes = [(o, w) for o, w in zip(outcomes, ws, strict=True) if o != "unscored"]
    if not votes:
        return "unscored"
    met = sum(w for o, w in votes if o == "met")
    total = sum(w for _, w in votes)
    if rule == CommitteeRule.UNANIMOUS:
        return "met" if met == total else "not_met"
    if met * 2 == total:
        return "unscored"
    return "met" if met * 2 > total else "not_met"


def committee_explanation(rule: str, judges: int, split: bool) -> str:
    """What a committee verdict says of itself: the rule, how many judges voted, whether they split."""
    return f"{rule} of {judges} judge(s){'; judges split' if split else ''}"


def committee_rule(explanation: str) -> str:
    """The rule a committee verdict was reached by, read back from its explanation."""
    return explanation.split(" of ", 1)[0]


async def judge_run(
    transcripts: Sequence[Transcript],
    cases: dict[str, Case],
    judge_names: Sequence[str],
    *,
    rule: Rule = DEFAULT_RULE,
    diagnosis_judge: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Verdict], list[Score]]:
    """Judge every transcript with every judge, aggregate, and score.

    Args:
        transcripts: Finished consultations.
        cases: Their cases by id.
        judge_names: Model names of the committee.
        rule: Aggregation rule.
        diagnosis_judge: Optional chat model asked when the built-in diagnosis
            match finds no synonym or ICD-10 relation (free-text fallback).
        progress: Called with the number of consultations just judged.

    Returns:
        Every verdict (each judge's and the committee's) and one score per
        consultation that has a case.
    """
    judges = [get_judge(n) for n in judge_names]
    weights = [judge_weight(n) for n in judge_names]
    decider = DiagnosisDecider(diagnosis_judge)
    verdicts: list[Verdict] = []
    scores: list[Score] = []

    async def one(tr: Transcript) -> None:
        case = cases[tr.case_id]
        # Items a single-message format cannot apply to are never put to the judges.
        kept = [item for item in case.rubric if applies(item, tr.format)]
        left_out = len(case.rubric) - len(kept)
        if left_out:
            case = case.model_copy(update={"rubric": kept})
        match, grade = await decider.decide(tr.final, case)
        per_judge = await asyncio.gather(*(j.judge(tr, case, match) for j in judges))
        by_item: dict[str, list[Verdict]] = defaultdict(list)
        for vs in per_judge:
            for v in vs:
                by_item[v.item_id].append(v)
        committee: list[Verdict] = []
        for item in case.rubric:
            vs = by_item[item.id]
            outcome = aggregate([v.outcome for v in vs], rule, [weights[judge_names.index(v.judge)] for v in vs])
            split = len({v.outcome for v in vs if v.outcome != "unscored"}) > 1
            committee.append(
                Verdict(
                    consultation_id=tr.id,
                    item_id=item.id,
                    judge=COMMITTEE,
                    outcome=outcome,
                    points=item.points,
                    tags=item.tags,
                    explanation=committee_explanation(rule, len(vs), split),
                    evidence_turns=sorted({i for v in vs for i in v.evidence_turns}),
                )
            )
        # Every stored verdict, each judge's and the committee's, says whether the simulator caused its
        # failure; the score is unchanged by it (the report shows the share beside the score).
        reviewed = review(case, tr, [*(v for vs in per_judge for v in vs), *committee])
        verdicts.extend(reviewed)
        committee = reviewed[len(reviewed) - len(committee) :]
        score = score_consultation(tr.id, committee, match, grade)
        if rule == CommitteeRule.MEAN:
            own = [score_consultation(tr.id, vs, match, grade) for vs in per_judge]
            score = score.model_copy(
                update={
                    "overall": sum(s.overall for s in own) / len(own),
                    "raw": sum(s.raw for s in own) / len(own),
                }
            )
        if left_out:
            score = score.model_copy(update={"left_out": left_out})
        scores.append(score)
        if progress:
            progress(1)

    usable = [tr for tr in transcripts if tr.case_id in cases]
    # Bounded batches keep memory flat on large runs while LLM judges overlap.
    batch = 64
    for i in range(0, len(usable), batch):
        await asyncio.gather(*(one(tr) for tr in usable[i : i + batch]))
    return verdicts, scores


__all__ = [
    "COMMITTEE",
    "RULES",
    "Rule",
    "aggregate",
    "check_judge",
    "check_rule",
    "committee_explanation",
    "committee_rule",
    "get_judge",
    "judge_run",
    "judge_weight",
    "match_diagnosis",
]
