"""Clinical text: word tokens, stems and whole-word phrase matching.

A phrase matches when all of its words appear as whole words (or simple
plural forms) in the text. Cases, patients, doctors and judges all read free
text through this module, so they agree on what a word is.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``."""
    return _WORD.findall(text.lower())


def _stem(w: str) -> str:
    # Enough normalisation for "legs"/"leg", "rashes"/"rash", "allergies"/"allergy".
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("es") and w[-3] in "sxz":
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


@lru_cache(maxsize=1 << 17)
def normalise(text: str) -> str:
    """Return ``text`` as space-padded stemmed words, for phrase lookup."""
    # Cached: the same questions, answers and rubric texts recur across
    # thousands of consultations, and the judges normalise each per item.
    return " " + " ".join(_stem(w) for w in words(text)) + " "


@lru_cache(maxsize=1 << 16)
def _normalised_phrase(phrase: str) -> str:
    # Phrases are the knowledge base's keywords, checked against every
    # question: normalising each once instead of per check saves most of the
    # built-in agents' CPU.
    p = normalise(phrase)
    return p if p.strip() else ""


def phrase_in(phrase: str, normalised_text: str) -> bool:
    """Whether ``phrase`` occurs as whole words in text made by :func:`normalise`."""
    p = _normalised_phrase(phrase)
    return p != "" and p in normalised_text
