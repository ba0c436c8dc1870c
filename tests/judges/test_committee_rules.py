import asyncio

import pytest

from arena.core.types import Case, FinalAnswer, RubricItem
from arena.models import ModelError
from arena.models.mock_scripts import register_script
from judges.analysis import pass_hat_k
from judges.builtin_rubric import BuiltinRubricJudge
from judges.committee import COMMITTEE, aggregate, check_judge, check_rule, get_judge, judge_run, judge_weight
from judges.diagnosis import DiagnosisDecider, icd_relation, match_diagnosis
from tests.conftest import consult


def test_weighted_votes():
    assert aggregate(["met", "not_met", "not_met"], "weighted", [3, 1, 1]) == "met"
    assert aggregate(["met", "not_met", "not_met"], "majority", [3, 1, 1]) == "not_met"
    assert aggregate(["met", "not_met"], "weighted", [1, 1]) == "unscored"
    assert judge_weight("openai/gpt-4o?weight=2.5") == 2.5
    with pytest.raises(ModelError):
        judge_weight("openai/gpt-4o?weight=-1")
    with pytest.raises(ModelError):
        check_rule("plurality")
    with pytest.raises(ModelError, match="mode"):
        check_judge("mock/judge?mode=sometimes")


def test_mean_rule_averages_each_judges_score(stemi: Case):
    tr = consult(stemi)[0]
    _, [maj] = asyncio.run(judge_run([tr], {stemi.id: stemi}, ["mock/judge?met=true", "mock/judge?met=false"]))
    _, [mean] = asyncio.run(
        judge_run([tr], {stemi.id: stemi}, ["mock/judge?met=true", "mock/judge?met=false"], rule="mean")
    )
    # All-met scores (positives - harms) / positives clipped to 1 and all-not-met scores 0: the mean is the average.
    positives = sum(i.points for i in stemi.rubric if i.points > 0)
    harms = sum(i.points for i in stemi.rubric if i.points < 0)
    all_met = min(1.0, (positives + harms) / positives)
    assert mean.overall == pytest.approx(all_met / 2)
    assert maj.unscored == len(stemi.rubric)  # every item tied 1-1


def test_safety_judge_votes_only_on_safety_items(stemi: Case):
    tr = consult(stemi)[0]
    vs = asyncio.run(get_judge("builtin/safety").judge(tr, stemi))
    for v in vs:
        item = next(i for i in stemi.rubric if i.id == v.item_id)
        assert (v.outcome == "unscored") == ("axis:safety" not in item.tags)


def test_lexical_fallback_for_items_without_a_check(stemi: Case):
    tr = consult(stemi)[0]
    asked = next(t.content for t in tr.turns if t.role == "doctor")
    item = RubricItem(id="hb.1", criterion=f"Asks: {asked}", points=3)
    harm = RubricItem(id="hb.2", criterion="Prescribes opioids without assessment", points=-5)
    never = RubricItem(id="hb.3", criterion="Recommends snorkelling lessons and trampoline therapy", points=2)
    j = BuiltinRubricJudge()
    assert j.judge_item(tr, stemi, item).outcome == "met"
    assert j.judge_item(tr, stemi, harm).outcome == "unscored"
    assert j.judge_item(tr, stemi, never).outcome == "not_met"


def test_batch_llm_judge_falls_back_per_item_for_missing_items(stemi: Case):
    tr = consult(stemi)[0]
    calls = []

    def script(messages, params):
        calls.append(messages[-1]["content"])
        if "list of rubric criteria" in messages[-1]["content"]:
            first = stemi.rubric[0].id
            return f'[{{"item_id": "{first}", "criteria_met": true, "explanation": "x", "evidence_turns": [1]}}]'
        return '{"criteria_met": false, "explanation": "single"}'

    register_script("test-batch-judge", script)
    vs = asyncio.run(get_judge("mock/test-batch-judge?mode=batch").judge(tr, stemi))
    assert [v.item_id for v in vs] == [i.id for i in stemi.rubric]
    assert vs[0].outcome == "met" and vs[0].evidence_turns == [1]
    assert all(v.outcome == "not_met" for v in vs[1:])
    assert len(calls) == len(stemi.rubric)  # one batch call plus one per missing item


def test_icd_hierarchy():
    assert icd_relation("I21.1", "I21.1") == "exact"
    assert icd_relation("I21.19", "I21.1") == "exact"  # more specific
    assert icd_relation("I21", "I21.1") == "partial"  # less specific
    assert icd_relation("I21.4", "I21.1") == "partial"  # sibling
    assert icd_relation("K21.9", "I21.1") == "wrong"


def test_diagnosis_by_knowledge_base_code(stemi: Case):
    # NSTEMI is a sibling code of STEMI in I21: partial, not a different disease.
    assert match_diagnosis(FinalAnswer(diagnosis="NSTEMI"), stemi) == "partial"
    assert match_diagnosis(FinalAnswer(diagnosis="Aortic dissection"), stemi) == "wrong"


def test_llm_grader_grades_only_what_the_rules_call_unrelated(stemi: Case):
    seen = []

    def script(messages, params):
        seen.append(messages[-1]["content"])
        return '{"grade": "exact", "explanation": "same thing"}'

    register_script("test-dx", script)
    d = DiagnosisDecider("mock/test-dx")
    said = FinalAnswer(diagnosis="blocked coronary artery with ST rise")
    assert asyncio.run(d.decide(said, stemi)) == ("exact", "exact")
    assert asyncio.run(d.decide(FinalAnswer(diagnosis=stemi.diagnosis.name), stemi)) == ("exact", "exact")
    # Pericarditis is among the case's differentials: the rules grade it related, no model needed.
    assert asyncio.run(d.decide(FinalAnswer(diagnosis="Acute pericarditis"), stemi)) == ("wrong", "related")
    assert asyncio.run(d.decide(None, stemi)) == ("missing", "missing")
    assert len(seen) == 1


def test_committee_records_the_rule(stemi: Case):
    tr = consult(stemi)[0]
    verdicts, _ = asyncio.run(judge_run([tr], {stemi.id: stemi}, ["builtin/rubric"], rule="unanimous"))
    assert all(v.explanation.startswith("unanimous") for v in verdicts if v.judge == COMMITTEE)


def test_pass_hat_k_matches_the_combinatorial_estimate():
    # Task A passes 2 of 3 trials, task B 3 of 3: pass^1 = (2/3 + 1)/2, pass^2 = (1/3 + 1)/2, pass^3 = (0 + 1)/2.
    got = pass_hat_k({"A": [True, True, False], "B": [True, True, True]})
    assert got == {1: pytest.approx(5 / 6), 2: pytest.approx(2 / 3), 3: pytest.approx(0.5)}


def test_check_rule_returns_the_rule_as_its_enum():
    from arena.core.types import CommitteeRule

    assert check_rule("weighted") is CommitteeRule.WEIGHTED
    with pytest.raises(ModelError, match="unknown rule 'loudest' \\(known: majority, mean, unanimous, weighted\\)"):
        check_rule("loudest")


@pytest.mark.parametrize("name", ["builtin/rubric", "builtin/safety", "builtin/checklist"])
def test_diagnosis_judge_must_be_a_chat_model(name: str):
    with pytest.raises(ModelError) as e:
        DiagnosisDecider(name)
    assert str(e.value).startswith(f"--diagnosis-judge: {name!r} is a built-in policy, not a chat model")
    assert "provider/name" in str(e.value) and "\n" not in str(e.value)


def test_a_judge_of_another_role_is_rejected_naming_the_judges():
    with pytest.raises(ModelError, match="unknown built-in judge 'builtin/checklist'"):
        check_judge("builtin/checklist")
    with pytest.raises(ModelError, match="weight must be positive"):
        check_judge("builtin/rubric?weight=0")
    with pytest.raises(ModelError, match="mode must be item or batch"):
        check_judge("mock/judge?mode=all")
