"""How far a committee's judges agree: Fleiss' kappa, Krippendorff's alpha, pairwise Cohen's kappa."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations

import numpy as np

from arena.core.types import Agreement, JudgeCalibration, Verdict

_CODE = {"met": 1.0, "not_met": 0.0}


def _finite(x: float) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else float(x)


def agreement(verdicts: Sequence[Verdict], judges: Sequence[str], scope: str = "all") -> Agreement:
    """Measure agreement between judges over the (consultation, item) pairs they scored.

    Args:
        verdicts: Verdicts of the judges (others, e.g. the committee's, are ignored).
        judges: The judges to compare, in a fixed order.
        scope: Label of the item set (``all`` or an axis).

    Returns:
        The statistics; each is None where it is undefined (fewer than two
        judges, or no variation at all).
    """
    import krippendorff
    from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

    col = {j: i for i, j in enumerate(judges)}
    rows: dict[tuple[str, str], list[float]] = defaultdict(lambda: [math.nan] * len(judges))
    for v in verdicts:
        if v.judge in col and v.outcome in _CODE:
            rows[(v.consultation_id, v.item_id)][col[v.judge]] = _CODE[v.outcome]
    data = np.array([r for r in rows.values() if sum(not math.isnan(x) for x in r) >= 2], dtype=float)
    out = Agreement(scope=scope, judges=list(judges), items=len(data))
    if len(judges) < 2 or len(data) == 0:
        return out
    scored = ~np.isnan(data)
    same = [len({x for x, s in zip(r, m, strict=True) if s}) == 1 for r, m in zip(data, scored, strict=True)]
    out.split = int(sum(not s for s in same))
    out.percent_agreement = float(sum(same) / len(same))
    complete = data[scored.all(axis=1)]
    if len(complete):
        table, _ = aggregate_raters(complete.astype(int), n_cat=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.fleiss_kappa = _finite(fleiss_kappa(table, method="fleiss"))
    try:
        out.krippendorff_alpha = _finite(krippendorff.alpha(reliability_data=data.T, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        out.krippendorff_alpha = None
    for a, b in combinations(range(len(judges)), 2):
        both = data[~np.isnan(data[:, a]) & ~np.isnan(data[:, b])][:, [a, b]].astype(int)
        if len(both) == 0:
            continue
        table2 = np.zeros((2, 2))
        for x, y in both:
            table2[x, y] += 1
        with np.errstate(divide="ignore", invalid="ignore"):
            k = _finite(cohens_kappa(table2, return_results=False))
        if k is not None:
            out.cohen[f"{judges[a]} | {judges[b]}"] = k
    return out


def calibration(verdicts: Sequence[Verdict], labels: dict[tuple[str, str], bool]) -> list[JudgeCalibration]:
    """Score each judge (and the committee) against reference labels.

    Args:
        verdicts: All verdicts of a run.
        labels: ``(consultation_id, item_id) -> met`` from a reference file.

    Returns:
        One row per judge that scored at least one labelled pair.
    """
    per: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for v in verdicts:
        key = (v.consultation_id, v.item_id)
        if key in labels and v.outcome != "unscored":
            per[v.judge].append((v.outcome == "met", labels[key]))
    out = []
    for judge, pairs in sorted(per.items()):
        tp = sum(p and t for p, t in pairs)
        said_met = sum(p for p, _ in pairs)
        truly_met = sum(t for _, t in pairs)
        out.append(
            JudgeCalibration(
                judge=judge,
                n=len(pairs),
                accuracy=sum(p == t for p, t in pairs) / len(pairs),
                precision=tp / said_met if said_met else None,
                recall=tp / truly_met if truly_met else None,
            )
        )
    return out
