"""Simulator-caused failures: which failed rubric items the simulated side, not the doctor, caused.

A doctor who asked about a fact, or ordered the test that shows it, has done
their part; if the item still failed because the patient held the fact back,
denied it or said the opposite, or the gatekeeper returned no result or a
normal one for an abnormal finding, the failure is the simulator's. Such
failures are counted apart in the report and never become training data (a
doctor should not learn from a simulator's error), as tau2-bench reviews its
failures for user-simulator errors.

The review is deterministic and cheap: it reads the transcript's structure
(the doctor's actions, the facts each reply ``revealed``, what a reply
``synthesized``) and, where a reply said something without recording it,
its words through :mod:`cases.text`. It decides per rubric item, so every
judge's failing verdict on an item carries the same cause.

Only failures of the form "the finding never came out" can be the
simulator's: a rewarded ``elicit`` or ``order`` item not met, or a harmful
omission (``met_when="absent"``, "fails to obtain an ECG") that was met. A
harmful act (``met_when="present"``) or a rewarded item failed because of
something the doctor did is the doctor's own doing, and so is every
``diagnose`` and ``mention`` item: they judge the doctor's words, which no
simulated reply writes.

Two readings lean towards the doctor on purpose, because calling a failure
the simulator's excuses the doctor and drops it from the training data: a
question names a topic only if the topic is what it is mostly about
(:func:`main_topics`), and a reticent patient who puts the doctor off ("Why
do you need to know that?") is a persona testing the doctor's persistence,
the simulator's fault only after more asks than any persona needs
(:data:`PERSISTENCE`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal

from arena.core.types import (
    Case,
    Fact,
    PersonaWillingness,
    RubricItem,
    SimulatorCause,
    SimulatorShare,
    SynthesisRule,
    Transcript,
    Turn,
    Verdict,
)
from cases.knowledge import TopicKind, topics
from cases.text import (
    DENIAL_WORDS,
    RECORD_STOP_WORDS,
    SALIENT_STOP_WORDS,
    SPEECH_STOP_WORDS,
    claims,
    is_negative,
    mentions_negation,
    negated,
    negative_or_normal,
    normalise,
    phrase_in,
    salient_words,
    sentences,
    stem,
    words,
)
from judges.scoring import failed, wilson_interval

Reading = Literal["disclosed", "deflected", "withheld", "denied", "contradicted"]
"""What one reply did with one asked-for fact: gave it, put the doctor off (a reticent patient to be asked
again), or one of the :data:`SimulatorCause` failures."""

_SEVERITY: dict[SimulatorCause, int] = {"withheld": 0, "denied": 1, "contradicted": 2}
"""When several replies failed the same item, the one that misled most names the cause."""


def _most_asks() -> int:
    # Read off the field's bound (pydantic keeps it as an annotated-types ``Le``), so the two never drift.
    for bound in PersonaWillingness.model_fields["asks"].metadata:
        most = getattr(bound, "le", None)
        if isinstance(most, int):
            return most
    raise AssertionError("PersonaWillingness.asks has no upper bound")


PERSISTENCE = _most_asks()
"""Asks after which a patient still putting the doctor off is the simulator's fault: the most any persona
may need (:class:`~arena.core.types.PersonaWillingness`). Before that, asking again was the doctor's part."""

STATED_SHARE = 0.5
"""Share of a fact's content words a reply must use to count as saying the fact without recording it."""

_UNSURE = re.compile(
    r"\b(?:not\s+(?:really\s+|quite\s+)?sure|(?:don't|do\s+not|dont)\s+(?:really\s+)?know|no\s+idea|"
    r"(?:can't|cannot|can\s+not)\s+(?:say|tell|remember|recall)|(?:don't|do\s+not)\s+(?:remember|recall)|"
    r"not\s+that\s+i\s+know|not\s+checked|(?:haven't|have\s+not)\s+had\s+(?:that|it|this)\s+checked|"
    r"nobody(?:'s|\s+has)?\s+(?:checked|told)|no\s+one(?:'s|\s+has)?\s+(?:checked|told)|"
    r"what\s+(?:do\s+)?you\s+mean|not\s+(?:quite\s+)?following|(?:don't|do\s+not)\s+understand)\b"
)
"""Replies that neither give nor deny a fact: not knowing, not understanding."""
_DEFLECT = re.compile(
    r"\b(?:rather\s+not|prefer\s+not|rather\s+keep|keep\s+that\s+private|none\s+of\s+your|"
    r"(?:don't|do\s+not)\s+(?:really\s+)?(?:like\s+|want\s+to\s+)?(?:talk|talking|say|discuss)\w*\s+about|"
    r"(?:don't|do\s+not)\s+want\s+to\s+(?:talk|say|discuss)|why\s+do\s+you\s+(?:need|want)\s+to\s+know|"
    r"why\s+do\s+you\s+ask|got\s+to\s+do\s+with|really\s+relevant)\b"
)
"""A reticent patient putting the doctor off: what a guarded persona says until asked again."""
_FINE = re.compile(r"\b(?:fine|normal|ok|okay|alright|all\s+right|no\s+problems?|clear)\b")
"""A reply that calls the asked-about part of the patient well: as good as a denial."""
_AFFIRMED = re.compile(r"^\W*(?:yes|yeah|yep|yup|i\s+do|i\s+have|i\s+am|i\s+did|definitely|certainly)\b")
"""A reply that opens by saying yes to the question."""
_UNAVAILABLE = re.compile(r"\b(?:not\s+(?:performed|available|done)|unavailable|no\s+result)\b")
"""A gatekeeper's way of returning nothing for an order."""


def counts_against_doctor_by_absence(verdict: Verdict, item: RubricItem) -> bool:
    """Whether ``verdict`` failed ``item`` because something never came out (so the simulator may be the cause).

    Args:
        verdict: A verdict on the item.
        item: The rubric item, whose structured check says what had to happen.

    Returns:
        True for a failed ``elicit`` or ``order`` item whose failure is an
        absence: a rewarded item the event was needed for, or a harmful
        omission. A harmful act (met when the event happened) is the doctor's.
    """
    check = item.check
    if check is None or check.kind not in ("elicit", "order") or not failed(verdict):
        return False
    # A rewarded item met "when present" fails, and a harm met "when absent" is counted, for the same reason:
    # the finding never came back. "Fails to obtain an ECG" (-8) and "obtains an ECG" (+10) read the same
    # event, so a gatekeeper that withheld the ECG the doctor ordered caused both, and excusing one but not the
    # other would charge the doctor for the simulator's error. The other two combinations (a harmful act
    # done, a rewarded restraint broken) happened because of what the doctor did: never the simulator's.
    return (item.points > 0) == (check.met_when == "present")


def review(case: Case, transcript: Transcript, verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Return ``verdicts`` with ``simulator_cause`` set on the failed ones the simulated side caused.

    Every other verdict comes back with ``simulator_cause`` None, so a re-judged
    run never keeps a stale cause. Verdicts on items the case does not have are
    returned unchanged but for that reset.

    Args:
        case: The case played.
        transcript: The consultation.
        verdicts: Verdicts on its rubric items, from any judges (the committee's too).

    Returns:
        The verdicts in the same order, copied where the cause changed.
    """
    items = {i.id: i for i in case.rubric}
    causes: dict[str, SimulatorCause | None] = {}
    out: list[Verdict] = []
    for v in verdicts:
        item = items.get(v.item_id)
        cause: SimulatorCause | None = None
        if item is not None and counts_against_doctor_by_absence(v, item):
            if item.id not in causes:
                causes[item.id] = item_cause(case, transcript, item)
            cause = causes[item.id]
        out.append(v if v.simulator_cause == cause else v.model_copy(update={"simulator_cause": cause}))
    return out


def item_cause(case: Case, transcript: Transcript, item: RubricItem) -> SimulatorCause | None:
    """How the simulated side kept an ``elicit`` or ``order`` item's targets from coming out, if it did.

    The doctor must have asked about a target fact (:func:`asked_about`) or
    ordered it (:func:`ordered`); each reply to such a turn is read (see :func:`read_answer` and
    :func:`read_result`). If any target was disclosed anywhere, the simulator
    did its part and the cause is None; if the doctor never asked, the
    failure is the doctor's and the cause is None too.

    Args:
        case: The case played.
        transcript: The consultation.
        item: An item with an ``elicit`` or ``order`` check.

    Returns:
        The most misleading cause among the replies, or None.
    """
    check = item.check
    if check is None or check.kind not in ("elicit", "order"):
        return None
    known = {f.id for f in case.facts}
    targets = [case.fact(t) for t in check.targets if t in known]
    wanted = {f.id for f in targets}
    elicit = check.kind == "elicit"
    reply_role = "patient" if elicit else "measurement"
    # The opening's volunteered facts do not count, as for the built-in judge: the item is about asking.
    if any(t.role == reply_role and wanted & set(t.revealed) for t in transcript.turns[1:]):
        return None
    worst: SimulatorCause | None = None
    put_off: dict[str, int] = {}
    turns = transcript.turns
    for k, turn in enumerate(turns[:-1]):
        action = turn.action
        reply = turns[k + 1]
        if turn.role != "doctor" or action is None or reply.role != reply_role:
            continue
        if elicit and action.kind != "ask":
            continue
        if not elicit and action.kind not in ("exam", "test"):
            continue
        said = action.text if elicit else (action.request or action.text)
        for fact in targets:
            if elicit and not asked_about(fact, said):
                continue
            if not elicit and not ordered(fact, said):
                continue
            reading = read_answer(fact, reply) if elicit else read_result(fact, reply)
            if reading == "disclosed":
                return None
            if reading == "deflected":
                put_off[fact.id] = put_off.get(fact.id, 0) + 1
                continue
            if worst is None or _SEVERITY[reading] > _SEVERITY[worst]:
                worst = reading
    # A patient who holds a sensitive fact back until asked again is a test of the doctor's persistence,
    # not a simulator error; one who still holds it back after more asks than any persona needs is.
    if worst is None and any(n >= PERSISTENCE for n in put_off.values()):
        return "withheld"
    return worst


# --------------------------------------------------------------------------- what the doctor asked for


_WEAK_WORDS = RECORD_STOP_WORDS | SPEECH_STOP_WORDS | {"anyone", "anybody", "anything", "someone", "something"}
"""Words that point at a topic only weakly: "anyone" (contacts) in "has anyone noticed confusion", "when"
(onset) in "when passing urine"."""


@lru_cache(maxsize=1 << 15)
def main_topics(text: str, kinds: tuple[TopicKind, ...] = ("history",)) -> frozenset[str]:
    """The topics a question or request is mostly about (ties kept).

    Topics are ranked by the shared vocabulary's keywords the text names
    (:func:`~cases.knowledge.topics`, read as :func:`~cases.knowledge.match_topics`
    reads them): first by keywords that are not mere function words or
    pronouns, then by all; a keyword in several forms ("medicine",
    "medicines") counts once. A topic named only in passing, by one word of a
    question about something else (the "blood" of "high blood pressure", the
    "anyone" of "has anyone noticed confusion"), was not asked about. Calling
    a failure the simulator's excuses the doctor and drops it from the
    training data, so the review would rather miss a simulator error than
    excuse a doctor who never asked.

    Args:
        text: The doctor's question or request.
        kinds: Which kinds of topic to consider.

    Returns:
        The best-ranked topic names; empty when the text names none.
    """
    # Cached: doctors ask the same questions across thousands of consultations.
    norm = normalise(text)
    ranked: list[tuple[tuple[int, int], str]] = []
    for t in topics().values():
        if t.kind not in kinds:
            continue
        found = {normalise(k) for k in (*t.keywords, t.topic.replace("_", " ")) if phrase_in(k, norm)}
        if found:
            strong = sum(1 for k in found if any(w not in _WEAK_WORDS for w in k.split()))
            ranked.append(((strong, len(found)), t.topic))
    if not ranked:
        return frozenset()
    best = max(rank for rank, _ in ranked)
    return frozenset(name for rank, name in ranked if rank == best)


def _named(fact: Fact, norm: str) -> bool:
    """Whether normalised text names the fact's topic or one of its own keywords."""
    return phrase_in(fact.topic.replace("_", " "), norm) or any(phrase_in(k, norm) for k in fact.keywords)


def _asked(fact: Fact, text: str, kinds: tuple[TopicKind, ...]) -> bool:
    if fact.topic in topics():
        if fact.topic in main_topics(text, kinds):
            return True
        # A fact's own keywords are what the built-in patient and gatekeeper answer on: naming one asks for it.
        return any(phrase_in(k, normalise(text)) for k in fact.keywords)
    # A topic of the case's own, outside the shared vocabulary: only its name and keywords can ask for it.
    return _named(fact, normalise(text))


def asked_about(fact: Fact, question: str) -> bool:
    """Whether a question asks about the fact.

    It does when the fact's topic is among the question's :func:`main_topics`,
    or when it names one of the fact's keywords (or, for a topic outside the
    shared vocabulary, the topic's name).
    """
    return _asked(fact, question, ("history",))


def ordered(fact: Fact, request: str) -> bool:
    """Whether an exam or test request asks for the fact, read as :func:`asked_about` reads a question.

    Both kinds of topic are read: a request for an ECG sent as an ``exam``
    still asked for the ECG, and routing it is the gatekeeper's work.
    """
    return _asked(fact, request, ("exam", "test"))


# --------------------------------------------------------------------------- what the reply did


def _plain(text: str) -> str:
    return text.lower().replace("’", "'")


def _unsure(text: str) -> bool:
    t = _plain(text)
    return bool(_UNSURE.search(t)) or t.strip(" ?!.") in ("what", "sorry", "pardon", "huh")


def _fact_words(fact: Fact) -> list[set[str]]:
    return [w for w in (salient_words(fact.text), salient_words(fact.lay)) if w]


def _states(fact: Fact, text: str) -> bool:
    """Whether ``text`` uses most of the fact's content words (its clinical or its lay wording)."""
    said = salient_words(text)
    return any(len(w & said) >= STATED_SHARE * len(w) for w in _fact_words(fact))


def _about(fact: Fact, text: str) -> bool:
    """Whether a piece of a reply speaks of the fact: names its topic, its keywords, or states most of it."""
    norm = normalise(text.replace("’", "'"))
    if _named(fact, norm):
        return True
    topic = topics().get(fact.topic)
    if topic is not None and any(phrase_in(k, norm) for k in topic.keywords):
        return True
    return _states(fact, text)


def _marks(fact: Fact) -> frozenset[str]:
    """Stems of the words that point at the fact in a reply: its topic, keywords and content words."""
    return _marks_of(fact.topic, tuple(fact.keywords), fact.text, fact.lay)


@lru_cache(maxsize=1 << 14)
def _marks_of(topic_name: str, keywords: tuple[str, ...], text: str, lay: str) -> frozenset[str]:
    # Keyed by the fact's words (a Fact is not hashable): each fact of a case bank is read once.
    topic = topics().get(topic_name)
    phrases = [topic_name.replace("_", " "), *keywords, *(topic.keywords if topic else ()), text, lay]
    stems = {stem(w, "plural") for p in phrases for w in words(p, split_compounds=True)}
    return frozenset(w for w in stems if w not in SALIENT_STOP_WORDS and not _denial_word(w))


def _denial_word(w: str) -> bool:
    return w in DENIAL_WORDS or w.endswith("n't")


def _denies(fact: Fact, piece: str) -> bool:
    """Whether a piece of a reply that speaks of the fact denies it.

    The negation must bear on the fact: before a word pointing at it ("I
    haven't had a temperature") or just after one ("my neck's not stiff"). A
    negation elsewhere in the piece ("feeling really low and I can't shake
    it") denies something else.
    """
    toks = words(piece, split_compounds=True)
    negations = [i for i, t in enumerate(toks) if _denial_word(t)]
    if not negations:
        return False
    marks = _marks(fact)
    at = [i for i, t in enumerate(toks) if stem(t, "plural") in marks]
    if not at:
        return True
    return any(n < m or 0 < n - m <= _AFTER for n in negations for m in at)


_AFTER = 2
"""Words after a word pointing at a fact within which a negation still denies it ("neck's not stiff")."""


def _rules_out(fact: Fact, piece: str) -> bool:
    """Whether a piece of a reply that speaks of the fact denies it or calls it fine ("my legs are fine")."""
    return _denies(fact, piece) or bool(_FINE.search(_plain(piece)))


def _says_no(fact: Fact) -> bool:
    """Whether the fact is itself worded as a denial, so a "no" is the fact ("gave no relief").

    Read from the clinical wording: a lay wording's stray "can't" ("I can't
    snap out of it") does not make a finding a denial.
    """
    return fact.negative or mentions_negation(fact.text)


def _on_topic(fact: Fact, topic: str) -> bool:
    return topic.strip().lower().replace(" ", "_") == fact.topic.lower()


def read_answer(fact: Fact, reply: Turn) -> Reading:
    """What a patient's reply did with a fact the question asked about.

    Args:
        fact: The fact the doctor's question asked about.
        reply: The patient turn that answered it.

    Returns:
        ``disclosed`` when the reply recorded the fact, stated it, or (for a
        pertinent negative) denied the topic; ``deflected`` when it put the
        doctor off without answering; ``denied`` when it denied a
        positive finding; ``contradicted`` when it asserted what a pertinent
        negative rules out; ``withheld`` otherwise (not knowing, not saying,
        talking of something else).
    """
    if fact.id in reply.revealed:
        return "disclosed"
    rules = {s.rule for s in reply.synthesized if _on_topic(fact, s.topic)}
    if SynthesisRule.DENIAL in rules:
        return "disclosed" if _says_no(fact) else "denied"
    if fact.negative and SynthesisRule.CONDITION_TYPICAL in rules:
        return "contradicted"
    pieces = [p for p in claims(reply.content) if _about(fact, p) and not _unsure(p)]
    # Said without being recorded (a model patient's paraphrase): the simulator did its part.
    if any(_states(fact, p) and _rules_out(fact, p) == _says_no(fact) for p in pieces):
        return "disclosed"
    if _DEFLECT.search(_plain(reply.content)):
        return "deflected"
    if pieces:
        if any(_rules_out(fact, p) for p in pieces):
            # A "no" agrees with a fact worded as one ("no fever", "nothing gave relief").
            return "disclosed" if _says_no(fact) else "denied"
        return "contradicted" if fact.negative else "withheld"
    # A reply that names nothing ("No, I don't think so.", "Yes.") answers what was asked, and the fact
    # was asked about: read it as a whole. One that speaks of something else leaves the fact untold.
    text = reply.content
    if not reply.revealed and not main_topics(text) and not _unsure(text):
        if negated(text):
            return "disclosed" if _says_no(fact) else "denied"
        if _AFFIRMED.search(text.lower()):
            return "contradicted" if fact.negative else "disclosed"
    return "withheld"


def read_result(fact: Fact, reply: Turn) -> Reading:
    """What a gatekeeper's result did with a fact the order asked for.

    Args:
        fact: The ordered exam or test finding.
        reply: The measurement turn that answered the order.

    Returns:
        ``disclosed`` when the result recorded or stated the fact (or reported
        normal for a normal finding); ``contradicted`` when it reported normal
        for an abnormal finding; ``withheld`` when it returned nothing ("not
        available") or some other finding.
    """
    if fact.id in reply.revealed:
        return "disclosed"
    normal_fact = fact.negative or is_negative(fact.text)
    rules = {s.rule for s in reply.synthesized if _on_topic(fact, s.topic)}
    if SynthesisRule.REFERENCE_NORMAL in rules:
        return "disclosed" if normal_fact else "contradicted"
    parts = sentences(reply.content) or [reply.content]
    about = [p for p in parts if _about(fact, p)] or (parts if len(parts) == 1 else [])
    for p in about:
        if _UNAVAILABLE.search(p.lower()):
            continue
        if _states(fact, p) and negative_or_normal(p) == negative_or_normal(fact.text):
            return "disclosed"
        if negative_or_normal(p):
            return "disclosed" if normal_fact else "contradicted"
    return "withheld"


# --------------------------------------------------------------------------- the report's figures


def simulator_shares(
    committee: Mapping[str, Sequence[Verdict]], doctor_of: Mapping[str, str]
) -> dict[str, SimulatorShare]:
    """Per doctor, how many failed items the simulated side caused, with the share's 95% interval.

    The interval is Wilson's over the failed items, treated as independent:
    simulator errors are rare, and a bootstrap of a share of none would
    collapse to [0, 0].

    Args:
        committee: The committee's verdicts by consultation id.
        doctor_of: The doctor of each consultation to count; others are left out.

    Returns:
        One entry per doctor with a counted consultation, by doctor name.
    """
    counts: dict[str, tuple[int, Counter[SimulatorCause]]] = {}
    for cid, doctor in doctor_of.items():
        n, causes = counts.get(doctor, (0, Counter()))
        for v in committee.get(cid, ()):
            if failed(v):
                n += 1
                if v.simulator_cause is not None:
                    causes[v.simulator_cause] += 1
        counts[doctor] = (n, causes)
    out: dict[str, SimulatorShare] = {}
    for doctor, (n, causes) in sorted(counts.items()):
        caused = sum(causes.values())
        low, high = wilson_interval(caused, n) if n else (None, None)
        out[doctor] = SimulatorShare(
            failed=n,
            caused=caused,
            by_cause={c: causes[c] for c in _SEVERITY if causes[c]},
            share=caused / n if n else None,
            low=low,
            high=high,
        )
    return out


__all__ = [
    "PERSISTENCE",
    "STATED_SHARE",
    "Reading",
    "asked_about",
    "counts_against_doctor_by_absence",
    "item_cause",
    "main_topics",
    "ordered",
    "read_answer",
    "read_result",
    "review",
    "simulator_shares",
]
