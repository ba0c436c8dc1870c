"""Word handling shared by the lexical backend and the guard: terms, negation, sentences."""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_LEADING = re.compile(r"^(?:but|and|although|plus)\s+", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s+(?:but|although|and also|plus)\s+", re.IGNORECASE)

STOP = frozenset(
    [
        "a",
        "about",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "anything",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "for",
        "from",
        "get",
        "gets",
        "getting",
        "go",
        "going",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "him",
        "his",
        "how",
        "i",
        "i'd",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "it",
        "it's",
        "its",
        "just",
        "let",
        "me",
        "might",
        "more",
        "my",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "or",
        "our",
        "out",
        "over",
        "please",
        "really",
        "she",
        "should",
        "so",
        "some",
        "something",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "up",
        "us",
        "very",
        "was",
        "we",
        "well",
        "were",
        "what",
        "which",
        "while",
        "who",
        "will",
        "with",
        "would",
        "yes",
        "you",
        "you're",
        "you've",
        "your",
        "yourself",
        "oh",
        "um",
        "er",
        "right",
        "okay",
        "ok",
        "doctor",
        "dr",
        # A proxy speaks of the patient in the third person; the pronouns say as little as "I" does.
        "he's",
        "she's",
        "he'd",
        "she'd",
        "he'll",
        "she'll",
        "they'd",
        "they'll",
        "we'd",
        "we'll",
        "we're",
        "we've",
        "they're",
        "they've",
        "i'll",
    ]
)
"""Words that say nothing about what is asked or claimed."""

_PHRASE_WORDS = frozenset({"how", "out", "in", "on", "off", "up", "down", "with", "over", "all", "go", "going"})
"""Stop words that still carry meaning inside a phrase ("how long", "pass out", "live with", "come and go")."""

NEGATIONS = frozenset(
    [
        "no",
        "not",
        "never",
        "none",
        "nothing",
        "nobody",
        "neither",
        "nor",
        "without",
        "don't",
        "doesn't",
        "didn't",
        "haven't",
        "hasn't",
        "hadn't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "can't",
        "cannot",
        "couldn't",
        "won't",
        "wouldn't",
        "nope",
    ]
)
"""Words that turn a statement into a denial."""


@lru_cache(maxsize=65536)
def stem(w: str) -> str:
    """Crude suffix stripping so "coughing", "coughs" and "cough" meet."""
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
        return w[:-1] if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz" else w
    if len(w) > 4 and w.endswith("ed") and not w.endswith("eed"):
        w = w[:-2]
        return w[:-1] if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz" else w
    if len(w) > 3 and w.endswith("es") and w[-3] in "sxz":
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def tokens(text: str) -> list[str]:
    """Lower-case word tokens, apostrophes kept ("don't")."""
    return _WORD.findall(text.lower().replace("’", "'"))


def terms(text: str) -> list[str]:
    """Stemmed content words of ``text`` plus stemmed bigrams of neighbouring words.

    Bigrams ("how_long", "pass_out", "come_go") let a multi-word keyword
    count for more than its words apart.
    """
    toks = tokens(text)
    out = [stem(t) for t in toks if t not in STOP and t not in NEGATIONS and not t.isdigit()]
    content = [stem(t) for t in toks if t not in STOP or t in _PHRASE_WORDS]
    out.extend(f"{a}_{b}" for a, b in itertools.pairwise(content))
    return out


def unigrams(text: str) -> list[str]:
    """Stemmed content words of ``text`` (no bigrams)."""
    return [stem(t) for t in tokens(text) if t not in STOP and t not in NEGATIONS and not t.isdigit()]


def negated(text: str) -> bool:
    """Whether ``text`` contains a word of denial."""
    return any(t in NEGATIONS or t.endswith("n't") for t in tokens(text))


def sentences(text: str) -> list[str]:
    """Split a reply into claim-sized pieces: sentences, and clauses after "but"."""
    pieces = (_LEADING.sub("", s).strip(" ,") for s in _SENTENCE.split(text.strip()) if s)
    return [p for p in pieces if p.strip(" ,.!?")]
