"""The hallucination guard: every claim in an LLM patient's reply must rest on the case's facts.

A reply is split into sentence-sized claims. A claim that says nothing
clinical ("I'm not sure, doctor") passes. A clinical claim passes when the
matcher finds a history fact that backs it; a denial passes unless it denies
a fact, since a patient may deny what the record does not mention. A claim
that reads as being about a topic the case's facts never touch is a new
finding, however many words it shares with a fact on a covered topic; a
topic reader trained on the knowledge base's phrasings says what a claim is
about, and may back a paraphrase that shares no word with its fact. A
finding reader says which of the knowledge base's findings a sentence is
like: a claim like the same findings as a wording of a fact says that fact,
and a claim backed only loosely that reads unlike every wording of the facts
(and somewhat like a topic they never touch) is a new finding. A finding the
claim asserts never rests on a fact that denies it. An optional LLM verifier
gets the last word on claims the matcher could not back. The LLM patient
feeds rejected claims back and asks again.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import combinations
from typing import Any

from pydantic import BaseModel, StrictBool, StrictInt, field_validator

from arena.core.json_reply import valid_entries
from arena.core.templating import render
from arena.core.types import Case, Fact, Persona, Usage
from arena.models import ChatModel
from arena.models.ask_json import Unscored, ask_json
from cases.text import claims, negated, words
from personas.guard_voice import VoiceFilter, kb_wordings
from personas.matching import (
    DEFAULT_MATCHER,
    Candidate,
    Scored,
    clinical_corpus,
    get_matcher,
    topic_candidates,
)
from personas.matching.finding_reader import finding_reader
from personas.matching.idioms import plainly
from personas.matching.terms import unigrams
from personas.matching.topic_reader import topic_reader
from personas.sex_anatomy import other_sex_word

MIN_CLAIM_WEIGHT = 2.0
"""Summed rarity (idf) of its clinical words at which a sentence counts as a claim worth checking."""

_ADDRESS = r"(?:,?\s*(?:doctor|doc|dr\.? \w+|there|everyone))*"
_COURTEOUS = (
    r"(?:(?:good\s+)?(?:morning|afternoon|evening|day)|hello|hi|hiya|hey|bye|goodbye|see you(?: later| soon)?"
    r"|(?:nice|pleased|good) to (?:meet|see) you"
    r"|(?:sorry|apologies) (?:to (?:bother|trouble) you|for (?:the wait|being late|keeping you|bothering you))"
    r"|(?:thanks?|thank you)(?: (?:very|so) much)?(?: for (?:seeing|having|fitting|squeezing) (?:me|us|him|her|them)"
    r"(?: in)?(?: (?:so )?(?:quickly|today|now|at such short notice))?| for (?:asking|your time|listening|your help))?)"
    + _ADDRESS
)
_COURTESY = re.compile(rf"^{_COURTEOUS}(?:[,;]?\s*(?:and\s+)?{_COURTEOUS})*[.!?]*$", re.IGNORECASE)
"""A sentence that only greets, thanks or apologises ("Good morning, doctor.", "Thanks for seeing me so quickly."):
model-played patients open and close that way, and it claims nothing about the case."""


VOICE_WORDS = frozenset(
    {"worried", "worry", "scared", "afraid", "frightened", "concerned", "nervous", "sure", "dear", "think", "know"}
    | {"honestly", "suppose", "guess", "sorry", "thank", "thanks", "ask", "hope", "hoping", "mean", "remember", "tell"}
)
"""How a patient talks about the consultation, not findings; persona voices use them freely."""


@dataclass(frozen=True)
class ClaimCheck:
    """The guard's finding on one claim."""

    claim: str
    """The sentence checked."""
    supported: bool
    """Whether the facts back it."""
    reason: str = ""
    """Why not: ``unsupported``, ``contradicts <fact id>`` or ``contradicts the patient's sex``."""
    fact_id: str = ""
    """The closest fact, if any."""
    fact_text: str = ""
    """That fact's wording, for the feedback."""
    score: float = 0.0
    """The matcher's support score."""
    firm: bool = True
    """Whether the verdict rests on a close wording (or is a denial of what the record omits). An
    acceptance that rests only on how a claim reads, or on a loose overlap of words, is not firm: that is
    where fabrications slip through, so a verifier, if any, reviews it."""

    @property
    def reviewable(self) -> bool:
        """Whether a verifier is asked about this verdict: a rejection, or an acceptance that is not firm."""
        return not self.supported or not self.firm


@cache
def _claim_weights() -> dict[str, float]:
    import math
    from collections import Counter

    docs = [set(unigrams(t)) - VOICE_WORDS for t in clinical_corpus()]
    df = Counter(w for d in docs for w in d)
    return {w: math.log(1 + len(docs) / c) for w, c in df.items()}


def clinical_weight(sentence: str) -> float:
    """How much clinical content a sentence carries: the summed rarity of its clinical words."""
    weights = _claim_weights()
    return sum(weights.get(w, 0.0) for w in set(unigrams(sentence)) - VOICE_WORDS)


_FILLERS = frozenset(
    {"hmmm", "dunno", "gonna", "wanna", "gotta", "kinda", "sorta", "yeah", "alright", "gosh", "golly", "blimey"}
    | {"crikey", "jeez", "geez", "whoa", "anyway", "basically", "actually", "literally", "reckon", "like", "fine"}
    | {"thing", "stuff", "question"}
)
"""Sounds and stock words of talk ("Hmmm", "dunno", "I reckon"): they are in no clinical text, yet claim nothing.
Held as :func:`unigrams` gives them (stemmed); stop words ("okay", "well"), the voice words and sounds of three
letters or fewer ("hmm", "erm") never reach the list."""


MIN_UNHEARD = 2
"""Words no clinical text uses that a sentence must hold before they weigh as a claim."""


def claim_weight(sentence: str) -> float:
    """How much a sentence claims: its clinical weight, plus the rarest weight for each word no clinical text has.

    A sentence made only of words the knowledge base never uses ("I've just been trekking in Nepal", "I teach
    at the primary school in Leeds") still tells something of the patient, and so must rest on the case;
    sounds and stock words of talk ("Hmm", "dunno") claim nothing, and one such word alone is not counted.
    """
    weights = _claim_weights()
    unheard = [
        w for w in set(unigrams(sentence)) - VOICE_WORDS - _FILLERS if w not in weights and w.isalpha() and len(w) >= 4
    ]
    # One such word alone is as likely a pleasantry ("Pardon?", "Cheers") as a claim.
    return clinical_weight(sentence) + (_rarest() * len(unheard) if len(unheard) >= MIN_UNHEARD else 0.0)


@cache
def _rarest() -> float:
    return max(_claim_weights().values())


_NORMAL = frozenset({"normal", "normally", "fine", "healthy", "okay", "ok", "nothing", "steady", "alert", "usual"})
"""Words that deny a finding without a negation ("my bowels are normal")."""

_NOT_NORMAL = re.compile(
    r"\b(?:not|isn't|aren't|wasn't|weren't|never|no longer)\s+(?:\w+\s+)?(?:normal|fine|okay|ok|steady|alert)\b"
    r"|\bmore than (?:usual|normal)|\bthan (?:usual|normal)\b"
)
"""A normal-word under a negation asserts a finding ("a discharge that isn't normal for me")."""

_ASSERTING = re.compile(
    r"\b(?:can't|cannot|can not|couldn't|could not|won't|will not|wouldn't|unable|barely|hardly"
    r"|let(?:s|ting)? (?:me )?up|stop(?:s|ped|ping)?|go(?:es|ne)? away|eas(?:e|es|ed|ing)|settl(?:e|es|ed|ing)"
    r"|help(?:s|ed|ing)?|touch(?:ed|ing)?|work(?:s|ed|ing)?|better|clear(?:ing|ed)?|want(?:s|ed)?|fe(?:el|lt) like"
    r"|hungry|appetite|appeal(?:s|ing)?|energy|bad|out of ten|realis(?:e|ing)|sleep(?:ing)?|enough|much|great|lasting"
    r"|making sense|any good|trying|always|since|eat(?:ing)?|done (?:anything|much|a thing)|finished|right"
    r"|worth|properly|able to|like this"
    r"|fad(?:e|es|ed|ing)|budg(?:e|es|ed|ing)|wear(?:s|ing)? off|worn off|edge off|shift(?:s|ed|ing)?|going away"
    r"|(?:a|any|the|blind)\s+(?:\w+\s+)?(?:bit of\s+)?difference|bring(?:s|ing)?\s+(?:\w+\s+){0,3}down"
    r"|(?:fever|temperature|temp)\s+(?:[\w']+\s+)?(?:broken|broke|break)|kept\s+(?:\w+\s+){0,3}down|stay(?:s|ed)?\s+down"
    r"|making\s+(?:any\s+|much\s+)?sense|see\s+(?:the|much|any)\s+point|enjoy(?:s|ed|ing)?|interest(?:ed)?\s+in"
    r"|rested|refreshed|safe|condoms?|protection|(?:a|one|single)\s+(?:day|night|week)\s+without"
    r"|(?:nobody|no\s+one)\s+(?:at\s+home\s+)?to\s+(?:help|look\s+after|turn\s+to|talk\s+to))\b",
    re.IGNORECASE,
)
"""Words that make a negated sentence assert a finding: inability ("I can't sleep", "I've not been able to get
out"), persistence ("it never stops", "the ache doesn't budge", "the fever hasn't broken"), failed treatment
("painkillers haven't done anything", "it hasn't made a blind bit of difference"), loss ("I'm not eating", "food
doesn't appeal", "she's not kept a feed down"), a change ("I've never seen him like this"), hopelessness and lost
pleasure ("life isn't worth living", "I don't see the point", "I've no interest in anything"), and risk or hardship
("we didn't use a condom", "I don't feel safe at home", "I've got nobody to help")."""

_NO_FUNCTION = re.compile(
    r"(?:\bnot|n't|\bno|\bnever)\s+(?:(?:been|really|actually|even|yet|once)\s+)*"
    r"(?:pass(?:ed|ing)?\s+(?:any\s+)?(?:wind|water|urine|(?:a\s+)?(?:wee|stool|motion))"
    r"|open(?:ed|ing)?\s+(?:my|his|her|their|your|the)\s+bowels"
    r"|(?:had|having)\s+(?:a\s+|my\s+|his\s+|her\s+|their\s+|any\s+)?(?:periods?|wees?|poos?|bowel\s+movements?|wet\s+nappy)"
    r"|wet\s+nappies|(?:felt|feel|feeling)\s+(?:the\s+baby|(?:him|her|it)\s+)\s*(?:move|moving|kick|kicking))\b",
    re.IGNORECASE,
)
"""A normal bodily function said not to happen is a finding, though it reads as a denial: "I haven't opened my
bowels", "she hasn't had a wet nappy", "I haven't had a period", "I haven't felt the baby move"."""

_NO_MORE_THAN = re.compile(
    r"(?:\bnot|n't|\bnever|\bno)\b[^,;]*?\b(?:more|worse|less) than (?:usual|normal|before)\b", re.IGNORECASE
)
"""A change denied is a denial, though "more than usual" alone asserts one: "I'm not weeing more than usual"."""

_NAMED_NORMAL = re.compile(
    r"\b(?:my|his|her|their|our|your|the)\s+(?:usual|normal|regular)\s+(?!self\b)(?=\w)"
    r"|\b(?:a|the)\s+fine\s+(?=\w)",
    re.IGNORECASE,
)
"""A normal-word that names or describes a thing says nothing is normal: "my usual painkillers", "their normal
insulin", "a fine red rash"."""

_NOT_A_DENIAL = re.compile(
    r"\bfrom nothing\b"
    r"|\bnothing\s+(?:\w+\s+){1,3}?(?:helps?|helped|works?|worked|settles?|settled|eases?|eased|touch(?:es|ed)|shift(?:s|ed)?)\b"
    r"|(?:n't|\bnot)\s+(?:seem\s+to\s+)?(?:know\s+(?:where|what|who)|recogni[sz]e)\b"
    r"|(?:n't|\bnot)\s+(?:quite\s+)?(?:himself|herself|themselves|themself|myself|yourself)\b"
    r"|(?:n't|\bnot|\bnever)\s+(?:[\w'-]+\s+){0,5}?(?:jabs?|vaccin\w*|booster|mmr|immuni[sz]\w*|prophyla\w*|malaria\s+tablets)\b"
    r"|(?:n't|\bnot)\s+(?:\w+\s+)?slept\b"
    r"|(?:n't|\bnot)\s+up\s+to\s+date\b",
    re.IGNORECASE,
)
"""Negations that assert a finding: a rise "from nothing to unbearable", a treatment that fails ("nothing we do
settles him"), confusion ("he didn't know where he was", "she isn't herself"), care left undone ("I didn't get the
flu jab", "I didn't take any malaria tablets", "I'm not up to date with my jabs") and lost sleep ("I haven't
slept at all")."""

_ASIDE = re.compile(
    r"\bnot long (?:after|before|ago)\b|\bfor no (?:\w+\s+)?reason\b"
    r"|\b(?:that|which|who)\s+(?:(?!(?:i|you|he|she|it|we|they)\b)\w+\s+)?"
    r"(?:(?:do|does|did|is|are|was|were|wo|ca|have|has|had)n't|never|not)\b.*",
    re.IGNORECASE,
)
"""Negations that leave the clause's own claim standing: a time ("I was sick not long after it started"), a
cause left open ("I keep crying for no reason") and a relative clause ("purple spots that don't fade", "people
in the room who weren't there"); a "that" with a subject of its own ("I'm sure that I don't have a fever")
opens no relative clause."""

_CLAUSES = re.compile(r"\s*(?:[,;:]|\b(?:though|although|whereas|and|except)\b)\s*", re.IGNORECASE)
"""Where one sentence may join a denial to a finding ("It makes me queasy, though I haven't been sick")."""

_SUBJECT = re.compile(r"^(?:i|i'm|i've|i'd|it|it's|he|he's|she|she's|they|they're|we|my|his|her|their|there|that)\b")
"""How a clause with a subject of its own starts; one without continues the clause before it
("No rash, ulcers or swelling" is one denial)."""


def _clauses(text: str) -> list[str]:
    out: list[str] = []
    for part in _CLAUSES.split(text.replace("\u2019", "'")):
        part = part.strip(" .!?")
        if not part:
            continue
        if out and not _SUBJECT.match(part.lower()):
            out[-1] = f"{out[-1]}, {part}"
        else:
            out.append(part)
    return out


_FAILED = re.compile(
    r"\b(?:did|does|do|doing|made|makes|make|done)\s+(?:nothing|no difference)"
    r"|\bnothing\s+(?:really\s+)?(?:helps|helped|works|worked|touches|touched|shifts|shifted|makes|made|eases|eased)"
    r"|\bno\s+(?:difference|use|good)\b"
)
"""A treatment that failed is a finding, though it says "nothing" ("painkillers did nothing")."""


_NORMAL_UNDONE = re.compile(
    r"\b(?:pain|ache|aching|hurts?|sore|tender)\b|\b(?:normally|usually)\b.*\bnow\b", re.IGNORECASE
)
"""A normal-word that describes a symptom ("a steady, nagging pain") or the state before a change
("normally I can walk to the shop, now I can barely cross the room") denies nothing."""

_NORMAL_PHRASE = re.compile(
    r"\bback to (?:himself|herself|myself|themselves|normal|usual)\b"
    r"|\b(?:head|mind|thinking)(?:'s| is| was| feels?) (?:clear|straight)\b"
    r"|\b(?:awake|conscious) (?:the whole time|throughout|all the time)\b",
    re.IGNORECASE,
)
"""Phrases that say all is well without a normal-word: back to one's usual self, a clear head ("my mind's
clear"), and staying conscious ("I was awake the whole time")."""

_NORMAL_TIMED = re.compile(r"\b(?:until|till|then|ago|between|within(?! (?:the )?normal))\b", re.IGNORECASE)
"""Words that put a normal state on a timeline, which makes it part of a history: "I was fine until two
hours ago" dates an onset, "I had a normal period a fortnight ago" dates the last period, "back to
normal within twenty minutes" times an episode ("within normal limits" is a range, not a time), and "fine
between attacks" says the attacks come and go."""


def _clause_denies(text: str) -> bool:
    plain = text.replace("\u2019", "'")
    head, sep, _ = plain.partition(", ")
    if sep and clinical_weight(head) > 0 and not _clause_denies(head):
        return False
    if _NOT_A_DENIAL.search(plain):
        return False
    # What is left once the asides are set apart must deny on its own.
    plain = _ASIDE.sub(" ", plain)
    normal_word = bool(_NORMAL & set(words(_NAMED_NORMAL.sub(" ", plain), split_compounds=True)))
    normal_phrase = _NORMAL_PHRASE.search(plain) is not None
    if (normal_word or normal_phrase) and _NORMAL_TIMED.search(plain):
        return False
    if normal_phrase:
        return True
    lower = plain.lower()
    if _NO_FUNCTION.search(lower):
        return False
    if _NO_MORE_THAN.search(lower):
        return _ASSERTING.search(plain) is None
    if _NOT_NORMAL.search(lower) or _FAILED.search(lower):
        return False
    if normal_word and not _NORMAL_UNDONE.search(plain):
        return True
    return negated(plain) and _ASSERTING.search(plain) is None


@lru_cache(maxsize=1 << 16)
def denies(text: str) -> bool:
    """Whether ``text`` only says things are absent or normal ("No fever", "My bowels are fine").

    A negation alone does not make a denial: "I can't keep anything down" and
    "it never lets up" are findings worded with one. Nor does a denial in one
    clause excuse a finding in another: "It makes me queasy, though I haven't
    been sick" asserts nausea. Clauses with no clinical word ("thank you")
    say nothing either way.
    """
    parts = _clauses(text)
    weighed = [p for p in parts if clinical_weight(p) > 0] or parts or [text]
    return all(_clause_denies(p) for p in weighed)


_SPANS_AND_AMOUNTS = re.compile(
    r"\b(?:weeks?|weekends?|days?|hours?|minutes?|months?|years?|few|half|lots?|bit|times?)\b", re.IGNORECASE
)
"""Spans of time and vague amounts: nearly every history says them, so they back nothing. "I'm about 35 weeks
along" is not "13 units a week", and "I've gone croaky for a few weeks" is not "a few drinks at the weekend"."""


def _weighed_words(claim: str) -> str:
    """The words of ``claim`` that a fact must share to back it: lay idioms put plainly, spans and amounts left out."""
    return _SPANS_AND_AMOUNTS.sub(" ", plainly(claim))


TOPIC_DEPTH = 2
"""How many of the topics a claim reads as being about count as its topics."""

OPPOSED_MARGIN = 0.2
"""How far behind a wording of the opposite polarity a matching one may score and still back the claim."""


def _overlap(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """How much two readings agree: the probability mass they share, from 0 (none) to 1 (the same)."""
    return sum(min(p, b.get(t, 0.0)) for t, p in a.items())


@dataclass(frozen=True, slots=True)
class _Wording:
    fact_id: str
    polarities: frozenset[bool]
    """Whether the wording denies (True), asserts (False), or, for a whole sentence with clauses, both."""


_POLARITIES = {p: p for p in (frozenset(), frozenset({True}), frozenset({False}), frozenset({True, False}))}


def _polarities_of(values: Iterable[bool]) -> frozenset[bool]:
    # One shared set per combination: a guard holds a few hundred wordings, and every consultation
    # in flight holds a guard.
    return _POLARITIES[frozenset(values)]


@dataclass(frozen=True, slots=True)
class _FactParts:
    """What a guard checks claims against for one fact: its wordings, their polarity and candidates."""

    wordings: tuple[tuple[str, _Wording], ...]
    polarity: frozenset[bool] | None
    """Both polarities when its wordings disagree; None when it has no wording, only keywords."""
    said: tuple[tuple[str, tuple[str, ...]], ...]
    """Each wording's key and its texts as said."""
    singles: tuple[Candidate, ...]
    """Each wording with lay idioms put plainly, with the topic's words as context."""
    bare: tuple[Candidate, ...]
    """The same without the context."""
    whole: Candidate | None
    """All its wordings in one candidate, with the context."""


@lru_cache(maxsize=8192)
def _fact_parts(fact_id: str, topic: str, texts: tuple[str, ...], keywords: tuple[str, ...]) -> _FactParts:
    # Kept per fact wording: two thousand generated cases hold about 3,500 distinct facts in 30,000.
    context = _topic_context().get(topic, ())
    wordings: list[tuple[str, _Wording]] = []
    said: list[Candidate] = []
    polarity: frozenset[bool] | None = None
    for i, t in enumerate(texts):
        pieces = claims(t)
        key = f"{fact_id}\x1f{i}"
        w = _Wording(fact_id, _polarities_of(denies(p) for p in pieces) or _polarities_of({denies(t)}))
        wordings.append((key, w))
        polarity = _polarities_of((polarity or frozenset()) | w.polarities)
        said.append(Candidate(key, (t,)))
        if len(pieces) > 1:
            for j, piece in enumerate(pieces):
                pkey = f"{key}\x1f{j}"
                wordings.append((pkey, _Wording(fact_id, _polarities_of({denies(piece)}))))
                said.append(Candidate(pkey, (piece,)))
    if keywords:
        key = f"{fact_id}\x1fk"
        wordings.append((key, _Wording(fact_id, _polarities_of({True, False}))))
        said.append(Candidate(key, keywords))
    bare = tuple(Candidate(c.key, tuple(plainly(t) for t in c.texts)) for c in said)
    whole = None
    if bare:
        whole = Candidate(f"{fact_id}\x1fw", tuple(dict.fromkeys(t for c in bare for t in c.texts)), context)
        wordings.append((whole.key, _Wording(fact_id, _polarities_of({True, False}))))
    return _FactParts(
        wordings=tuple(wordings),
        polarity=polarity,
        said=tuple((c.key, c.texts) for c in said),
        singles=tuple(Candidate(c.key, c.texts, context) for c in bare),
        bare=bare,
        whole=whole,
    )


@cache
def _topic_context() -> dict[str, tuple[str, ...]]:
    """Each topic's words, the context a fact's wordings are matched with."""
    return {c.key: c.texts for c in topic_candidates(("history", "exam", "test"))}


class Guard:
    """Checks patient replies against one case's history facts."""

    def __init__(
        self,
        case: Case,
        matcher: str = DEFAULT_MATCHER,
        verifier: ChatModel | None = None,
        persona: Persona | None = None,
        wordings: Mapping[str, Sequence[str]] | None = None,
        held_out: Collection[str] = (),
    ) -> None:
        """Prepare the facts a reply may rest on.

        Args:
            case: The case whose volunteered and on-ask facts bound every reply.
            matcher: The matcher backend that scores support.
            verifier: A chat model asked about claims the matcher cannot back; None trusts the matcher.
            persona: The voice the patient speaks in; its stock phrases, beliefs and word swaps are
                read as voice, not as claims.
            wordings: Further ways to say each fact, by fact id; by default the knowledge base's
                other lay phrasings of the finding each fact was drawn from.
            held_out: Condition ids whose knowledge-base phrasings the guard may not use to tell what
                topic a claim is about (benchmarks hold out the phrasings they test with).
        """
        self.matcher = get_matcher(matcher)
        # Each backend scores on its own scale, so the matcher carries the guard's thresholds for it.
        self.thresholds = self.matcher.guard_thresholds
        self._held_out = frozenset(held_out)
        self._readings: dict[str, dict[str, float]] = {}
        self._fact_readings: list[dict[str, float]] | None = None
        self._plain: list[tuple[str, str]] | None = None
        self._fact_profiles: Any = None
        self.verifier = verifier
        self.facts: list[Fact] = [f for f in case.facts if f.disclosure in ("volunteered", "on_ask")]
        self._by_id = {f.id: f for f in self.facts}
        self.covered = frozenset(f.topic for f in self.facts)
        self._sex = case.demographics.sex
        extra = kb_wordings(case) if wordings is None else wordings
        self._voice = VoiceFilter(persona, case) if persona is not None else None
        parts = [
            _fact_parts(
                f.id,
                f.topic,
                tuple(dict.fromkeys(t for t in (f.lay, f.text, *extra.get(f.id, ())) if t)),
                tuple(f.keywords),
            )
            for f in self.facts
        ]
        # Per guard only the lookups; the wordings, their readings and candidates are shared by every
        # guard whose case has the same fact, worded the same way (cases of one condition repeat them).
        self._wordings: dict[str, _Wording] = {k: w for p in parts for k, w in p.wordings}
        # A fact said both ways among its wordings ("LMP two weeks ago, normal") has no one polarity.
        self._polarity: dict[str, frozenset[bool]] = {
            f.id: p.polarity for f, p in zip(self.facts, parts, strict=True) if p.polarity is not None
        }
        # The readers read wordings as said; the matcher weighs their words with lay idioms put plainly.
        self._said = {k: texts for p in parts for k, texts in p.said}
        # Each fact's wordings without its topic's words: what the fact itself says.
        self._bare = {f.id: p.bare for f, p in zip(self.facts, parts, strict=True) if p.bare}
        # Each wording keeps its topic's words as context, so "it spreads" can rest on a radiation fact.
        self._singles = tuple(c for p in parts for c in p.singles)
        self._pairs: tuple[Candidate, ...] | None = None
        # All of a fact's wordings at once: a paraphrase may borrow words from several of them.
        self._whole = tuple(p.whole for p in parts if p.whole is not None)
        self.usage = Usage()

    def _pair_candidates(self) -> tuple[Candidate, ...]:
        # Two facts together may back one claim ("I smoke and my dad had a heart attack").
        if self._pairs is None:
            whole = {f.id: plainly(" ".join(t for t in (f.lay, f.text) if t)) for f in self.facts}
            pairs = []
            for a, b in combinations(self.facts, 2):
                key = f"{a.id}\x1e{b.id}"
                pol = _polarities_of(
                    self._wordings[f"{a.id}\x1f0"].polarities | self._wordings[f"{b.id}\x1f0"].polarities
                )
                self._wordings[key] = _Wording(a.id, pol)
                pairs.append(Candidate(key, (f"{whole[a.id]} {whole[b.id]}",)))
            self._pairs = tuple(pairs)
        return self._pairs

    def _supports(self, claim: str, candidates: Sequence[Candidate]) -> list[Scored]:
        """The matcher's support for ``claim`` from each candidate, on the words that can back it."""
        return self.matcher.supports(_weighed_words(claim), candidates)

    def voice_free(self, reply: str) -> str:
        """``reply`` without the persona's stock phrases and beliefs, its word swaps undone."""
        return self._voice.strip(reply) if self._voice is not None else reply

    def claims(self, reply: str) -> list[str]:
        """The sentences of ``reply`` that claim something of the patient, the persona's voice set aside."""
        return [
            s for s in claims(self.voice_free(reply)) if claim_weight(s) >= MIN_CLAIM_WEIGHT and not _COURTESY.match(s)
        ]

    def _fact_text(self, key: str) -> str:
        fact = self._by_id[self._wordings[key].fact_id]
        return fact.lay or fact.text

    def check_claim(self, claim: str) -> ClaimCheck:
        """Decide one claim with the matcher alone, in each reading the persona's word swaps allow."""
        first: ClaimCheck | None = None
        for reading in self._voice.readings(claim) if self._voice is not None else [claim]:
            got = self._check_reading(reading)
            if got.supported:
                return ClaimCheck(claim, True, got.reason, got.fact_id, got.fact_text, got.score, got.firm)
            first = first or ClaimCheck(claim, False, got.reason, got.fact_id, got.fact_text, got.score)
        assert first is not None
        return first

    def _check_reading(self, claim: str) -> ClaimCheck:
        """Decide one wording of a claim.

        A claim is backed by a wording of a fact (or a clause of one, or two facts
        together) that covers it and has the same polarity. Covered only by
        wordings of the opposite polarity, it contradicts that fact. Covered by
        none, it passes as a plain denial, when the topic reader is sure it is
        about a topic the facts cover, or when it is like the same findings of
        the knowledge base as a wording of a fact. Backed by shared words, it is
        still a new finding when the reader puts it on topics the facts never
        touch, or, backed only loosely, when it reads unlike every wording of
        the facts. A claim that asserts something of anatomy only the other sex has contradicts the
        patient's recorded sex, whatever it shares with the facts.
        """
        claim_denies = denies(claim)
        other = "" if claim_denies else other_sex_word(claim, self._sex)
        if other:
            return ClaimCheck(
                claim, False, "contradicts the patient's sex", fact_text=f"The patient is {self._sex} ('{other}')."
            )
        got = self._match_reading(claim, claim_denies)
        if got.supported and not claim_denies and not self._says_wording(claim, got):
            loose = got.score < self.thresholds.support_min and not got.reason
            off = self._off_record(
                claim, self.thresholds.reader_weak_min if loose else self.thresholds.reader_off_record
            )
            if off is not None:
                return off
            if not got.firm:
                stray = self._reads_unlike(claim)
                if stray is not None:
                    return stray
        if not got.supported and got.reason == "unsupported":
            return self._like_a_fact(claim, claim_denies) or got
        return got

    def _reads_unlike(self, claim: str) -> ClaimCheck | None:
        """Reject a loosely backed ``claim`` that reads unlike every wording of the case's facts, or None.

        A loose backing rests on a few shared words or on the topic the reader puts the claim on. A true
        paraphrase reads like some wording of a fact, whatever the fact's topic is called (and whichever
        fact lent it the words): the topic reader reads them alike, and they are like the same findings
        of the knowledge base. A new finding that shares a word or two with a fact ("I've gone croaky for
        a few weeks" beside "a few drinks a week") is like none of them. Only a claim the reader also
        gives some chance of being about a topic the facts never touch is rejected: that is where the
        new findings are.
        """
        odds = self._topic_odds(claim)
        if not odds:
            return None
        stray = max((p for t, p in odds.items() if t not in self.covered), default=0.0)
        if stray < self.thresholds.reader_stray_min:
            return None
        agreement = max((_overlap(odds, r) for r in self._wording_readings()), default=1.0)
        likeness, _ = self._finding_likeness(claim)
        if agreement >= self.thresholds.reader_agree_min and likeness >= self.thresholds.finding_like_min:
            return None
        topic = max((t for t in odds if t not in self.covered), key=odds.__getitem__)
        return ClaimCheck(claim, False, f"new finding on {topic}", score=min(agreement, likeness))

    def _like_a_fact(self, claim: str, claim_denies: bool) -> ClaimCheck | None:
        """Back ``claim`` by the fact one of whose wordings is like the same findings, or None.

        A paraphrase may share no word with any wording of its fact ("She's off her food" beside "She's
        hardly eating"), yet be like the same findings of the knowledge base.
        """
        likeness, fact_id = self._finding_likeness(claim)
        if not fact_id or claim_denies not in self._polarity.get(fact_id, frozenset()):
            return None
        if likeness >= self.thresholds.finding_backs or self._readers_agree(claim, likeness, fact_id):
            return ClaimCheck(claim, True, "like " + fact_id, fact_id=fact_id, score=likeness, firm=False)
        return None

    def _readers_agree(self, claim: str, likeness: float, fact_id: str) -> bool:
        """Whether both readers put ``claim`` on the topic of ``fact_id``, one of the topics the case's facts cover.

        Each reader alone errs on a paraphrase worded unlike any phrasing it knows, but seldom the same
        way: "She's refusing food and only taking sips" is somewhat like a feeding fact's wording, and
        the topic reader's likeliest covered topic is feeding. Together they back it loosely.
        """
        if likeness < self.thresholds.finding_agrees:
            return False
        odds = self._topic_odds(claim)
        covered = [t for t in odds if t in self.covered]
        if not covered or self._on_record(odds) < self.thresholds.reader_agrees:
            return False
        return max(covered, key=odds.__getitem__) == self._by_id[fact_id].topic

    def _plain_wordings(self) -> list[tuple[str, str]]:
        """Every wording of every fact, and each clause of one, with its fact id.

        Keywords are left out: a list of words reads as no sentence does.
        """
        if self._plain is None:
            pairs = (
                (self._wordings[c.key].fact_id, t)
                for c in self._singles
                if not c.key.endswith("\x1fk")
                for t in self._said[c.key]
            )
            self._plain = list(dict.fromkeys(pairs))
        return self._plain

    def _wording_readings(self) -> list[dict[str, float]]:
        """The topic reader's reading of every plain wording of the facts, read once in one batch."""
        if self._fact_readings is None:
            texts = [t for _, t in self._plain_wordings()]
            self._fact_readings = topic_reader(self.matcher.name, self._held_out).read(texts)
        return self._fact_readings

    def _finding_likeness(self, claim: str) -> tuple[float, str]:
        """How like the same findings ``claim`` and the closest plain wording of a fact are, and that fact's id.

        Likeness runs from 0 to 1; it is (0, "") when the backend does without the finding reader.
        """
        likes = self._likeness_by_fact(claim)
        if not likes:
            return 0.0, ""
        best = max(likes, key=likes.__getitem__)
        return likes[best], best

    def _likeness_by_fact(self, claim: str) -> dict[str, float]:
        """How like the same findings ``claim`` and each fact's closest plain wording are, by fact id.

        Empty when the backend does without the finding reader.
        """
        if self.thresholds.finding_like_min <= 0 and self.thresholds.finding_backs > 1:
            return {}
        reader = finding_reader(self._held_out)
        if self._fact_profiles is None:
            self._fact_profiles = reader.profiles([t for _, t in self._plain_wordings()])
        likes = (self._fact_profiles @ reader.profiles([claim]).T).toarray().ravel()
        out: dict[str, float] = {}
        for (fid, _), like in zip(self._plain_wordings(), likes, strict=True):
            out[fid] = max(out.get(fid, 0.0), float(like))
        return out

    def _says_wording(self, claim: str, got: ClaimCheck) -> bool:
        """Whether a wording of the backing fact, its topic's words aside, backs ``claim`` beyond the reader's veto."""
        if got.score < self.thresholds.reader_veto_max or got.fact_id is None:
            return False
        # A fact's keywords point at it in a question; they are no wording of it ("drinking" is not "a few pints").
        said = [c for c in self._bare.get(got.fact_id, ()) if not c.key.endswith("\x1fk")]
        bare = self._supports(claim, said)
        return bool(bare) and bare[0].score >= self.thresholds.reader_veto_max

    def _says_own_words(self, claim: str, fact_id: str) -> bool:
        """Whether ``claim`` shares enough with what the fact says (its wordings and keywords), not only with its topic.

        A fact's wordings are weighed with its topic's vocabulary beside them, so that "it spreads" rests on a
        radiation fact. A claim whose words are nearly all the topic's ("It's colicky" beside a crushing chest
        pain, since "colicky" is a word for how a pain feels) is backed by the topic, not by the fact, so the
        readers must agree with it. Always true for a backend whose thresholds leave the check off.
        """
        if self.thresholds.own_words_min <= 0:
            return True
        own = self._supports(claim, self._bare.get(fact_id, ()))
        return bool(own) and own[0].score >= self.thresholds.own_words_min

    def _topic_odds(self, claim: str) -> dict[str, float]:
        """The topic reader's probability of each history topic for ``claim`` (empty without a reader)."""
        if self.thresholds.reader_off_record is None:
            return {}
        got = self._readings.get(claim)
        if got is None:
            got = topic_reader(self.matcher.name, self._held_out).read([claim])[0]
            self._readings[claim] = got
        return got

    def _on_record(self, odds: Mapping[str, float]) -> float:
        """The reader's probability that a claim is about any topic the case's facts cover."""
        return sum(p for t, p in odds.items() if t in self.covered)

    def _off_record(self, claim: str, threshold: float | None) -> ClaimCheck | None:
        """Reject ``claim`` when the reader gives the covered topics less than ``threshold``, or None."""
        odds = self._topic_odds(claim)
        if not odds or threshold is None:
            return None
        on_record = self._on_record(odds)
        if on_record >= threshold:
            return None
        topic = max((t for t in odds if t not in self.covered), key=odds.__getitem__)
        return ClaimCheck(claim, False, f"new finding on {topic}", score=on_record)

    def _reader_backed(self, claim: str, claim_denies: bool) -> ClaimCheck | None:
        """Back ``claim`` by a fact on the covered topic the reader finds likeliest, or None.

        Only when the reader is confident the claim is about the topics the case covers at all.
        """
        odds = self._topic_odds(claim)
        on_record = self._on_record(odds)
        if not odds or on_record < self.thresholds.reader_backs:
            return None
        topic = max((t for t in odds if t in self.covered), key=odds.__getitem__)
        return self._rest_on_topic(claim, claim_denies, topic, on_record)

    def _read_elsewhere(self, claim: str, claim_denies: bool, opposed_topic: str) -> ClaimCheck | None:
        """Back ``claim`` by a fact of its polarity on the covered topic the reader clearly puts it on, or None.

        Only a topic other than that of the fact the claim seems to contradict counts.
        """
        odds = self._topic_odds(claim)
        covered = [t for t in odds if t in self.covered and t != opposed_topic]
        if not covered:
            return None
        topic = max(covered, key=odds.__getitem__)
        if odds[topic] < self.thresholds.reader_elsewhere:
            return None
        return self._rest_on_topic(claim, claim_denies, topic, odds[topic])

    def _rest_on_topic(self, claim: str, claim_denies: bool, topic: str, odds: float) -> ClaimCheck | None:
        """Back ``claim``, read as being about ``topic``, by the fact there of its polarity it is most like, or None.

        The topic alone is not enough: a claim unlike every wording of the facts there is a new finding
        that happens to read like the topic ("I was in a car crash this morning" beside an onset fact,
        "I sound hoarse" beside a cough fact), so it must be at least somewhat like one of them.
        """
        facts = [f.id for f in self.facts if f.topic == topic and claim_denies in self._polarity.get(f.id, frozenset())]
        if not facts:
            return None
        likes = self._likeness_by_fact(claim)
        best = max(facts, key=lambda fid: likes.get(fid, 0.0))
        if likes and likes.get(best, 0.0) < self.thresholds.reader_like_min:
            return None
        return ClaimCheck(claim, True, "reads as " + topic, fact_id=best, score=odds, firm=False)

    def _match_reading(self, claim: str, claim_denies: bool) -> ClaimCheck:
        best_score = 0.0
        opposed: Scored | None = None
        singles: list[Scored] = []
        for cands in (self._singles, None):
            ranked = self._supports(claim, cands if cands is not None else self._pair_candidates())
            if cands is not None:
                singles = ranked
            if ranked:
                best_score = max(best_score, ranked[0].score)
            for s in ranked:
                if s.score < self.thresholds.support_min:
                    break
                w = self._wordings[s.key]
                # A same-polarity wording far behind an opposed one is a chance overlap of words.
                pol = w.polarities if "\x1e" in s.key else self._polarity.get(w.fact_id, w.polarities)
                if claim_denies in pol and (opposed is None or s.score >= opposed.score - OPPOSED_MARGIN):
                    firm = "\x1e" in s.key or self._says_own_words(claim, w.fact_id)
                    return ClaimCheck(claim, True, fact_id=w.fact_id, score=s.score, firm=firm)
                if opposed is None and "\x1e" not in s.key:
                    opposed = s
            if opposed is not None:
                break
        if opposed is None:
            backed = (
                self._topic_backed(claim, claim_denies)
                or self._reader_backed(claim, claim_denies)
                or self._nearly_said(claim, claim_denies, singles)
            )
            if backed is not None:
                return backed
        if opposed is not None:
            fid = self._wordings[opposed.key].fact_id
            elsewhere = self._read_elsewhere(claim, claim_denies, self._by_id[fid].topic)
            if elsewhere is not None:
                return elsewhere
            return ClaimCheck(claim, False, f"contradicts {fid}", fid, self._fact_text(opposed.key), opposed.score)
        if claim_denies:
            return ClaimCheck(claim, True, score=best_score)
        return ClaimCheck(claim, False, "unsupported", score=best_score)

    def _nearly_said(self, claim: str, claim_denies: bool, ranked: Sequence[Scored]) -> ClaimCheck | None:
        """Back ``claim`` loosely by the fact of its polarity whose wording shares nearly enough of its words, or None.

        Such a backing is not firm, so the readers must agree with it (see :meth:`_check_reading`).
        """
        for s in ranked:
            if s.score < self.thresholds.near_support_min:
                break
            fid = self._wordings[s.key].fact_id
            if claim_denies in self._polarity.get(fid, frozenset()):
                return ClaimCheck(claim, True, fact_id=fid, score=s.score, firm=False)
        return None

    def topic_reading(self, claim: str) -> tuple[list[Scored], float, float]:
        """How ``claim`` reads against the history topics.

        Returns:
            The topics ranked for the claim, the best score among topics the case's facts cover, and
            the best among topics they do not.
        """
        ranked = self.matcher.rank(claim, topic_candidates())
        covered = max((t.score for t in ranked if t.key in self.covered), default=0.0)
        uncovered = max((t.score for t in ranked if t.key not in self.covered), default=0.0)
        return ranked, covered, uncovered

    def _topic_backed(self, claim: str, claim_denies: bool) -> ClaimCheck | None:
        """Back a claim no wording covers well by a fact on the topic the claim is about, or None.

        A claim about a topic the facts cover may reword a fact more freely than one about a topic
        they do not, so a weaker overlap with a fact on that topic backs it. But a covered topic must
        not vouch for a claim that reads at least as much as being about a topic the facts never
        mention: "I've been really hot for days" shares "days" with an onset fact, yet it is about
        fever, and a new finding.
        """
        ranked, covered, uncovered = self.topic_reading(claim)
        off_record = (
            self.thresholds.off_record_margin is not None and uncovered - covered >= self.thresholds.off_record_margin
        )
        if off_record and not claim_denies:
            return None
        topics = {t.key for t in ranked[:TOPIC_DEPTH] if t.score >= self.thresholds.topic_min}
        on_topic = [c for c in self._singles if self._by_id[self._wordings[c.key].fact_id].topic in topics]
        for s in self._supports(claim, on_topic):
            if s.score < self.thresholds.topic_support_min:
                break
            fid = self._wordings[s.key].fact_id
            # The fact's own polarity, not its keywords' (which say nothing of it): a claim of shivering
            # shares a keyword with "no fever", yet that fact denies it.
            if claim_denies in self._polarity.get(fid, self._wordings[s.key].polarities):
                return ClaimCheck(claim, True, fact_id=fid, score=s.score, firm=s.score >= self.thresholds.support_min)
        if (
            self.thresholds.rescue_topic_min is not None
            and not claim_denies
            and covered >= self.thresholds.rescue_topic_min
        ):
            # Read plainly as about a covered topic: a paraphrase may share only a few words with any
            # one wording, so all of a fact's wordings together are asked.
            for best in self._supports(claim, self._whole):
                if best.score < self.thresholds.rescue_support_min:
                    break
                fid = self._wordings[best.key].fact_id
                # Only a fact that asserts something can back a finding; a denial sharing its words cannot.
                if False in self._polarity.get(fid, frozenset()):
                    return ClaimCheck(claim, True, fact_id=fid, score=best.score, firm=False)
        return None

    def check(self, reply: str) -> list[ClaimCheck]:
        """Check every claim of ``reply`` with the matcher (synchronous; no verifier)."""
        return [self.check_claim(c) for c in self.claims(reply)]

    def contradicted(self, line: str) -> str | None:
        """The id of a fact that ``line`` says the opposite of, or None.

        The quick half of :meth:`check_claim`, for answers the simulator writes itself: a line is
        contradicted when a wording of the opposite polarity covers it and none of its own polarity
        comes close. It asks neither the topic reader nor a verifier, so it costs a lexical match,
        and it errs towards finding a contradiction: the caller then tells the fact instead.
        """
        for claim in claims(line) or [line]:
            claim_denies = denies(claim)
            ranked = self._supports(claim, self._singles)
            opposed: Scored | None = None
            for s in ranked:
                if s.score < self.thresholds.support_min:
                    break
                pol = self._polarity.get(self._wordings[s.key].fact_id, self._wordings[s.key].polarities)
                if claim_denies in pol and (opposed is None or s.score >= opposed.score - OPPOSED_MARGIN):
                    opposed = None
                    break
                opposed = opposed or s
            if opposed is not None:
                return self._wordings[opposed.key].fact_id
        return None

    async def acheck(self, reply: str) -> list[ClaimCheck]:
        """Check every claim of ``reply``; the verifier, if any, reviews every verdict that is not firm.

        The verifier may accept a claim the matcher rejected, and reject one the matcher accepted only
        by how it reads or by a loose overlap of words. It is asked once per reply, about all such
        claims together. A verdict it does not give, or gives unreadably, leaves the matcher's.
        """
        claims = self.claims(reply)
        prefetch = getattr(self.matcher, "prefetch", None)
        if prefetch is not None:
            await prefetch([*claims, *(t for c in self._singles for t in c.texts)])
        out = [self.check_claim(c) for c in claims]
        doubtful = [c.claim for c in out if c.reviewable]
        if self.verifier is None or not doubtful:
            return out
        verdicts = dict(zip(doubtful, await self._verdicts(doubtful), strict=True))
        reviewed = []
        for c in out:
            verdict = verdicts.get(c.claim)
            if verdict is True and not c.supported:
                c = ClaimCheck(c.claim, True, "verifier", c.fact_id, c.fact_text, c.score, firm=False)
            elif verdict is False and c.supported:
                c = ClaimCheck(c.claim, False, "verifier: no fact states it", c.fact_id, c.fact_text, c.score)
            reviewed.append(c)
        return reviewed

    async def _verdicts(self, claims: list[str]) -> list[bool | None]:
        """The verifier's answer on each claim: supported or not, or None where it gave none that can be read."""
        assert self.verifier is not None
        prompt = render("personas", "guard_verify.j2", facts=self.facts, claims=claims)
        # Asked once per reply: the patient's turn waits on it, and a verdict it does not give leaves the matcher's.
        got = await ask_json(self.verifier, prompt, VerifierReply, attempts=1)
        self.usage.add(got.usage)
        if isinstance(got, Unscored):
            if got.error is not None:
                raise got.error  # a verifier that cannot be called fails the reply, as a patient model would
            return [None] * len(claims)
        found = {e.statement: e.supported for e in got.value.verdicts}
        return [found.get(i) for i in range(1, len(claims) + 1)]


class VerifierVerdict(BaseModel):
    """The verifier's verdict on one numbered statement."""

    statement: StrictInt
    """The statement's number in the prompt, from 1."""
    supported: StrictBool
    """Whether a fact of the case states it."""


class VerifierReply(BaseModel):
    """The verifier's verdicts; entries that are not verdicts are dropped."""

    verdicts: list[VerifierVerdict]

    @field_validator("verdicts", mode="before")
    @classmethod
    def _usable(cls, v: object) -> object:
        return valid_entries(VerifierVerdict, v) if isinstance(v, list) else []
