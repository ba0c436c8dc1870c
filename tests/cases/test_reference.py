"""The reference table of normal results, and the vital-sign parser it reads cases with."""

import json
import random
import re
from importlib import resources
from pathlib import Path

import pytest

from arena.core.types import Case, Demographics, Diagnosis, Fact, RubricCheck, RubricItem
from cases.importers import import_cases
from cases.kb import load_kb
from cases.knowledge import topics
from cases.reference import (
    ReferenceTableError,
    normal_result,
    parse_reference_table,
    parse_vitals,
    reference_table,
)
from cases.synthesizer import draw_case

PUBLIC = Path(__file__).resolve().parents[2] / "data" / "public"
EXAMS = sorted(t.topic for t in topics().values() if t.kind == "exam")
TESTS = sorted(t.topic for t in topics().values() if t.kind == "test")
PATIENTS = [(age, sex) for age in (0, 1, 3, 7, 13, 15, 16, 30, 55, 85) for sex in ("female", "male")]


def make_case(age: int, sex: str, vitals: str | list[str] | None = None, case_id: str = "ref-1") -> Case:
    facts = [Fact(id="cc", category="hpi", disclosure="volunteered", text="Feels unwell", topic="location")]
    for i, text in enumerate([vitals] if isinstance(vitals, str) else vitals or []):
        facts.append(Fact(id=f"vitals{i}", category="exam", disclosure="exam", text=text, topic="vitals"))
    return Case(
        id=case_id,
        chief_complaint="I feel unwell",
        demographics=Demographics(age=age, sex=sex),
        facts=facts,
        diagnosis=Diagnosis(name="Viral illness"),
        rubric=[RubricItem(id="dx", criterion="Names the diagnosis", points=5, check=RubricCheck(kind="diagnose"))],
    )


# A value is the last number (standing as a word) before its "(ref ...)"; units such as
# x10^9/L, cmH2O or PaO2 carry digits that are not preceded by a space, so they are skipped.
_REF = re.compile(r"\(ref (?:(<|>) )?(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?\)")
_NUMBER = re.compile(r"(?:^|(?<=\s))(\d+(?:\.\d+)?)(?![\d.])")


def reported(text: str) -> list[tuple[str, float, float, float]]:
    """(chunk, value, low, high) for every value the text gives a reference range for."""
    out = []
    start = 0
    for m in _REF.finditer(text):
        chunk = re.split(r"[,;:] ", text[start : m.start()])[-1].strip()
        start = m.end()
        numbers = _NUMBER.findall(chunk)
        assert numbers, f"no value before {m.group(0)} in {text!r}"
        value = float(numbers[-1])
        op, a, b = m.group(1), float(m.group(2)), m.group(3)
        low, high = (a, float(b)) if b else ((float("-inf"), a) if op == "<" else (a, float("inf")))
        out.append((chunk, value, low, high))
    return out


def value_of(text: str, label: str) -> float:
    m = re.search(rf"{re.escape(label)} (\d+(?:\.\d+)?)", text)
    assert m, f"{label!r} not in {text!r}"
    return float(m.group(1))


def ref_of(text: str, label: str) -> tuple[float, float]:
    m = re.search(rf"{re.escape(label)} \d+(?:\.\d+)?[^()]*\(ref (\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\)", text)
    assert m, f"{label!r} with a two-sided range not in {text!r}"
    return float(m.group(1)), float(m.group(2))


# --------------------------------------------------------------------------- coverage


def test_every_exam_and_test_topic_has_an_entry_of_its_kind():
    table = reference_table()
    assert sorted(table.exam) == EXAMS and len(EXAMS) == 19
    assert sorted(table.test) == TESTS and len(TESTS) == 45


@pytest.mark.parametrize(("age", "sex"), PATIENTS)
def test_every_topic_gives_a_report_for_every_patient(age, sex):
    case = make_case(age, sex)
    for topic in EXAMS + TESTS:
        result = normal_result(topic, case)
        assert result.topic == topic
        assert len(result.text) > 10, topic
        assert "{" not in result.text and "}" not in result.text, result.text
        low = result.text.lower()
        assert "not available" not in low and "not indicated" not in low, result.text
        assert result.source, topic


def test_every_source_named_is_listed_and_every_listed_source_is_used():
    table = reference_table()
    listed = {s.id: s.name for s in table.sources}
    named = set()
    for entry in [*table.exam.values(), *table.test.values()]:
        named.add(entry.source)
        named.update(r.source for a in entry.analytes.values() for r in a.ranges if r.source)
    assert named == set(listed)
    for age, sex in PATIENTS[::3]:
        for topic in EXAMS + TESTS:
            for part in normal_result(topic, make_case(age, sex)).source.split("; "):
                assert part in listed.values(), (topic, part)


def test_results_start_with_the_name_of_what_was_done():
    adult, child = make_case(40, "female"), make_case(6, "male")
    expected = {
        "fbc": "Full blood count: ",
        "ecg": "ECG: ",
        "crp": "CRP ",
        "troponin": "High-sensitivity troponin",
        "electrolytes": "Urea and electrolytes: ",
        "chest_xray": "Chest X-ray: ",
        "ctpa": "CT pulmonary angiogram: ",
        "lumbar_puncture": "Lumbar puncture: ",
        "respiratory_exam": "Respiratory examination: ",
        "general": "General inspection: ",
    }
    for topic, start in expected.items():
        assert normal_result(topic, adult).text.startswith(start), topic
        assert normal_result(topic, child).text.startswith(start), topic
    assert normal_result("blood_gas", adult).text.startswith("Arterial blood gas on air: ")
    assert normal_result("blood_gas", child).text.startswith("Capillary blood gas: ")


# --------------------------------------------------------------------------- values in range


@pytest.mark.parametrize(("age", "sex"), PATIENTS)
def test_every_reported_value_lies_in_its_stated_range(age, sex):
    for n in range(6):
        case = make_case(age, sex, case_id=f"range-{age}-{sex}-{n}")
        for topic in TESTS:
            text = normal_result(topic, case).text
            for chunk, value, low, high in reported(text):
                assert low <= value <= high, (topic, chunk, text)


def test_tests_with_numbers_report_all_of_them():
    case = make_case(50, "male")
    counts = {"fbc": 6, "electrolytes": 5, "lft": 4, "blood_gas": 5, "coagulation": 4, "lumbar_puncture": 5, "ecg": 3}
    for topic, n in counts.items():
        assert len(reported(normal_result(topic, case).text)) == n, topic


def test_ranges_differ_by_age_and_sex_as_the_sources_say():
    fbc = {
        (age, sex): normal_result("fbc", make_case(age, sex)).text for age in (0, 4, 30) for sex in ("female", "male")
    }
    # Adult haemoglobin: men about 130-180 g/L, women about 115-165 g/L.
    m_lo, m_hi = ref_of(fbc[30, "male"], "Hb")
    f_lo, f_hi = ref_of(fbc[30, "female"], "Hb")
    assert 155 <= f_hi <= 170
    assert 125 <= m_lo <= 135 and 165 <= m_hi <= 185
    assert 110 <= f_lo <= 120 and f_lo < m_lo
    # Infants and young children run lower haemoglobin and higher white counts than adults.
    assert ref_of(fbc[0, "male"], "Hb")[0] < f_lo and ref_of(fbc[4, "female"], "Hb")[0] < f_lo
    assert ref_of(fbc[0, "female"], "WCC")[1] > ref_of(fbc[30, "female"], "WCC")[1]
    # Children's differential is mostly lymphocytes; adults' mostly neutrophils.
    assert value_of(fbc[0, "male"], "lymphocytes") > value_of(fbc[0, "male"], "neutrophils")
    assert value_of(fbc[30, "male"], "neutrophils") > value_of(fbc[30, "male"], "lymphocytes")

    def upper(topic: str, age: int, sex: str) -> float:
        return reported(normal_result(topic, make_case(age, sex)).text)[0][3]

    for topic in ("ferritin", "ck", "uric_acid"):
        assert upper(topic, 40, "male") > upper(topic, 40, "female"), topic
    creat = {
        sex: ref_of(normal_result("electrolytes", make_case(40, sex)).text, "creatinine") for sex in ("female", "male")
    }
    assert creat["male"][0] > creat["female"][0] and creat["male"][1] > creat["female"][1]
    assert ref_of(normal_result("electrolytes", make_case(3, "male")).text, "creatinine")[1] < creat["female"][0]
    # Growing bones: a child's alkaline phosphatase runs well above the adult range.
    child_alp = ref_of(normal_result("lft", make_case(8, "female")).text, "ALP")
    adult_alp = ref_of(normal_result("lft", make_case(40, "female")).text, "ALP")
    assert child_alp[1] > 2 * adult_alp[1]
    # ESR rises with age, and is higher in women.
    assert upper("esr", 70, "female") > upper("esr", 30, "female") > upper("esr", 30, "male")


def test_white_cell_differential_never_exceeds_the_white_count():
    for age, sex in PATIENTS:
        for n in range(15):
            text = normal_result("fbc", make_case(age, sex, case_id=f"wcc-{n}")).text
            assert value_of(text, "neutrophils") + value_of(text, "lymphocytes") < value_of(text, "WCC"), text


def test_csf_glucose_is_at_least_three_fifths_of_the_blood_glucose():
    for n in range(20):
        text = normal_result("lumbar_puncture", make_case(35, "female", case_id=f"lp-{n}")).text
        assert value_of(text, "glucose") >= 0.6 * value_of(text, "blood glucose") - 0.1, text


# Normal physiological values by age (APLS for children; adults: heart rate 60-100, respiratory
# rate 12-20, systolic pressure below 140 mmHg), and a normal temperature and saturation.
NORMAL_VITALS = {
    0: {"hr": (110, 160), "rr": (30, 40), "sbp": (70, 90)},
    1: {"hr": (100, 150), "rr": (25, 35), "sbp": (80, 95)},
    3: {"hr": (95, 140), "rr": (25, 30), "sbp": (80, 100)},
    8: {"hr": (80, 120), "rr": (20, 25), "sbp": (90, 110)},
    14: {"hr": (60, 100), "rr": (15, 20), "sbp": (100, 120)},
    40: {"hr": (60, 100), "rr": (12, 20), "sbp": (90, 139)},
    80: {"hr": (60, 100), "rr": (12, 20), "sbp": (90, 139)},
}


@pytest.mark.parametrize("age", sorted(NORMAL_VITALS))
def test_vital_signs_of_a_case_without_any_are_normal_for_age(age):
    for n in range(10):
        for sex in ("female", "male"):
            text = normal_result("vitals", make_case(age, sex, case_id=f"v-{age}-{n}")).text
            v = parse_vitals(text)
            for sign, (lo, hi) in NORMAL_VITALS[age].items():
                assert lo <= getattr(v, sign) <= hi, (sign, text)
            assert v.dbp is not None and 30 <= v.dbp < v.sbp - 15, text
            assert 95 <= v.spo2 <= 100 and not v.on_oxygen, text
            assert 36.0 <= v.temp < 37.5, text


# --------------------------------------------------------------------------- seeded per case


def test_same_case_same_result_other_cases_other_results():
    case = make_case(52, "female", case_id="seeded-1")
    again = make_case(52, "female", case_id="seeded-1")
    for topic in TESTS + EXAMS:
        assert normal_result(topic, case) == normal_result(topic, again), topic
    for topic in ("fbc", "electrolytes", "ecg", "vitals", "blood_gas"):
        texts = {normal_result(topic, make_case(52, "female", case_id=f"seeded-{n}")).text for n in range(20)}
        assert len(texts) >= 10, topic


def test_a_case_without_observations_gets_one_heart_rate_everywhere():
    for n in range(10):
        case = make_case(30, "male", case_id=f"one-rate-{n}")
        hr = parse_vitals(normal_result("vitals", case).text).hr
        assert re.search(rf"rate {hr}/min", normal_result("ecg", case).text)


# --------------------------------------------------------------------------- fitting the case's vital signs

TACHY = "HR 124 bpm, BP 104/62 mmHg, RR 26/min, SpO2 88% on air, temperature 38.9 °C"


def test_ecg_reports_the_case_rate_and_names_tachycardia_and_bradycardia():
    text = normal_result("ecg", make_case(45, "male", TACHY)).text
    assert text.startswith("ECG: sinus tachycardia") and "124/min" in text and "otherwise normal" in text
    text = normal_result("ecg", make_case(45, "male", "Heart Rate: 48 bpm; Blood Pressure: 118/70 mmHg")).text
    assert text.startswith("ECG: sinus bradycardia") and "48/min" in text
    text = normal_result("ecg", make_case(45, "female", "Pulse: 76/min")).text
    assert text.startswith("ECG: sinus rhythm") and "76/min" in text
    assert "tachycardia" not in text and "bradycardia" not in text


def test_what_counts_as_tachycardia_depends_on_age():
    toddler = normal_result("ecg", make_case(2, "female", "Heart Rate: 130 bpm")).text
    assert toddler.startswith("ECG: sinus rhythm") and "130/min" in toddler
    infant = normal_result("ecg", make_case(0, "male", "Heart Rate: 190 bpm")).text
    assert infant.startswith("ECG: sinus tachycardia")
    adult = normal_result("ecg", make_case(30, "male", "Heart Rate: 130 bpm")).text
    assert adult.startswith("ECG: sinus tachycardia")


def _saturation(pao2_kpa: float) -> float:
    # Severinghaus (1979), forward: saturation (%) at a PO2 given in mmHg.
    p = pao2_kpa / 0.133322
    return 100.0 / (23400.0 / (p**3 + 150.0 * p) + 1.0)


def test_blood_gas_oxygen_agrees_with_the_saturation():
    last = 0.0
    for spo2 in (78, 82, 85, 88, 90, 92, 93):
        text = normal_result("blood_gas", make_case(60, "female", f"SpO2 {spo2}% on air", case_id=f"gas-{spo2}")).text
        pao2 = value_of(text, "PaO2")
        assert pao2 < 10.6, text  # below the normal range: never a normal PaO2 with a low saturation
        assert abs(_saturation(pao2) - spo2) <= 2.5, (spo2, pao2)
        assert pao2 > last
        last = pao2
    assert value_of(normal_result("blood_gas", make_case(60, "female", TACHY)).text, "PaO2") < 8.5
    for spo2 in (96, 98, 100):
        text = normal_result("blood_gas", make_case(60, "male", f"Oxygen Saturation: {spo2}% on room air")).text
        assert 10.6 <= value_of(text, "PaO2") <= 13.3, text


def test_blood_gas_follows_the_request_and_the_oxygen():
    case = make_case(60, "male", "SpO2 91% on 2 L/min nasal cannulae")
    assert normal_result("blood_gas", case).text.startswith("Arterial blood gas on supplemental oxygen")
    assert "on air" not in normal_result("blood_gas", case).text
    venous = normal_result("blood_gas", make_case(60, "male"), request="VBG with lactate").text
    assert venous.startswith("Venous blood gas") and "PaO2" not in venous


def test_general_inspection_is_comfortable_only_with_normal_observations():
    calm = "HR 72 bpm, BP 122/78 mmHg, RR 14/min, SpO2 98% on air, temperature 36.8 °C"
    assert "comfortable at rest" in normal_result("general", make_case(40, "male", calm)).text
    assert "comfortable" in normal_result("general", make_case(40, "male")).text  # none stated: drawn normal
    for vitals in (
        TACHY,
        "Heart Rate: 118 bpm",
        "Temperature: 102°F (38.9°C)",
        "Respiratory Rate: 30 breaths/min",
        "BP 82/50 mmHg",
        "SpO2 93% on 4 L oxygen",
    ):
        text = normal_result("general", make_case(40, "male", vitals)).text
        assert "comfortable" not in text and "well perfused" not in text, (vitals, text)
        assert text.startswith("General inspection: alert")
    hypoxic = normal_result("general", make_case(40, "male", "SpO2 84% on air")).text
    assert "cyanosis" not in hypoxic  # a saturation this low may show it: the report does not deny it


def test_febrile_case_is_never_called_afebrile():
    for vitals in (TACHY, "Vital Signs > Temperature: 38.0°C (100.4°F)", "temp 101.5"):
        for age in (1, 30):
            case = make_case(age, "female", vitals)
            for topic in EXAMS + TESTS:
                assert "afebrile" not in normal_result(topic, case).text.lower(), (vitals, topic)


def test_vital_signs_keep_what_the_case_states():
    case = make_case(66, "female", ["Vital Signs > Heart Rate: 104/min", "Vital Signs > Temperature: 38.2°C (100.8°F)"])
    v = parse_vitals(normal_result("vitals", case).text)
    assert v.hr == 104 and v.temp == 38.2
    assert v.sbp is not None and v.rr is not None and v.spo2 is not None


def test_results_fit_every_synthesized_condition():
    kb = load_kb()
    rng = random.Random(7)
    for cond in kb.conditions:
        case = draw_case(kb, cond, rng)
        v = parse_vitals(next(f.text for f in case.facts if f.topic == "vitals"))
        ecg = normal_result("ecg", case).text
        assert f"rate {v.hr}/min" in ecg, (cond.id, ecg)
        if case.demographics.age >= 16:
            assert ("tachycardia" in ecg) == (v.hr > 100) and ("bradycardia" in ecg) == (v.hr < 60), (cond.id, ecg)
            pao2 = value_of(normal_result("blood_gas", case).text, "PaO2")
            assert (pao2 < 10.6) == (v.spo2 < 94) or v.spo2 in (94, 95), (cond.id, v.spo2, pao2)
        general = normal_result("general", case).text
        if v.temp >= 38 or v.spo2 < 94:
            assert "comfortable" not in general, (cond.id, general)
        for topic in EXAMS + TESTS:
            if v.temp >= 38:
                assert "afebrile" not in normal_result(topic, case).text.lower()


# --------------------------------------------------------------------------- requests


def test_other_exam_and_test_echo_the_request():
    case = make_case(30, "female")
    text = normal_result("other_exam", case, "Could you check her capillary refill time, please?").text
    assert "capillary refill time" in text and "no abnormality found" in text and "?" not in text
    text = normal_result("other_test", case, "serum magnesium").text
    assert text.startswith("Serum magnesium") and "normal" in text
    assert normal_result("other_test", case).text.strip(": ")
    assert "right upper quadrant" in normal_result("ultrasound", case, "ultrasound of the right upper quadrant").text
    assert "left wrist" in normal_result("xray", case, "X-ray of the left wrist").text
    assert "amylase" in normal_result("lipase", case, "serum amylase").text.lower()


@pytest.mark.parametrize(("age", "sex"), [(30, "male"), (8, "female"), (5, "male"), (27, "female"), (70, "female")])
def test_pregnancy_test_is_negative_whoever_is_tested(age, sex):
    assert normal_result("pregnancy_test", make_case(age, sex)).text == "Urine hCG negative"


def test_unknown_topic_is_a_key_error():
    with pytest.raises(KeyError, match="location"):
        normal_result("location", make_case(30, "male"))


# --------------------------------------------------------------------------- the vital-sign parser


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "HR 112 bpm, BP 128/80 mmHg, RR 22/min, SpO2 93% on air, temperature 38.4 °C",
            {"hr": 112, "sbp": 128, "dbp": 80, "rr": 22, "spo2": 93, "temp": 38.4, "on_oxygen": False},
        ),
        (
            "Temperature: 38.5°C, Blood Pressure: 120/80 mmHg, Heart Rate: 88 bpm, Respiratory Rate: 16 breaths/min",
            {"hr": 88, "sbp": 120, "dbp": 80, "rr": 16, "spo2": None, "temp": 38.5},
        ),
        ("Temperature: 102°F (38.9°C)", {"temp": 38.9}),
        ("temp 101.3", {"temp": 38.5}),
        ("Temperature: 37 C", {"temp": 37.0}),
        ("Pulse: 90/min; Respirations: 12/min", {"hr": 90, "rr": 12}),
        ("Oxygen Saturation: 98% on room air, improving with oxygen", {"spo2": 98, "on_oxygen": False}),
        ("saturating 89% on 15 L via non-rebreather mask", {"spo2": 89, "on_oxygen": True}),
        ("Vital Signs > SO2: 80%", {"spo2": 80, "hr": None}),
        ("pulse oximetry 95%, pulse of 102", {"spo2": 95, "hr": 102}),
        ("Pulse: present and equal, BP 120/80", {"hr": None, "sbp": 120, "dbp": 80}),
        ("Fetal heart rate 150 bpm", {"hr": None}),
        ("Blood Pressure Right Upper Extremity: 150/80 mm Hg", {"sbp": 150, "dbp": 80}),
        ("Heart Rate: Within normal range; Temperature: Normothermic", {"hr": None, "temp": None}),
        ("Weight: 45 kg (99 lbs); Height: 170 cm", {"hr": None, "sbp": None, "temp": None, "rr": None}),
    ],
)
def test_parse_vitals_reads_both_wordings(text, expected):
    v = parse_vitals(text)
    for field, value in expected.items():
        assert getattr(v, field) == value, (field, text, v)


def test_parse_vitals_reads_synthesized_cases_within_their_conditions_ranges():
    kb = load_kb()
    rng = random.Random(3)
    for cond in kb.conditions:
        for _ in range(3):
            case = draw_case(kb, cond, rng)
            v = parse_vitals(next(f.text for f in case.facts if f.topic == "vitals"))
            r = cond.vitals
            assert r.hr[0] <= v.hr <= r.hr[1] and r.rr[0] <= v.rr <= r.rr[1], cond.id
            assert r.sbp[0] <= v.sbp <= r.sbp[1] and 30 <= v.dbp < v.sbp, cond.id
            assert r.spo2[0] <= v.spo2 <= r.spo2[1] and not v.on_oxygen, cond.id
            assert r.temp[0] - 0.05 <= v.temp <= r.temp[1] + 0.05, cond.id


_LABEL = {
    "heart_rate": "hr",
    "pulse": "hr",
    "respiratory_rate": "rr",
    "respirations": "rr",
    "oxygen_saturation": "spo2",
    "so2": "spo2",
    "temperature": "temp",
    "blood_pressure": "bp",
}


def _expected(sign: str, value_text: str) -> object:
    """What one AgentClinic vital-sign fact states, read by hand from 'Label: value'."""
    if sign == "bp":
        m = re.match(r"(\d+)\s*/\s*(\d+)", value_text)
        return (int(m.group(1)), int(m.group(2))) if m else None
    if sign == "temp":
        c = re.search(r"(\d+(?:\.\d+)?)\s*°C", value_text)
        return float(c.group(1)) if c else None
    m = re.match(r"(\d+)", value_text)
    return int(m.group(1)) if m else None


@pytest.fixture(scope="module")
def medqa_cases():
    return import_cases("agentclinic", PUBLIC / "agentclinic_medqa.jsonl").cases


def test_parse_vitals_reads_every_agentclinic_vital_sign_fact(medqa_cases):
    checked = {"hr": 0, "rr": 0, "temp": 0, "bp": 0, "spo2": 0}
    for case in medqa_cases:
        for fact in case.facts:
            m = re.fullmatch(r"exam\.vital_signs_([a-z0-9_]+)", fact.id)
            sign = _LABEL.get(m.group(1)) if m else None
            if sign is None:
                continue
            expected = _expected(sign, fact.text.rsplit(": ", 1)[-1])
            v = parse_vitals(fact.text)
            got = (v.sbp, v.dbp) if sign == "bp" and v.sbp is not None else getattr(v, sign, None)
            assert got == expected, (case.id, fact.text, v)
            checked[sign] += expected is not None
    assert checked["hr"] >= 90 and checked["bp"] >= 80 and checked["rr"] >= 80 and checked["temp"] >= 80
    assert checked["spo2"] >= 10


def test_case_observations_come_together_from_an_imported_case(medqa_cases):
    from cases.vitals import case_vitals

    with_all = [c for c in medqa_cases if case_vitals(c).hr and case_vitals(c).temp and case_vitals(c).sbp]
    assert len(with_all) >= 80
    febrile = [c for c in medqa_cases if (case_vitals(c).temp or 0) >= 38]
    assert febrile
    for case in febrile:
        for topic in EXAMS + TESTS:
            assert "afebrile" not in normal_result(topic, case).text.lower()


@pytest.mark.parametrize(("name", "fmt"), [("all_craft_md.jsonl", "mediq"), ("agentclinic_nejm.jsonl", "agentclinic")])
def test_parse_vitals_invents_nothing_in_other_imported_text(name, fmt):
    # These files state no observations; whatever the parser reads from their facts must be
    # a number the text really contains.
    for case in import_cases(fmt, PUBLIC / name).cases:
        for fact in case.facts:
            v = parse_vitals(fact.text)
            for value in (v.hr, v.sbp, v.dbp, v.rr, v.spo2):
                assert value is None or str(value) in fact.text, (case.id, fact.text, v)


# --------------------------------------------------------------------------- a broken table


def _raw() -> dict:
    return json.loads(resources.files("cases").joinpath("data", "reference_results.json").read_text("utf-8"))


def _break(edit) -> str:
    raw = _raw()
    edit(raw)
    with pytest.raises(ReferenceTableError) as exc:
        parse_reference_table(json.dumps(raw))
    message = str(exc.value)
    assert "\n" not in message and message.startswith("cases/data/reference_results.json: field ")
    return message


def test_the_shipped_table_parses():
    assert parse_reference_table(json.dumps(_raw())) == reference_table()


def test_a_broken_table_names_the_file_and_the_field():
    def wrong_type(raw):
        raw["test"]["fbc"]["analytes"]["hb"]["ranges"][0]["low"] = "low"

    assert "test.fbc.analytes.hb.ranges.0.low" in _break(wrong_type)

    def missing_topic(raw):
        del raw["test"]["ecg"]

    assert "test.ecg: missing" in _break(missing_topic)

    def unknown_source(raw):
        raw["test"]["crp"]["source"] = "wikipedia"

    assert "test.crp.source" in _break(unknown_source)

    def gap(raw):
        raw["test"]["fbc"]["analytes"]["hb"]["ranges"] = [
            r
            for r in raw["test"]["fbc"]["analytes"]["hb"]["ranges"]
            if not (r.get("age_min") == 16 and r.get("sex") == "male")
        ]

    assert "test.fbc.analytes.hb.ranges: no range for a male aged 16" in _break(gap)

    def draw_outside(raw):
        raw["test"]["crp"]["analytes"]["crp"]["ranges"][0]["draw"] = [1, 9]

    assert "test.crp.analytes.crp.ranges.0" in _break(draw_outside)

    def bad_placeholder(raw):
        raw["test"]["crp"]["text"] = "CRP {crpp}"

    assert "test.crp.text: unknown placeholder {crpp}" in _break(bad_placeholder)

    def unknown_key(raw):
        raw["exam"]["general"]["colour"] = "pink"

    assert "exam.general.colour" in _break(unknown_key)

    def extra_topic(raw):
        raw["test"]["x_ray_vision"] = raw["test"]["crp"]

    assert "test.x_ray_vision" in _break(extra_topic)


def test_invalid_json_names_the_file_and_line():
    with pytest.raises(ReferenceTableError, match=r"^cases/data/reference_results.json:3: invalid JSON"):
        parse_reference_table('{\n  "_sources": [],\n  "exam": {,\n}')
