"""Sentence splitting, three ways for three kinds of text.

:func:`sentences` cuts at a full stop, "!", "?" or ";" and the space after
it; :func:`claims` cuts a patient's reply finer, into claim-sized clauses;
:func:`record_sentences` reads a written record, where a decimal such as
"38.5" must stay whole and numbering and bullets go.
"""

from __future__ import annotations

import re
from functools import lru_cache

_AFTER_STOP = r"(?<=[.!?;])\s+"
_SENTENCE = re.compile(_AFTER_STOP)
_SENTENCE_OR_LINE = re.compile(_AFTER_STOP + r"|\n+")
_CLAIM = re.compile(_AFTER_STOP + r"|\s+(?:but|although|and also|plus)\s+", re.IGNORECASE)
_LEADING_CONJUNCTION = re.compile(r"^(?:but|and|although|plus)\s+", re.IGNORECASE)

RECORD_LABEL = re.compile(r"^[A-Za-z][A-Za-z /()-]{0,40}:\s+(?=\S)")
"""A field label opening a line of a record ("Smoking: Never smoked")."""


def sentences(text: str, *, line_breaks: bool = False) -> list[str]:
    """Split text after each ".", "!", "?" or ";" followed by white space.

    Args:
        text: Free text.
        line_breaks: Also split at line breaks, for text whose lines are
            separate statements even without a full stop.

    Returns:
        The non-blank pieces, punctuation kept.
    """
    pattern = _SENTENCE_OR_LINE if line_breaks else _SENTENCE
    return [s for s in pattern.split(text) if s.strip()]


def claims(text: str) -> list[str]:
    """Split a reply into claim-sized pieces: sentences, and clauses after "but", "although" or "plus"."""
    return list(_claims(text))


@lru_cache(maxsize=1 << 16)
def _claims(text: str) -> tuple[str, ...]:
    # The knowledge base's wordings are split again for every case that uses them; cached, the
    # pieces are also one set of strings shared by every case's guard instead of a copy each.
    pieces = (_LEADING_CONJUNCTION.sub("", s).strip(" ,") for s in _CLAIM.split(text.strip()) if s)
    return tuple(p for p in pieces if p.strip(" ,.!?"))


def record_sentences(text: str) -> list[str]:
    """Split a written record into sentences.

    Splits at sentence-ending punctuation followed by a capital or a digit, at
    semicolons and at line breaks; decimals ("38.5") and lists stay whole.

    Args:
        text: Free text.

    Returns:
        Non-empty sentences without their final full stop, numbering and bullets.
    """
    out: list[str] = []
    for chunk in re.split(r"[\n\r;]+", text):
        for s in re.split(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])", chunk):
            s = s.strip().strip("-•*").strip()
            s = re.sub(r"^\d{1,3}[.)]\s+", "", s)  # "3. He smokes" -> "He smokes"
            s = s.rstrip(".").strip()
            if s and re.search(r"[A-Za-z0-9]", s):
                out.append(s)
    return out
