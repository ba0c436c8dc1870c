"""The five-point diagnosis grade of a judged run, per doctor: shares, mean grade with its interval, exact share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from arena.core.types import DIAGNOSIS_GRADES, GRADE_POINTS, DiagnosisGrade, GradeFigures, Score
from judges.scoring import estimate


def figures(grades: Sequence[DiagnosisGrade]) -> GradeFigures:
    """The figures of one set of graded consultations.

    Args:
        grades: One grade per consultation; at least one.

    Returns:
        The share at each of the five grades (zeros included), the mean grade
        on the 1-5 scale (:data:`~arena.core.types.GRADE_POINTS`) with its
        bootstrap 95% interval, and the share graded ``exact``.

    Raises:
        ValueError: when ``grades`` is empty (no figure is defined).
    """
    if not grades:
        raise ValueError("no graded consultation")
    n = len(grades)
    shares: dict[DiagnosisGrade, float] = {g: sum(x == g for x in grades) / n for g in DIAGNOSIS_GRADES}
    return GradeFigures(shares=shares, mean=estimate([GRADE_POINTS[g] for g in grades]), exact=shares["exact"])


def grade_figures(scores: Iterable[Score], doctor_of: Mapping[str, str]) -> dict[str, GradeFigures]:
    """The grade figures of each doctor.

    Args:
        scores: Consultation scores.
        doctor_of: The doctor of each consultation to count, by consultation id; a score of any
            other consultation is left out.

    Returns:
        Figures per doctor, by name. Scores stored before grades were kept (``grade`` None) are
        left out, and a doctor with no graded consultation has no entry.
    """
    per: dict[str, list[DiagnosisGrade]] = defaultdict(list)
    for s in scores:
        if s.grade is not None and s.consultation_id in doctor_of:
            per[doctor_of[s.consultation_id]].append(s.grade)
    return {d: figures(gs) for d, gs in sorted(per.items())}
