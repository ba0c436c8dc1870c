"""Comparing two judged runs: per-doctor and per-axis differences with confidence intervals."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, ConfigDict

from arena.core.store import Store
from judges.scoring import bootstrap_diff


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


def _groups(store: Store, run_ref: str) -> dict[tuple[str, str], list[float]]:
    run = store.get_run(run_ref)
    scores = {s.consultation_id: s for s in store.scores(run.id)}
    doctors = {m["id"]: m["doctor"] for m in store.consultation_meta(run.id)}
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for cid, s in scores.items():
        out[("overall", "all")].append(s.overall)
        out[("doctor", doctors.get(cid, "-"))].append(s.overall)
        for axis, v in s.by_axis.items():
            out[("axis", axis)].append(v)
    return out


def compare_runs(store: Store, run_a: str, run_b: str) -> list[Difference]:
    """Return B - A for overall, each doctor and each axis present in both runs."""
    ga, gb = _groups(store, run_a), _groups(store, run_b)
    rows = []
    for key in sorted(set(ga) & set(gb)):
        a, b = ga[key], gb[key]
        d, lo, hi = bootstrap_diff(a, b)
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
            )
        )
    return rows
