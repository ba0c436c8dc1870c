"""The lexical backend's terms: stemmed content words and bigrams of a question or claim."""

from __future__ import annotations

import itertools
from functools import lru_cache

from cases.text import DENIAL_WORDS, SPEECH_STOP_WORDS, stem, words

_PHRASE_WORDS = frozenset({"how", "out", "in", "on", "off", "up", "down", "with", "over", "all", "go", "going"})
"""Stop words that still carry meaning inside a phrase ("how long", "pass out", "live with", "come and go")."""


_DERIVED = (("iness", "y"), ("ness", ""), ("ation", "at"), ("ier", "y"), ("iest", "y"), ("ful", ""))
"""Endings that derive a word from another ("dizziness", "constipation", "heavier", "painful") and what undoes them."""

_MIN_ROOT = 4
"""Letters a word keeps once an ending is taken off: shorter stems ("ful" from "awful") are other words."""


@lru_cache(maxsize=1 << 16)
def _root(word: str) -> str:
    # The question stemmer meets "coughing" and "cough"; a patient also says "constipated" where the record
    # says "constipation", and "heavier" where it says "heavy", so a claim's words meet a fact's at the root.
    for ending, repl in _DERIVED:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_ROOT:
            return stem(word[: -len(ending)] + repl, "full")
    return stem(word, "full")


def terms(text: str) -> list[str]:
    """Stemmed content words of ``text`` plus stemmed bigrams of neighbouring words.

    Bigrams ("how_long", "pass_out", "come_go") let a multi-word keyword
    count for more than its words apart.
    """
    return list(_terms(text))


@lru_cache(maxsize=1 << 16)
def _terms(text: str) -> tuple[str, ...]:
    # Every case's index repeats the knowledge base's wordings of its topics: each is read once.
    toks = words(text, split_compounds=True)
    out = [stem(t, "full") for t in toks if t not in SPEECH_STOP_WORDS and t not in DENIAL_WORDS and not t.isdigit()]
    content = [stem(t, "full") for t in toks if t not in SPEECH_STOP_WORDS or t in _PHRASE_WORDS]
    out.extend(f"{a}_{b}" for a, b in itertools.pairwise(content))
    return tuple(out)


def unigrams(text: str) -> list[str]:
    """Stemmed content words of ``text`` (no bigrams), derived forms taken back to their root.

    A claim's words are weighed against a fact's ("constipated" against "constipation"); the terms a
    question is ranked by keep derived forms apart, since there "sickness" is not "sick" (contacts).
    """
    return list(_unigrams(text))


@lru_cache(maxsize=1 << 16)
def _unigrams(text: str) -> tuple[str, ...]:
    # The guard weighs the same wordings of the knowledge base for every case.
    return tuple(
        _root(t)
        for t in words(text, split_compounds=True)
        if t not in SPEECH_STOP_WORDS and t not in DENIAL_WORDS and not t.isdigit()
    )
