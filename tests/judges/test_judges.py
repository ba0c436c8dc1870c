import asyncio

from arena.core.types import Case
from arena.models import get_model
from judges.builtin_rubric import BuiltinRubricJudge
from judges.committee import COMMITTEE, judge_run
from judges.llm_rubric import MAX_ATTEMPTS, LLMRubricJudge
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
    assert len(calls) == MAX_ATTEMPTS * len(stemi.rubric)


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
