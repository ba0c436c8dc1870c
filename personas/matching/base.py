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


@dataclass(frozen=True, slots=True)
class Candidate:
    """Something free text can point at."""

    key: str
    """Identifier returned in results (a topic name, a fact id)."""
    texts: tuple[str, ...]
    """Its main descriptions: a question, keywords, a fact's wording."""
    context: tuple[str, ...] = field(default=())
    """Background wording (knowledge-base phrasings) that a backend may weigh less."""


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate's score for one query; higher is closer, 1.0 is a full match."""

    key: str
    """The candidate's key."""
    score: float
    """Backend-specific score in [0, 1]."""


NEVER = 1.01
"""A probability or score threshold no reading reaches: the step it guards is off for the backend."""


@dataclass(frozen=True)
class GuardThresholds:
    """Where the patient's hallucination guard draws its lines with one backend.

    Each backend scores on its own scale, so each carries its own; the tuned
    values were set on the dev split of ``bench/guard.py`` (some by the totals
    of its val split). A backend without tuning uses :meth:`untuned`, which
    turns the tuned-only steps off.
    """

    support_min: float
    """Support score at which the guard counts a claim as backed."""
    topic_support_min: float
    """Support score that backs a claim by a fact on the topic the claim is about."""
    topic_min: float
    """Score at which a claim reads as being about a topic."""
    off_record_margin: float | None = None
    """How far a topic the case's facts do not cover may trail the best covered topic, in how a claim
    reads, before a covered topic no longer vouches for the claim; None lets a covered topic vouch regardless."""
    rescue_topic_min: float | None = None
    """How clearly a claim must read as being about a covered topic (and no uncovered one) for a loose
    overlap with all of one fact's wordings together to back it; None turns the rescue off."""
    rescue_support_min: float = 1.0
    """Support from all of one fact's wordings together that backs a claim read as about a covered topic."""
    reader_off_record: float | None = None
    """Probability, by the topic reader, that a claim is about a topic the case's facts cover, below which
    the claim reads as a new finding even where a fact shares its words; None does without the reader."""
    reader_veto_max: float = NEVER
    """Support from one of a fact's wordings at which the reader no longer overrules it: a claim that
    says what a fact says is that fact, whatever topic its words suggest."""
    reader_weak_min: float = 0.0
    """Probability of being about the covered topics that a claim backed only loosely (by a fact on its
    topic, or by all of a fact's wordings together, below the support threshold) must have: loose
    overlaps are where fabrications slip through, so the reader must agree."""
    reader_backs: float = NEVER
    """Probability of being about the covered topics at which a claim no wording backs rests on a fact on
    the likeliest of them."""
    own_words_min: float = 0.0
    """Support from a fact's own wordings and keywords (its topic's vocabulary aside) below which a claim the
    fact backs with its topic's words is backed loosely (not firm): the readers must agree with it; 0 leaves
    the check off."""
    reader_like_min: float = 0.0
    """Likeness to the same findings (by :mod:`personas.matching.finding_reader`) that a claim backed by a
    covered topic the reader puts it on must have with one wording of the facts on that topic."""
    reader_elsewhere: float = NEVER
    """Probability of one covered topic at which a claim whose words match a fact of the opposite polarity
    on another topic is read as being about that topic instead, and rests on a fact there of its own
    polarity: "There's no blood in what I cough up" shares its words with a sputum fact, but it denies
    haemoptysis."""

    near_support_min: float = NEVER
    """Support, short of ``support_min``, at which a wording backs a claim loosely (not firm), so that the
    readers must agree with it."""
    reader_stray_min: float = NEVER
    """Probability, by the topic reader, of a topic the case's facts do not cover at which a claim backed only
    loosely (not firm) must read like some wording of the fact backing it."""
    reader_agree_min: float = 0.0
    """How much of its reading (the probability mass over topics) such a claim must share with the reading of
    one wording of the case's facts: a paraphrase reads like what it paraphrases, a chance overlap of words
    does not."""
    finding_like_min: float = 0.0
    """How like the same findings of the knowledge base (0 to 1, by
    :mod:`personas.matching.finding_reader`) such a claim and one wording of the case's facts must be."""
    finding_backs: float = NEVER
    """Likeness to the same findings at which a claim no wording backs rests on the fact of that wording."""
    finding_agrees: float = NEVER
    """Likeness to the same findings at which a claim no wording backs rests on the fact of that wording when
    the topic reader agrees: it gives the covered topics at least ``reader_agrees``, and its likeliest covered
    topic is that fact's."""
    reader_agrees: float = NEVER
    """Probability of being about the covered topics that the topic reader must give such a claim."""

    @classmethod
    def untuned(cls, support_min: float, intent_min: float) -> GuardThresholds:
        """Thresholds for a backend never tuned: its own support and intent levels, the tuned-only steps off."""
        return cls(support_min=support_min, topic_support_min=support_min * 0.5, topic_min=intent_min)


@runtime_checkable
class Matcher(Protocol):
    """A way of matching free text to candidates."""

    name: str
    """Name :func:`personas.matching.get_matcher` knows it by."""
    intent_min: float
    """Lowest :meth:`rank` score that still counts as the query asking about a candidate."""
    support_min: float
    """Lowest :meth:`support` score at which a claim counts as backed by a candidate."""
    guard_thresholds: GuardThresholds
    """Where the hallucination guard draws its lines with this backend."""

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
