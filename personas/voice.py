"""A persona's voice for the built-in patient: how facts are said, never which.

Everything here changes wording or timing only. The facts a reply discloses
are chosen by the patient policy; the voice may hold a guarded fact back until
the doctor asks again (the persona's willingness), and it decides the words:
lead-ins and tails, lay vocabulary, expanded contractions for a non-native
speaker, fillers a terse patient drops, the third person for a proxy, and the
belief a biased patient voices. Its choices are drawn from a random stream
seeded by persona and case, so a consultation replays word for word.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Literal

from arena.core.types import Case, Fact, PatientReply, Persona
from personas.leak_check import LeakCheck

CannedReply = Literal["unknown", "denial", "diagnosis", "not_checked", "unclear"]

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|[^A-Za-z]+")
_ADVERBS = frozenset(
    [
        "always",
        "never",
        "just",
        "still",
        "hardly",
        "usually",
        "sometimes",
        "often",
        "only",
        "really",
        "normally",
        "also",
        "even",
        "constantly",
        "nearly",
        "barely",
        "rarely",
        "mostly",
        "generally",
        "actually",
    ]
)
# Present-tense verbs that follow "I" in lay phrasings; past forms need no change.
_VERBS = frozenset(
    [
        "feel",
        "keep",
        "smoke",
        "get",
        "take",
        "live",
        "drink",
        "eat",
        "lie",
        "walk",
        "stand",
        "go",
        "move",
        "pee",
        "cough",
        "sit",
        "wee",
        "need",
        "drive",
        "know",
        "use",
        "think",
        "manage",
        "like",
        "want",
        "work",
        "sweat",
        "ache",
        "struggle",
        "snore",
        "love",
        "miss",
        "share",
        "wake",
        "travel",
        "breathe",
        "exert",
        "turn",
        "cry",
        "say",
        "look",
        "bend",
        "push",
        "chew",
        "swallow",
        "brush",
        "tell",
        "sleep",
        "inject",
        "run",
        "come",
        "wipe",
        "stop",
        "bring",
        "throw",
        "tip",
        "seem",
        "try",
        "hurt",
        "wear",
        "play",
        "see",
        "hear",
        "mean",
        "find",
        "suffer",
        "buy",
        "pass",
        "wheeze",
        "vomit",
        "itch",
        "bleed",
        "remember",
        "forget",
        "notice",
        "worry",
        "care",
        "cope",
        "prefer",
        "hate",
        "enjoy",
        "wish",
        "hope",
        "believe",
        "reckon",
        "guess",
    ]
)
_IRREGULAR = {
    "have": "has",
    "do": "does",
    "am": "is",
    "don't": "doesn't",
    "haven't": "hasn't",
    "go": "goes",
}
_CONTRACTIONS = {
    "i'm": "I am",
    "i've": "I have",
    "i'll": "I will",
    "can't": "cannot",
    "won't": "will not",
    "don't": "do not",
    "doesn't": "does not",
    "didn't": "did not",
    "isn't": "is not",
    "aren't": "are not",
    "wasn't": "was not",
    "weren't": "were not",
    "haven't": "have not",
    "hasn't": "has not",
    "hadn't": "had not",
    "couldn't": "could not",
    "wouldn't": "would not",
    "shouldn't": "should not",
    "it's": "it is",
    "that's": "that is",
    "there's": "there is",
    "he's": "he is",
    "she's": "she is",
    "what's": "what is",
    "you're": "you are",
    "we're": "we are",
    "they're": "they are",
    "we've": "we have",
    "they've": "they have",
    "you've": "you have",
}


def _third_form(verb: str) -> str:
    low = verb.lower()
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return low + "es"
    if low.endswith("y") and low[-2:-1] not in ("a", "e", "i", "o", "u"):
        return low[:-1] + "ies"
    return low + "s"


def _cap(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def to_third_person(text: str, sex: str) -> str:
    """Say a first-person lay phrasing about the patient: ``I've got`` -> ``he's got``.

    Args:
        text: Words the patient would say.
        sex: ``female`` or ``male``, for the pronouns.

    Returns:
        The same statement as a proxy would make it.
    """
    he, him, his, hers = ("she", "her", "her", "hers") if sex == "female" else ("he", "him", "his", "his")
    subject = {"i": he, "i'm": f"{he}'s", "i've": f"{he}'s", "i'd": f"{he}'d", "i'll": f"{he}'ll"}
    other = {"me": him, "my": his, "mine": hers, "myself": f"{him}self"}
    tokens = _TOKEN.findall(text)
    out: list[str] = []
    conjugate = False
    for tok in tokens:
        low = tok.lower()
        if not tok[:1].isalpha():
            out.append(tok)
            continue
        if low in subject and tok[:1] == "I":
            start = not "".join(out).strip() or "".join(out).rstrip()[-1:] in ".!?;:"
            out.append(subject[low].capitalize() if start else subject[low])
            conjugate = low == "i"
            continue
        if low in other:
            out.append(_cap(other[low], tok))
            conjugate = False
            continue
        if conjugate and low in _ADVERBS:
            out.append(tok)
            continue
        if conjugate and (low in _VERBS or low in _IRREGULAR):
            out.append(_cap(_third_form(low), tok))
        else:
            out.append(tok)
        conjugate = False
    return "".join(out)


def expand_contractions(text: str) -> str:
    """Spell contractions out (``I'm`` -> ``I am``), as a careful second-language speaker does."""

    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        full = _CONTRACTIONS.get(word.lower().replace("\u2019", "'"))
        return _cap(full, word) if full else word

    return re.sub(r"\b[A-Za-z]+['\u2019][a-z]+\b", swap, text)


def _replace_phrases(text: str, table: dict[str, str]) -> str:
    if not table:
        return text
    keys = sorted(table, key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keys) + r")\b", re.IGNORECASE)
    lookup = {k.lower(): v for k, v in table.items()}
    return pattern.sub(lambda m: _cap(lookup[m.group(0).lower()], m.group(0)), text)


def _drop_phrases(text: str, phrases: list[str]) -> str:
    for p in phrases:
        text = re.sub(r"(?:,\s*)?\b" + re.escape(p.rstrip(",")) + r"\b,?\s*", " ", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+([.,!?;])", r"\1", text)
    text = re.sub(r"\s{2,}", " ", text).strip()
    # A sentence whose first word was dropped starts with the next one, capitalised.
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def sentence(s: str) -> str:
    """``s`` stripped and ending with a full stop unless it already ends a sentence."""
    s = s.strip()
    return s if not s or s.endswith((".", "!", "?")) else s + "."


def placeholders(case: Case) -> dict[str, str]:
    """Values for a persona line's ``{relation}``, ``{name}``, ``{he}``, ``{him}``, ``{his}`` and ``{complaint}``."""
    female = case.demographics.sex == "female"
    age = case.demographics.age
    if case.speaker == "caregiver" or age < 18:
        relation = "daughter" if female else "son"
    elif age >= 65:
        relation = "mum" if female else "dad"
    else:
        relation = "partner"
    first = case.demographics.name.split()[0] if case.demographics.name.strip() else ""
    return {
        "relation": relation,
        "name": first,
        "he": "she" if female else "he",
        "him": "her" if female else "him",
        "his": "her" if female else "his",
        "complaint": case.chief_complaint,
    }


def _fill(line: str, values: dict[str, str]) -> str:
    text = line.format(**values)
    return re.sub(r"\s+([;,.])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()


def pick_belief(persona: Persona, case: Case) -> str | None:
    """The belief a biased persona voices in this case, or None.

    A belief that would name the case's diagnosis (``heartburn`` for reflux)
    is never chosen, so a bias changes attitude, not what the doctor learns.
    """
    if persona.bias is None:
        return None
    check = LeakCheck(case)
    values = placeholders(case)
    safe = [b for b in (_fill(x, values) for x in persona.bias.beliefs) if check.find(b) is None]
    if not safe:
        return None
    return random.Random(f"{persona.id}|{case.id}|belief").choice(safe)


class Voice:
    """Turns the facts a patient tells into words in one persona's voice."""

    def __init__(self, persona: Persona, case: Case) -> None:
        """Prepare the voice of ``persona`` for one consultation of ``case``.

        Args:
            persona: How the patient talks.
            case: The case; its speaker, sex and name shape a proxy's words.
        """
        self.persona = persona
        self.case = case
        self.values = placeholders(case)
        self.belief = pick_belief(persona, case)
        self._rng = random.Random(f"{persona.id}|{case.id}")
        self._asks: Counter[str] = Counter()
        self._answers = 0
        # The case's own words are first person unless a caregiver already speaks.
        self._convert = persona.third_person and case.speaker == "self"

    def render(self, text: str) -> str:
        """Say one fact's words in this voice, without changing what they state."""
        p = self.persona
        if self._convert:
            text = to_third_person(text, self.case.demographics.sex)
        text = _replace_phrases(text, p.vocabulary)
        if p.drop:
            text = _drop_phrases(text, p.drop)
        if p.expand_contractions:
            text = expand_contractions(text)
        return sentence(text)

    def opening(self) -> str:
        """The first thing the patient says: the chief complaint, and any belief."""
        values = dict(self.values, complaint=self.render(self.case.chief_complaint))
        text = _fill(self.persona.opening, values)
        return f"{text} {self.belief}" if self.belief else text

    def say(self, kind: CannedReply) -> str:
        """One of the persona's canned replies, e.g. to a question no fact covers."""
        p = self.persona
        line = {
            "unknown": p.unknown_reply,
            "denial": p.denial_reply,
            "diagnosis": p.diagnosis_reply,
            "not_checked": p.not_checked_reply,
            "unclear": p.unclear_reply,
        }[kind]
        return _fill(line, self.values)

    def guarded(self, fact: Fact) -> bool:
        """Whether this persona holds ``fact`` back until asked again."""
        w = self.persona.willingness
        # What the patient came in saying is told already; holding it back would be odd.
        if w is None or fact.disclosure == "volunteered":
            return False
        return fact.topic in w.guarded or fact.category in w.guarded

    def tell(self, facts: list[Fact]) -> PatientReply:
        """Answer with ``facts`` in this voice.

        Guarded facts are held back until the doctor has asked about them the
        persona's number of times; if every fact is held back, the patient
        deflects and reveals nothing.

        Args:
            facts: The facts the question asked about, in order, no duplicates.

        Returns:
            The reply and the ids of the facts it actually told.
        """
        w = self.persona.willingness
        told: list[Fact] = []
        for f in facts:
            if w is not None and self.guarded(f):
                self._asks[f.id] += 1
                if self._asks[f.id] < w.asks:
                    continue
            told.append(f)
        if not told:
            assert w is not None
            return PatientReply(text=_fill(self._rng.choice(w.deflections), self.values))
        self._answers += 1
        body = " ".join(self.render(f.lay or f.text) for f in told)
        lead = _fill(self._rng.choice(self.persona.lead_ins), self.values) if self.persona.lead_ins else ""
        if lead:
            keep_capital = lead.rstrip().endswith((".", "!", "?")) or re.match(r"I\b", body)
            body = f"{lead} {body if keep_capital else body[:1].lower() + body[1:]}"
        tail = _fill(self._rng.choice(self.persona.tails), self.values) if self.persona.tails else ""
        if tail:
            body = f"{body} {tail}"
        bias = self.persona.bias
        if self.belief and bias is not None and self._answers == bias.repeat_after:
            body = f"{body} {self.belief}"
        return PatientReply(text=body, revealed=[f.id for f in told])
