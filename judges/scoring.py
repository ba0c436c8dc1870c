"""Pure scoring functions (HealthBench's method) and confidence intervals."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from arena.core.types import Case, DiagnosisGrade, DiagnosisMatch, Estimate, Score, Verdict


def _ratio(items: Sequence[Verdict]) -> float | None:
    scored = [v for v in items if v.outcome != "unscored"]
    possible = sum(v.points for v in scored if v.points > 0)
    if possible <= 0:
        return None
    return sum(v.points for v in scored if v.outcome == "met") / possible


def failed(verdict: Verdict) -> bool:
    """Whether a verdict counts against the doctor: a rewarded item missed or a harmful one done."""
    return (verdict.points > 0 and verdict.outcome == "not_met") or (verdict.points < 0 and verdict.outcome == "met")


def score_consultation(
    consultation_id: str,
    verdicts: Sequence[Verdict],
    diagnosis: DiagnosisMatch,
    grade: DiagnosisGrade | None = None,
) -> Score:
    """Score one consultation from its (committee) verdicts.

    Points of met items (negative items subtract) over the sum of positive
    points, clipped to [0, 1]; the same per ``axis:`` tag. Unscored items
    count in neither sum.

    Args:
        consultation_id: The consultation.
        verdicts: One verdict per rubric item.
        diagnosis: How its final diagnosis matched.
        grade: Its final diagnosis on the five-point scale (None: not graded).

    Returns:
        The score.
    """
    raw = _ratio(verdicts)
    axes: dict[str, list[Verdict]] = {}
    for v in verdicts:
        for t in v.tags:
            if t.startswith("axis:"):
                axes.setdefault(t[5:], []).append(v)
    by_axis = {a: min(1.0, max(0.0, r)) for a, vs in sorted(axes.items()) if (r := _ratio(vs)) is not None}
    must = [
        v
        for v in verdicts
        if "priority:must" in v.tags and "axis:history" in v.tags and v.points > 0 and v.outcome != "unscored"
    ]
    coverage = (sum(v.outcome == "met" for v in must) / len(must)) if must else None
    r = raw if raw is not None else 0.0
    return Score(
        consultation_id=consultation_id,
        overall=min(1.0, max(0.0, r)),
        raw=r,
        by_axis=by_axis,
        must_ask_coverage=coverage,
        diagnosis=diagnosis,
        grade=grade,
        unscored=sum(v.outcome == "unscored" for v in verdicts),
    )


def estimate(values: Sequence[float], seed: int = 0) -> Estimate:
    """Mean and bootstrap 95% interval of ``values``."""
    if not values:
        return Estimate(mean=0.0, low=0.0, high=0.0, n=0)
    lo, hi = bootstrap_ci(values, seed=seed)
    return Estimate(mean=sum(values) / len(values), low=lo, high=hi, n=len(values))


def bootstrap_ci(values: Sequence[float], *, n: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    Args:
        values: Per-consultation values.
        n: Bootstrap resamples.
        seed: Seed, so a report is reproducible.
        level: Coverage of the interval.

    Returns:
        ``(low, high)``; both equal the value when there is one value or none.
    """
    if len(values) < 2:
        v = values[0] if values else 0.0
        return v, v
    rng = random.Random(seed)
    k = len(values)
    means = sorted(sum(rng.choices(values, k=k)) / k for _ in range(n))
    lo = means[int((1 - level) / 2 * n)]
    hi = means[min(n - 1, int((1 + level) / 2 * n))]
    return lo, hi


def wilson_interval(successes: int, n: int, *, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% with the default ``z``).

    Used for shares of rare events, where a bootstrap of a share of zero
    collapses to [0, 0] and Wald's interval leaves [0, 1].

    Args:
        successes: Events counted.
        n: Trials; 0 gives ``(0.0, 1.0)``, nothing known.
        z: Standard normal quantile of the coverage (1.96 for 95%).

    Returns:
        ``(low, high)`` within [0, 1].
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def bootstrap_diff(
    a: Sequence[float], b: Sequence[float], *, n: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Difference of means ``mean(b) - mean(a)`` with a percentile bootstrap interval.

    The two samples are resampled independently (different runs, different
    consultations).

    Returns:
        ``(difference, low, high)``; the interval collapses to the difference
        when either sample has fewer than two values.
    """
    if not a or not b:
        return 0.0, 0.0, 0.0
    d = sum(b) / len(b) - sum(a) / len(a)
    if len(a) < 2 or len(b) < 2:
        return d, d, d
    rng = random.Random(seed)
    diffs = sorted(sum(rng.choices(b, k=len(b))) / len(b) - sum(rng.choices(a, k=len(a))) / len(a) for _ in range(n))
    return d, diffs[int((1 - level) / 2 * n)], diffs[min(n - 1, int((1 + level) / 2 * n))]


def rubric_points(case: Case) -> float:
    """Sum of a case's positive points."""
    return sum(i.points for i in case.rubric if i.points > 0)


def paired_bootstrap(
    differences: Mapping[str, Sequence[float]], *, n: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean paired difference with a percentile bootstrap interval that resamples clusters.

    Each cluster (a case) holds the differences of its pairs (one per trial);
    a resample draws whole clusters, so trials of one case never count as
    independent evidence.

    Args:
        differences: Per cluster, the paired differences it holds.
        n: Bootstrap resamples.
        seed: Seed, so a report is reproducible.
        level: Coverage of the interval.

    Returns:
        ``(mean difference over pairs, low, high)``; the interval collapses to
        the mean with fewer than two clusters, and all three are 0 with none.
    """
    clusters = [list(v) for v in differences.values() if v]
    if not clusters:
        return 0.0, 0.0, 0.0
    total = sum(sum(c) for c in clusters)
    count = sum(len(c) for c in clusters)
    mean = total / count
    if len(clusters) < 2:
        return mean, mean, mean
    rng = random.Random(seed)
    sums = [(sum(c), len(c)) for c in clusters]
    means = []
    for _ in range(n):
        drawn = rng.choices(sums, k=len(sums))
        means.append(sum(s for s, _ in drawn) / sum(k for _, k in drawn))
    means.sort()
    return mean, means[int((1 - level) / 2 * n)], means[min(n - 1, int((1 + level) / 2 * n))]
