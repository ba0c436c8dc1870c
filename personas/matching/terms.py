"""The lexical backend's terms: stemmed content words and bigrams of a question or claim."""

from __future__ import annotations

import itertools
from functools import lru_cache

from cases.text import DENIAL_WORDS, SPEECH_STOP_WORDS, stem, words

_PHRASE_WORDS = frozenset({"how", "out", "in", "on", "off", "up", "down", "with", "over", "all", "go", "going"})
"""Stop words that still carry meaning inside a phrase ("how long", "pass out", "live with", "come and go")."""


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
    """Stemmed content words of ``text`` (no bigrams)."""
    return list(_unigrams(text))


@lru_cache(maxsize=1 << 16)
def _unigrams(text: str) -> tuple[str, ...]:
    return tuple(
        stem(t, "full")
        for t in words(text, split_compounds=True)
        if t not in SPEECH_STOP_WORDS and t not in DENIAL_WORDS and not t.isdigit()
    )
