"""What the guard knows beyond a case's facts: the persona's voice and the knowledge base's other wordings.

A persona changes how a patient talks, never what is true: stock lead-ins
and tails, canned replies, a bias persona's belief, word swaps for a low
literacy patient. None of that is a clinical claim, so the guard sets it
aside before checking. The knowledge base holds several lay phrasings of
each finding; a patient who says a fact in another of them is still saying
the fact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from arena.core.types import Case, Persona
from cases.kb import load_kb
from personas.voice import placeholders

_GAPS = re.compile(r"\s+")


def _fill(line: str, values: dict[str, str]) -> str:
    try:
        return line.format(**values).strip()
    except (KeyError, IndexError, ValueError):
        return line.strip()


def _pattern(phrases: Sequence[str]) -> re.Pattern[str] | None:
    return _compiled(tuple(sorted(set(phrases), key=lambda p: (-len(p), p))))


@lru_cache(maxsize=1024)
def _compiled(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    # Every guard of a persona and a voice (he or she, the relation) builds the same pattern: built once.
    # Longest first, so a tail that contains a shorter one goes whole; spaces match any run of spaces.
    parts = [r"\s+".join(map(re.escape, p.split())) for p in phrases if p.strip()]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


class VoiceFilter:
    """Removes one persona's voice from a reply, leaving what the patient claims."""

    def __init__(self, persona: Persona, case: Case) -> None:
        """Collect the persona's stock phrases, filled in for ``case``.

        Args:
            persona: The voice.
            case: The case, for the persona's placeholders (``{he}``, ``{relation}``...).
        """
        values = placeholders(case)
        lines: list[str] = [*persona.lead_ins, *persona.tails]
        lines += [
            persona.unknown_reply,
            persona.denial_reply,
            persona.diagnosis_reply,
            persona.not_checked_reply,
            persona.unclear_reply,
        ]
        if persona.bias is not None:
            lines += persona.bias.beliefs
        if persona.willingness is not None:
            lines += persona.willingness.deflections
        # The opening frames the complaint; the frame is voice, the complaint is a fact.
        lines += persona.opening.split("{complaint}")
        phrases = [_fill(x, values) for x in lines]
        self._voice = _pattern([p for p in phrases if len(p.strip(" .,!?")) > 1])
        # Undo word swaps ("pills" -> "medication"): one swapped word may stand for several ("belly").
        back: dict[str, list[str]] = {}
        for plain, swapped in persona.vocabulary.items():
            back.setdefault(swapped.lower(), []).append(plain)
        self._swaps = back
        self._swap = _pattern(list(back))

    def strip(self, reply: str) -> str:
        """``reply`` without the persona's stock phrases."""
        text = self._voice.sub(" ", reply) if self._voice is not None else reply
        return _GAPS.sub(" ", text).strip()

    def readings(self, claim: str, limit: int = 8) -> list[str]:
        """``claim`` as said, then with the persona's word swaps undone, one way per original word."""
        out = [claim]
        if self._swap is None:
            return out
        for m in self._swap.finditer(claim):
            options = self._swaps.get(_GAPS.sub(" ", m.group(0).lower()), [])
            out = [r.replace(m.group(0), o, 1) for r in out for o in options] or out
            out = out[:limit]
        return list(dict.fromkeys([claim, *out]))


def kb_wordings(case: Case) -> dict[str, tuple[str, ...]]:
    """The knowledge base's lay phrasings of the finding behind each of ``case``'s facts, by fact id.

    A caregiver's case gets the caregiver phrasings. Facts that did not come
    from a knowledge-base finding (hand-written cases, onsets) get none.
    """
    kb = load_kb()
    cond = kb.by_id.get(case.id.rsplit("-", 1)[0])
    if cond is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for fact in case.facts:
        group, _, fid = fact.id.partition(".")
        pool = cond.negatives if group == "neg" else cond.findings
        found = next((f for f in pool if f.id == fid), None)
        if found is None:
            continue
        lay = found.lay_caregiver if case.speaker == "caregiver" and found.lay_caregiver else found.lay
        out[fact.id] = tuple(x for x in lay if "{" not in x)
    return out
