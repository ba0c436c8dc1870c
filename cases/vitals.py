"""Vital signs read out of free text.

Synthesized cases write their observations in one line
(``HR 112 bpm, BP 128/80 mmHg, RR 22/min, SpO2 93% on air, temperature 38.4 °C``);
imported cases keep one fact per measurement in their source's words
(``Vital Signs > Temperature: 102°F (38.9°C)``, ``Heart Rate: 90/min``,
``Oxygen Saturation: 98% on room air``). :func:`parse_vitals` reads both, so
whatever reports a result for a case (the reference table of normal results,
a gatekeeper) can agree with the observations the case already states.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from arena.core.types import Case


class Vitals(BaseModel):
    """The vital signs a text states; a sign it does not give (or gives only as "normal") is None."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hr: int | None = None
    """Heart rate (or pulse), beats per minute."""
    sbp: int | None = None
    """Systolic blood pressure, mmHg."""
    dbp: int | None = None
    """Diastolic blood pressure, mmHg."""
    rr: int | None = None
    """Respiratory rate, breaths per minute."""
    spo2: int | None = None
    """Oxygen saturation, percent."""
    temp: float | None = None
    """Temperature, degrees Celsius (Fahrenheit readings are converted)."""
    on_oxygen: bool = False
    """Whether the saturation was measured on supplemental oxygen rather than air."""

    def known(self) -> bool:
        """Return whether any sign has a value."""
        return any(v is not None for v in (self.hr, self.sbp, self.dbp, self.rr, self.spo2, self.temp))


# Between a sign's name and its number sources put punctuation ("Heart Rate: 72",
# "Blood Pressure > Standing: 100/60") and a few filler words ("pulse of 88",
# "heart rate was 110"). Anything longer is not read: "Pulse: present, BP 120/80"
# must not give a pulse of 120.
_GAP = r"[\s:=>,\-]*(?:(?:of|was|is|at|about|around|approx\.?|approximately|resting|measured|rate|regular)[\s:=>,\-]+)*"
_NUMBER = r"(\d{1,3}(?:\.\d+)?)"

_HR = re.compile(
    r"(?<!fetal )(?<!foetal )\b(?:heart\s+rate|pulse(?:\s+rate)?|hr)\b(?!\s*ox)" + _GAP + _NUMBER, re.IGNORECASE
)
_RR = re.compile(
    r"\b(?:rr|resp(?:iratory|\.)?\s+rate|respirations|breathing\s+rate|respiratory\s+frequency)\b" + _GAP + _NUMBER,
    re.IGNORECASE,
)
# Blood pressure is always written as two numbers with a slash, which nothing else
# near it looks like, so a longer label is allowed ("Blood Pressure Right Upper Extremity: 150/90").
_BP = re.compile(r"\b(?:bp|b\.p\.|blood\s+pressure)\b[^0-9;\n]{0,40}?(\d{2,3})\s*/\s*(\d{2,3})", re.IGNORECASE)
_BP_BARE = re.compile(r"\b(\d{2,3})\s*/\s*(\d{2,3})\s*mm\s*hg", re.IGNORECASE)
_SPO2 = re.compile(
    r"(?:\bsp\s*o\s*[2₂]|\bsa\s*o\s*[2₂]|\bso[2₂]\b|\bo\s*[2₂]\s*sat\w*|\boxygen\s+sat\w*|\bpulse\s+ox\w*"
    r"|\bsats?\b|\bsaturat\w*)[^0-9%;\n]{0,30}?" + _NUMBER + r"\s*%",
    re.IGNORECASE,
)
_TEMP = re.compile(r"\b(?:temperature|temp)\b[^0-9;\n]{0,25}?(?=\d)", re.IGNORECASE)
_DEGREES = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*(?:°|º|˚|deg(?:rees?)?\.?)?\s*([CF](?![a-z]))?", re.IGNORECASE)
_ON_AIR = re.compile(r"\b(?:room\s+air|on\s+air|ambient\s+air|ra)\b", re.IGNORECASE)
_ON_OXYGEN = re.compile(
    r"\b(?:on\s+(?:\d+(?:\.\d+)?\s*l\b|\d+\s*%|supplemental|oxygen|o2|high.flow|nasal|a\s+(?:face\s*)?mask)"
    r"|fio2|l/min|litres?|liters?|non.?rebreath\w*|venturi|cannula)",
    re.IGNORECASE,
)

# Readings outside these bounds are misreadings (a date, a dose, a weight), not vital signs.
_PLAUSIBLE = {"hr": (20, 250), "rr": (4, 90), "sbp": (40, 280), "dbp": (15, 180), "spo2": (40, 100)}
_CELSIUS = (30.0, 44.0)
_FAHRENHEIT = (86.0, 111.0)


def _plausible(name: str, value: float) -> int | None:
    lo, hi = _PLAUSIBLE[name]
    return round(value) if lo <= value <= hi else None


def _first(pattern: re.Pattern[str], name: str, text: str) -> int | None:
    for m in pattern.finditer(text):
        got = _plausible(name, float(m.group(1)))
        if got is not None:
            return got
    return None


def _temperature(text: str) -> float | None:
    for m in _TEMP.finditer(text):
        # "102°F (38.9°C)": both scales may follow the label; Celsius is taken when given.
        window = text[m.end() : m.end() + 40]
        readings = [(float(d.group(1)), (d.group(2) or "").upper()) for d in _DEGREES.finditer(window)][:2]
        for value, unit in readings:
            if unit == "C" and _CELSIUS[0] <= value <= _CELSIUS[1]:
                return round(value, 1)
        if not readings:
            continue
        value, unit = readings[0]
        # Without a unit the size tells the scale: no living patient is at 37 °F or 98 °C.
        if unit in ("F", "") and _FAHRENHEIT[0] <= value <= _FAHRENHEIT[1]:
            return round((value - 32) * 5 / 9, 1)
        if unit == "" and _CELSIUS[0] <= value <= _CELSIUS[1]:
            return round(value, 1)
    return None


def _oxygen(text: str) -> tuple[int | None, bool]:
    for m in _SPO2.finditer(text):
        value = _plausible("spo2", float(m.group(1)))
        if value is None:
            continue
        # What follows the number says what it was measured on: "93% on air",
        # "98% on room air, improving with oxygen" (air), "91% on 2 L/min" (oxygen).
        after = re.split(r"[;,.](?!\d)", text[m.end() : m.end() + 60], maxsplit=1)[0]
        on_oxygen = not _ON_AIR.search(after) and bool(_ON_OXYGEN.search(after))
        return value, on_oxygen
    return None, False


def parse_vitals(text: str) -> Vitals:
    """Read the vital signs a text states.

    Tolerates the synthesizer's one-line form (``HR 112 bpm, BP 128/80 mmHg, RR 22/min,
    SpO2 93% on air, temperature 38.4 °C``) and the wordings of imported cases
    (``Heart Rate: 88 bpm``, ``Pulse: 90/min``, ``Blood Pressure: 120/80 mm Hg``,
    ``Respiratory Rate: 16 breaths/min``, ``Oxygen Saturation: 98% on room air``,
    ``SO2: 80%``, ``Temperature: 102°F (38.9°C)``).

    Args:
        text: Free text, e.g. the case's vital-sign facts joined with ``; ``.

    Returns:
        The signs found; a sign stated only in words ("within normal range",
        "normothermic") or not at all is None. The first plausible reading of
        each sign is taken.
    """
    sbp = dbp = None
    for pattern in (_BP, _BP_BARE):
        for m in pattern.finditer(text):
            s, d = _plausible("sbp", float(m.group(1))), _plausible("dbp", float(m.group(2)))
            if s is not None and d is not None and d < s:
                sbp, dbp = s, d
                break
        if sbp is not None:
            break
    spo2, on_oxygen = _oxygen(text)
    return Vitals(
        hr=_first(_HR, "hr", text),
        sbp=sbp,
        dbp=dbp,
        rr=_first(_RR, "rr", text),
        spo2=spo2,
        temp=_temperature(text),
        on_oxygen=on_oxygen,
    )


def case_vitals(case: Case) -> Vitals:
    """Return the vital signs a case states.

    Args:
        case: The case; its facts on the ``vitals`` topic are read (a synthesized
            case has one, an imported case one per measurement).

    Returns:
        The signs its vital-sign facts give; all None when it has none.
    """
    return parse_vitals("; ".join(f.text for f in case.facts if f.topic == "vitals"))
