import asyncio
import json

from arena.core.types import Case, FinalAnswer
from arena.models import get_model
from arena.models.ask_json import DEFAULT_ATTEMPTS
from arena.models.mock_scripts import register_script
from judges.builtin_rubric import BuiltinRubricJudge
from judges.committee import COMMITTEE, judge_run
from judges.diagnosis import DiagnosisDecider, match_diagnosis
from judges.llm_rubric import LLMRubricJudge
from tests.conftest import consult


def test_builtin_judge_agrees_with_what_happened(bank):
    judge = BuiltinRubricJudge()
    for case in bank:
        tr, _ = consult(case, 0.7, seed=5, cid="c-5", run_id="r")
        asked = " ".join(t.content for t in tr.turns if t.role == "doctor")
        revealed = {i for t in tr.turns[1:] for i in t.revealed}
        for v in asyncio.run(judge.judge(tr, case)):
            item = next(i for i in case.rubric if i.id == v.item_id)
            assert item.check is not None
            if item.check.kind in ("elicit", "order"):
                happened = bool(set(item.check.targets) & revealed)
                want = happened if item.check.met_when == "present" else not happened
                assert (v.outcome == "met") == want, (case.id, item.id, asked)
            assert all(0 <= i < len(tr.turns) for i in v.evidence_turns)


def test_harmful_omission_is_met_when_the_test_was_never_ordered(stemi: Case):
    tr, _ = consult(stemi, 1.0, cid="c-0", run_id="r")
    no_test = tr.model_copy(update={"turns": [t for t in tr.turns if t.role != "measurement"]})
    harm = next(i for i in stemi.rubric if i.points < 0 and i.check and i.check.met_when == "absent")
    judge = BuiltinRubricJudge()
    assert judge.judge_item(no_test, stemi, harm).outcome == "met"


def test_llm_judge_reads_verdicts_through_litellm(stemi: Case):
    tr, _ = consult(stemi, 1.0, cid="c-0", run_id="r")
    vs = asyncio.run(LLMRubricJudge(get_model("mock/judge?met=false")).judge(tr, stemi))
    assert len(vs) == len(stemi.rubric)
    assert {v.outcome for v in vs} == {"not_met"}
    assert {v.judge for v in vs} == {"mock/judge?met=false"}


def test_llm_judge_gives_up_after_bounded_attempts(stemi: Case):
    calls = []
    from arena.models.mock_scripts import register_script

    def garbage(messages, params):
        calls.append(1)
        return "no json here"

    register_script("test-garbage-judge", garbage)
    tr, _ = consult(stemi, 1.0, cid="c-0", run_id="r")
    vs = asyncio.run(LLMRubricJudge(get_model("mock/test-garbage-judge")).judge(tr, stemi))
    assert {v.outcome for v in vs} == {"unscored"}
    assert len(calls) == DEFAULT_ATTEMPTS * len(stemi.rubric)


def test_committee_keeps_every_verdict_and_flags_splits(stemi: Case):
    tr, _ = consult(stemi, 1.0, cid="c-0", run_id="r")
    verdicts, scores = asyncio.run(
        judge_run([tr], {stemi.id: stemi}, ["builtin/rubric", "mock/judge?met=true", "mock/judge?met=false"])
    )
    n = len(stemi.rubric)
    assert len(verdicts) == 4 * n
    committee = [v for v in verdicts if v.judge == COMMITTEE]
    builtin = {v.item_id: v.outcome for v in verdicts if v.judge == "builtin/rubric"}
    # With one always-met and one never-met judge, the built-in judge casts the deciding vote.
    assert {v.item_id: v.outcome for v in committee} == builtin
    assert all("judges split" in v.explanation for v in committee)
    assert len(scores) == 1


def test_the_diagnosis_fallback_gives_up_after_bounded_attempts_and_the_rules_stand(stemi: Case):
    calls = []

    def unsure(messages, params):
        calls.append(1)
        return '{"match": "maybe"}'

    register_script("test-unsure-dx", unsure)
    said = FinalAnswer(diagnosis="blocked coronary artery with ST rise")
    assert match_diagnosis(said, stemi) == "wrong"
    assert asyncio.run(DiagnosisDecider("mock/test-unsure-dx").decide(said, stemi)) == ("wrong", "unrelated")
    assert len(calls) == DEFAULT_ATTEMPTS


def test_the_diagnosis_fallback_reads_a_synonym_in_any_case_after_a_reply_without_one(stemi: Case):
    replies = ["I would call it the same disease.", '{"match": "SAME", "explanation": "a description of it"}']

    def second_time(messages, params):
        return replies.pop(0)

    register_script("test-second-dx", second_time)
    said = FinalAnswer(diagnosis="blocked coronary artery with ST rise")
    assert asyncio.run(DiagnosisDecider("mock/test-second-dx").decide(said, stemi)) == ("exact", "exact")
    assert replies == []


def test_llm_judge_reads_each_item_a_batch_reply_gives_and_asks_for_the_rest(stemi: Case):
    asked = []
    first, *rest = stemi.rubric

    def batch_then_items(messages, params):
        prompt = messages[-1]["content"]
        asked.append(prompt)
        if len(asked) == 1:
            entries = [
                {"item_id": first.id, "criteria_met": True, "explanation": "e", "evidence_turns": [1, "x", 2.0]},
                {"item_id": rest[0].id, "criteria_met": "true"},
                "not an entry",
            ]
            return "Here: " + json.dumps(entries)
        return json.dumps({"criteria_met": False, "explanation": "single"})

    register_script("test-batch-then-items", batch_then_items)
    tr, _ = consult(stemi, 1.0, cid="c-0", run_id="r")
    vs = asyncio.run(LLMRubricJudge(get_model("mock/test-batch-then-items"), batch=True).judge(tr, stemi))
    by_id = {v.item_id: v for v in vs}
    assert (by_id[first.id].outcome, by_id[first.id].evidence_turns) == ("met", [1, 2])
    assert all(by_id[it.id].outcome == "not_met" and by_id[it.id].explanation == "single" for it in rest)
    assert len(asked) == 1 + len(rest)
