"""The five-point diagnosis grade.

Pairs of knowledge-base conditions are chosen for each grade by rules on the
knowledge base's own data (ICD-10 codes, names, differential lists), and the
expected grade comes from that rule, never from the grader.
"""

import asyncio
import random
from functools import cache

import pytest

from arena.core.types import Case, Diagnosis, FinalAnswer
from arena.models.ask_json import DEFAULT_ATTEMPTS
from arena.models.mock_scripts import register_script
from cases.kb import Condition, load_kb
from cases.synthesizer import draw_case
from cases.text import normalise, words
from judges.committee import judge_run
from judges.diagnosis import (
    MATCH_OF_GRADE,
    DiagnosisDecider,
    DiagnosisReply,
    chosen_option,
    grade_diagnosis,
    match_diagnosis,
    read_grade,
)
from tests.conftest import consult

KB = load_kb()
CONDITIONS = sorted(KB.conditions, key=lambda c: c.id)


@cache
def case_of(condition_id: str) -> Case:
    """A synthetic case of a knowledge-base condition (its differentials are the condition's)."""
    return draw_case(KB, KB.by_id[condition_id], random.Random(0))


def said(text: str) -> FinalAnswer:
    return FinalAnswer(diagnosis=text)


def graded(truth: Condition, text: str) -> tuple[str, str]:
    case = case_of(truth.id)
    return match_diagnosis(said(text), case), grade_diagnosis(said(text), case)


def names(c: Condition) -> list[str]:
    return [c.name, *c.synonyms]


def linked(a: Condition, b: Condition) -> bool:
    """The knowledge base lists one among the other's differentials."""
    return a.id in b.differentials or b.id in a.differentials


def category(c: Condition) -> str:
    return c.icd10.replace(".", "")[:3]


def names_inside(text: str, c: Condition) -> bool:
    """One of ``c``'s names appears, as whole words, in ``text``."""
    return any(normalise(n) in normalise(text) for n in names(c))


SIBLINGS = [
    (truth, other)
    for truth in CONDITIONS
    for other in CONDITIONS
    if truth.id != other.id and category(truth) == category(other) and truth.icd10 != other.icd10
]
"""Two conditions with different codes in the same three-character ICD-10 category (STEMI and NSTEMI)."""

RELATED = [
    (truth, other)
    for truth in CONDITIONS
    for other in CONDITIONS
    if truth.id != other.id
    and linked(truth, other)
    and category(truth) != category(other)
    and not names_inside(other.name, truth)
    and not any(names_inside(n, other) for n in names(truth))
]
"""A differential of the case's condition, or a condition that lists it as one, outside its category."""


def _unrelated() -> list[tuple[Condition, Condition]]:
    # Two per condition: another organ system, no differential link either way, no shared category.
    out = []
    for truth in CONDITIONS:
        others = [
            o
            for o in CONDITIONS
            if o.organ_system != truth.organ_system
            and not linked(truth, o)
            and category(truth) != category(o)
            and not set(o.differentials) & {truth.id, *truth.differentials}
        ]
        out += [(truth, o) for o in others[:2]]
    return out


UNRELATED = _unrelated()
"""Conditions of different organ systems that the knowledge base never names as differentials of each other
(nor share a differential)."""

HEADS = ("itis", "osis")


def _less_specific() -> list[tuple[Condition, str]]:
    # A two-word name whose head is a disease word ("bacterial meningitis"): the head alone says the same
    # condition less specifically, as long as it is not itself the name of a condition.
    out = []
    for c in CONDITIONS:
        ws = [w for w in words(c.name) if w not in ("acute", "chronic")]
        if (
            len(ws) == 2
            and ws[1].endswith(HEADS)
            and not any(normalise(ws[1]) == normalise(n) for o in CONDITIONS for n in names(o))
        ):
            out.append((c, ws[1]))
    return out


LESS_SPECIFIC = _less_specific()


def test_the_knowledge_base_holds_pairs_for_every_grade():
    # The rules above must find something, or the tests below would pass on nothing.
    assert len(SIBLINGS) >= 6 and len(RELATED) >= 100 and len(UNRELATED) >= 150 and len(LESS_SPECIFIC) >= 5
    # The differential relation is read both ways: both directions occur among the related pairs.
    assert any(o.id in t.differentials and t.id not in o.differentials for t, o in RELATED)
    assert any(t.id in o.differentials and o.id not in t.differentials for t, o in RELATED)


@pytest.mark.parametrize("truth", CONDITIONS, ids=lambda c: c.id)
def test_every_name_and_synonym_of_a_condition_is_exact(truth: Condition):
    for n in names(truth):
        assert graded(truth, n) == ("exact", "exact"), n
    assert graded(truth, f"Probable {truth.name.lower()}") == ("exact", "exact")


def test_a_more_specific_code_than_the_case_names_is_exact():
    # A case that names only the ICD-10 category (as an imported case may): every condition in it is exact.
    for c in CONDITIONS:
        cat = category(c)
        if len(c.icd10.replace(".", "")) <= 3:
            continue
        base = case_of(c.id)
        case = base.model_copy(update={"diagnosis": Diagnosis(name=f"Disorder of category {cat}", icd10=cat)})
        assert match_diagnosis(said(c.name), case) == "exact"
        assert grade_diagnosis(said(c.name), case) == "exact", c.id


def test_a_sibling_code_in_the_same_category_is_close():
    for truth, other in SIBLINGS:
        assert graded(truth, other.name) == ("partial", "close"), (truth.id, other.id)


def test_the_same_condition_named_less_specifically_is_close():
    for truth, head in LESS_SPECIFIC:
        assert graded(truth, head) == ("partial", "close"), (truth.id, head)
    # STEMI named as a myocardial infarction is the standard example.
    assert graded(KB.by_id["stemi"], "Acute myocardial infarction") == ("partial", "close")


def test_a_differential_either_way_is_related():
    for truth, other in RELATED:
        assert graded(truth, other.name) == ("wrong", "related"), (truth.id, other.id)


def test_a_condition_with_no_tie_to_the_case_is_unrelated():
    for truth, other in UNRELATED:
        assert graded(truth, other.name) == ("wrong", "unrelated"), (truth.id, other.id)
    assert graded(KB.by_id["stemi"], "Ingrown toenail") == ("wrong", "unrelated")  # not in the knowledge base


def test_no_diagnosis_is_missing():
    case = case_of("stemi")
    for final in (None, said(""), said("   ")):
        assert match_diagnosis(final, case) == "missing"
        assert grade_diagnosis(final, case) == "missing"


def test_the_grade_and_the_match_always_agree():
    pairs = [(t, o.name) for t, o in SIBLINGS + RELATED + UNRELATED] + LESS_SPECIFIC
    pairs += [(t, n) for t in CONDITIONS for n in names(t)]
    seen = set()
    for truth, text in pairs:
        match, grade = graded(truth, text)
        assert MATCH_OF_GRADE[grade] == match, (truth.id, text)
        seen.add(grade)
    assert seen == {"exact", "close", "related", "unrelated"}


# --------------------------------------------------------------------------- answer options


def options_case() -> tuple[Case, list[str]]:
    """A STEMI case asked as multiple choice: A unrelated, B the answer, C a differential, D unrelated."""
    stemi = KB.by_id["stemi"]
    unrelated = [o for t, o in UNRELATED if t.id == "stemi"]
    differential = KB.by_id[stemi.differentials[0]]
    options = [unrelated[0].name, stemi.name, differential.name, unrelated[1].name]
    return case_of("stemi").model_copy(update={"options": options}), options


@pytest.mark.parametrize(
    ("answer", "index"),
    [
        ("B", 1),
        ("B)", 1),
        ("(b)", 1),
        ("b.", 1),
        ("Option B", 1),
        ("option c", 2),
        ("Answer: D", 3),
        ("The answer is A", 0),
        ("C) " + "{C}", 2),
        ("option C: " + "{C}", 2),
        ("ST-elevation MYOCARDIAL infarction", 1),
    ],
)
def test_an_answer_picks_an_option_by_letter_or_text(answer: str, index: int):
    _, options = options_case()
    assert chosen_option(answer.replace("{C}", options[2]), options) == options[index]


@pytest.mark.parametrize("answer", ["E", "Option F", "B) Migraine", "E. coli sepsis", "Probably B or C", ""])
def test_an_answer_that_picks_no_option_is_read_as_written(answer: str):
    _, options = options_case()
    assert chosen_option(answer, options) is None


def test_letter_answers_are_graded_as_the_option_they_pick():
    case, _ = options_case()
    assert (match_diagnosis(said("B"), case), grade_diagnosis(said("B"), case)) == ("exact", "exact")
    assert (match_diagnosis(said("Option C"), case), grade_diagnosis(said("Option C"), case)) == ("wrong", "related")
    assert (match_diagnosis(said("A)"), case), grade_diagnosis(said("A)"), case)) == ("wrong", "unrelated")
    assert grade_diagnosis(said("E"), case) == "unrelated"  # no option E: read as written
    # Without options a letter is no diagnosis of anything.
    assert grade_diagnosis(said("B"), case_of("stemi")) == "unrelated"
    assert chosen_option("B", []) is None


# --------------------------------------------------------------------------- the model's grade


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("exact", "exact"),
        ("Close", "close"),
        (" RELATED ", "related"),
        ("unrelated", "unrelated"),
        ("missing", "missing"),
        (5, "exact"),
        (4, "close"),
        ("3", "related"),
        (2.0, "unrelated"),
        ("1/5", "missing"),
        ("close (a less specific name)", "close"),
        ("same", "exact"),
        ("partial", "close"),
        ("wrong", "unrelated"),
    ],
)
def test_a_reply_grades_by_name_or_number(value: object, grade: str):
    assert read_grade(value) == grade
    assert DiagnosisReply.model_validate({"grade": value}).grade == grade


@pytest.mark.parametrize("value", [0, 6, 3.5, True, "maybe", "not related", None])
def test_a_reply_off_the_scale_is_refused(value: object):
    with pytest.raises(ValueError):
        read_grade(value)


def test_the_model_grades_with_the_rubric_only_what_the_rules_call_unrelated():
    prompts: list[str] = []
    replies = ["I think it is close.", '{"grade": 4, "explanation": "a description of an MI"}']

    def script(messages, params):
        prompts.append(messages[-1]["content"])
        return replies.pop(0)

    register_script("test-grade-dx", script)
    case = case_of("stemi")
    d = DiagnosisDecider("mock/test-grade-dx")
    # A description the rules cannot read: the model's grade 4 is close, and the match follows it.
    assert asyncio.run(d.decide(said("heart muscle dying from a blocked artery"), case)) == ("partial", "close")
    assert replies == [] and len(prompts) == 2
    rubric = prompts[0]
    for n, g in [(5, "exact"), (4, "close"), (3, "related"), (2, "unrelated"), (1, "missing")]:
        assert f'{n} "{g}"' in rubric
    assert "heart muscle dying from a blocked artery" in rubric and case.diagnosis.name in rubric
    assert "work-up" in rubric
    # What the rules decide is not asked.
    for text, want in [(case.diagnosis.name, ("exact", "exact")), ("NSTEMI", ("partial", "close"))]:
        assert asyncio.run(d.decide(said(text), case)) == want
    assert asyncio.run(d.decide(said("Acute pericarditis"), case)) == ("wrong", "related")
    assert asyncio.run(d.decide(None, case)) == ("missing", "missing")
    assert len(prompts) == 2


@pytest.mark.parametrize(
    ("reply", "want"),
    [
        ('{"grade": "related"}', ("wrong", "related")),
        ('{"grade": "exact"}', ("exact", "exact")),
        ('{"grade": 2}', ("wrong", "unrelated")),
        ('{"grade": "missing"}', ("missing", "missing")),
        ('{"match": "same", "explanation": "the older reply shape"}', ("exact", "exact")),
    ],
)
def test_the_models_grade_sets_the_match(reply: str, want: tuple[str, str]):
    register_script("test-grade-reply", lambda messages, params: reply)
    got = asyncio.run(
        DiagnosisDecider("mock/test-grade-reply").decide(said("crushing pain from the heart"), case_of("stemi"))
    )
    assert got == want and got.match == want[0] and got.grade == want[1]


def test_without_a_usable_grade_the_rules_stand():
    calls = []

    def unusable(messages, params):
        calls.append(1)
        return '{"grade": "maybe"}'

    register_script("test-grade-unusable", unusable)
    got = asyncio.run(DiagnosisDecider("mock/test-grade-unusable").decide(said("crushing pain"), case_of("stemi")))
    assert got == ("wrong", "unrelated")
    assert len(calls) == DEFAULT_ATTEMPTS


def test_the_model_is_shown_the_option_a_letter_picks():
    prompts: list[str] = []

    def script(messages, params):
        prompts.append(messages[-1]["content"])
        return '{"grade": "unrelated"}'

    register_script("test-grade-option", script)
    case, options = options_case()
    got = asyncio.run(DiagnosisDecider("mock/test-grade-option").decide(said("D"), case))
    assert got == ("wrong", "unrelated")
    assert options[3] in prompts[0] and 'answered "D"' in prompts[0]


def test_without_a_model_the_rules_decide_offline():
    d = DiagnosisDecider()
    case = case_of("stemi")
    assert asyncio.run(d.decide(said("heart muscle dying"), case)) == ("wrong", "unrelated")


# --------------------------------------------------------------------------- stored on the score


def test_judging_puts_the_grade_on_each_score(bank):
    cases = {c.id: c for c in bank[:6]}
    transcripts = [consult(c, 0.7, seed=i, cid=f"c{i}", run_id="r")[0] for i, c in enumerate(cases.values())]
    _, scores = asyncio.run(judge_run(transcripts, cases, ["builtin/rubric"]))
    by_id = {s.consultation_id: s for s in scores}
    assert len(by_id) == len(transcripts)
    for tr in transcripts:
        s = by_id[tr.id]
        assert s.grade == grade_diagnosis(tr.final, cases[tr.case_id])
        assert s.diagnosis == match_diagnosis(tr.final, cases[tr.case_id]) == MATCH_OF_GRADE[s.grade]


def test_the_models_grade_reaches_the_score(stemi: Case):
    tr = consult(stemi, 1.0, seed=0, cid="c-model", run_id="r")[0]
    tr = tr.model_copy(update={"final": said("a heart problem of some kind")})
    register_script("test-grade-run", lambda messages, params: '{"grade": 3}')
    _, [score] = asyncio.run(
        judge_run([tr], {stemi.id: stemi}, ["builtin/rubric"], diagnosis_judge="mock/test-grade-run")
    )
    assert (score.diagnosis, score.grade) == ("wrong", "related")
