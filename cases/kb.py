"""The disease knowledge base: schema, loading and cross-reference checks.

The knowledge base lives in ``cases/kb/*.json``, one file per group of organ
systems, plus ``cases/kb/complaints.json``. Every synthetic case is drawn from
it, so the checks here are what keeps thousands of cases consistent: every
topic a finding names exists, every differential is a condition in the base,
every complaint is a known complaint, and child-onset conditions say how a
caregiver would phrase each finding.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import Field, field_validator, model_validator

from arena.core.errors import parse_data_file
from arena.core.types import Case, FileRecord, NonEmpty
from cases.knowledge import topics
from cases.text import normalise

HistoryCategory = Literal["hpi", "ros", "pmh", "medications", "allergies", "social", "family"]


class KBError(ValueError):
    """The knowledge base is malformed; the message names file and field."""


class Complaint(FileRecord):
    """A chief complaint a patient can come with."""

    id: NonEmpty
    """Identifier, e.g. ``chest_pain``."""
    label: NonEmpty
    """Readable name, e.g. ``chest pain``."""
    topic: NonEmpty
    """History topic of the volunteered fact, e.g. ``location`` or ``breathlessness``."""
    keywords: list[str] = Field(default_factory=list)
    """Lay words that signal the complaint in an opening line."""


class Finding(FileRecord):
    """Something the patient can tell: a symptom, a risk factor, a history item."""

    id: NonEmpty
    """Identifier unique within the condition, e.g. ``radiation_arm``."""
    topic: NonEmpty
    """History topic from ``data/topics.json``."""
    category: HistoryCategory = "hpi"
    """Where it belongs in the history."""
    text: NonEmpty
    """Clinical wording."""
    lay: list[NonEmpty] = Field(min_length=1)
    """First-person lay phrasings; one is picked per case."""
    lay_caregiver: list[NonEmpty] = Field(default_factory=list)
    """The same said by a parent about a child; required where the condition occurs under 12."""
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    """Chance the finding is present in a case of this condition."""
    hallmark: bool = False
    """A classic feature; atypical presentations usually lack it."""
    keywords: list[str] = Field(default_factory=list)
    """Extra words that point at it in a question."""


class Onset(FileRecord):
    """One way the illness can start."""

    text: NonEmpty
    """Clinical wording, e.g. ``Sudden onset 2 hours ago at rest``."""
    lay: list[NonEmpty] = Field(min_length=1)
    """First-person phrasings."""
    lay_caregiver: list[NonEmpty] = Field(default_factory=list)
    """Caregiver phrasings."""
    weight: float = Field(default=1.0, gt=0)
    """Relative frequency among the condition's onsets."""


class ExamFinding(FileRecord):
    """A sign only an examination shows."""

    id: NonEmpty
    """Identifier unique within the condition."""
    topic: NonEmpty
    """Exam topic from ``data/topics.json`` (not ``vitals``: vital signs come from ``vitals``)."""
    text: NonEmpty
    """What the examiner finds."""
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    """Chance it is present."""
    normal_text: str = ""
    """What the examination shows when the sign is absent (empty: the exam is not reported)."""


class TestResult(FileRecord):
    """A test and its result in this condition."""

    id: NonEmpty
    """Identifier unique within the condition."""
    topic: NonEmpty
    """Test topic from ``data/topics.json``."""
    text: NonEmpty
    """Result wording; ``{value}`` is replaced by a number drawn from ``low``..``high``."""
    low: float | None = None
    """Lowest value drawn for ``{value}``."""
    high: float | None = None
    """Highest value drawn for ``{value}``."""
    decimals: int = Field(default=0, ge=0, le=3)
    """Decimals shown."""
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    """Chance the result is abnormal as described."""
    normal_text: str = ""
    """Result when not abnormal (empty: the test is not reported)."""
    key: bool = False
    """A test a good doctor must order (becomes an ``order`` rubric item)."""

    @model_validator(mode="after")
    def _range(self) -> TestResult:
        if "{value}" in self.text and (self.low is None or self.high is None or self.low > self.high):
            raise ValueError("text uses {value}: give low <= high")
        return self


class Vitals(FileRecord):
    """Ranges vital signs are drawn from."""

    hr: tuple[int, int] = (64, 92)
    """Heart rate, beats per minute."""
    sbp: tuple[int, int] = (112, 138)
    """Systolic blood pressure, mmHg (diastolic follows it)."""
    rr: tuple[int, int] = (12, 18)
    """Respiratory rate, per minute."""
    spo2: tuple[int, int] = (96, 99)
    """Oxygen saturation on air, percent."""
    temp: tuple[float, float] = (36.4, 37.2)
    """Temperature, degrees Celsius."""


class Population(FileRecord):
    """Who gets the condition."""

    age_min: int = Field(ge=0, le=110)
    """Youngest plausible age in years."""
    age_max: int = Field(ge=0, le=110)
    """Oldest plausible age in years."""
    sex: Literal["any", "female", "male"] = "any"
    """Sex the condition occurs in."""
    female_share: float = Field(default=0.5, ge=0.0, le=1.0)
    """Share of women when ``sex`` is ``any``."""
    pregnant: bool = False
    """Whether the patient is pregnant (female, 15-48)."""

    @model_validator(mode="after")
    def _ages(self) -> Population:
        if self.age_min > self.age_max:
            raise ValueError("age_min must not exceed age_max")
        if self.pregnant and (self.sex != "female" or self.age_min < 14 or self.age_max > 50):
            raise ValueError("pregnant conditions need sex 'female' and ages within 14-50")
        return self


class Presentation(FileRecord):
    """How a patient with the condition states a chief complaint."""

    complaint: NonEmpty
    """Complaint id from ``complaints.json``."""
    lay: list[NonEmpty] = Field(min_length=1)
    """First-person opening lines."""
    lay_caregiver: list[NonEmpty] = Field(default_factory=list)
    """Opening lines of a parent."""
    weight: float = Field(default=1.0, gt=0)
    """Relative frequency."""


class MustAsk(FileRecord):
    """A question a good doctor must ask, and why."""

    id: NonEmpty
    """Identifier unique within the condition."""
    criterion: NonEmpty
    """Rubric wording, e.g. ``Asks whether the pain radiates to the arm or jaw``."""
    topics: list[NonEmpty] = Field(min_length=1)
    """History topics the question covers; the rubric item checks the case's facts on them."""
    reason: NonEmpty
    """Why it matters clinically."""
    points: int = Field(default=5, ge=1, le=10)
    """Points when asked."""


class Harm(FileRecord):
    """A harmful omission, scored with negative points."""

    id: NonEmpty
    """Identifier unique within the condition."""
    criterion: NonEmpty
    """Rubric wording of the harm, e.g. ``Discharges without an ECG``."""
    missing_tests: list[NonEmpty] = Field(min_length=1)
    """Test or exam topics whose omission is the harm."""
    points: int = Field(default=-8, ge=-10, le=-1)
    """Negative points."""


class Condition(FileRecord):
    """One condition of the knowledge base."""

    id: NonEmpty
    """Slug, e.g. ``stemi``."""
    name: NonEmpty
    """Preferred name."""
    icd10: NonEmpty
    """ICD-10 code."""
    synonyms: list[str] = Field(default_factory=list)
    """Names that count as the same diagnosis (never a broader or different disease)."""
    lay_terms: list[str] = Field(default_factory=list)
    """What patients call it (``heart attack``)."""
    organ_system: NonEmpty
    """Organ system."""
    must_not_miss: bool = False
    """Dangerous if missed."""
    prevalence: float = Field(default=1.0, gt=0, le=100)
    """Relative frequency in the case mix (1 = rare, 10 = very common)."""
    population: Population
    """Who gets it."""
    presentations: list[Presentation] = Field(min_length=1)
    """Chief complaints it presents with."""
    onsets: list[Onset] = Field(min_length=1)
    """How it starts."""
    findings: list[Finding] = Field(min_length=4)
    """Symptoms and history items (with probabilities)."""
    negatives: list[Finding] = Field(min_length=2)
    """Pertinent negatives typical of it (``probability`` = chance it is recorded)."""
    vitals: Vitals = Field(default_factory=Vitals)
    """Vital-sign ranges."""
    exam: list[ExamFinding] = Field(min_length=1)
    """Examination findings."""
    tests: list[TestResult] = Field(min_length=1)
    """Test results."""
    differentials: list[NonEmpty] = Field(min_length=1)
    """Ids of conditions to consider instead."""
    red_flags: list[NonEmpty] = Field(min_length=1)
    """Features that should alarm a doctor."""
    must_ask: list[MustAsk] = Field(min_length=3)
    """Must-ask questions."""
    harms: list[Harm] = Field(min_length=1)
    """Harmful omissions."""
    management: list[NonEmpty] = Field(min_length=1)
    """Typical management steps."""
    plan_keywords: list[NonEmpty] = Field(min_length=1)
    """Lower-case words a good plan mentions (safety-netting, disposition, key treatment)."""

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not all(ch.isalnum() or ch == "-" for ch in v) or v.lower() != v:
            raise ValueError("id must be a lower-case slug (letters, digits, hyphens)")
        return v


class KBFile(FileRecord):
    """One knowledge-base file."""

    doc: str = Field(default="", alias="_doc")
    """What the file covers."""
    conditions: list[Condition] = Field(min_length=1)
    """Its conditions."""


class ComplaintsFile(FileRecord):
    """The complaints file."""

    doc: str = Field(default="", alias="_doc")
    """What the file is."""
    complaints: list[Complaint] = Field(min_length=1)
    """Every complaint."""


class KnowledgeBase:
    """All conditions and complaints, indexed."""

    def __init__(self, conditions: list[Condition], complaints: list[Complaint]) -> None:
        """Index the conditions and complaints (no checks; see :func:`check_kb`)."""
        self.conditions = conditions
        self.by_id = {c.id: c for c in conditions}
        self.complaints = {c.id: c for c in complaints}


def _kb_dir():  # type: ignore[no-untyped-def]
    return resources.files("cases").joinpath("kb")


def _parse(name: str, model: type[KBFile] | type[ComplaintsFile]) -> KBFile | ComplaintsFile:
    raw = _kb_dir().joinpath(name).read_text("utf-8")
    return parse_data_file(model, raw, f"cases/kb/{name}", KBError)


@cache
def load_kb() -> KnowledgeBase:
    """Load and check the whole knowledge base.

    Raises:
        KBError: naming the file and field of the first problem.
    """
    complaints = _parse("complaints.json", ComplaintsFile)
    assert isinstance(complaints, ComplaintsFile)
    conditions: list[Condition] = []
    for entry in sorted(_kb_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json") and entry.name != "complaints.json":
            f = _parse(entry.name, KBFile)
            assert isinstance(f, KBFile)
            conditions.extend(f.conditions)
    kb = KnowledgeBase(conditions, complaints.complaints)
    problems = check_kb(kb)
    if problems:
        raise KBError(f"{len(problems)} problem(s) in cases/kb; first: {problems[0]}")
    return kb


def check_kb(kb: KnowledgeBase) -> list[str]:
    """Return every cross-reference and consistency problem, one line each."""
    vocab = topics()
    out: list[str] = []
    seen: set[str] = set()
    for cmp in kb.complaints.values():
        if cmp.topic not in vocab or vocab[cmp.topic].kind != "history":
            out.append(f"complaint {cmp.id}: topic {cmp.topic!r} is not a history topic")
    for c in kb.conditions:
        where = f"condition {c.id}"
        if c.id in seen:
            out.append(f"{where}: duplicate id")
        seen.add(c.id)
        child = c.population.age_min < 12
        for p in c.presentations:
            if p.complaint not in kb.complaints:
                out.append(f"{where}: unknown complaint {p.complaint!r}")
            if child and not p.lay_caregiver:
                out.append(f"{where}: presentation {p.complaint} needs lay_caregiver (ages under 12)")
        for o in c.onsets:
            if child and not o.lay_caregiver:
                out.append(f"{where}: onset {o.text!r} needs lay_caregiver")
        ids: set[str] = set()
        for f in [*c.findings, *c.negatives]:
            if f.id in ids:
                out.append(f"{where}: duplicate finding id {f.id!r}")
            ids.add(f.id)
            if f.topic not in vocab or vocab[f.topic].kind != "history":
                out.append(f"{where}: finding {f.id}: {f.topic!r} is not a history topic")
            if child and not f.lay_caregiver:
                out.append(f"{where}: finding {f.id} needs lay_caregiver")
        pos_topics = {f.topic for f in c.findings}
        for n in c.negatives:
            if n.topic in pos_topics:
                out.append(f"{where}: negative {n.id} shares topic {n.topic!r} with a positive finding")
        for e in c.exam:
            if e.topic not in vocab or vocab[e.topic].kind != "exam" or e.topic == "vitals":
                out.append(f"{where}: exam {e.id}: {e.topic!r} is not an exam topic other than vitals")
        for t in c.tests:
            if t.topic not in vocab or vocab[t.topic].kind != "test":
                out.append(f"{where}: test {t.id}: {t.topic!r} is not a test topic")
        if not any(t.key for t in c.tests):
            out.append(f"{where}: no key test")
        for m in c.must_ask:
            for tp in m.topics:
                if tp not in vocab or vocab[tp].kind != "history":
                    out.append(f"{where}: must_ask {m.id}: {tp!r} is not a history topic")
        test_topics = {t.topic for t in c.tests} | {e.topic for e in c.exam} | {"vitals"}
        for h in c.harms:
            for tp in h.missing_tests:
                if tp not in test_topics:
                    out.append(f"{where}: harm {h.id}: {tp!r} is not among its tests or exams")
    for c in kb.conditions:
        for d in c.differentials:
            if d not in kb.by_id:
                out.append(f"condition {c.id}: differential {d!r} is not in the knowledge base")
            elif d == c.id:
                out.append(f"condition {c.id}: lists itself as a differential")
    return out


def find_condition(kb: KnowledgeBase, diagnosis: str) -> Condition | None:
    """Return the condition whose name or synonym a free-text diagnosis names.

    An exact (normalised) match wins; otherwise the longest name contained in
    the text. None when nothing matches.
    """
    said = normalise(diagnosis)
    best: tuple[int, Condition] | None = None
    for c in kb.conditions:
        for n in (c.name, *c.synonyms):
            nn = normalise(n)
            if nn == said:
                return c
            if nn.strip() and nn in said and (best is None or len(nn) > best[0]):
                best = (len(nn), c)
    return best[1] if best else None


def condition_of(case: Case) -> Condition | None:
    """Return the knowledge-base condition ``case`` is a case of, or None.

    A synthetic case names its condition in its id (``<condition>-<hash>``).
    Any other case is matched by its diagnosis, as the importers match it:
    by name or synonym (:func:`find_condition`).
    """
    kb = load_kb()
    if case.source == "synthetic":
        cond = kb.by_id.get(case.id.rsplit("-", 1)[0])
        if cond is not None:
            return cond
    return find_condition(kb, case.diagnosis.name)
