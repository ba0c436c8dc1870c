"""Word tokens, stems and whole-word phrase matching.

A phrase matches when all of its words appear as whole words (or simple
plural forms) in the text. Cases, patients, doctors and judges all read free
text through this module, so they agree on what a word is.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

StemStrength = Literal["plural", "full"]
"""How much :func:`stem` strips: plural endings only, or verb endings and possessives too."""

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_SPLIT_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str, *, split_compounds: bool = False) -> list[str]:
    """Lower-case word tokens of ``text``.

    Args:
        text: Any text.
        split_compounds: Read the text as the question matcher and the guard
            do: a hyphenated compound is several words ("follow-up" gives
            "follow" and "up"), a typographic apostrophe is a plain one
            ("don’t" gives "don't"), and only letters follow an apostrophe.
            Phrase lookup keeps compounds whole, so "Gram-negative" is one word.

    Returns:
        The words in order.
    """
    if split_compounds:
        return _SPLIT_WORD.findall(text.lower().replace("’", "'"))
    return _WORD.findall(text.lower())


def _undouble(w: str) -> str:
    # "stopp" (from "stopped") is "stop"; "swell" and "fizz" keep their double letter.
    return w[:-1] if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz" else w


@lru_cache(maxsize=65536)
def stem(word: str, strength: StemStrength) -> str:
    """Crude suffix stripping of one lower-case word.

    Args:
        word: A word from :func:`words`.
        strength: ``plural`` strips plural endings only ("legs", "rashes",
            "allergies"), as :func:`normalise` does for phrase lookup; it also
            takes the "s" off "virus". ``full`` also strips a possessive "'s"
            and the verb endings "-ing" and "-ed", so "coughing", "coughs" and
            "cough" meet, and keeps words in "-us" and "-is" whole; the
            question matcher uses it.

    Returns:
        The stem.
    """
    w = word
    full = strength == "full"
    if full and w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if full and len(w) > 5 and w.endswith("ing"):
        return _undouble(w[:-3])
    if full and len(w) > 4 and w.endswith("ed") and not w.endswith("eed"):
        return _undouble(w[:-2])
    if len(w) > 3 and w.endswith("es") and w[-3] in "sxz":
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is") if full else "ss"):
        return w[:-1]
    return w


@lru_cache(maxsize=1 << 17)
def normalise(text: str) -> str:
    """Return ``text`` as space-padded plural-stemmed words, for phrase lookup."""
    # Cached: the same questions, answers and rubric texts recur across
    # thousands of consultations, and the judges normalise each per item.
    return " " + " ".join(stem(w, "plural") for w in words(text)) + " "


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
