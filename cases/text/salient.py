"""Salient words: what a text is about, for comparing texts and for matching questions to facts.

Two readers, two shapes: :func:`salient_words` gives the set of plural-stemmed
content words that two texts can share (the built-in doctor, the rubric judge,
distillation and the case synthesiser compare them); :func:`finding_keywords`
gives a finding's unstemmed words in order, without the clinical filler every
finding has, as the keywords an imported fact is found by.
"""

from __future__ import annotations

import re

from cases.text.stopwords import CLINICAL_FILLER, RECORD_STOP_WORDS, SALIENT_STOP_WORDS
from cases.text.tokens import normalise, words


def salient_words(text: str) -> set[str]:
    """Content words of a text, plural-stemmed: lower-case, no numbers, no stop words, three letters or more."""
    return {w for w in normalise(text).split() if len(w) > 2 and not w[0].isdigit() and w not in SALIENT_STOP_WORDS}


def finding_keywords(text: str, limit: int = 8) -> list[str]:
    """Return the words of a finding worth matching a question on, as written.

    Stop words, generic clinical filler ("patient", "reports", "pain", "days"),
    numbers and very short words are left out, so that a keyword points at a
    fact only when the question names what the fact is about.

    Args:
        text: A finding.
        limit: Most words returned.

    Returns:
        Lower-case words in order of first appearance, without repeats.
    """
    out: list[str] = []
    for w in words(text):
        w = re.sub(r"'s$", "", w.strip("-'"))
        if (
            "'" in w
            or len(w) < 3
            or any(ch.isdigit() for ch in w)
            or w in RECORD_STOP_WORDS
            or w in CLINICAL_FILLER
            or w in out
        ):
            continue
        out.append(w)
        if len(out) >= limit:
            break
    return out
