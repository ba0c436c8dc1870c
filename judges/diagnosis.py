"""Deciding whether a final diagnosis names the case's diagnosis.

A synonym or a more specific form of the right diagnosis counts as exact
("acute inferior STEMI" for "STEMI"); a less specific form is partial
("chest infection" for "community-acquired pneumonia" only when listed as a
synonym; "myocardial infarction" for "inferior myocardial infarction");
anything else is wrong.
"""

from __future__ import annotations

from arena.types import Case, DiagnosisMatch, FinalAnswer
from personas.matcher import normalise

_FILLER = {
    "acute",
    "chronic",
    "likely",
    "probable",
    "possible",
    "suspected",
    "the",
    "of",
    "a",
    "an",
    "with",
    "and",
    "left",
    "right",
}


def _core(text: str) -> set[str]:
    return {w for w in normalise(text).split() if w not in _FILLER}


def match_diagnosis(final: FinalAnswer | None, case: Case) -> DiagnosisMatch:
    """Compare a doctor's final diagnosis with the case's.

    Args:
        final: The doctor's final answer, or None if none was given.
        case: The case with its diagnosis and synonyms.

    Returns:
        ``exact``, ``partial``, ``wrong`` or ``missing``.
    """
    if final is None or not final.diagnosis.strip():
        return "missing"
    said = normalise(final.diagnosis)
    said_core = _core(final.diagnosis)
    names = [case.diagnosis.name, *case.diagnosis.synonyms]
    for n in names:
        if normalise(n) in said:
            return "exact"
    for n in names:
        core = _core(n)
        if said_core and core and said_core < core:
            return "partial"
    return "wrong"
