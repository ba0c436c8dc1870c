"""The noise floor: how much verdicts and scores move between identical trials of a run.

A run with ``--trials K`` plays every case K times with the same doctor, patient
and persona; only the seed changes. What differs between those trials is noise,
and it sets how large a difference between two runs must be before it means
anything.

Definitions, per doctor, within one format (so formats never mix):

* **flip rate**: over every (case, rubric item) and every pair of trials in
  which the committee scored it (``met`` or ``not_met``; unscored verdicts are
  left out), the share of pairs whose outcomes differ.
* **items flipped**: the share of (case, item) scored in at least two trials
  whose outcome is not the same in all of them.
* **trial SD** ``s_w``: the pooled within-case standard deviation of the
  overall score, ``s_w^2 = sum_i sum_k (y_ik - mean_i)^2 / sum_i (K_i - 1)``
  over the cases played in at least two trials.
* **floor**: the 95% critical difference between the mean scores of two runs
  of this size (N consultations) when nothing but the trials differs,
  ``floor = 1.96 * sqrt(2 * s_w^2 / N)``; with n cases of K trials each,
  ``N = n * K``. It assumes the two runs play the same cases (two doctors, or
  two runs with the same seed), so case-to-case differences cancel and only
  the trial noise of each run is left: ``Var(mean_B - mean_A) = 2 s_w^2 / N``.
  A difference smaller than the floor cannot be told apart from rerunning the
  same run. Runs on different cases carry the cases' own variance too; the
  bootstrap intervals of ``arena compare`` cover that, the floor does not.

For two runs whose noise differs (``s_a`` over ``N_a`` consultations,
``s_b`` over ``N_b``), the same reasoning gives
``1.96 * sqrt(s_a^2 / N_a + s_b^2 / N_b)``, which is
``sqrt((floor_a^2 + floor_b^2) / 2)`` (see :func:`difference_floor`).

No floor exists without a case played in at least two trials.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any, TypeVar

from arena.core.types import DEFAULT_FORMAT, NoiseFloor, Score, Verdict, first_format

Z95 = 1.96
"""Standard normal quantile of a two-sided 95% test."""
HOW_TO_GET = "run with --trials 2 or more"
"""What a user does to get a noise floor."""

K = TypeVar("K", bound=Hashable)


def pooled_variance(cells: Mapping[K, Sequence[float]]) -> tuple[float, int] | None:
    """Pooled within-cell variance of repeated values (one cell per case, one value per trial).

    Args:
        cells: The values of each cell; cells with fewer than two values add nothing.

    Returns:
        ``(variance, degrees of freedom)``, or None when no cell has two values.
    """
    squares, df = 0.0, 0
    for values in cells.values():
        if len(values) < 2:
            continue
        m = sum(values) / len(values)
        squares += sum((v - m) ** 2 for v in values)
        df += len(values) - 1
    return (squares / df, df) if df else None


def difference_floor(var_a: float | None, n_a: int, var_b: float | None, n_b: int) -> float | None:
    """The 95% noise floor of a difference between two mean scores.

    ``1.96 * sqrt(var_a / n_a + var_b / n_b)``: each mean's trial noise is its
    within-case variance over its consultations, and the two runs' noise is
    independent. With equal figures it is a run's own floor,
    ``1.96 * sqrt(2 s_w^2 / N)``; from two runs' floors it is
    ``sqrt((floor_a^2 + floor_b^2) / 2)``. When only one run was played in
    several trials, its variance stands in for the other's (the same doctor,
    or doctors as noisy, is assumed).

    Args:
        var_a: Run A's pooled within-case variance (None: no case played twice).
        n_a: Consultations behind mean A.
        var_b: The same for run B.
        n_b: Consultations behind mean B.

    Returns:
        The floor; None when neither run has a variance or a mean has no consultation.
    """
    va = var_b if var_a is None else var_a
    vb = var_a if var_b is None else var_b
    if va is None or vb is None or n_a <= 0 or n_b <= 0:
        return None
    return Z95 * math.sqrt(va / n_a + vb / n_b)


def flips(outcomes: Mapping[K, Sequence[bool]]) -> tuple[int, int, int, int]:
    """Count verdict flips between trials.

    Args:
        outcomes: For each (case, item), its scored outcomes (True for met), one per trial.

    Returns:
        ``(pairs that differ, pairs, items not the same in every trial, items scored in two trials)``.
    """
    differ = pairs = flipped = items = 0
    for seq in outcomes.values():
        if len(seq) < 2:
            continue
        items += 1
        flipped += len(set(seq)) > 1
        for x, y in combinations(seq, 2):
            pairs += 1
            differ += x != y
    return differ, pairs, flipped, items


def noise_floors(
    meta: Sequence[Mapping[str, Any]], scores: Mapping[str, Score], committee: Mapping[str, Sequence[Verdict]]
) -> dict[str, NoiseFloor]:
    """Each doctor's noise floor, within one format (see the module's docstring for the definitions).

    Args:
        meta: Consultation meta (``store.consultation_meta``): id, case_id, trial, doctor, format.
        scores: Scores by consultation id; consultations without one are left out.
        committee: The committee's verdicts by consultation id.

    Returns:
        The noise floor by doctor; a doctor that played no case in two trials
        (of its format) has none.
    """
    by_doctor: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for m in meta:
        if m["id"] in scores:
            by_doctor[str(m["doctor"])].append(m)
    out: dict[str, NoiseFloor] = {}
    for doctor, rows in sorted(by_doctor.items()):
        fmt = first_format(str(m["format"] or DEFAULT_FORMAT) for m in rows)
        rows = [m for m in rows if (m["format"] or DEFAULT_FORMAT) == fmt]
        cells: dict[str, list[float]] = defaultdict(list)
        outcomes: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for m in sorted(rows, key=lambda m: (m["case_id"], m["trial"])):
            cells[m["case_id"]].append(scores[m["id"]].overall)
            for v in committee.get(m["id"], ()):
                if v.outcome != "unscored":
                    outcomes[(m["case_id"], v.item_id)].append(v.outcome == "met")
        pooled = pooled_variance(cells)
        if pooled is None:
            continue
        differ, pairs, flipped, items = flips(outcomes)
        n = len(rows)
        out[doctor] = NoiseFloor(
            format=fmt,
            trials=max(len(v) for v in cells.values()),
            cases=sum(len(v) >= 2 for v in cells.values()),
            consultations=n,
            flip_rate=differ / pairs if pairs else 0.0,
            items_flipped=flipped / items if items else 0.0,
            trial_sd=math.sqrt(pooled[0]),
            floor=Z95 * math.sqrt(2 * pooled[0] / n),  # as difference_floor(s2, n, s2, n)
        )
    return out
