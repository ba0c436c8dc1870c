import asyncio

import pytest

from arena.core.types import Case, Mistake, QAItem, Verdict
from arena.models import get_model
from arena.models.mock_scripts import register_script
from cases.synthesizer import generate
from distill.dedup import cluster_mistakes, jaccard
from distill.llm_qa import llm_qa
from distill.mistakes import mistakes_for
from distill.qa import builtin_qa, validate
from distill.replicate import answered_correctly, replicate
from judges.committee import COMMITTEE
from tests.conftest import consult


def consult_tr(case: Case, cid: str = "c1", diligence: float = 0.6, seed: int = 0):
    return consult(case, diligence, seed=seed, cid=cid)[0]


def _failing(case: Case, cid: str, judge: str = COMMITTEE) -> list[Verdict]:
    return [
        Verdict(
            consultation_id=cid,
            item_id=i.id,
            judge=judge,
            outcome="not_met" if i.points > 0 else "met",
            points=i.points,
            tags=i.tags,
        )
        for i in case.rubric
    ]


@pytest.fixture(scope="module")
def two_of_a_kind():
    # Two different synthetic patients with the same condition make the same mistakes.
    cases = [c for c in generate(400, seed=21) if c.diagnosis.name == generate(1, seed=21)[0].diagnosis.name][:2]
    assert len(cases) == 2
    return cases


def test_mistakes_link_the_judges_that_failed_them(stemi: Case):
    tr = consult_tr(stemi)
    verdicts = _failing(stemi, "c1") + _failing(stemi, "c1", judge="builtin/rubric")
    ms = mistakes_for(tr, stemi, verdicts)
    assert len(ms) == len(stemi.rubric)
    assert all(m.verdicts == ["builtin/rubric"] for m in ms)
    assert all(m.run_id == "r1" and m.consultation_id == "c1" and m.case_id == stemi.id for m in ms)


def test_near_duplicates_merge_and_keep_their_sources(two_of_a_kind):
    a, b = two_of_a_kind
    ma = mistakes_for(consult_tr(a, "ca"), a, _failing(a, "ca"))
    mb = mistakes_for(consult_tr(b, "cb"), b, _failing(b, "cb"))
    cases = {a.id: a, b.id: b}
    merged, clusters = cluster_mistakes(ma + mb, cases, threshold=0.8)
    shared = {m.item_id for m in ma} & {m.item_id for m in mb}
    assert shared
    for c in clusters:
        items = {m.item_id for m in merged if m.cluster_id == c.id}
        if items & shared:
            assert c.count == 2 and c.consultations == ["ca", "cb"]
    assert sum(c.count for c in clusters) == len(ma) + len(mb)
    assert {m.cluster_id for m in merged} == {c.id for c in clusters}
    # A threshold above any real similarity keeps everything apart except identical signatures.
    _, strict = cluster_mistakes(ma, cases, threshold=1.0)
    assert len(strict) == len({(m.category, m.title) for m in ma})
    with pytest.raises(ValueError):
        cluster_mistakes(ma, cases, threshold=1.5)
    assert jaccard(frozenset({"a", "b"}), frozenset({"b", "c"})) == pytest.approx(1 / 3)


def test_builtin_items_have_grading_and_multiple_choice():
    checked = 0
    for case in generate(20, seed=2):
        tr = consult_tr(case, diligence=1.0)
        for m in mistakes_for(tr, case, _failing(case, "c1")):
            q = builtin_qa(m, tr, case)
            assert q.grading and q.question and q.answer
            if q.options:
                assert q.answer in q.options and len(set(q.options)) == len(q.options)
            if m.item_id == "dx" and q.valid:
                assert q.answer == case.diagnosis.name
                assert set(q.options[1:]) <= {d.name for d in case.differentials}
                checked += 1
            if not q.valid:
                assert q.rejection
    assert checked >= 10


def test_validation_rejects_giveaways_and_invented_results(stemi: Case):
    tr = consult_tr(stemi)
    m = next(m for m in mistakes_for(tr, stemi, _failing(stemi, "c1")) if m.item_id == "dx.final")
    good = builtin_qa(m, tr, stemi).model_copy(update={"scenario": f"A 58-year-old man says: {stemi.chief_complaint}"})
    assert validate(good, m, tr, stemi).valid
    leak = validate(
        good.model_copy(update={"scenario": good.scenario + f" It is {stemi.diagnosis.name}."}), m, tr, stemi
    )
    assert not leak.valid and "given away" in leak.rejection
    no_cc = validate(good.model_copy(update={"scenario": "A patient feels unwell."}), m, tr, stemi)
    assert not no_cc.valid and "chief complaint" in no_cc.rejection
    hidden = next(
        f for f in stemi.facts if f.disclosure == "test" and f.id not in {i for t in tr.turns for i in t.revealed}
    )
    invented = validate(good.model_copy(update={"scenario": f"{good.scenario} {hidden.text}."}), m, tr, stemi)
    assert not invented.valid and "never produced" in invented.rejection
    bad_mc = validate(good.model_copy(update={"options": ["X", "Y"]}), m, tr, stemi)
    assert not bad_mc.valid and "options" in bad_mc.rejection


def test_llm_generator_through_litellm(stemi: Case):
    tr = consult_tr(stemi)
    m = next(m for m in mistakes_for(tr, stemi, _failing(stemi, "c1")) if m.item_id == "dx.final")

    def writer(messages, params):
        return (
            '{"scenario": "A '
            + str(stemi.demographics.age)
            + "-year-old "
            + stemi.demographics.sex
            + " says: "
            + stemi.chief_complaint.replace('"', "")
            + '", "question": "Most likely diagnosis?", '
            '"answer": "' + stemi.diagnosis.name + '", "rationale": "r", "grading": ["names it"], '
            '"options": ["' + stemi.diagnosis.name + '", "Acute pericarditis"]}'
        )

    register_script("test-qa-writer", writer)
    q = asyncio.run(llm_qa(get_model("mock/test-qa-writer"), m, tr, stemi))
    assert q.valid, q.rejection
    assert q.generator == "mock/test-qa-writer" and q.grading == ["names it"]
    bad = asyncio.run(llm_qa(get_model("mock/garbage"), m, tr, stemi))
    assert not bad.valid and bad.rejection.startswith("no usable item")


def test_replication_grades_the_doctors_answer(stemi: Case):
    q = QAItem(
        id="q",
        mistake_id="m",
        run_id="r",
        scenario="s",
        question="Most likely diagnosis?",
        answer="Migraine",
        options=["Migraine", "Tension-type headache"],
    )
    assert answered_correctly(q, "A. Migraine")
    assert not answered_correctly(q, "B. Tension-type headache")
    assert not answered_correctly(q, "Migraine or tension-type headache")
    opened = q.model_copy(update={"options": [], "answer": "Order a 12-lead ECG now"})
    assert answered_correctly(opened, "I would get a 12-lead ECG")
    assert not answered_correctly(opened, "Reassure and discharge")

    register_script("test-right", lambda messages, params: "A. Migraine")
    register_script("test-wrong", lambda messages, params: "B. Tension-type headache")
    got = asyncio.run(
        replicate(
            [q, q.model_copy(update={"id": "q2", "mistake_id": "m2"})],
            {"m": "mock/test-right", "m2": "mock/test-wrong"},
        )
    )
    assert [g.replicated for g in got] == [False, True]
    assert got[1].replication_answer.startswith("B.")


def test_builtin_doctor_can_be_put_a_single_shot_question(stemi: Case):
    tr = consult_tr(stemi, diligence=1.0)
    m = next(m for m in mistakes_for(tr, stemi, _failing(stemi, "c1")) if m.item_id == "dx.final")
    scenario = f"A 58-year-old man says: {stemi.chief_complaint} ECG: ST elevation in II, III and aVF; troponin raised."
    q = validate(builtin_qa(m, tr, stemi).model_copy(update={"scenario": scenario}), m, tr, stemi)
    assert q.valid, q.rejection
    [got] = asyncio.run(replicate([q], {m.id: "builtin/checklist?diligence=1.0"}))
    assert got.replicated is not None and got.replication_answer in q.options


def _unused(m: Mistake) -> None:  # keeps the Mistake import honest for type checkers
    assert m


def test_generator_names_are_checked_by_the_registry():
    from arena.models import ModelError
    from distill.pipeline import check_generator

    check_generator(None)
    check_generator("builtin/templates")
    check_generator("mock/judge")
    with pytest.raises(ModelError, match=r"unknown built-in generator 'builtin/rubric' \(known: builtin/templates\)"):
        check_generator("builtin/rubric")
    with pytest.raises(ModelError, match="unknown built-in generator"):
        check_generator("builtin/templates?n=3")
