"""What every matcher backend offers: ranking candidates for a query and scoring support for a claim.

A *candidate* is anything a piece of free text can point at: a topic a
doctor's question asks about, or a fact a patient's claim rests on. It carries
its main descriptions (``texts``) and, optionally, background wording
(``context``) such as the knowledge base's lay phrasings, which a backend may
weigh less.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class MatcherError(ValueError):
    """A matcher name that cannot be resolved, or a backend that is not installed."""


@dataclass(frozen=True)
class Candidate:
    """Something free text can point at."""

    key: str
    """Identifier returned in results (a topic name, a fact id)."""
    texts: tuple[str, ...]
    """Its main descriptions: a question, keywords, a fact's wording."""
    context: tuple[str, ...] = field(default=())
    """Background wording (knowledge-base phrasings) that a backend may weigh less."""


@dataclass(frozen=True)
class Scored:
    """A candidate's score for one query; higher is closer, 1.0 is a full match."""

    key: str
    """The candidate's key."""
    score: float
    """Backend-specific score in [0, 1]."""


@runtime_checkable
class Matcher(Protocol):
    """A way of matching free text to candidates."""

    name: str
    """Name :func:`personas.matching.get_matcher` knows it by."""
    intent_min: float
    """Lowest :meth:`rank` score that still counts as the query asking about a candidate."""
    support_min: float
    """Lowest :meth:`support` score at which a claim counts as backed by a candidate."""

    def rank(self, query: str, candidates: Sequence[Candidate]) -> list[Scored]:
        """Score every candidate for ``query``, best first; candidates scoring zero are left out."""
        ...

    def support(self, claim: str, candidates: Sequence[Candidate]) -> Scored | None:
        """Return the candidate that best backs ``claim`` and how fully it does, or None if none does at all."""
        ...

    def supports(self, claim: str, candidates: Sequence[Candidate]) -> list[Scored]:
        """Every candidate that backs ``claim`` at all and how fully, best first."""
        ...


def select(ranked: Sequence[Scored], minimum: float, ratio: float = 0.6) -> list[str]:
    """Keys of the candidates a query points at: the best and those close behind it.

    A compound question ("any fever or cough?") points at several candidates
    with similar scores; a weak second hit is more often a collision on a
    shared word, so it must come within ``ratio`` of the best.

    Args:
        ranked: Scores, best first, as :meth:`Matcher.rank` returns them.
        minimum: Lowest score that counts at all.
        ratio: Share of the best score a further candidate needs.

    Returns:
        Keys, best first; empty when nothing reaches ``minimum``.
    """
    if not ranked or ranked[0].score < minimum:
        return []
    bar = max(minimum, ranked[0].score * ratio)
    return [s.key for s in ranked if s.score >= bar]


def best(matcher: Matcher, query: str, candidates: Sequence[Candidate]) -> Scored | None:
    """The single best candidate for ``query`` if it reaches the matcher's ``intent_min``."""
    ranked = matcher.rank(query, candidates)
    return ranked[0] if ranked and ranked[0].score >= matcher.intent_min else None
