"""The clinical vocabulary shared by doctors, patients and judges.

``data/topics.json`` lists what can be asked, examined or tested;
:func:`match_topics` finds the topics a question names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cases.text import normalise, phrase_in

TopicKind = Literal["history", "exam", "test"]


class Topic(BaseModel):
    """Something a doctor can ask about, examine or test."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    """Topic name, referenced by facts."""
    kind: TopicKind
    """History question, examination or test."""
    question: str
    """How the built-in doctor asks for it."""
    keywords: tuple[str, ...] = ()
    """Words that point at it in free text."""


def _load(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(resources.files("cases").joinpath("data", name).read_text("utf-8"))
    return data


@cache
def topics() -> dict[str, Topic]:
    """Return every topic by name."""
    raw = _load("topics.json")
    out: dict[str, Topic] = {}
    for kind in ("history", "exam", "test"):
        for item in raw[kind]:  # type: ignore[attr-defined]
            t = Topic(kind=kind, **item)
            out[t.topic] = t
    return out


def match_topics(text: str, kinds: Iterable[TopicKind] = ("history",)) -> list[str]:
    """Return the topics ``text`` asks about, best first.

    Args:
        text: A question or request.
        kinds: Which kinds of topic to consider.

    Returns:
        Topic names with at least one keyword (or the topic's own name) in the
        text, ordered by how many keywords matched.
    """
    return [name for _, name in _scored(text, kinds, by_length=False)]


def best_topics(text: str, kinds: Iterable[TopicKind] = ("history",)) -> list[str]:
    """Return the topics ``text`` names most plainly: those tied for the most keywords matched.

    "Chest X-ray" names both ``chest_xray`` and ``xray``, but the chest X-ray more plainly; a
    request is for that, not for whatever other X-ray a record holds.
    """
    scored = _scored(text, kinds, by_length=True)
    return [name for hits, name in scored if hits == scored[0][0]] if scored else []


def _scored(text: str, kinds: Iterable[TopicKind], *, by_length: bool) -> list[tuple[float, str]]:
    norm = normalise(text)
    wanted = set(kinds)
    scored: list[tuple[float, str]] = []
    for t in topics().values():
        if t.kind not in wanted:
            continue
        names = (*t.keywords, t.topic.replace("_", " "))
        # A longer keyword found says more than a short one inside it ("chest x-ray" over "x-ray").
        hits = sum(1 + (len(kw.split()) / 10 if by_length else 0) for kw in names if phrase_in(kw, norm))
        if hits:
            scored.append((hits, t.topic))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return scored
