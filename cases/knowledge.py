"""The clinical vocabulary shared by doctors, patients and judges.

``data/topics.json`` lists what can be asked, examined or tested;
``data/conditions.json`` lists the conditions the built-in doctor knows.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    """A condition the built-in doctor can diagnose."""

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
    """Words of chief complaints that suggest it."""
    history_topics: tuple[str, ...] = ()
    """History topics worth asking, most important first."""
    exams: tuple[str, ...] = ()
    """Examinations worth doing."""
    workup: tuple[str, ...] = ()
    """Tests worth ordering."""
    features: tuple[str, ...] = Field(default=())
    """Phrases typical of it in findings."""


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


@cache
def conditions() -> tuple[Condition, ...]:
    """Return the conditions the built-in doctor knows."""
    raw = _load("conditions.json")
    return tuple(Condition(**c) for c in raw["conditions"])  # type: ignore[attr-defined]
