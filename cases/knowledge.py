"""The clinical vocabulary shared by doctors, patients and judges.

``data/topics.json`` lists what can be asked, examined or tested;
:func:`conditions` distils the knowledge base into what the built-in doctor knows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class Condition(BaseModel):
    """What the built-in doctor knows of a condition, derived from the knowledge base."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Preferred name."""
    icd10: str = ""
    """ICD-10 code."""
    synonyms: tuple[str, ...] = ()
    """Other names."""
    organ_system: str = ""
    """Organ system."""
    complaints: tuple[str, ...] = ()
    """Lay words of the chief complaints it presents with."""
    history_topics: tuple[str, ...] = ()
    """History topics worth asking, most important first."""
    exams: tuple[str, ...] = ()
    """Examinations worth doing."""
    workup: tuple[str, ...] = ()
    """Tests worth ordering, key tests first."""
    features: tuple[str, ...] = Field(default=())
    """Salient words of its findings, examination signs and results."""


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


_STOP = frozenset(
    {
        "a",
        "about",
        "after",
        "all",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "down",
        "for",
        "from",
        "get",
        "got",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "may",
        "me",
        "might",
        "more",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "out",
        "over",
        "ref",
        "she",
        "should",
        "some",
        "than",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "up",
        "very",
        "was",
        "were",
        "will",
        "with",
        "would",
        "you",
        "your",
    }
)


def salient_words(text: str) -> set[str]:
    """Content words of a text: lower-case, no numbers, no stop words."""
    return {w for w in normalise(text).split() if len(w) > 2 and not w[0].isdigit() and w not in _STOP}


@cache
def conditions() -> tuple[Condition, ...]:
    """Return what the built-in doctor knows, one entry per knowledge-base condition."""
    from cases.kb import load_kb

    kb = load_kb()
    out = []
    for c in kb.conditions:
        complaint_words: list[str] = []
        for p in c.presentations:
            for w in kb.complaints[p.complaint].keywords:
                if w not in complaint_words:
                    complaint_words.append(w)
        history: list[str] = []
        for topic in [*(t for m in c.must_ask for t in m.topics), *(f.topic for f in c.findings)]:
            if topic not in history:
                history.append(topic)
        words: set[str] = set()
        for f in c.findings:
            words |= salient_words(f.text)
            for lay in f.lay:
                words |= salient_words(lay)
        for e in c.exam:
            words |= salient_words(e.text)
        for test in c.tests:
            words |= salient_words(test.text.replace("{value}", ""))
        exams = tuple(dict.fromkeys(e.topic for e in c.exam))
        workup = tuple(dict.fromkeys(t.topic for t in sorted(c.tests, key=lambda t: not t.key)))
        out.append(
            Condition(
                name=c.name,
                icd10=c.icd10,
                synonyms=tuple(c.synonyms),
                organ_system=c.organ_system,
                complaints=tuple(complaint_words),
                history_topics=tuple(history),
                exams=exams,
                workup=workup,
                features=tuple(sorted(words)),
            )
        )
    return tuple(out)


def match_topics(text: str, kinds: Iterable[TopicKind] = ("history",)) -> list[str]:
    """Return the topics ``text`` asks about, best first.

    Args:
        text: A question or request.
        kinds: Which kinds of topic to consider.

    Returns:
        Topic names with at least one keyword (or the topic's own name) in the
        text, ordered by how many keywords matched.
    """
    norm = normalise(text)
    wanted = set(kinds)
    scored: list[tuple[int, str]] = []
    for t in topics().values():
        if t.kind not in wanted:
            continue
        hits = sum(1 for kw in (*t.keywords, t.topic.replace("_", " ")) if phrase_in(kw, norm))
        if hits:
            scored.append((hits, t.topic))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [name for _, name in scored]
