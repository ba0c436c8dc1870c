"""The candidates questions and claims are matched against, built from the shared vocabulary.

A history topic is described by the question the built-in doctor asks, its
keywords and its name; the knowledge base adds, as background, how patients
with each condition word their findings on that topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources

from arena.core.types import Fact
from cases.kb import load_kb
from cases.knowledge import TopicKind, topics
from personas.matching.base import Candidate, Matcher, select


@cache
def _kb_wording() -> dict[str, tuple[str, ...]]:
    kb = load_kb()
    out: dict[str, list[str]] = {}
    for c in kb.conditions:
        for f in (*c.findings, *c.negatives):
            out.setdefault(f.topic, []).extend((f.text, *f.keywords))
        for o in c.onsets:
            out.setdefault("onset", []).append(o.text)
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


@cache
def _synonyms() -> dict[str, tuple[str, ...]]:
    raw = json.loads(resources.files("personas").joinpath("data", "synonyms.json").read_text("utf-8"))
    return {k: tuple(v) for k, v in raw.items() if not k.startswith("_")}


@cache
def _lay_topic_words() -> dict[str, tuple[str, ...]]:
    raw = json.loads(resources.files("personas").joinpath("data", "lay_topic_words.json").read_text("utf-8"))
    return {k: tuple(v) for k, v in raw.items() if not k.startswith("_")}


@cache
def topic_candidates(kinds: tuple[TopicKind, ...] = ("history",)) -> tuple[Candidate, ...]:
    """One candidate per topic of the given kinds.

    Args:
        kinds: Which kinds of topic to include.

    Returns:
        Candidates keyed by topic name, in the vocabulary's order.
    """
    wording = _kb_wording()
    synonyms = _synonyms()
    return tuple(
        Candidate(
            key=t.topic,
            texts=(t.question, t.topic.replace("_", " "), *t.keywords, *synonyms.get(t.topic, ())),
            context=wording.get(t.topic, ()),
        )
        for t in topics().values()
        if t.kind in kinds
    )


@cache
def clinical_corpus() -> tuple[str, ...]:
    """Every text of the vocabulary and the knowledge base: what counts as clinical wording."""
    kb = load_kb()
    out: list[str] = []
    for t in topics().values():
        out.append(" ".join((t.question, t.topic.replace("_", " "), *t.keywords)))
    for c in kb.conditions:
        for f in (*c.findings, *c.negatives):
            out.append(" ".join((f.text, *f.lay, *f.lay_caregiver, *f.keywords)))
        for o in c.onsets:
            out.append(" ".join((o.text, *o.lay)))
        for p in c.presentations:
            out.extend(p.lay)
    for comp in kb.complaints.values():
        out.append(" ".join((comp.label, *comp.keywords)))
    return tuple(out)


@cache
def phrasebook(held_out: frozenset[str] = frozenset()) -> tuple[Candidate, ...]:
    """How patients say things on each history topic: one candidate per phrasing, keyed by topic and number.

    The knowledge base's lay phrasings (a caregiver's too) of every finding,
    denial and onset, each finding's clinical wording and keywords, and each
    topic's keywords and synonyms. A claim that reads like a phrasing on a
    topic is about that topic, whatever words it shares with others.

    Args:
        held_out: Condition ids whose phrasings are left out, and with them any phrasing they share
            with the rest (benchmarks use it to keep the phrasings they test with unseen).

    Returns:
        Candidates of one text each.
    """
    kb = load_kb()
    wanted = {t.topic for t in topics().values() if t.kind == "history"}
    said: list[tuple[str, str]] = []
    hidden: set[str] = set()
    for c in kb.conditions:
        # Clinical wording and keywords too: a patient may use the doctor's words.
        pairs = [
            (f.topic, x) for f in (*c.findings, *c.negatives) for x in (*f.lay, *f.lay_caregiver, f.text, *f.keywords)
        ]
        pairs += [("onset", x) for o in c.onsets for x in o.lay]
        if c.id in held_out:
            hidden.update(x for _, x in pairs)
        else:
            said.extend(pairs)
    synonyms = _synonyms()
    lay = _lay_topic_words()
    for t in topics().values():
        if t.kind == "history":
            said.extend((t.topic, x) for x in (t.topic.replace("_", " "), *t.keywords, *synonyms.get(t.topic, ())))
            said.extend((t.topic, x) for x in lay.get(t.topic, ()))
    unique = dict.fromkeys((topic, x) for topic, x in said if topic in wanted and x not in hidden and "{" not in x)
    return tuple(Candidate(f"{topic}\x1f{i}", (x,)) for i, (topic, x) in enumerate(unique))


def fact_candidates(facts: Iterable[Fact]) -> tuple[Candidate, ...]:
    """One candidate per fact: its lay and clinical wording and keywords, with its topic's words as context.

    The topic's words let "it spreads to my arm" rest on "it goes down my
    left arm": the topic says what spreading is about.
    """
    by_topic = {c.key: c.texts for c in topic_candidates(("history", "exam", "test"))}
    return tuple(
        Candidate(
            key=f.id, texts=tuple(t for t in (f.lay, f.text, *f.keywords) if t), context=by_topic.get(f.topic, ())
        )
        for f in facts
    )


_CLAUSE = re.compile(r"\s*(?:[,;?]|\band\b|\bor\b|\bas well as\b)\s*", re.IGNORECASE)


def match_intents(
    matcher: Matcher, question: str, kinds: tuple[TopicKind, ...] = ("history",), clause_min: float = 0.6
) -> list[str]:
    """The topics ``question`` asks about, best first.

    The best topic for the whole question comes first. A compound question
    ("any fever, or a cough?") asks about more: each of its clauses is ranked
    alone and its best topic joins when it scores at least ``clause_min``
    there. A topic that merely shares a word with the question is not added,
    which is what keeps a patient from disclosing an unrelated fact.

    Args:
        matcher: The backend to rank with.
        question: What the doctor said.
        kinds: Which kinds of topic to consider.
        clause_min: Score a clause's best topic needs to be added.

    Returns:
        Topic names; empty when the question matches none well enough.
    """
    cands = topic_candidates(kinds)
    out = select(matcher.rank(question, cands), matcher.intent_min, ratio=1.0)[:1]
    if not out:
        return []
    clauses = [c for c in _CLAUSE.split(question) if c.strip()]
    if len(clauses) > 1:
        for clause in clauses:
            ranked = matcher.rank(clause, cands)
            if ranked and ranked[0].score >= max(clause_min, matcher.intent_min) and ranked[0].key not in out:
                out.append(ranked[0].key)
    return out


def ranked_topics(matcher: Matcher, question: str, kinds: Sequence[TopicKind] = ("history",)) -> list[str]:
    """Every topic with a non-zero score for ``question``, best first (for benchmarks)."""
    return [s.key for s in matcher.rank(question, topic_candidates(tuple(kinds)))]
