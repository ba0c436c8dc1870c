"""The gap between formats of the same cases: how much of a doctor's failure is the conversation itself.

Each case can be played as a dialogue, as a full vignette and as the summary
of its dialogue (see :data:`arena.core.types.ConsultFormat`), by the same
doctor with the same seed. Per doctor this module gives diagnosis accuracy
and score in each format, and the paired differences between formats
(vignette minus dialogue, summary minus dialogue, vignette minus summary)
with bootstrap intervals that resample cases. A pair is one case and trial
played in both formats; trials of a case stay together in a resample.

Scores of the single-message formats leave out the rubric items that cannot
apply to them (see :func:`judges.base.applies`), so "score" means something
narrower there; ``FormatFigures.left_out`` says how many items per
consultation were left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Literal

from arena.core.types import CONSULT_FORMATS, ConsultFormat, FormatFigures, FormatGap, Score
from judges.scoring import estimate, paired_bootstrap

GAP_PAIRS: tuple[tuple[ConsultFormat, ConsultFormat], ...] = (
    ("vignette", "dialogue"),
    ("summary", "dialogue"),
    ("vignette", "summary"),
)
"""The differences reported, each as (minuend, subtrahend)."""
MEASURES: tuple[Literal["accuracy", "score"], ...] = ("accuracy", "score")
"""What the gap is measured on."""


def correct(score: Score) -> float:
    """1.0 when the diagnosis matched exactly or partially (diagnosis accuracy), else 0.0."""
    return 1.0 if score.diagnosis in ("exact", "partial") else 0.0


def _value(score: Score, measure: str) -> float:
    return correct(score) if measure == "accuracy" else score.overall


def format_figures(
    scores: Mapping[str, Score], meta: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, dict[ConsultFormat, FormatFigures]], list[FormatGap]]:
    """Per-format figures and paired gaps for each doctor of a run.

    Args:
        scores: Committee scores by consultation id.
        meta: Per consultation id, its ``doctor``, ``case_id``, ``trial`` and
            ``format`` (as :meth:`~arena.core.queries.StoreQueries.consultation_meta` gives them).

    Returns:
        ``(figures, gaps)``: figures per doctor and format, and every gap whose
        two formats the doctor played on at least one common case and trial.
        Both are empty when the run played one format.
    """
    cells: dict[tuple[str, ConsultFormat], dict[tuple[str, int], Score]] = defaultdict(dict)
    for cid, score in scores.items():
        m = meta.get(cid)
        if m is None:
            continue
        cells[(str(m["doctor"]), m.get("format") or "dialogue")][(str(m["case_id"]), int(m["trial"]))] = score
    if len({fmt for _, fmt in cells}) < 2:
        return {}, []
    figures: dict[str, dict[ConsultFormat, FormatFigures]] = defaultdict(dict)
    for (doctor, fmt), played in sorted(cells.items(), key=lambda kv: (kv[0][0], CONSULT_FORMATS.index(kv[0][1]))):
        got = list(played.values())
        figures[doctor][fmt] = FormatFigures(
            accuracy=estimate([correct(s) for s in got]),
            score=estimate([s.overall for s in got]),
            left_out=sum(s.left_out for s in got) / len(got),
        )
    gaps = []
    for doctor in sorted(figures):
        for a, b in GAP_PAIRS:
            first, second = cells.get((doctor, a), {}), cells.get((doctor, b), {})
            keys = sorted(set(first) & set(second))
            if not keys:
                continue
            for measure in MEASURES:
                by_case: dict[str, list[float]] = defaultdict(list)
                for key in keys:
                    by_case[key[0]].append(_value(first[key], measure) - _value(second[key], measure))
                diff, lo, hi = paired_bootstrap(by_case)
                gaps.append(
                    FormatGap(
                        doctor=doctor,
                        measure=measure,
                        minuend=a,
                        subtrahend=b,
                        difference=diff,
                        low=lo,
                        high=hi,
                        pairs=len(keys),
                    )
                )
    return dict(figures), gaps
