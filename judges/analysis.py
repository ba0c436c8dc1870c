"""A judged run's figures: scores with confidence intervals, breakdowns, pass^k, agreement."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from math import comb
from pathlib import Path

from arena.core.store import Store
from arena.core.types import (
    DEFAULT_RULE,
    CareCost,
    ConsultationBrief,
    CostFigures,
    Estimate,
    RunAnalysis,
    Score,
    Verdict,
    base_case_id,
    first_format,
)
from cases.loader import CaseFileError, iter_jsonl
from cases.prices import price_list
from judges.agreement import agreement, calibration
from judges.committee import COMMITTEE, committee_rule
from judges.format_gap import format_figures
from judges.grades import grade_figures
from judges.noise import noise_floors
from judges.scoring import estimate
from judges.simulator_review import simulator_shares

DIMENSIONS = ("doctor", "organ_system", "complaint", "difficulty", "persona")


def passed(score: Score, committee: Sequence[Verdict]) -> bool:
    """A consultation passes when the diagnosis is right (exact or partial) and no harmful item was met."""
    harmed = any(v.points < 0 and v.outcome == "met" for v in committee)
    return score.diagnosis in ("exact", "partial") and not harmed


def pass_hat_k(outcomes: dict[str, list[bool]]) -> dict[int, float]:
    """pass^k: for each k up to the fewest trials per task, the chance that k trials all pass.

    Each task's estimate is C(c, k) / C(n, k) for c passes in n trials
    (unbiased, as in tau-bench), averaged over tasks.
    """
    if not outcomes:
        return {}
    max_k = min(len(v) for v in outcomes.values())
    out = {}
    for k in range(1, max_k + 1):
        out[k] = sum(comb(sum(v), k) / comb(len(v), k) for v in outcomes.values()) / len(outcomes)
    return out


def cost_figures(care: Mapping[str, CareCost], doctor_of: Mapping[str, str]) -> CostFigures | None:
    """Mean cost of care per consultation, overall and per doctor, with bootstrap 95% intervals.

    Args:
        care: Cost records by consultation id; a consultation without one is absent.
        doctor_of: The doctor of each consultation to count, by consultation id.

    Returns:
        The figures in the currency most records use (the price list's when
        there is none); a consultation without a record, or with one in another
        currency, is left out and counted in ``missing``. None when there is no
        consultation to count.
    """
    if not doctor_of:
        return None
    held = {c: care[c] for c in sorted(doctor_of) if c in care}
    counts = Counter(r.currency for r in held.values())
    # Ties go to the alphabetically first code, so a report never depends on row order.
    currency = min(counts, key=lambda k: (-counts[k], k)) if counts else price_list().currency
    used = {c: r.total for c, r in held.items() if r.currency == currency}
    per_doctor: dict[str, list[float]] = defaultdict(list)
    for c, total in used.items():
        per_doctor[doctor_of[c]].append(total)
    return CostFigures(
        currency=currency,
        overall=estimate(list(used.values())),
        by_doctor={d: estimate(v) for d, v in sorted(per_doctor.items())},
        missing=len(doctor_of) - len(used),
    )


def read_labels(path: str | Path) -> dict[tuple[str, str], bool]:
    """Read reference labels: JSONL of ``{"consultation_id", "item_id", "label": true|false}``.

    Raises:
        CaseFileError: naming file, line and field of the first problem.
    """
    p = Path(path)
    out: dict[tuple[str, str], bool] = {}
    for n, obj in iter_jsonl(p):
        for key in ("consultation_id", "item_id", "label"):
            if not isinstance(obj, dict) or key not in obj:
                raise CaseFileError(f"{p}:{n}: field {key}: missing")
        if not isinstance(obj["label"], bool):
            raise CaseFileError(f"{p}:{n}: field label: must be true or false")
        out[(str(obj["consultation_id"]), str(obj["item_id"]))] = obj["label"]
    if not out:
        raise CaseFileError(f"{p}: no labels in file")
    return out


def analyze_run(
    store: Store, run_ref: str, labels: dict[tuple[str, str], bool] | None = None, worst: int = 10
) -> RunAnalysis:
    """Compute every figure a report shows for a judged run.

    Args:
        store: The store.
        run_ref: Run id or name.
        labels: Optional reference labels for calibration.
        worst: How many lowest-scoring consultations to list.

    Returns:
        The analysis.
    """
    run = store.get_run(run_ref)
    scores = {s.consultation_id: s for s in store.scores(run.id)}
    verdicts = store.verdicts(run.id)
    cases = store.cases(run.id)
    meta = {m["id"]: m for m in store.consultation_meta(run.id) if m["id"] in scores}
    formats, gaps = format_figures(scores, meta)
    # Scores of different formats do not average into one figure: the headline
    # figures come from one format, the per-format ones from format_figures.
    headline = first_format(m["format"] for m in meta.values())
    every_format = list(meta.values())
    meta = {c: m for c, m in meta.items() if m["format"] == headline}
    committee: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        if v.judge == COMMITTEE:
            committee[v.consultation_id].append(v)

    def group(cid: str, dim: str) -> str:
        m = meta[cid]
        case = cases.get(m["case_id"])
        if dim == "doctor":
            return str(m["doctor"])
        if dim == "persona":
            return str(m["persona"])
        if case is None:
            return "-"
        return str(getattr(case, dim) or "-")

    ids = sorted(meta)
    overall = estimate([scores[c].overall for c in ids])
    axes: dict[str, list[float]] = defaultdict(list)
    for c in ids:
        for axis, val in scores[c].by_axis.items():
            axes[axis].append(val)
    breakdowns: dict[str, dict[str, Estimate]] = {}
    for dim in DIMENSIONS:
        groups: dict[str, list[float]] = defaultdict(list)
        for c in ids:
            groups[group(c, dim)].append(scores[c].overall)
        breakdowns[dim] = {g: estimate(v) for g, v in sorted(groups.items())}
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for c in ids:
        cells[group(c, "doctor")][group(c, "organ_system")].append(scores[c].overall)
    heatmap = {d: {s: sum(v) / len(v) for s, v in sorted(row.items())} for d, row in sorted(cells.items())}
    diagnosis = {
        k: sum(scores[c].diagnosis == k for c in ids) / len(ids) if ids else 0.0
        for k in ("exact", "partial", "wrong", "missing")
    }
    tasks: dict[str, list[bool]] = defaultdict(list)
    for c in ids:
        tasks[f"{meta[c]['doctor']}|{base_case_id(meta[c]['case_id'])}"].append(passed(scores[c], committee[c]))
    judges = sorted({v.judge for v in verdicts if v.judge != COMMITTEE})
    judge_verdicts = [v for v in verdicts if v.judge != COMMITTEE]
    agreements = [agreement(judge_verdicts, judges, "all")]
    for axis in sorted({t[5:] for v in judge_verdicts for t in v.tags if t.startswith("axis:")}):
        scoped = [v for v in judge_verdicts if f"axis:{axis}" in v.tags]
        agreements.append(agreement(scoped, judges, axis))
    lowest = sorted(ids, key=lambda c: (scores[c].overall, c))[:worst]
    briefs = []
    for c in lowest:
        final = meta[c]["final"] or {}
        case = cases.get(meta[c]["case_id"])
        briefs.append(
            ConsultationBrief(
                consultation_id=c,
                case_id=meta[c]["case_id"],
                doctor=meta[c]["doctor"],
                diagnosis_given=str(final.get("diagnosis", "")),
                diagnosis_true=case.diagnosis.name if case else "",
                match=scores[c].diagnosis,
                score=scores[c].overall,
            )
        )
    rule = ""
    for v in verdicts:
        if v.judge == COMMITTEE:
            rule = committee_rule(v.explanation)
            break
    return RunAnalysis(
        run_id=run.id,
        name=run.name,
        judges=judges,
        rule=rule or DEFAULT_RULE,
        consultations=len(ids),
        overall=overall,
        by_axis={a: estimate(v) for a, v in sorted(axes.items())},
        breakdowns=breakdowns,
        heatmap=heatmap,
        diagnosis=diagnosis,
        cost=cost_figures(store.care_costs(run.id), {c: group(c, "doctor") for c in ids}),
        grades=grade_figures(scores.values(), {c: group(c, "doctor") for c in ids}),
        pass_k=pass_hat_k(tasks),
        pass_k_by_doctor={
            d: pass_hat_k({t: v for t, v in tasks.items() if t.split("|", 1)[0] == d})
            for d in sorted({t.split("|", 1)[0] for t in tasks})
        },
        simulator=simulator_shares(committee, {c: str(meta[c]["doctor"]) for c in ids}),
        noise=noise_floors(every_format, scores, committee),
        agreement=agreements,
        calibration=calibration(verdicts, labels) if labels else [],
        worst=briefs,
        headline_format=headline,
        formats=formats,
        gaps=gaps,
    )
