"""Which sex a sentence's anatomy belongs to: a woman's scrotum or a man's periods is no paraphrase of any fact.

The hallucination guard reads each claim against the case's recorded sex. Such a
claim may share many words with a fact ("That side of my scrotum has gone
bigger" beside a swollen abdomen) or sit on a topic the case covers, yet it
contradicts who the patient is. The words are kept as data
(``personas/data/sex_anatomy.json``).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from cases.text import words


@cache
def _vocabulary() -> tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]], frozenset[str]]:
    raw = json.loads(resources.files("personas").joinpath("data", "sex_anatomy.json").read_text(encoding="utf-8"))
    single = {"male": frozenset(raw["male"]), "female": frozenset(raw["female"])}
    phrases = {"male": (), "female": tuple(raw["female_phrases"])}
    return single, phrases, frozenset(raw["others"])


def other_sex_word(sentence: str, sex: str) -> str:
    """The word of ``sentence`` that names what only the other sex has, or "" when there is none.

    A sentence that speaks of someone else as well ("My wife is pregnant") is not read against the
    patient, so it gives "".

    Args:
        sentence: One claim of a reply.
        sex: The patient's recorded sex, ``female`` or ``male``.

    Returns:
        The first such word or phrase found, or "".
    """
    single, phrases, others = _vocabulary()
    other = "male" if sex == "female" else "female"
    said = set(words(sentence))
    if said & others:
        return ""
    found = sorted(said & single[other])
    if found:
        return found[0]
    low = sentence.lower()
    return next((p for p in phrases[other] if re.search(rf"\b{re.escape(p)}\b", low)), "")
