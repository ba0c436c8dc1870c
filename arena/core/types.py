"""Every record that crosses a stage boundary, as pydantic v2 models.

Stages read and write only these types, so a stage can be re-run alone on a
stored run. Records read from files forbid unknown keys so a typo in a case
file is an error, not a silently ignored field. Stored records carry a
``schema_version`` so readers can tell which shape they hold.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1
"""Version of the stored record shapes; bump it with a store migration."""

Role = Literal["doctor", "patient", "measurement", "case", "judge", "distiller"]
"""Who produced a record. ``case`` is the case itself, written out for the doctor (a vignette, a
summary, answer options) rather than said by the patient."""
FactCategory = Literal[
    "demographics", "hpi", "pmh", "medications", "allergies", "social", "family", "ros", "exam", "test"
]
Disclosure = Literal["volunteered", "on_ask", "exam", "test"]
StopReason = Literal["final_answer", "max_turns", "error", "timeout"]
Verdict3 = Literal["met", "not_met", "unscored"]
DiagnosisMatch = Literal["exact", "partial", "wrong", "missing"]
DiagnosisGrade = Literal["exact", "close", "related", "unrelated", "missing"]
"""The five-point diagnosis grade, best first: ``exact``; ``close`` (the same condition named less
specifically, or a close subtype); ``related`` (a condition that would lead to the right work-up);
``unrelated``; ``missing`` (no diagnosis)."""
DIAGNOSIS_GRADES: tuple[DiagnosisGrade, ...] = get_args(DiagnosisGrade)
"""The grades, best first."""
GRADE_POINTS: dict[DiagnosisGrade, int] = {g: 5 - i for i, g in enumerate(DIAGNOSIS_GRADES)}
"""Each grade on the 1-5 scale: 5 for ``exact`` down to 1 for ``missing``."""
ConsultFormat = Literal["dialogue", "vignette", "summary"]
"""How a case reaches the doctor: ``dialogue`` (a consultation with the patient), ``vignette`` (the
case's history, examination and results in one message, answered once) or ``summary`` (the facts a
dialogue of the same case drew out, in one message, answered once)."""
CONSULT_FORMATS: tuple[ConsultFormat, ...] = get_args(ConsultFormat)
"""Every format, dialogue first."""
DEFAULT_FORMAT: ConsultFormat = "dialogue"
"""The format of a run that names none, and of consultations stored before formats existed."""


def first_format(played: Iterable[str]) -> ConsultFormat:
    """The first of dialogue, vignette, summary among ``played``; dialogue when none is.

    A run's headline figures, its comparisons and each doctor's noise floor are read in this format.
    """
    seen = set(played)
    return next((f for f in CONSULT_FORMATS if f in seen), DEFAULT_FORMAT)


RiskLevel = Literal["low", "medium", "high", "critical"]
RISK_LEVELS: tuple[RiskLevel, ...] = get_args(RiskLevel)
"""The risk levels, least to most severe."""
RISK_ORDER: dict[RiskLevel, int] = {level: i for i, level in enumerate(RISK_LEVELS)}
"""Each risk level's rank, 0 for the least severe: compare ranks, never the words."""
MistakeCategory = Literal["history_taking", "diagnosis", "test_ordering", "safety", "communication", "management"]
Speaker = Literal["self", "caregiver"]
RunStatus = Literal["running", "finished", "failed", "interrupted", "budget_reached"]

NonEmpty = Annotated[str, Field(min_length=1)]


class MatcherBackend(StrEnum):
    """The matcher backends known by name; any other ``provider/model`` name is a litellm embedding model."""

    LEXICAL = "lexical"
    """BM25 with spelling repair; no extra dependencies (the default)."""
    MINILM = "minilm"
    """MiniLM sentence embeddings (the ``minilm`` extra)."""


DEFAULT_MATCHER = MatcherBackend.LEXICAL
"""The matcher backend used when none is named."""
DEFAULT_PERSONA = "plain"
"""The persona (and its style) a patient speaks with when none is named."""
DEFAULT_GATEKEEPER = "builtin/case"
"""The gatekeeper that answers exam and test requests: the case's results, else the condition's typical
ones, else reference-normal ones."""
# The next two sit here, with the other defaults, so the command line can show them
# without importing the synthesizer or the distiller at start-up.
ATYPICAL_RATE = 0.15
"""Share of synthesized cases with an atypical presentation, unless asked otherwise."""
DEFAULT_THRESHOLD = 0.8
"""Jaccard similarity of two mistakes' signatures at or above which the distiller merges them."""


class SynthesisRule(StrEnum):
    """Why a simulated reply says something the case does not state (see :class:`Synthesized`)."""

    DENIAL = "denial"
    """The case is silent and its condition does not typically cause it: what a patient without it says."""
    CONDITION_TYPICAL = "condition_typical"
    """The case is silent but its condition typically causes it: the condition's own finding."""
    UNKNOWABLE = "unknowable"
    """Something a real patient would not know (a relative's history, a confused persona)."""
    REFERENCE_NORMAL = "reference_normal"
    """An exam or test the case does not list, reported from the reference table of normal results."""
    CONDITION_FINDING = "condition_finding"
    """An exam or test the case does not list, reported as its condition typically changes it."""
    GATEKEEPER_MODEL = "gatekeeper_model"
    """An exam or test the case does not list, written by the gatekeeper model from the case."""


SimulatorCause = Literal["withheld", "denied", "contradicted"]
"""How the simulated side caused a failed rubric item: asked about a fact or ordered a test, it held the
fact back, denied it, or said the opposite."""


class CommitteeRule(StrEnum):
    """How a committee of judges combines its verdicts (see :mod:`judges.committee`)."""

    MAJORITY = "majority"
    MEAN = "mean"
    UNANIMOUS = "unanimous"
    WEIGHTED = "weighted"


DEFAULT_RULE = CommitteeRule.MAJORITY
"""The committee's rule when none is named."""


class ExportSplit(StrEnum):
    """What an exported dataset's qa and mistakes are split by."""

    SYSTEM = "system"
    COMPLAINT = "complaint"


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class FileRecord(BaseModel):
    """Base for records read from user files: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class StoredRecord(BaseModel):
    """Base for records the store writes; carries the schema version."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    """Shape version of this record when it was written."""


# --------------------------------------------------------------------------- cases


class Fact(FileRecord):
    """One atomic finding about the patient."""

    id: NonEmpty
    """Identifier unique within the case, e.g. ``hpi.radiation``."""
    category: FactCategory
    """Where the fact belongs in a clinical history."""
    disclosure: Disclosure
    """How the fact becomes known: volunteered at the start, told when asked, or
    only through an examination or a test."""
    text: NonEmpty
    """The fact in clinical words, e.g. ``Pain radiates to the left arm``."""
    lay: str = ""
    """The same fact in the patient's own words; empty means use ``text``."""
    topic: NonEmpty
    """Short topic a question must be about to elicit the fact, e.g. ``radiation``
    or, for exams and tests, the name of the exam or test (``ECG``)."""
    keywords: list[str] = Field(default_factory=list)
    """Extra words and synonyms that point at this fact in a question."""
    negative: bool = False
    """True for a pertinent negative ("no fever")."""


class RubricCheck(FileRecord):
    """A machine-checkable form of a rubric item, used by the built-in judge."""

    kind: Literal["elicit", "order", "diagnose", "mention"]
    """``elicit``: the doctor drew out one of ``targets`` (fact ids);
    ``order``: the doctor requested one of ``targets`` (fact ids of exams/tests);
    ``diagnose``: the final diagnosis matches the case's;
    ``mention``: one of ``targets`` (words) appears in what the doctor said or planned."""
    targets: list[str] = Field(default_factory=list)
    """Fact ids or words, depending on ``kind``."""
    met_when: Literal["present", "absent"] = "present"
    """Whether the criterion is met when the event happened or when it did not
    (harmful omissions such as "discharges without an ECG" use ``absent``)."""


class RubricItem(FileRecord):
    """One HealthBench-style criterion with points; negative points mark harm."""

    id: NonEmpty
    """Identifier unique within the case."""
    criterion: NonEmpty
    """What the judge decides, phrased so that "met" is what the points reward
    (or, for negative points, the harmful thing that happened)."""
    points: float
    """Points when met; negative for harmful behaviour; never zero."""
    tags: list[str] = Field(default_factory=list)
    """Tags such as ``axis:history``, ``axis:safety``, ``priority:must``."""
    check: RubricCheck | None = None
    """Optional structured form for the built-in judge."""

    @field_validator("points")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("points must not be zero")
        return v

    @property
    def axis(self) -> str:
        """The item's ``axis:`` tag without its prefix, or ``other``."""
        for t in self.tags:
            if t.startswith("axis:"):
                return t.split(":", 1)[1]
        return "other"


class Diagnosis(FileRecord):
    """A named condition."""

    name: NonEmpty
    """Preferred name."""
    icd10: str = ""
    """ICD-10 code, e.g. ``I21.9``."""
    synonyms: list[str] = Field(default_factory=list)
    """Other names that count as the same diagnosis."""


class Demographics(FileRecord):
    """Who the patient is."""

    age: int = Field(ge=0, le=120)
    """Age in years."""
    sex: Literal["female", "male"]
    """Sex recorded at birth, as clinically relevant."""
    name: str = ""
    """A made-up name the patient may give."""


class Case(FileRecord):
    """A synthetic patient: facts, a hidden diagnosis and a rubric."""

    schema_version: int = SCHEMA_VERSION
    """Shape version of the case record."""
    id: NonEmpty
    """Identifier unique within a case bank."""
    title: str = ""
    """Short human label, never shown to the doctor."""
    source: str = "builtin"
    """Where the case came from: ``builtin``, ``synthetic``, an importer name."""
    chief_complaint: NonEmpty
    """What the patient opens with, in their own words."""
    organ_system: str = ""
    """Organ system of the diagnosis, for breakdowns."""
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    """How hard the case is meant to be."""
    complaint: str = ""
    """Chief-complaint id from the knowledge base (``chest_pain``), for breakdowns."""
    atypical: bool = False
    """Whether the presentation lacks the condition's classic features."""
    demographics: Demographics
    """Age and sex."""
    speaker: Speaker = "self"
    """Who answers: the patient or a caregiver (young children)."""
    facts: list[Fact] = Field(min_length=1)
    """Everything true about this patient that the consultation can reveal."""
    diagnosis: Diagnosis
    """The hidden diagnosis; never shown to the doctor or said by the patient."""
    differentials: list[Diagnosis] = Field(default_factory=list)
    """Plausible alternatives a good doctor considers."""
    rubric: list[RubricItem] = Field(min_length=1)
    """Criteria the consultation is judged on."""
    # Left out of dumps when empty: a case without options hashes, and reads in a file, as it did
    # before options existed (synthesized case ids are content hashes).
    options: list[str] = Field(default_factory=list, exclude_if=lambda v: not v)
    """Answer options for the diagnosis, when the source offers them (imported MedQA and MediQ
    questions); the diagnosis is among them. Shown to the doctor only under ``--choices``."""

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        ids = [f.id for f in self.facts]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate fact ids: {sorted(dup)}")
        rids = [r.id for r in self.rubric]
        rdup = {i for i in rids if rids.count(i) > 1}
        if rdup:
            raise ValueError(f"duplicate rubric ids: {sorted(rdup)}")
        known = set(ids)
        for item in self.rubric:
            if item.check and item.check.kind in ("elicit", "order"):
                missing = [t for t in item.check.targets if t not in known]
                if missing:
                    raise ValueError(f"rubric item {item.id!r} names unknown facts {missing}")
        if not any(r.points > 0 for r in self.rubric):
            raise ValueError("rubric needs at least one item with positive points")
        if self.options and self.diagnosis.name not in self.options:
            raise ValueError(f"options do not include the diagnosis {self.diagnosis.name!r}")
        return self

    def fact(self, fact_id: str) -> Fact:
        """Return the fact with this id.

        Raises:
            KeyError: if the case has no such fact.
        """
        for f in self.facts:
            if f.id == fact_id:
                return f
        raise KeyError(fact_id)


BiasName = Literal[
    "recency",
    "frequency",
    "false_consensus",
    "self_diagnosis",
    "gender",
    "race",
    "sexual_orientation",
    "cultural",
    "education",
    "religion",
    "socioeconomic",
]
PersonaKind = Literal["style", "bias", "proxy"]
PERSONA_PLACEHOLDERS = frozenset({"complaint", "relation", "name", "he", "him", "his"})
"""Fields a persona's lines may use: the chief complaint, and for a proxy who
the patient is to them (``son``), the patient's first name and pronouns."""


def _known_placeholders(v: str) -> str:
    """Return ``v`` if every ``{field}`` in it is a known persona placeholder."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(v) if f is not None}
    except ValueError as e:
        raise ValueError(f"malformed placeholder: {e}") from None
    unknown = sorted(names - PERSONA_PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}} (known: {', '.join(sorted(PERSONA_PLACEHOLDERS))})")
    return v


class PersonaBias(FileRecord):
    """A belief or attitude the patient voices; it never changes a fact."""

    name: BiasName
    """Which cognitive or social bias it plays."""
    beliefs: list[NonEmpty] = Field(min_length=1)
    """Lines that voice it; one is chosen per case (never one naming the case's
    diagnosis), said after the opening and once more later."""
    repeat_after: int = Field(default=3, ge=1)
    """The answer after which the belief is said a second time."""

    @field_validator("beliefs")
    @classmethod
    def _placeholders(cls, v: list[str]) -> list[str]:
        return [_known_placeholders(x) for x in v]


class PersonaWillingness(FileRecord):
    """Sensitive facts the patient holds back until asked again."""

    guarded: list[NonEmpty] = Field(min_length=1)
    """Fact topics or categories held back (``alcohol``, ``social``)."""
    asks: int = Field(default=2, ge=2, le=5)
    """How many times the doctor must ask before a guarded fact is told."""
    deflections: list[NonEmpty] = Field(min_length=1)
    """What the patient says instead while holding back."""

    @field_validator("deflections")
    @classmethod
    def _placeholders(cls, v: list[str]) -> list[str]:
        return [_known_placeholders(x) for x in v]


class Persona(FileRecord):
    """How a patient talks; never what is true about them."""

    id: NonEmpty
    """Identifier used on the command line."""
    kind: PersonaKind = "style"
    """A communication ``style``, a ``bias`` the patient voices, or a ``proxy``
    (caregiver) who speaks for the patient."""
    style: str = DEFAULT_PERSONA
    """Communication style, e.g. ``terse``, ``anxious``."""
    description: str = ""
    """A sentence the LLM patient prompt uses to set the voice."""
    opening: str = "{complaint}"
    """Format of the opening line; ``{complaint}`` is the chief complaint."""
    unknown_reply: str = "I'm not sure."
    """What the patient says when the facts do not cover a question."""
    denial_reply: str = "No, I don't think so."
    """What the patient says when the facts imply a denial."""
    diagnosis_reply: str = "I was hoping you could tell me, doctor."
    """What the patient says when asked for the diagnosis."""
    not_checked_reply: str = "I don't know, I haven't had that checked."
    """What the patient says when asked for an examination or test result."""
    unclear_reply: str = "Sorry, I'm not sure what you mean."
    """What the patient says to a question that matches nothing."""
    lead_ins: list[str] = Field(default_factory=list)
    """Words one of which may start an answer (an empty entry means none)."""
    tails: list[str] = Field(default_factory=list)
    """Words one of which may end an answer (an empty entry means none)."""
    vocabulary: dict[NonEmpty, str] = Field(default_factory=dict)
    """Phrases the patient says differently (``medication`` -> ``pills``),
    matched as whole words, case-insensitively."""
    drop: list[NonEmpty] = Field(default_factory=list)
    """Filler phrases the patient leaves out."""
    expand_contractions: bool = False
    """Say ``I am`` for ``I'm``: simpler, more formal grammar."""
    third_person: bool = False
    """Speak about the patient (he/she) rather than as the patient."""
    rules: list[NonEmpty] = Field(default_factory=list)
    """Extra voice rules for the LLM patient's prompt."""
    bias: PersonaBias | None = None
    """The belief a ``bias`` persona voices."""
    willingness: PersonaWillingness | None = None
    """Sensitive facts held back until asked again."""

    @field_validator(
        "opening", "unknown_reply", "denial_reply", "diagnosis_reply", "not_checked_reply", "unclear_reply"
    )
    @classmethod
    def _placeholders(cls, v: str) -> str:
        return _known_placeholders(v)

    @field_validator("lead_ins", "tails")
    @classmethod
    def _list_placeholders(cls, v: list[str]) -> list[str]:
        return [_known_placeholders(x) for x in v]

    @model_validator(mode="after")
    def _kind_matches(self) -> Persona:
        if (self.kind == "bias") != (self.bias is not None):
            raise ValueError("a bias persona needs 'bias', and only a bias persona may have one")
        if (self.kind == "proxy") != self.third_person:
            raise ValueError("a proxy persona speaks in the third person, and only a proxy does")
        return self


# --------------------------------------------------------------------------- dialogue


class FinalAnswer(BaseModel):
    """The doctor's structured conclusion."""

    model_config = ConfigDict(extra="ignore")

    diagnosis: str = ""
    """Most likely diagnosis, free text."""
    differential: list[str] = Field(default_factory=list)
    """Other diagnoses considered, most likely first."""
    plan: str = ""
    """Management plan: tests, treatment, disposition, safety-netting."""


class DoctorAction(BaseModel):
    """What the doctor does on one turn."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["ask", "exam", "test", "final"]
    """Ask the patient, request an examination or a test, or conclude."""
    text: str = ""
    """What the doctor says (the question, or the request in words)."""
    request: str = ""
    """Name of the examination or test requested."""
    final: FinalAnswer | None = None
    """The conclusion, when ``kind`` is ``final``."""
    parse_error: str = ""
    """Set when the model's output could not be parsed cleanly."""


class GuardEvent(BaseModel):
    """One intervention of the hallucination guard on a patient reply."""

    model_config = ConfigDict(extra="forbid")

    claim: str
    """The claim that the facts did not support."""
    action: Literal["regenerated", "replaced"]
    """What the guard did about it."""
    reason: str = Field(default="", exclude_if=lambda v: not v)
    """Why the claim was rejected: ``unsupported``, ``contradicts <fact id>``, ``names the diagnosis``."""
    attempt: int = Field(default=0, exclude_if=lambda v: not v)
    """Which try of the reply held the claim (0 is the model's first answer).

    Both added fields are left out of stored records when empty, so events
    written before they existed read and compare as before."""


class Usage(BaseModel):
    """Tokens, cost and calls for one role."""

    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    """Model calls made."""
    prompt_tokens: int = 0
    """Input tokens."""
    completion_tokens: int = 0
    """Output tokens."""
    cost_usd: float = 0.0
    """Cost as litellm reports it; zero for built-in policies."""
    retries: int = 0
    """Calls that failed with a transient error and were made again."""
    rate_wait_s: float = 0.0
    """Seconds spent waiting for a rate limit before calls."""

    def add(self, other: Usage) -> None:
        """Add another usage record into this one in place."""
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd
        self.retries += other.retries
        self.rate_wait_s += other.rate_wait_s


class Synthesized(BaseModel):
    """One thing a simulated reply said that the case does not state, and the rule that made it."""

    model_config = ConfigDict(extra="forbid")

    topic: str
    """The history, exam or test topic it answers."""
    rule: SynthesisRule
    """Which rule produced it."""
    text: str
    """What was said for it."""
    source: str = Field(default="", exclude_if=lambda v: not v)
    """Where it came from (``kb:<condition>/<finding>``, ``reference:<topic>``, a model name)."""


class CareItem(BaseModel):
    """One priced item of care: the visit, an examination or a test."""

    model_config = ConfigDict(extra="forbid")

    item: str
    """The price list's id for it."""
    price: float = Field(ge=0)
    """What it cost, in the consultation's currency."""
    turn: int | None = Field(default=None, exclude_if=lambda v: v is None)
    """The turn that ordered it (None for the visit)."""


class CareCost(BaseModel):
    """What a consultation's care cost."""

    model_config = ConfigDict(extra="forbid")

    currency: str
    """ISO 4217 code of every price here."""
    total: float = Field(ge=0)
    """Sum of the items."""
    items: list[CareItem] = Field(default_factory=list)
    """The visit and every order, in the order they were made."""


class Turn(StoredRecord):
    """One utterance in a consultation."""

    consultation_id: str
    """The consultation this turn belongs to."""
    index: int = Field(ge=0)
    """Position in the consultation, from 0."""
    role: Role
    """Who spoke: doctor, patient or the measurement agent."""
    content: str
    """What was said."""
    action: DoctorAction | None = None
    """The parsed doctor action, for doctor turns."""
    revealed: list[str] = Field(default_factory=list)
    """Fact ids this turn disclosed (patient and measurement turns)."""
    guard: list[GuardEvent] = Field(default_factory=list)
    """Hallucination-guard interventions on this reply."""
    synthesized: list[Synthesized] = Field(default_factory=list)
    """What this reply said that the case does not state (patient and measurement turns)."""
    usage: Usage = Field(default_factory=Usage)
    """Model usage for producing this turn."""
    created_at: datetime = Field(default_factory=utcnow)
    """When the turn was produced."""


class Transcript(StoredRecord):
    """One finished (or failed) consultation."""

    id: str
    """Consultation id."""
    run_id: str
    """The run it belongs to."""
    case_id: str
    """The case played."""
    trial: int = 0
    """Trial number when a case is played several times."""
    seed: int = 0
    """Seed given to stochastic policies."""
    doctor: str
    """Doctor model name (role: doctor)."""
    patient: str
    """Patient model name (role: patient)."""
    persona: str = DEFAULT_PERSONA
    """Persona id the patient spoke with."""
    format: ConsultFormat = DEFAULT_FORMAT
    """How the case reached the doctor (see :data:`ConsultFormat`)."""
    turns: list[Turn] = Field(default_factory=list)
    """Every utterance, in order."""
    final: FinalAnswer | None = None
    """The doctor's conclusion, if one was given."""
    stop_reason: StopReason
    """Why the consultation ended."""
    error: str | None = None
    """The error that ended it, when ``stop_reason`` is ``error`` or ``timeout``."""
    usage: dict[str, Usage] = Field(default_factory=dict)
    """Usage per role."""
    started_at: datetime = Field(default_factory=utcnow)
    """When the consultation started."""
    finished_at: datetime = Field(default_factory=utcnow)
    """When it ended."""
    worker: str | None = None
    """Where it ran: ``node-id:pid`` of the Ray worker (None when run in-process)."""
    care: CareCost | None = None
    """What the visit and its orders cost (None for consultations stored before costs were kept)."""

    def doctor_turns(self) -> list[Turn]:
        """Return the doctor's turns in order."""
        return [t for t in self.turns if t.role == "doctor"]


# --------------------------------------------------------------------------- judging


class Verdict(StoredRecord):
    """One judge's decision on one rubric item of one consultation."""

    consultation_id: str
    """The consultation judged."""
    item_id: str
    """The rubric item judged."""
    judge: str
    """Name of the judge that decided (a model name or ``committee``)."""
    role: Role = "judge"
    """Always ``judge``; kept so every stored decision names its role."""
    outcome: Verdict3
    """``met``, ``not_met`` or ``unscored`` when the judge gave no usable answer."""
    points: float
    """The item's points, copied so scores need no case lookup."""
    tags: list[str] = Field(default_factory=list)
    """The item's tags, copied for per-axis scores."""
    explanation: str = ""
    """Why the judge decided so."""
    evidence_turns: list[int] = Field(default_factory=list)
    """Turn indices the judge pointed at."""
    simulator_cause: SimulatorCause | None = Field(default=None, exclude_if=lambda v: v is None)
    """For a failed item the simulated side caused: how it did (see :data:`SimulatorCause`)."""


class Score(StoredRecord):
    """A consultation's score from the committee's verdicts."""

    consultation_id: str
    """The consultation scored."""
    overall: float
    """HealthBench score: points met over positive points, clipped to [0, 1]."""
    raw: float
    """The same before clipping (negative items can push it below zero)."""
    by_axis: dict[str, float] = Field(default_factory=dict)
    """The same per ``axis:`` tag."""
    must_ask_coverage: float | None = None
    """Share of ``priority:must`` history items met; None when the case has none."""
    diagnosis: DiagnosisMatch
    """How the final diagnosis matched the case's."""
    grade: DiagnosisGrade | None = None
    """The final diagnosis on the five-point scale (None for scores stored before grades were kept)."""
    unscored: int = 0
    """Items no judge could decide."""
    left_out: int = 0
    """Rubric items that cannot apply to the consultation's format (history questions and orders
    in a vignette or a summary), left out of its score."""


class Mistake(StoredRecord):
    """A structured record of one failure, distilled from verdicts."""

    id: str
    """Stable id derived from its sources."""
    run_id: str
    """The run it came from."""
    consultation_id: str
    """The consultation it came from."""
    case_id: str
    """The case played."""
    doctor: str
    """The doctor model that made it."""
    item_id: str
    """The rubric item it failed (or ``diagnosis``)."""
    title: str
    """Short title."""
    description: str
    """Objective past-tense account: the action taken or not taken, the
    clinical context and the consequence."""
    category: MistakeCategory
    """Kind of mistake."""
    cause: str
    """Most likely cause, e.g. ``omission``, ``premature closure``."""
    tags: list[str] = Field(default_factory=list, max_length=10)
    """Up to ten tags."""
    risk: RiskLevel
    """How dangerous the mistake is."""
    turns: list[int] = Field(default_factory=list)
    """Turn indices the mistake concerns."""
    verdicts: list[str] = Field(default_factory=list)
    """The verdicts that found it, as ``judge`` names whose verdict on the item failed it."""
    cluster_id: str = ""
    """The cluster of near-duplicate mistakes it was merged into."""


class MistakeCluster(StoredRecord):
    """Near-duplicate mistakes merged into one, with every source kept."""

    id: str
    """Stable id (from its representative)."""
    run_id: str
    """The run."""
    representative: str
    """Id of the mistake that stands for the cluster."""
    title: str
    """The representative's title."""
    category: MistakeCategory
    """Shared category."""
    risk: RiskLevel
    """Highest risk among the members."""
    count: int
    """How many mistakes were merged."""
    members: list[str]
    """Ids of every merged mistake."""
    consultations: list[str]
    """Consultations the members came from."""
    doctors: list[str]
    """Doctors that made them."""


class QAItem(StoredRecord):
    """A single-shot question that reproduces a mistake."""

    id: str
    """Stable id."""
    mistake_id: str
    """The mistake it reproduces."""
    run_id: str
    """The run it came from."""
    scenario: str
    """Short vignette with every detail the mistake depends on and only what
    the patient disclosed."""
    question: str
    """The question that exposes the mistake."""
    answer: str
    """The expected answer."""
    rationale: str = ""
    """Why that answer is right."""
    options: list[str] = Field(default_factory=list)
    """Multiple-choice options (the answer is among them; the rest are distractors)."""
    grading: list[str] = Field(default_factory=list)
    """Rubric for grading a free-text answer, one criterion per entry."""
    cluster_id: str = ""
    """The mistake cluster it reproduces."""
    generator: str = "builtin/templates"
    """What wrote it: ``builtin/templates`` or a chat model name."""
    replicated: bool | None = None
    """Whether the doctor that made the mistake failed this item again (None: not tried)."""
    replication_answer: str = ""
    """What that doctor answered when it was put the item."""
    valid: bool = True
    """Whether the item passed validation."""
    rejection: str = ""
    """Why it was rejected, if it was."""


# --------------------------------------------------------------------------- runs


class RunConfig(BaseModel):
    """Everything that decides what a run does."""

    model_config = ConfigDict(extra="forbid")

    cases: int = Field(default=20, ge=1)
    """How many cases to play."""
    case_file: str | None = None
    """JSONL case file to play, ``builtin`` for the hand-written cases, or None
    to synthesize cases from the knowledge base."""
    doctor: str = "builtin/checklist"
    """The first (or only) doctor model name."""
    doctors: list[str] = Field(default_factory=list)
    """Every doctor of the run, in order; each plays every case and trial with
    the same seeds. Filled from ``doctor`` when left empty."""
    patient: str = "builtin/patient"
    """Patient model name."""
    guard_matcher: str = DEFAULT_MATCHER
    """Matcher backend of the hallucination guard on a model-played patient: ``lexical``, ``minilm``,
    or a litellm embedding model."""
    guard_verifier: str | None = None
    """Chat model that reviews the guard's rejections and its acceptances that are not firm; None
    trusts the matcher."""
    gatekeeper: str = DEFAULT_GATEKEEPER
    """Who answers exam and test requests: ``builtin/case``, or a chat model that writes the results a
    case lacks when the knowledge base does not know its condition."""
    judges: list[str] = Field(default_factory=lambda: ["builtin/rubric"])
    """Judge model names (the committee)."""
    persona: str = DEFAULT_PERSONA
    """Persona id, or ``mix`` for a seeded draw per case."""
    trials: int = Field(default=1, ge=1)
    """Trials per case."""
    formats: list[ConsultFormat] = Field(default_factory=lambda: [DEFAULT_FORMAT], min_length=1)
    """Formats each case is played in, by the same doctor with the same seed (``summary`` needs
    ``dialogue``: it summarizes that dialogue)."""
    choices: bool = False
    """Show the doctor a case's answer options (cases without options are played without)."""
    max_turns: int = Field(default=20, ge=1)
    """Doctor turns before the consultation is cut off."""
    concurrency: int = Field(default=64, ge=1)
    """Consultations in flight at once, over all actors."""
    actors: int | None = Field(default=None, ge=1)
    """Ray actors; None means one per CPU."""
    seed: int = 0
    """Seed for everything stochastic."""
    timeout_s: float | None = Field(default=None, gt=0)
    """Wall-clock limit per consultation; None for no limit."""
    max_cost_usd: float | None = Field(default=None, ge=0)
    """Stop scheduling new consultations once the run has cost this much."""

    @model_validator(mode="after")
    def _doctor_list(self) -> RunConfig:
        # ``doctor`` stays the first doctor so single-doctor code and stored
        # configs keep reading one name.
        if not self.doctors:
            self.doctors = [self.doctor]
        else:
            self.doctor = self.doctors[0]
        if len(set(self.doctors)) != len(self.doctors):
            raise ValueError("each --doctor may be given once")
        if len(set(self.formats)) != len(self.formats):
            raise ValueError("each --format may be given once")
        if "summary" in self.formats and "dialogue" not in self.formats:
            raise ValueError("--format summary needs dialogue too: a summary is made from the dialogue")
        # Dialogue first, so the dialogues a summary needs are scheduled before it.
        self.formats = [f for f in CONSULT_FORMATS if f in self.formats]
        return self


class RunProgress(BaseModel):
    """What the engine did with a run's consultations."""

    model_config = ConfigDict(extra="forbid")

    done: int = 0
    """Consultations that finished (final answer, turn cap)."""
    error: int = 0
    """Consultations that ended with an error or a timeout, kept with it."""
    unscheduled: int = 0
    """Consultations never started because the cost budget was reached."""
    restarted: int = 0
    """Consultations played again because their worker died."""
    retries: int = 0
    """Model calls retried after a transient failure."""
    cost_usd: float = 0.0
    """What the consultations' model calls cost."""


class Run(StoredRecord):
    """A batch of consultations."""

    id: str
    """Run id."""
    name: str
    """Human name."""
    config: RunConfig
    """What was asked for."""
    status: RunStatus = "running"
    """Lifecycle state."""
    created_at: datetime = Field(default_factory=utcnow)
    """When it started."""
    finished_at: datetime | None = None
    """When it ended."""


class RunSummary(BaseModel):
    """Headline figures of a run, as the CLI prints them."""

    run_id: str
    """The run."""
    name: str
    """Its name."""
    consultations: int
    """Consultations stored."""
    errors: int
    """Consultations that ended in an error."""
    distinct_cases: int
    """Distinct cases played."""
    diagnosis_accuracy: float | None
    """Share with an exact or partial diagnosis match."""
    must_ask_coverage: float | None
    """Mean must-ask coverage."""
    mean_score: float | None
    """Mean overall score."""
    mistakes: int
    """Mistake records."""
    qa_items: int
    """Valid QA items."""


class PatientReply(BaseModel):
    """What a patient policy (or the measurement agent) returns for one turn."""

    model_config = ConfigDict(extra="forbid")

    text: str
    """The reply."""
    revealed: list[str] = Field(default_factory=list)
    """Fact ids the reply disclosed."""
    guard: list[GuardEvent] = Field(default_factory=list)
    """Guard interventions made while producing it."""
    synthesized: list[Synthesized] = Field(default_factory=list)
    """What it said that the case does not state, and by which rule."""
    usage: Usage = Field(default_factory=Usage)
    """Model usage for producing it."""


# --------------------------------------------------------------------------- analysis


class Estimate(BaseModel):
    """A mean with its bootstrap 95% confidence interval."""

    model_config = ConfigDict(extra="forbid")

    mean: float
    """Point estimate."""
    low: float
    """Lower end of the 95% interval."""
    high: float
    """Upper end of the 95% interval."""
    n: int
    """Consultations it is computed over."""


class Agreement(BaseModel):
    """How far the judges of a committee agree, over one scope of rubric items."""

    model_config = ConfigDict(extra="forbid")

    scope: str
    """``all`` or an axis name such as ``history``."""
    judges: list[str]
    """The judges compared."""
    items: int
    """(Consultation, item) pairs that at least two judges scored."""
    fleiss_kappa: float | None = None
    """Fleiss' kappa over all judges (None when undefined)."""
    krippendorff_alpha: float | None = None
    """Krippendorff's alpha, nominal (None when undefined)."""
    cohen: dict[str, float] = Field(default_factory=dict)
    """Cohen's kappa per judge pair, keyed ``judge A | judge B``."""
    split: int = 0
    """Pairs on which the judges did not all agree."""
    percent_agreement: float | None = None
    """Share of pairs on which all scoring judges agreed."""


class JudgeCalibration(BaseModel):
    """One judge against reference labels."""

    model_config = ConfigDict(extra="forbid")

    judge: str
    """The judge."""
    n: int
    """Labelled (consultation, item) pairs it scored."""
    accuracy: float
    """Share of its verdicts equal to the label."""
    precision: float | None
    """Of its ``met`` verdicts, the share labelled met."""
    recall: float | None
    """Of the pairs labelled met, the share it called met."""


class SimulatorShare(BaseModel):
    """How many of one doctor's failed rubric items the simulated side caused (see :data:`SimulatorCause`)."""

    model_config = ConfigDict(extra="forbid")

    failed: int
    """Committee verdicts that counted against the doctor."""
    caused: int
    """Of those, the ones the patient or the gatekeeper caused."""
    by_cause: dict[SimulatorCause, int] = Field(default_factory=dict)
    """``caused`` split by how: withheld, denied, contradicted."""
    share: float | None = None
    """``caused`` over ``failed``; None when nothing failed."""
    low: float | None = None
    """Lower end of the share's 95% (Wilson) interval."""
    high: float | None = None
    """Upper end of the share's 95% (Wilson) interval."""


class ConsultationBrief(BaseModel):
    """One consultation in a report's list (e.g. the worst ones)."""

    model_config = ConfigDict(extra="forbid")

    consultation_id: str
    """The consultation."""
    case_id: str
    """Its case."""
    doctor: str
    """Its doctor."""
    diagnosis_given: str
    """The doctor's final diagnosis, or empty."""
    diagnosis_true: str
    """The case's diagnosis."""
    match: DiagnosisMatch
    """How they matched."""
    score: float
    """Overall score."""


class FormatFigures(BaseModel):
    """One doctor's figures in one format (see :data:`ConsultFormat`)."""

    model_config = ConfigDict(extra="forbid")

    accuracy: Estimate
    """Share of consultations whose diagnosis matched exactly or partially."""
    score: Estimate
    """Mean overall score, over the rubric items that apply to the format."""
    left_out: float = 0.0
    """Rubric items per consultation left out because they cannot apply to the format."""


class FormatGap(BaseModel):
    """A paired difference between two formats of the same cases, for one doctor and one measure."""

    model_config = ConfigDict(extra="forbid")

    doctor: str
    """The doctor."""
    measure: Literal["accuracy", "score"]
    """What is compared: diagnosis accuracy or overall score."""
    minuend: ConsultFormat
    """The format whose value comes first (``vignette`` in vignette minus dialogue)."""
    subtrahend: ConsultFormat
    """The format subtracted."""
    difference: float
    """Mean over paired consultations of minuend minus subtrahend."""
    low: float
    """Lower end of the paired bootstrap 95% interval."""
    high: float
    """Upper end of the paired bootstrap 95% interval."""
    pairs: int
    """Consultations paired: the same case, trial and doctor scored in both formats."""


class GradeFigures(BaseModel):
    """The five-point diagnosis grade over a set of consultations (see :data:`DiagnosisGrade`)."""

    model_config = ConfigDict(extra="forbid")

    shares: dict[DiagnosisGrade, float] = Field(default_factory=dict)
    """Share of consultations at each grade."""
    mean: Estimate
    """Mean grade on the 1-5 scale (see :data:`GRADE_POINTS`), with its 95% interval."""
    exact: float
    """Share graded ``exact``: the exact-match figure, kept beside the grade."""


class NoiseFloor(BaseModel):
    """How much one doctor's verdicts and score move between identical trials of a run.

    The figures come from one format only (dialogue when the doctor played it), so formats never
    mix; ``judges/noise.py`` defines each one.
    """

    model_config = ConfigDict(extra="forbid")

    format: ConsultFormat = DEFAULT_FORMAT
    """The format the figures come from: dialogue when the doctor played it, else the first it played."""
    trials: int
    """Trials per case the figures come from (the most any case was played in)."""
    cases: int
    """Cases played in at least two trials."""
    consultations: int
    """Scored consultations of the doctor in this format: the size of run the floor is for."""
    flip_rate: float
    """Share of pairs of trials whose committee verdicts on the same item of the same case differ
    (unscored verdicts left out)."""
    items_flipped: float
    """Share of (case, item) pairs scored in at least two trials whose verdict is not the same in every trial."""
    trial_sd: float
    """Standard deviation of a case's score between trials (pooled over cases)."""
    floor: float
    """The smallest difference in mean score between two runs of this size on the same cases that
    exceeds trial-to-trial noise at 95%: ``1.96 * sqrt(2 * trial_sd^2 / consultations)``."""


class CostFigures(BaseModel):
    """What care cost per consultation in a judged run, overall and by doctor."""

    model_config = ConfigDict(extra="forbid")

    currency: str
    """ISO 4217 code of every figure here."""
    overall: Estimate
    """Mean cost per consultation, over the consultations with a cost record."""
    by_doctor: dict[str, Estimate] = Field(default_factory=dict)
    """Mean cost per consultation for each doctor."""
    missing: int = 0
    """Scored consultations left out: no cost record (stored before costs were
    kept, or failed before they could be priced), or one in another currency."""


class RunAnalysis(BaseModel):
    """Everything a report shows about a judged run."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    """The run."""
    name: str
    """Its name."""
    judges: list[str]
    """The committee."""
    rule: str
    """How the committee's verdicts were aggregated."""
    consultations: int
    """Scored consultations."""
    overall: Estimate
    """Mean overall score."""
    by_axis: dict[str, Estimate] = Field(default_factory=dict)
    """Mean score per rubric axis."""
    breakdowns: dict[str, dict[str, Estimate]] = Field(default_factory=dict)
    """Mean overall score per group, for each dimension: ``doctor``, ``organ_system``,
    ``complaint``, ``difficulty``, ``persona``."""
    heatmap: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Mean overall score per doctor (outer key) and organ system (inner key)."""
    diagnosis: dict[str, float] = Field(default_factory=dict)
    """Share of consultations per diagnosis match: exact, partial, wrong, missing."""
    cost: CostFigures | None = None
    """What care cost per consultation (None when the run has no scored consultation)."""
    grades: dict[str, GradeFigures] = Field(default_factory=dict)
    """The five-point diagnosis grade for each doctor."""
    headline_format: ConsultFormat = DEFAULT_FORMAT
    """The format every other figure here is computed over when the run played several (the first
    of dialogue, vignette, summary that it played); ``formats`` and ``gaps`` cover them all."""
    formats: dict[str, dict[ConsultFormat, FormatFigures]] = Field(default_factory=dict)
    """Figures per doctor (outer key) and format (inner key), when the run played several formats."""
    gaps: list[FormatGap] = Field(default_factory=list)
    """Paired differences between formats, per doctor and measure."""
    noise: dict[str, NoiseFloor] = Field(default_factory=dict)
    """Each doctor's noise floor, when the run played every case in at least two trials."""
    pass_k: dict[int, float] = Field(default_factory=dict)
    """pass^k over trials: chance that k trials of a case all pass."""
    pass_k_by_doctor: dict[str, dict[int, float]] = Field(default_factory=dict)
    """pass^k for each doctor alone."""
    simulator: dict[str, SimulatorShare] = Field(default_factory=dict)
    """For each doctor, the share of its failed items the simulated side caused."""
    agreement: list[Agreement] = Field(default_factory=list)
    """Judge agreement, over all items and per axis."""
    calibration: list[JudgeCalibration] = Field(default_factory=list)
    """Judges against reference labels, when labels were given."""
    worst: list[ConsultationBrief] = Field(default_factory=list)
    """The lowest-scoring consultations."""


REPEAT_MARK = "#"
"""Separates a case id from the repeat number a repeated case gets (``<id>#<k>``)."""


def base_case_id(case_id: str) -> str:
    """The id of the bank case a (possibly repeated) case id came from."""
    return case_id.split(REPEAT_MARK, 1)[0]
