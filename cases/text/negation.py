"""Negation: whether a text denies something, read four ways for four kinds of text.

The readers differ on purpose, each tuned with its callers: :func:`negated`
reads speech ("I haven't", "nope"); :func:`mentions_negation` looks for a
denial anywhere in a clinical statement; :func:`negative_or_normal` also
takes "normal" and "unremarkable" as saying nothing is wrong; and
:func:`is_negative` and :func:`states_absence` read how a recorded finding
opens ("Denies fever", "No rash", "Smoking: never").
"""

from __future__ import annotations

import re

from cases.text.sentences import RECORD_LABEL
from cases.text.tokens import words

DENIAL_WORDS = frozenset(
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
"""Words that turn a spoken statement into a denial."""

ABSENCE_WORDS = frozenset(["denies", "absent", "none", "normal", "negative", "never", "without", "nil", "non"])
"""Words by which a clinical finding says something is absent or normal: they frame a finding, not its content."""

_MENTIONED = re.compile(r"\b(?:no|not|without|denies|denied|never|nor|negative)\b", re.IGNORECASE)
# "Gram-negative" is a positive finding, so a hyphen before "negative" does not negate.
_NEGATIVE_OR_NORMAL = re.compile(
    r"\b(no|not|denies|never|haven't|hasn't|don't|didn't|isn't|normal|(?<!-)negative|unremarkable)\b"
)

_SUBJECT = r"^(?:(?:the\s+)?(?:patient|pt\.?|he|she|they|child|baby)\s+)?"
"""Who a finding is about, when it says ("The patient denies ...", "She has no ...")."""
_NEGATIVE_OPENING = re.compile(
    _SUBJECT
    + r"(?:(?:has|had|have|reports|reported|with|takes|took|uses|used|drinks|smokes|is\s+taking|was\s+taking)\s+)?"
    r"(?:no|denies|denied|denying|never|without|negative\s+for|nil|none|not|does\s+not|did\s+not|"
    r"has\s+not|have\s+not|had\s+not|is\s+not|was\s+not|doesn't|didn't|hasn't|haven't|isn't|wasn't|"
    r"absence\s+of|free\s+of)\b",
    re.IGNORECASE,
)
_ABSENCE_OPENING = re.compile(
    _SUBJECT + r"(?:also\s+)?"
    r"(?:(?:has|had|have|reports|reported)\s+)?"
    r"(?:no|denies|denied|denying|negative\s+for|nil|none|without|absence\s+of|free\s+of)\b",
    re.IGNORECASE,
)
_NEGATIVE_ENDING = re.compile(
    r"(?::\s*(?:none|no|negative|absent|denies|denied)|\b(?:is|was|are|were)\s+(?:negative|absent))\.?$",
    re.IGNORECASE,
)


UNSURE = re.compile(
    r"\b(?:not sure|unsure|don'?t know|do not know|no idea|can'?t say|cannot say|can'?t remember|not that i know)\b",
    re.IGNORECASE,
)
"""How a reply says it does not know, which tells the asker nothing whatever was asked."""


def negated(text: str) -> bool:
    """Whether spoken ``text`` contains a word of denial (one of :data:`DENIAL_WORDS`, or any "-n't")."""
    return any(t in DENIAL_WORDS or t.endswith("n't") for t in words(text, split_compounds=True))


def mentions_negation(text: str) -> bool:
    """Whether a clinical statement names a denial anywhere ("no", "not", "without", "denies", "negative", ...).

    Unlike :func:`negated` it knows the clinical "denies" and "negative", and
    it does not count contractions such as "don't".
    """
    return bool(_MENTIONED.search(text))


def negative_or_normal(text: str) -> bool:
    """Whether a sentence denies something or calls it normal ("no fever", "CT unremarkable", "culture negative").

    "Gram-negative" is not a denial: a hyphen before "negative" makes it a finding.
    """
    return bool(_NEGATIVE_OR_NORMAL.search(text.lower()))


def is_negative(text: str) -> bool:
    """Whether a finding is a pertinent negative ("denies fever", "no chest pain").

    Args:
        text: One atomic finding.

    Returns:
        True when the finding states the absence of something.
    """
    t = RECORD_LABEL.sub("", text.strip())
    return bool(_NEGATIVE_OPENING.match(t) or _NEGATIVE_ENDING.search(t))


def states_absence(text: str) -> bool:
    """Whether a finding opens by stating an absence ("denies fever", "no rash", "negative for HIV").

    Such a finding is a denial beyond doubt; one that negates a verb ("has not
    eaten because of poor appetite") may still assert a symptom.
    """
    return bool(_ABSENCE_OPENING.match(RECORD_LABEL.sub("", text.strip())))
