"""Comparing two judged runs: per-doctor and per-axis differences with confidence intervals.

Each difference also gets the noise floor that applies to it (``judges/noise.py``):
``1.96 * sqrt(s_a^2 / N_a + s_b^2 / N_b)``, where ``s`` is a run's pooled
within-case standard deviation between trials of the same doctor, case and
format, over the consultations the row's mean covers, and ``N`` counts those
consultations. A difference larger than its floor exceeds what rerunning the
same runs would give; the bootstrap interval says in addition how far it
would move on other cases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from arena.core.store import Store
from arena.core.types import DEFAULT_FORMAT, first_format
from judges.noise import difference_floor, pooled_variance
from judges.scoring import bootstrap_diff

FloorBasis = Literal["both", "a", "b", "unknown"]
"""Where a difference's floor comes from: both runs' trials, one run's (its noise standing in for
the other's), or neither (no run played a case in two trials)."""


class Difference(BaseModel):
    """One row of a comparison."""

    model_config = ConfigDict(extra="forbid")

    dimension: str
    """``overall``, ``doctor`` or ``axis``."""
    group: str
    """The doctor or axis (``all`` for overall)."""
    a: float
    """Mean in run A."""
    b: float
    """Mean in run B."""
    n_a: int
    """Consultations in A."""
    n_b: int
    """Consultations in B."""
    diff: float
    """B - A."""
    low: float
    """Lower end of the 95% interval of the difference."""
    high: float
    """Upper end."""
    floor: float | None = None
    """The 95% noise floor of this difference: the smallest ``|B - A|`` that trial-to-trial noise
    alone would not give (None when unknown: neither run played a case in two trials)."""
    floor_basis: FloorBasis = "unknown"
    """Whose trials the floor comes from (see :data:`FloorBasis`)."""
    exceeds: bool | None = None
    """Whether ``|diff|`` is larger than the floor (None when the floor is unknown)."""


Key = tuple[str, str]
Cells = dict[Hashable, list[float]]


def _groups(store: Store, run_ref: str) -> tuple[dict[Key, list[float]], dict[Key, Cells]]:
    """Each row's values, and the same values by (doctor, format, case) for its trial noise."""
    run = store.get_run(run_ref)
    scores = {s.consultation_id: s for s in store.scores(run.id)}
    meta = {m["id"]: m for m in store.consultation_meta(run.id)}
    # Like the report's headline figures, a comparison reads one format: the first the run played.
    headline = first_format(m["format"] for m in meta.values())
    scores = {c: s for c, s in scores.items() if c in meta and meta[c]["format"] == headline}
    out: dict[Key, list[float]] = defaultdict(list)
    cells: dict[Key, Cells] = defaultdict(lambda: defaultdict(list))
    for cid, s in scores.items():
        m = meta.get(cid, {})
        doctor = str(m.get("doctor", "-"))
        # Trials of the same doctor, case and format are the repeats; nothing else is.
        cell = (doctor, m.get("format") or DEFAULT_FORMAT, m.get("case_id", cid))
        for key, v in (
            (("overall", "all"), s.overall),
            (("doctor", doctor), s.overall),
            *((("axis", axis), val) for axis, val in s.by_axis.items()),
        ):
            out[key].append(v)
            cells[key][cell].append(v)
    return out, cells


def _variance(cells: Cells) -> float | None:
    pooled = pooled_variance(cells)
    return None if pooled is None else pooled[0]


def _basis(var_a: float | None, var_b: float | None) -> FloorBasis:
    if var_a is not None and var_b is not None:
        return "both"
    if var_a is not None:
        return "a"
    return "unknown" if var_b is None else "b"


def compare_runs(store: Store, run_a: str, run_b: str) -> list[Difference]:
    """Return B - A for overall, each doctor and each axis present in both runs, each with its noise floor."""
    (ga, ca), (gb, cb) = _groups(store, run_a), _groups(store, run_b)
    rows = []
    for key in sorted(set(ga) & set(gb)):
        a, b = ga[key], gb[key]
        d, lo, hi = bootstrap_diff(a, b)
        va, vb = _variance(ca[key]), _variance(cb[key])
        floor = difference_floor(va, len(a), vb, len(b))
        rows.append(
            Difference(
                dimension=key[0],
                group=key[1],
                a=sum(a) / len(a),
                b=sum(b) / len(b),
                n_a=len(a),
                n_b=len(b),
                diff=d,
                low=lo,
                high=hi,
                floor=floor,
                floor_basis=_basis(va, vb),
                exceeds=None if floor is None else abs(d) > floor,
            )
        )
    return rows
