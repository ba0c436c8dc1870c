"""Normal examination and test results, from a reference table kept as data.

When a doctor asks for an examination or a test that a case does not list,
the simulator must still answer with a realistic result, never "not
available". ``data/reference_results.json`` holds, for every exam and test
topic of ``data/topics.json``, the normal result as a ward would report it,
with each numeric value's reference range by age band and sex and the
published source the range rests on. :func:`normal_result` fills it in for one
case: values are drawn inside the patient's range, seeded by the case and the
topic so a case always gets the same result, and results that depend on the
observations (ECG rate, blood gas oxygen, vital signs, general inspection)
follow the vital signs the case states (see :mod:`cases.vitals`).

Placeholders in a result text: ``{name}`` is an analyte written out in full
(``Hb 138 g/L (ref 130-180)``), ``{name:value}`` its value alone,
``{name:ref}`` its reference range alone (``ref 130-180``), and ``{request}``
the request as the doctor worded it (or the entry's ``request_default``).
"""

from __future__ import annotations

import random
import re
import zlib
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.core.errors import parse_data_file
from arena.core.types import Case, FileRecord, NonEmpty
from cases.knowledge import topics
from cases.text import normalise, phrase_in
from cases.vitals import Vitals, case_vitals, parse_vitals

FILE = "cases/data/reference_results.json"
"""The reference table, as its path is named in error messages."""

FEVER_C = 38.0
"""Temperature (°C) from which a patient is febrile (NICE NG143 defines fever in children
as 38 °C or higher; adult early-warning scores start scoring just above it)."""

Sex = Literal["any", "female", "male"]
Condition = Literal[
    "tachycardic", "bradycardic", "tachypnoeic", "hypoxic", "febrile", "hypotensive", "abnormal_vitals", "on_oxygen"
]
"""A state of the case's vital signs a result variant can depend on."""
Follows = Literal["hr", "sbp", "dbp", "rr", "spo2", "temp", "pao2"]
"""A vital sign a value takes from the case when the case states it (``pao2``: the arterial
oxygen tension that goes with the stated saturation)."""

VITAL_SIGNS: tuple[Follows, ...] = ("hr", "sbp", "dbp", "rr", "spo2", "temp")
"""The analytes the ``vitals`` examination must define: their ranges are what "normal" means
for the case's observations."""

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(value|ref))?\}")


class ReferenceTableError(ValueError):
    """The reference table is malformed; the message names the file and the field."""


# --------------------------------------------------------------------------- the file's schema


class Source(FileRecord):
    """A published source that reference ranges or normal findings rest on."""

    id: NonEmpty
    """Short id entries and ranges name it by, e.g. ``ohcm``."""
    name: NonEmpty
    """Full citation, as a result reports it."""
    covers: NonEmpty
    """What the table takes from it."""


class Band(FileRecord):
    """An age band (whole years, ``age_max`` exclusive) and a sex."""

    age_min: int = Field(default=0, ge=0, le=120)
    """Youngest age in the band, years (0 is the first year of life)."""
    age_max: int = Field(default=121, ge=1, le=121)
    """First age past the band, years."""
    sex: Sex = "any"
    """Sex the band applies to."""

    def matches(self, age: int, sex: str) -> bool:
        """Return whether a patient of ``age`` and ``sex`` falls in the band."""
        return self.age_min <= age < self.age_max and self.sex in ("any", sex)

    @model_validator(mode="after")
    def _ages(self) -> Band:
        if self.age_min >= self.age_max:
            raise ValueError(f"age_min {self.age_min} must be below age_max {self.age_max}")
        return self


class Range(Band):
    """The reference interval of one analyte for one band, and where normal values are drawn."""

    low: float | None = None
    """Lower reference limit (None: only an upper limit, reported as ``ref < high``)."""
    high: float | None = None
    """Upper reference limit (None: only a lower limit, reported as ``ref > low``)."""
    draw: tuple[float, float] | None = None
    """Interval normal values are drawn from; inside the reference interval. Required when
    only one limit is given; otherwise the central 80% of the interval, so a normal result
    does not sit on a limit."""
    source: str = ""
    """Source id when it is not the entry's (paediatric ranges, for instance)."""
    fraction: tuple[float, float] | None = None
    """For a scaled analyte, the fractions of the other analyte in this band when they differ
    from the analyte's ``scale`` (children's white cells are mostly lymphocytes, adults' neutrophils)."""

    @model_validator(mode="after")
    def _limits(self) -> Range:
        if self.fraction is not None and not 0 < self.fraction[0] <= self.fraction[1]:
            raise ValueError(f"fraction {self.fraction[0]}-{self.fraction[1]} must be positive and ascending")
        if self.low is None and self.high is None:
            raise ValueError("give low, high or both")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.draw is None:
            if self.low is None or self.high is None:
                raise ValueError("a one-sided range needs draw [lowest, highest]")
            return self
        lo, hi = self.draw
        if lo > hi:
            raise ValueError(f"draw {lo}-{hi} is reversed")
        if (self.low is not None and lo < self.low) or (self.high is not None and hi > self.high):
            raise ValueError(f"draw {lo}-{hi} lies outside the reference interval")
        return self

    def draw_interval(self) -> tuple[float, float]:
        """Return the interval normal values are drawn from."""
        if self.draw is not None:
            return self.draw
        assert self.low is not None and self.high is not None  # checked by the validator
        margin = (self.high - self.low) * 0.1
        return self.low + margin, self.high - margin


class Scale(FileRecord):
    """A value drawn as a fraction of another analyte, so that the two agree.

    Diastolic of systolic pressure, differential counts of the white cell count, CSF of
    plasma glucose.
    """

    of: NonEmpty
    """The other analyte of the same entry."""
    low: float = Field(gt=0)
    """Smallest fraction."""
    high: float = Field(gt=0)
    """Largest fraction."""


class Analyte(FileRecord):
    """A numeric value a result reports."""

    label: str = ""
    """How the result names it (``Hb``); empty when the text names it already."""
    unit: str = ""
    """Unit, e.g. ``g/L``; ``%`` and ``/min`` are written without a space."""
    decimals: int = Field(default=0, ge=0, le=3)
    """Decimals shown for the value and its limits."""
    step: float | None = Field(default=None, gt=0)
    """Granularity the value is reported in (a dipstick's pH reads in steps of 0.5)."""
    follows: Follows | None = None
    """Vital sign the value takes from the case when the case states it."""
    scale: Scale | None = None
    """Draw the value as a fraction of another analyte (then kept inside its own draw interval)."""
    ranges: list[Range] = Field(default_factory=list)
    """Reference ranges; together they cover every age and both sexes exactly once. May be
    empty for a value that follows a vital sign: the ``vitals`` examination's ranges apply."""


class Variant(Band):
    """A wording used instead of the entry's ``text`` for some patients or requests."""

    when: list[Condition] = Field(default_factory=list)
    """States of the case's vital signs that must all hold."""
    request: list[NonEmpty] = Field(default_factory=list)
    """Words of which the request must name one (e.g. ``venous`` for a venous gas)."""
    text: NonEmpty
    """The result text."""


class Entry(FileRecord):
    """The normal result of one exam or test topic."""

    source: NonEmpty
    """Id of the source the normal result rests on."""
    text: NonEmpty
    """The result text, starting with the exam's or test's name."""
    variants: list[Variant] = Field(default_factory=list)
    """Other wordings; the first that fits the patient, the vital signs and the request is used."""
    analytes: dict[str, Analyte] = Field(default_factory=dict)
    """Numeric values the texts name, by placeholder name."""
    request_default: str = ""
    """What ``{request}`` says when the doctor's request is empty."""


class ReferenceTable(FileRecord):
    """The whole reference table."""

    doc: str = Field(default="", alias="_doc")
    """What the file is."""
    sources: list[Source] = Field(alias="_sources", min_length=1)
    """Every source named."""
    exam: dict[str, Entry]
    """Normal examination findings by exam topic."""
    test: dict[str, Entry]
    """Normal test results by test topic."""

    def entry(self, topic: str) -> Entry | None:
        """Return the entry of an exam or test topic, or None."""
        return self.exam.get(topic) or self.test.get(topic)


class ReferenceResult(BaseModel):
    """A normal result for one case, as a ward would report it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    """The result, starting with the exam's or test's name."""
    topic: str
    """The exam or test topic."""
    source: str
    """The source (or sources, joined by ``; ``) its normal wording and ranges rest on."""


# --------------------------------------------------------------------------- loading and checks


def _path(*parts: object) -> str:
    return ".".join(str(p) for p in parts)


def _ranges(table: ReferenceTable, analyte: Analyte) -> list[Range]:
    if analyte.ranges or analyte.follows is None:
        return analyte.ranges
    vitals = table.exam.get("vitals")
    own = vitals.analytes.get(analyte.follows) if vitals else None
    return own.ranges if own else []


def _check_entry(table: ReferenceTable, where: str, entry: Entry, source_ids: set[str]) -> list[str]:
    out: list[str] = []
    if entry.source not in source_ids:
        out.append(f"{where}.source: unknown source {entry.source!r}")
    for name, a in entry.analytes.items():
        at = _path(where, "analytes", name)
        if name == "request":
            out.append(f"{at}: 'request' names the doctor's request, not an analyte")
        for i, r in enumerate(a.ranges):
            if r.source and r.source not in source_ids:
                out.append(f"{_path(at, 'ranges', i, 'source')}: unknown source {r.source!r}")
            if r.fraction is not None and a.scale is None:
                out.append(f"{_path(at, 'ranges', i, 'fraction')}: only a scaled analyte has fractions")
        if a.scale is not None:
            base = entry.analytes.get(a.scale.of)
            if base is None:
                out.append(f"{at}.scale.of: no analyte {a.scale.of!r} in this entry")
            elif base.scale is not None:
                out.append(f"{at}.scale.of: {a.scale.of!r} is itself scaled")
            if a.scale.low > a.scale.high:
                out.append(f"{at}.scale: low {a.scale.low} above high {a.scale.high}")
        ranges = _ranges(table, a)
        if not ranges:
            out.append(f"{at}.ranges: none given (only a value following a vital sign borrows the vitals' ranges)")
            continue
        # Every patient must find exactly one range, or a result would depend on the order
        # ranges happen to be listed in (or have no range at all).
        for sex in ("female", "male"):
            for age in range(121):
                hits = sum(r.matches(age, sex) for r in ranges)
                if hits != 1:
                    what = "no range" if hits == 0 else f"{hits} ranges"
                    out.append(f"{at}.ranges: {what} for a {sex} aged {age}")
                    break
            else:
                continue
            break
    texts = [("text", entry.text)] + [(_path("variants", i, "text"), v.text) for i, v in enumerate(entry.variants)]
    for field, text in texts:
        for m in _PLACEHOLDER.finditer(text):
            if m.group(1) == "request":
                if not entry.request_default:
                    out.append(f"{where}.request_default: needed, {field} uses {{request}}")
            elif m.group(1) not in entry.analytes:
                out.append(f"{where}.{field}: unknown placeholder {m.group(0)}")
        if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
            out.append(f"{where}.{field}: a brace that is not a placeholder")
    return out


def check_table(table: ReferenceTable) -> list[str]:
    """Return every problem of a reference table, one line each, starting with the field's path.

    Checks that every exam and test topic of ``data/topics.json`` has an entry of its kind
    and no other topic does, that every source named is listed, that every analyte's ranges
    cover each age and sex exactly once, and that every placeholder names an analyte.
    """
    out: list[str] = []
    source_ids = {s.id for s in table.sources}
    if len(source_ids) != len(table.sources):
        out.append("_sources: duplicate source id")
    # A result names its sources joined by "; ", so a name must not contain one.
    out += [f"_sources.{i}.name: contains ';'" for i, s in enumerate(table.sources) if ";" in s.name]
    vocab = topics()
    for kind, entries in (("exam", table.exam), ("test", table.test)):
        wanted = sorted(t.topic for t in vocab.values() if t.kind == kind)
        out += [f"{kind}.{t}: missing (every {kind} topic needs a normal result)" for t in wanted if t not in entries]
        out += [f"{kind}.{t}: not an {kind} topic of data/topics.json" for t in entries if t not in wanted]
        for topic, entry in entries.items():
            out += _check_entry(table, f"{kind}.{topic}", entry, source_ids)
    vitals = table.exam.get("vitals")
    if vitals is not None:
        out += [f"exam.vitals.analytes.{s}: missing" for s in VITAL_SIGNS if s not in vitals.analytes]
    return out


def parse_reference_table(text: str, name: str = FILE) -> ReferenceTable:
    """Read and check a reference table.

    Args:
        text: The file's JSON.
        name: The file's name for error messages.

    Returns:
        The table.

    Raises:
        ReferenceTableError: one line naming the file and the field (or line) of the first problem.
    """
    table = parse_data_file(ReferenceTable, text, name, ReferenceTableError)
    problems = check_table(table)
    if problems:
        more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ReferenceTableError(f"{name}: field {problems[0]}{more}")
    return table


@cache
def reference_table() -> ReferenceTable:
    """Load and check the built-in reference table (once).

    Raises:
        ReferenceTableError: naming the file and field of the first problem.
    """
    raw = resources.files("cases").joinpath("data", "reference_results.json").read_text("utf-8")
    return parse_reference_table(raw)


# --------------------------------------------------------------------------- filling in a result


def _band(ranges: list[Range], age: int, sex: str) -> Range:
    return next(r for r in ranges if r.matches(age, sex))


_VITAL_STATES: tuple[tuple[str, Condition | None, Condition | None], ...] = (
    ("hr", "bradycardic", "tachycardic"),
    ("rr", None, "tachypnoeic"),
    ("spo2", "hypoxic", None),
    ("sbp", "hypotensive", None),
    ("temp", None, None),  # fever has its own threshold (FEVER_C); outside the range is still abnormal
)
"""Each vital sign, with the state named when it is below its range and when above (None: unnamed)."""


def vital_conditions(vitals: Vitals, age: int, sex: str) -> frozenset[Condition]:
    """Return the states of a patient's vital signs that result variants depend on.

    "Normal" is the ``vitals`` examination's reference range for the patient's age
    and sex, so a heart rate of 130 is tachycardia at 30 but not at 2. A sign the
    case does not state counts as normal.

    Args:
        vitals: The case's vital signs.
        age: Age in years.
        sex: ``female`` or ``male``.

    Returns:
        The conditions that hold; ``abnormal_vitals`` when any sign is outside its range.
    """
    ranges = reference_table().exam["vitals"].analytes
    out: set[Condition] = set()
    abnormal = False
    for sign, below, above in _VITAL_STATES:
        value = getattr(vitals, sign)
        if value is None:
            continue
        r = _band(ranges[sign].ranges, age, sex)
        low, high = (r.low is not None and value < r.low), (r.high is not None and value > r.high)
        abnormal = abnormal or low or high
        out.update(name for name, holds in ((below, low), (above, high)) if name and holds)
    if vitals.temp is not None and vitals.temp >= FEVER_C:
        out.add("febrile")
    if out or abnormal:
        out.add("abnormal_vitals")
    if vitals.on_oxygen:
        out.update(("on_oxygen", "abnormal_vitals"))  # a patient who needs oxygen is not well at rest
    return frozenset(out)


def _severinghaus_saturation(po2_mmhg: float) -> float:
    # Severinghaus JW, J Appl Physiol 1979;46:599-602: haemoglobin saturation (0-1) at a PO2
    # in mmHg for standard pH, PCO2 and temperature.
    return 1.0 / (23400.0 / (po2_mmhg**3 + 150.0 * po2_mmhg) + 1.0)


def pao2_for_saturation(spo2: float) -> float:
    """Return the arterial PO2 (kPa) at which haemoglobin is ``spo2`` percent saturated.

    Severinghaus' oxygen dissociation equation, inverted by bisection: the curve is
    monotonic, so sixty halvings pin the tension far below the reported precision.

    Args:
        spo2: Saturation in percent (capped at 99.9: full saturation has no finite tension).

    Returns:
        The tension in kPa.
    """
    target = min(max(spo2, 1.0), 99.9) / 100.0
    lo, hi = 0.1, 1000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _severinghaus_saturation(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2 * 0.133322


_COURTESY = re.compile(
    r"^(?:(?:please|kindly|ok(?:ay)?|now|then|and|also|next|i(?:'d| would) like(?: to)?|i want(?: to)?|"
    r"(?:can|could|would|will)\s+(?:you|we|i)|let'?s|let me|we(?:'ll| will| should)|i(?:'ll| will)|"
    r"(?:order|request|get|do|perform|arrange|send(?: off)?|carry out)(?:\s+(?:an?|the|some))?)[\s,]+)+",
    re.IGNORECASE,
)


def clean_request(request: str, limit: int = 80) -> str:
    """Return a doctor's request as a result's heading: courtesy words and end punctuation dropped.

    Args:
        request: The request as worded (``Could you check her capillary refill, please?``).
        limit: Longest heading; a longer request is cut at a word.

    Returns:
        The heading with its first letter in capitals (``Check her capillary refill``), or
        an empty string when nothing is left.
    """
    text = " ".join(request.split())
    text = _COURTESY.sub("", text)
    text = re.sub(r"[\s,;:.!?]*(?:\bplease\b)?[\s,;:.!?]*$", "", text, flags=re.IGNORECASE)
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0]
    return text[:1].upper() + text[1:]


class _Filler:
    """Fills one entry's placeholders for one case."""

    def __init__(self, table: ReferenceTable, entry: Entry, case: Case, vitals: Vitals, request: str, topic: str):
        self.table = table
        self.entry = entry
        self.age = case.demographics.age
        self.sex = case.demographics.sex
        self.vitals = vitals
        self.request = request
        # A string seed through crc32 rather than hash(): str hashes change per process.
        self.rng = random.Random(zlib.crc32(f"{case.id}\x1f{topic}".encode()))
        self.values: dict[str, float] = {}
        self.sources: list[str] = []

    def range(self, name: str) -> Range:
        return _band(_ranges(self.table, self.entry.analytes[name]), self.age, self.sex)

    def _case_value(self, a: Analyte, r: Range) -> float | None:
        if a.follows == "pao2":
            if self.vitals.spo2 is None or r.low is None:
                return None
            derived = pao2_for_saturation(self.vitals.spo2)
            if derived >= r.low:
                return None  # the saturation is on the flat of the curve: any normal tension agrees
            # The tension that goes with the saturation, kept clear of the normal range: the
            # patient is hypoxic, and a gas that read normal would contradict the oximeter.
            return min(derived, r.low - 0.2)
        if a.follows is not None:
            value = getattr(self.vitals, a.follows)
            return float(value) if value is not None else None
        return None

    def value(self, name: str) -> float:
        if name in self.values:
            return self.values[name]
        a = self.entry.analytes[name]
        r = self.range(name)
        self.sources.append(r.source or self.entry.source)
        given = self._case_value(a, r)
        if given is not None:
            v = given  # the case's own observation, reported as it is, in range or not
        else:
            lo, hi = r.draw_interval()
            if a.scale is not None:
                f_lo, f_hi = r.fraction or (a.scale.low, a.scale.high)
                v = self.value(a.scale.of) * self.rng.uniform(f_lo, f_hi)
            else:
                v = self.rng.uniform(lo, hi)
            if a.step:
                v = round(v / a.step) * a.step
            # Rounding or scaling may step outside the draw interval; a normal value stays inside.
            v = min(max(round(v, a.decimals), lo), hi)
        self.values[name] = v
        return v

    def number(self, name: str, v: float) -> str:
        return f"{v:.{self.entry.analytes[name].decimals}f}"

    def ref(self, name: str) -> str:
        r = self.range(name)
        if r.low is not None and r.high is not None:
            return f"ref {self.number(name, r.low)}-{self.number(name, r.high)}"
        if r.high is not None:
            return f"ref < {self.number(name, r.high)}"
        assert r.low is not None
        return f"ref > {self.number(name, r.low)}"

    def placeholder(self, m: re.Match[str]) -> str:
        name, part = m.group(1), m.group(2)
        if name == "request":
            return clean_request(self.request) or self.entry.request_default
        v = self.value(name)
        if part == "value":
            return self.number(name, v)
        if part == "ref":
            return self.ref(name)
        a = self.entry.analytes[name]
        unit = a.unit if a.unit.startswith(("%", "/")) or not a.unit else f" {a.unit}"
        label = f"{a.label} " if a.label else ""
        return f"{label}{self.number(name, v)}{unit} ({self.ref(name)})"


def _text(entry: Entry, age: int, sex: str, state: frozenset[Condition], request: str) -> str:
    norm = normalise(request)
    for v in entry.variants:
        if not v.matches(age, sex) or not all(c in state for c in v.when):
            continue
        if v.request and not any(phrase_in(w, norm) for w in v.request):
            continue
        return v.text
    return entry.text


def _complete_vitals(table: ReferenceTable, case: Case, stated: Vitals) -> Vitals:
    """The case's vital signs with each sign it does not state drawn as normal for age.

    Drawn once per case (seeded by the case and ``vitals``), so that the ECG's rate, the
    blood gas and the reported observations of a case without observations all agree.
    """
    filler = _Filler(table, table.exam["vitals"], case, stated, "", "vitals")
    drawn = {sign: filler.value(sign) for sign in VITAL_SIGNS}
    return Vitals(
        hr=round(drawn["hr"]),
        sbp=round(drawn["sbp"]),
        dbp=round(drawn["dbp"]),
        rr=round(drawn["rr"]),
        spo2=round(drawn["spo2"]),
        temp=round(drawn["temp"], 1),
        on_oxygen=stated.on_oxygen,
    )


def normal_result(topic: str, case: Case, request: str = "") -> ReferenceResult:
    """Return the normal result of an exam or test for a case that does not list it.

    Numeric values are drawn inside the reference range for the patient's age band and
    sex, seeded by the case id and the topic, so the same case always gets the same
    result and different cases get different ones. The result agrees with the vital
    signs the case states: the ECG reports the case's rate (sinus tachycardia or
    bradycardia when it is outside the range for age), a blood gas's PaO2 matches a
    low saturation, the vital signs keep every value the case gives, the general
    inspection says "comfortable at rest" only when the observations are normal, and
    nothing says "afebrile". A case without observations gets one set of normal ones,
    shared by every result (the ECG's rate is the reported heart rate).

    Args:
        topic: An exam or test topic of ``data/topics.json`` (``fbc``, ``ecg``, ``general``).
        case: The case; its demographics and vital-sign facts are read.
        request: The doctor's request as worded; some results echo it (``other_test``,
            ``xray``) or depend on it (a venous rather than an arterial gas).

    Returns:
        The result text, the topic and the source(s) its wording and ranges rest on.

    Raises:
        KeyError: ``topic`` is not an exam or test topic of the table.
        ReferenceTableError: the reference table is malformed.
    """
    table = reference_table()
    entry = table.entry(topic)
    if entry is None:
        raise KeyError(f"no reference result for {topic!r}: not an exam or test topic")
    stated = case_vitals(case)
    age, sex = case.demographics.age, case.demographics.sex
    # Variants are chosen on what the case states: a drawn sign is normal by construction.
    text = _text(entry, age, sex, vital_conditions(stated, age, sex), request)
    filler = _Filler(table, entry, case, _complete_vitals(table, case, stated), request, topic)
    filled = _PLACEHOLDER.sub(filler.placeholder, text)
    names = {s.id: s.name for s in table.sources}
    used = filler.sources or [entry.source]  # a text without values rests on the entry's source
    return ReferenceResult(text=filled, topic=topic, source="; ".join(names[s] for s in dict.fromkeys(used)))


__all__ = [
    "FEVER_C",
    "FILE",
    "Analyte",
    "Band",
    "Entry",
    "Range",
    "ReferenceResult",
    "ReferenceTable",
    "ReferenceTableError",
    "Scale",
    "Source",
    "Variant",
    "Vitals",
    "case_vitals",
    "check_table",
    "clean_request",
    "normal_result",
    "pao2_for_saturation",
    "parse_reference_table",
    "parse_vitals",
    "reference_table",
    "vital_conditions",
]
