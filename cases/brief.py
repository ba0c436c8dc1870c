"""A case written out in one message: the full vignette, or the summary of what a dialogue drew out.

These are the single-message formats a doctor can be tested in beside the
dialogue (``vignette`` and ``summary``, see :data:`arena.core.types.ConsultFormat`).
Both list facts in clinical words under history, examination and results; a
summary lists only the facts the dialogue disclosed, so the gap between the
two separates what the doctor failed to ask from what it failed to conclude.
"""

from __future__ import annotations

from collections.abc import Iterable

from arena.core.templating import render
from arena.core.types import Case, ConsultFormat, Fact

_SECTION = {"exam": "exam", "test": "results"}


def _sections(facts: Iterable[Fact]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"history": [], "exam": [], "results": []}
    for f in facts:
        out[_SECTION.get(f.disclosure, "history")].append(f.text)
    return out


def brief_facts(case: Case, fmt: ConsultFormat, disclosed: Iterable[str] = ()) -> list[Fact]:
    """The facts a single-message format shows, in the case's order.

    Args:
        case: The case.
        fmt: ``vignette`` (every fact) or ``summary`` (the disclosed ones, plus
            what the patient volunteered at the start).
        disclosed: Fact ids a dialogue of the case drew out (for ``summary``).

    Returns:
        The facts to write out.

    Raises:
        ValueError: for the ``dialogue`` format, which has no brief.
    """
    if fmt == "vignette":
        return list(case.facts)
    if fmt == "summary":
        shown = set(disclosed)
        return [f for f in case.facts if f.id in shown or f.disclosure == "volunteered"]
    raise ValueError(f"the {fmt} format is played as a dialogue, not written out")


def write_brief(case: Case, fmt: ConsultFormat, disclosed: Iterable[str] = ()) -> tuple[str, list[Fact]]:
    """The message that hands a case to the doctor in a single-message format, and the facts it states.

    Args:
        case: The case.
        fmt: ``vignette`` or ``summary``.
        disclosed: Fact ids a dialogue of the case drew out (for ``summary``).

    Returns:
        The vignette or summary, ending with the request for a final answer,
        and the facts it states (:func:`brief_facts`).
    """
    facts = brief_facts(case, fmt, disclosed)
    text = render(
        "cases",
        "case_brief.j2",
        kind=fmt,
        age=case.demographics.age,
        sex=case.demographics.sex,
        complaint=case.chief_complaint,
        **_sections(facts),
    )
    return text, facts


def brief_text(case: Case, fmt: ConsultFormat, disclosed: Iterable[str] = ()) -> str:
    """The message alone of :func:`write_brief`."""
    return write_brief(case, fmt, disclosed)[0]
