"""The importers on the real, third-party case files kept in data/public/ (not written by this project)."""

import json
from pathlib import Path

import pytest

from arena.core.types import Demographics, Fact
from cases.importers import Draft, Where, _repair_polarity, import_cases
from cases.loader import CaseFileError
from cases.synthesizer import consistency_problems

PUBLIC = Path(__file__).resolve().parents[2] / "data" / "public"

# (file, format, records in the file as published: see data/public/README.md)
FILES = [
    ("agentclinic_medqa.jsonl", "agentclinic", 107),
    ("agentclinic_nejm.jsonl", "agentclinic", 15),
    ("all_craft_md.jsonl", "mediq", 140),
]


def _records(name: str) -> list[dict]:
    return [json.loads(line) for line in (PUBLIC / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _line_of(case, raw: list[dict]) -> int:
    """The line of the record a case came from (AgentClinic ids are line numbers, MediQ ids the record's id)."""
    source_id = case.id.split("-", 1)[1]
    if case.source == "mediq":
        return next(i for i, r in enumerate(raw, 1) if str(r["id"]) == source_id)
    return int(source_id)


@pytest.mark.parametrize(("name", "fmt", "records"), FILES, ids=[f[0] for f in FILES])
def test_each_public_file_imports_whole_or_skips_with_a_reason(name, fmt, records):
    assert len(_records(name)) == records  # the copy is whole
    result = import_cases(fmt, PUBLIC / name)
    assert result.read == records
    assert len(result.cases) + len(result.skipped) == records
    assert len(result.cases) >= 0.98 * records
    for skip in result.skipped:
        assert skip.message.startswith(f"{PUBLIC / name}:{skip.line}: ")
        assert "Error:" not in skip.reason  # a reason about the record, never a parser crash
    assert len({c.id for c in result.cases}) == len(result.cases)
    for case in result.cases:
        assert consistency_problems(case) == [], case.id
        assert sum(f.disclosure == "volunteered" for f in case.facts) == 1


@pytest.mark.parametrize(("name", "fmt", "records"), FILES, ids=[f[0] for f in FILES])
def test_imported_diagnosis_is_the_source_answer(name, fmt, records):
    raw = _records(name)
    for case in import_cases(fmt, PUBLIC / name).cases:
        record = raw[_line_of(case, raw) - 1]
        if fmt == "mediq":
            expected = record["answer"]
        elif "OSCE_Examination" in record:
            expected = record["OSCE_Examination"]["Correct_Diagnosis"]
        else:
            expected = next(a["text"] for a in record["answers"] if a["correct"])
        assert case.diagnosis.name == expected.strip()


def test_nejm_age_and_sex_come_from_the_question_when_the_actor_brief_lacks_them():
    raw = _records("agentclinic_nejm.jsonl")
    line = next(i for i, r in enumerate(raw, 1) if "3-year-old girl" in r["question"])
    assert "3-year-old" not in raw[line - 1]["patient_info"]  # the brief does not say it
    case = next(
        c for c in import_cases("agentclinic", PUBLIC / "agentclinic_nejm.jsonl").cases if c.id.endswith(f"-{line}")
    )
    assert (case.demographics.age, case.demographics.sex) == (3, "female")
    assert case.speaker == "caregiver"
    # The opening is the vignette's complaint in a caregiver's words, not the actor's instructions.
    assert "actor" not in case.chief_complaint.lower() and "dark urine" in case.chief_complaint


def test_actor_instructions_never_become_facts():
    result = import_cases("agentclinic", PUBLIC / "agentclinic_nejm.jsonl")
    for case in result.cases:
        for fact in case.facts:
            text = fact.text.lower()
            assert "patient actor" not in text and "your role" not in text and not text.startswith("remember")


def test_newborn_without_a_stated_sex_gets_one_chosen_and_noted():
    raw = _records("agentclinic_medqa.jsonl")
    line = next(
        i for i, r in enumerate(raw, 1) if r["OSCE_Examination"]["Patient_Actor"]["Demographics"] == "4-day-old newborn"
    )
    result = import_cases("agentclinic", PUBLIC / "agentclinic_medqa.jsonl")
    case = next(c for c in result.cases if c.id == f"agentclinic-{line}")
    assert case.demographics.age == 0 and case.speaker == "caregiver"
    assert any(f":{line}: the record states no sex" in n for n in result.notes)
    again = next(c for c in import_cases("agentclinic", PUBLIC / "agentclinic_medqa.jsonl").cases if c.id == case.id)
    assert again.demographics.sex == case.demographics.sex  # the same record, the same choice


def test_a_misread_denial_that_agrees_with_two_findings_is_repaired_once():
    # One denial read against two findings used to stop the whole MedQA and CRAFT-MD imports.
    fact = dict(category="hpi", disclosure="on_ask", topic="appetite_weight")
    draft = Draft(
        source_id="1",
        title="t",
        chief_complaint="I feel unwell.",
        demographics=Demographics(age=40, sex="male"),
        facts=[
            Fact(id="cc", text="Feels unwell", category="hpi", disclosure="volunteered", topic="general"),
            Fact(id="a", text="Poor appetite", **fact),
            Fact(id="b", text="Appetite is poor most days", **fact),
            Fact(id="c", text="He has not eaten since yesterday because of poor appetite", negative=True, **fact),
            Fact(id="d", text="Denies appetite changes in the past", negative=True, **fact),
        ],
        diagnosis="x",
    )
    notes: list[str] = []
    _repair_polarity(draft, Where(Path("f.jsonl"), 3), notes)
    assert [f.negative for f in draft.facts] == [False, False, False, False, True]
    assert len(notes) == 1 and "'Poor appetite'" in notes[0] and "'Appetite is poor most days'" in notes[0]


def test_strict_import_of_a_file_with_one_bad_line_fails_and_a_lenient_one_skips_it(tmp_path):
    lines = (PUBLIC / "agentclinic_nejm.jsonl").read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "mixed.jsonl"
    bad.write_text("\n".join([lines[0], '{"answers": "none"}', *lines[1:]]) + "\n", encoding="utf-8")
    result = import_cases("agentclinic", bad)
    assert result.read == 16 and len(result.cases) == 15
    assert [s.line for s in result.skipped] == [2]
    assert result.skipped[0].message.startswith(f"{bad}:2: ")
    with pytest.raises(CaseFileError, match=r"mixed\.jsonl:2: "):
        import_cases("agentclinic", bad, strict=True)


def test_an_unforeseen_failure_in_one_record_is_a_skip_not_a_traceback(monkeypatch):
    import cases.importers.agentclinic as agentclinic

    real = agentclinic.convert

    def breaks_on_line_3(obj, where, notes):
        if where.line == 3:
            raise ValueError("x is not in list\nsecond line")
        return real(obj, where, notes)

    monkeypatch.setattr(agentclinic, "convert", breaks_on_line_3)
    path = PUBLIC / "agentclinic_nejm.jsonl"
    result = import_cases("agentclinic", path)
    assert len(result.cases) == 14
    assert [s.message for s in result.skipped] == [
        f"{path}:3: cannot make a case from this record (ValueError: x is not in list)"
    ]
    with pytest.raises(CaseFileError, match=r":3: cannot make a case from this record \(ValueError"):
        import_cases("agentclinic", path, strict=True)


@pytest.mark.parametrize(("name", "fmt", "records"), FILES, ids=[f[0] for f in FILES])
def test_answer_options_are_the_sources_in_its_order(name, fmt, records):
    raw = _records(name)
    for case in import_cases(fmt, PUBLIC / name).cases:
        record = raw[_line_of(case, raw) - 1]
        if fmt == "mediq":
            opts = [record["options"][k] for k in sorted(record["options"])]
            if record["answer"] in opts:
                source = opts
            else:  # the answer stands in for the option it marks, worded differently
                marked = sorted(record["options"]).index(record["answer_idx"])
                source = [record["answer"] if i == marked else o for i, o in enumerate(opts)]
        elif "answers" in record:
            source = [a["text"] for a in record["answers"]]
        else:
            assert case.options == []  # the OSCE records offer no options
            continue
        assert [o.strip() for o in source] == case.options
        assert case.diagnosis.name in case.options
