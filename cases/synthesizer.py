"""Synthetic cases drawn from the knowledge base, reproducible by seed.

Case ``i`` of a bank is drawn from its own random stream seeded by
``(seed, i)``, so the same seed gives the same file, byte for byte. Each case
is checked (:func:`consistency_problems`) and must be unique by content hash;
a draw that fails either is redrawn from the next stream.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from typing import Any, Literal

from arena.core.types import ATYPICAL_RATE, Case, Demographics, Diagnosis, Fact
from cases.kb import Condition, Finding, KnowledgeBase, load_kb
from cases.rubric_from_kb import derive_rubric
from cases.text import ABSENCE_WORDS, mentions_negation, normalise, salient_words

CHILD_AGE = 12
"""Below this age a caregiver speaks for the patient."""
MAX_REDRAWS = 50
"""Draws per case before giving up on finding a unique, consistent one."""
_PREGNANCY_WORDS = ("pregnan", "gestation", "trimester", "miscarr", "hcg")
_FRAMING_WORDS = frozenset({"patient", "reports", "mentions", "states", "notes", "describes", "says", "complains"})
"""Words that frame a statement rather than say what it is about: "he reports no pain" and "he
reports the left eye is fine" share no content."""


def _normalised_words(words: frozenset[str]) -> frozenset[str]:
    return frozenset(w for word in words for w in normalise(word).split())


_NOT_CONTENT = _normalised_words(
    ABSENCE_WORDS | _FRAMING_WORDS | {"any", "other", "ever", "recent", "having", "symptoms"}
)
"""Negation and framing words as :func:`salient_words` gives them (stemmed: "denies" is "deny")."""
_EXCEPTION = re.compile(r"\b(?:aside\s+from|other\s+than|apart\s+from|except)\b", re.IGNORECASE)


class SynthesisError(RuntimeError):
    """No unique, consistent case could be drawn."""


@cache
def _background() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("cases").joinpath("data", "background.json").read_text("utf-8"))
    return data


_OBJECT_NEXT = frozenset(
    [
        "up",
        "to",
        "a",
        "an",
        "the",
        "in",
        "out",
        "down",
        "off",
        "some",
        "any",
        "anything",
        "medicine",
        "calpol",
        "paracetamol",
        "ibuprofen",
        "again",
    ]
)
_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers|himself|herself)\b(\s*)(\w*)", re.IGNORECASE)


def match_pronouns(text: str, sex: str) -> str:
    """Make a caregiver's pronouns agree with the child's sex.

    Knowledge-base lines are written for either sex; "her" becomes "him" when
    it is an object (before a preposition, article or the end of a clause)
    and "his" otherwise.
    """

    def swap(m: re.Match[str]) -> str:
        word, space, nxt = m.group(1), m.group(2), m.group(3)
        low = word.lower()
        if sex == "male":
            if low == "she":
                new = "he"
            elif low == "hers":
                new = "his"
            elif low == "herself":
                new = "himself"
            elif low == "her":
                new = "him" if not nxt or nxt.lower() in _OBJECT_NEXT else "his"
            else:
                new = low
        else:
            new = {"he": "she", "him": "her", "his": "her", "himself": "herself"}.get(low, low)
        if word[0].isupper():
            new = new.capitalize()
        return new + space + nxt

    return _PRONOUN.sub(swap, text)


def _pick_lay(rng: random.Random, lay: list[str], caregiver: list[str], child: bool, sex: str = "") -> str:
    if child and caregiver:
        return match_pronouns(rng.choice(caregiver), sex) if sex else rng.choice(caregiver)
    return rng.choice(lay)


def _fill(text: str, rng: random.Random, n: list[int] | None) -> tuple[str, int | None]:
    if n is None or "{n}" not in text:
        return text, None
    v = rng.randint(n[0], n[1])
    return text.replace("{n}", str(v)), v


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _vitals_text(rng: random.Random, cond: Condition) -> str:
    v = cond.vitals
    sbp = rng.randint(*v.sbp)
    dbp = max(30, int(sbp * rng.uniform(0.55, 0.68)))
    return (
        f"HR {rng.randint(*v.hr)} bpm, BP {sbp}/{dbp} mmHg, RR {rng.randint(*v.rr)}/min, "
        f"SpO2 {rng.randint(*v.spo2)}% on air, temperature {rng.uniform(*v.temp):.1f} °C"
    )


def _age(rng: random.Random, cond: Condition) -> int:
    lo, hi = cond.population.age_min, cond.population.age_max
    return round(rng.triangular(lo, hi, (lo + hi) / 2))


def _sex(rng: random.Random, cond: Condition) -> str:
    if cond.population.sex != "any":
        return cond.population.sex
    return "female" if rng.random() < cond.population.female_share else "male"


def _history_fact(fid: str, f: Finding, lay: str, negative: bool = False) -> Fact:
    return Fact(
        id=fid,
        category=f.category,
        disclosure="on_ask",
        text=f.text,
        lay=lay,
        topic=f.topic,
        keywords=list(f.keywords),
        negative=negative,
    )


def draw_case(kb: KnowledgeBase, cond: Condition, rng: random.Random, atypical_rate: float = ATYPICAL_RATE) -> Case:
    """Draw one case of ``cond`` from ``rng``.

    Args:
        kb: The knowledge base (for complaints and differentials).
        cond: The condition.
        rng: The random stream for this case.
        atypical_rate: Chance the presentation is atypical.

    Returns:
        The case (its id is the condition id plus a content hash).
    """
    return _drawn(kb, cond, rng, atypical_rate)[0]


def _drawn(kb: KnowledgeBase, cond: Condition, rng: random.Random, atypical_rate: float) -> tuple[Case, str]:
    """A case of ``cond`` and its content hash, which names it and tells it from every other case."""
    age = _age(rng, cond)
    sex = _sex(rng, cond)
    child = age < CHILD_AGE
    atypical = rng.random() < atypical_rate
    names = _background()["names"]
    name = f"{rng.choice(names[sex])} {rng.choice(names['family'])}"
    pres = rng.choices(cond.presentations, weights=[p.weight for p in cond.presentations])[0]
    complaint = kb.complaints[pres.complaint]
    opening = _pick_lay(rng, pres.lay, pres.lay_caregiver, child, sex)
    facts: list[Fact] = [
        Fact(
            id="cc",
            category="hpi",
            disclosure="volunteered",
            text=f"Presents with {complaint.label}",
            lay=opening,
            topic=complaint.topic,
        )
    ]
    onset = rng.choices(cond.onsets, weights=[o.weight for o in cond.onsets])[0]
    facts.append(
        Fact(
            id="hpi.onset",
            category="hpi",
            disclosure="on_ask",
            text=onset.text,
            lay=_pick_lay(rng, onset.lay, onset.lay_caregiver, child, sex),
            topic="onset",
        )
    )
    hallmarks = 0
    for f in cond.findings:
        p = f.probability * (0.25 if atypical and f.hallmark else 1.0)
        if rng.random() < p:
            hallmarks += f.hallmark
            facts.append(_history_fact(f"{f.category}.{f.id}", f, _pick_lay(rng, f.lay, f.lay_caregiver, child, sex)))
    covered = {f.topic for f in facts}
    for n in cond.negatives:
        if n.topic not in covered and rng.random() < n.probability:
            facts.append(
                _history_fact(f"neg.{n.id}", n, _pick_lay(rng, n.lay, n.lay_caregiver, child, sex), negative=True)
            )
    covered = {f.topic for f in facts}
    bg = _background()
    for group in bg["child" if child else "adult"]:
        if group["topic"] in covered:
            continue
        opts = [o for o in group["options"] if o.get("min_age", 0) <= age <= o.get("max_age", 200)]
        o = rng.choices(opts, weights=[x["weight"] for x in opts])[0]
        text, v = _fill(o["text"], rng, o.get("n"))
        lay = rng.choice(o["lay"]).replace("{n}", str(v)) if v is not None else rng.choice(o["lay"])
        facts.append(
            Fact(
                id=f"bg.{group['topic']}",
                category=group["category"],
                disclosure="on_ask",
                text=text,
                lay=lay,
                topic=group["topic"],
                negative=bool(o.get("negative", False)),
            )
        )
    if sex == "female" and 15 <= age <= 48 and not cond.population.pregnant and "lmp" not in covered:
        m = bg["menstrual"]
        text, v = _fill(m["text"], rng, m["n"])
        facts.append(
            Fact(
                id="bg.lmp",
                category="pmh",
                disclosure="on_ask",
                text=text,
                lay=rng.choice(m["lay"]).replace("{n}", str(v)),
                topic="lmp",
            )
        )

    def found(kind: Literal["exam", "test"], fid: str, text: str, topic: str, negative: bool = False) -> None:
        facts.append(
            Fact(id=f"{kind}.{fid}", category=kind, disclosure=kind, text=text, topic=topic, negative=negative)
        )

    found("exam", "vitals", _vitals_text(rng, cond), "vitals")
    for e in cond.exam:
        if rng.random() < e.probability:
            found("exam", e.id, e.text, e.topic)
        elif e.normal_text:
            found("exam", e.id, e.normal_text, e.topic, negative=True)
    for t in cond.tests:
        if rng.random() < t.probability:
            text = t.text
            if "{value}" in text and t.low is not None and t.high is not None:
                text = text.replace("{value}", _fmt(rng.uniform(t.low, t.high), t.decimals))
            found("test", t.id, text, t.topic)
        elif t.normal_text:
            found("test", t.id, t.normal_text, t.topic, negative=True)
    difficulty = "hard" if atypical or hallmarks == 0 else ("medium" if hallmarks < 2 or cond.must_not_miss else "easy")
    case = Case(
        id="pending",
        title=f"{cond.name} ({age}{sex[0].upper()})",
        source="synthetic",
        chief_complaint=opening,
        organ_system=cond.organ_system,
        difficulty=difficulty,
        complaint=complaint.id,
        atypical=atypical,
        demographics=Demographics(age=age, sex=sex, name=name),
        speaker="caregiver" if child else "self",
        facts=facts,
        diagnosis=Diagnosis(name=cond.name, icd10=cond.icd10, synonyms=list(cond.synonyms)),
        differentials=[
            Diagnosis(name=kb.by_id[d].name, icd10=kb.by_id[d].icd10, synonyms=list(kb.by_id[d].synonyms))
            for d in cond.differentials
        ],
        rubric=derive_rubric(cond, facts),
    )
    # Hashing serializes the whole case: it is done once, for the id and for the uniqueness check alike.
    digest = content_hash(case)
    return case.model_copy(update={"id": f"{cond.id}-{digest[:10]}"}), digest


def content_hash(case: Case) -> str:
    """Hash of everything in a case but its id and title: equal hashes mean the same patient."""
    body = case.model_dump(mode="json", exclude={"id", "title"})
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def contradictions(facts: Sequence[Fact], *, loose: bool = False) -> list[tuple[Fact, Fact]]:
    """Pairs ``(positive, negative)`` of history facts where one denies what the other asserts.

    Opposite polarity on one topic, where one fact's content words are all
    in the other's, is a contradiction ("Fever 38.5" / "No fever"); the same
    topic alone ("Lost 5 kg" / "Appetite normal") is not, and neither is a
    denial of something about a thing the finding names ("denies itching
    with the lesion" / "the lesion has grown").

    Args:
        facts: The case's facts.
        loose: Pair facts that share any content word on their topic: the
            wider net an importer casts for denials its parser misread.
    """
    history = [f for f in facts if f.disclosure in ("volunteered", "on_ask")]
    positives = [(f, salient_words(f.text) - _NOT_CONTENT) for f in history if not f.negative]
    out: list[tuple[Fact, Fact]] = []
    for neg in (f for f in history if f.negative):
        neg_words = salient_words(neg.text) - _NOT_CONTENT
        if _EXCEPTION.search(neg.text):  # "no history other than bronchitis" allows the bronchitis
            continue
        for pos, pos_words in positives:
            if pos.topic != neg.topic or not neg_words or not pos_words:
                continue
            if mentions_negation(pos.text):  # "tried ibuprofen with no relief" says the denial's part itself
                continue
            if (neg_words & pos_words) if loose else (neg_words <= pos_words or pos_words <= neg_words):
                out.append((pos, neg))
    return out


def consistency_problems(case: Case) -> list[str]:
    """Return what makes a case internally inconsistent (empty when it is sound)."""
    out: list[str] = []
    history = [f for f in case.facts if f.disclosure in ("volunteered", "on_ask")]
    for pos, neg in contradictions(case.facts):
        out.append(f"facts {pos.id!r} and {neg.id!r} on topic {pos.topic!r} assert and deny the same thing")
    # A child's record speaks of the mother's pregnancy and the birth ("born at 33 weeks' gestation"),
    # and family history of a relative's: neither is the patient's own.
    if case.demographics.sex == "male" and case.demographics.age >= CHILD_AGE:
        for f in case.facts:
            if f.category == "family":
                continue
            if f.topic == "lmp" or any(w in f.text.lower() for w in _PREGNANCY_WORDS):
                out.append(f"pregnancy fact {f.id!r} in a male patient")
    if case.demographics.age < CHILD_AGE and case.speaker != "caregiver":
        out.append(f"a {case.demographics.age}-year-old needs a caregiver to speak")
    # Synthetic children never smoke or drink; an imported record may rightly
    # say a parent smokes, so this holds for synthetic cases only.
    young = case.demographics.age < CHILD_AGE and case.source == "synthetic"
    if young and any(f.topic in ("smoking", "alcohol") and not f.negative for f in history):
        out.append("a child with smoking or alcohol use")
    if sum(f.disclosure == "volunteered" for f in case.facts) != 1:
        out.append("exactly one fact must be volunteered")
    return out


def _streams(seed: int, index: int) -> Iterator[random.Random]:
    for attempt in range(MAX_REDRAWS):
        yield random.Random(f"{seed}:{index}:{attempt}")


def generate(
    n: int,
    seed: int = 0,
    *,
    kb: KnowledgeBase | None = None,
    atypical_rate: float = ATYPICAL_RATE,
    min_facts: int = 15,
    min_rubric: int = 8,
) -> list[Case]:
    """Generate ``n`` unique, consistent cases.

    Conditions are visited in a seeded round-robin order for the first pass
    (so every condition appears once ``n`` reaches the size of the base), then
    drawn by prevalence.

    Args:
        n: How many cases.
        seed: Seed; the same seed gives the same cases in the same order.
        kb: Knowledge base (default: the shipped one).
        atypical_rate: Share of atypical presentations.
        min_facts: Fewest facts a case may have.
        min_rubric: Fewest rubric items a case may have.

    Returns:
        The cases.

    Raises:
        SynthesisError: if some case cannot be drawn unique and consistent.
    """
    kb = kb or load_kb()
    order = sorted(kb.conditions, key=lambda c: c.id)
    random.Random(seed).shuffle(order)
    weights = [c.prevalence for c in order]
    seen: set[str] = set()
    out: list[Case] = []
    for i in range(n):
        picker = random.Random(f"{seed}:{i}:condition")
        cond = order[i] if i < len(order) else picker.choices(order, weights=weights)[0]
        for rng in _streams(seed, i):
            case, h = _drawn(kb, cond, rng, atypical_rate)
            if (
                h not in seen
                and len(case.facts) >= min_facts
                and len(case.rubric) >= min_rubric
                and not consistency_problems(case)
            ):
                seen.add(h)
                out.append(case)
                break
        else:
            raise SynthesisError(f"case {i}: no unique consistent case of {cond.id} in {MAX_REDRAWS} draws")
    return out
