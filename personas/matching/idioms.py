"""Lay idioms put plainly, so that the words a claim shares with a fact are the words it means.

A patient says "I've had the runs" and the record says "Nothing runs in the
family": taken one by one, their words meet on "runs", yet one is diarrhoea
and the other family history. "It gets him down" shares "down" with "pain
going down both legs". The table in ``personas/data/lay_idioms.json`` says
what such idioms mean in plain clinical words; the guard weighs a claim's
words against a fact's with the idioms of both put plainly.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from importlib import resources


@cache
def _table() -> tuple[tuple[re.Pattern[str], str], ...]:
    raw = json.loads(resources.files("personas").joinpath("data", "lay_idioms.json").read_text("utf-8"))
    return tuple((_compiled(e["say"]), e["means"]) for e in raw["idioms"])


@cache
def _any_idiom() -> re.Pattern[str]:
    # One pass that finds whether any idiom occurs: most wordings hold none, and trying the table's
    # patterns one by one on each was a fifth of a case's patient preparation.
    return re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in _table()), re.IGNORECASE)


def _compiled(say: str) -> re.Pattern[str]:
    # Spaces in a pattern match any run of spaces; an apostrophe also matches a typographic one.
    return re.compile(r"\b(?:" + say.replace(" ", r"\s+").replace("'", "['\u2019]") + r")\b", re.IGNORECASE)


@lru_cache(maxsize=1 << 16)
def plainly(text: str) -> str:
    """``text`` with every lay idiom of the table replaced by what it means.

    Args:
        text: A claim or a fact's wording.

    Returns:
        The text, idioms put plainly; unchanged when it holds none.
    """
    if _any_idiom().search(text) is None:
        return text
    for pattern, means in _table():
        text = pattern.sub(means, text)
    return text
