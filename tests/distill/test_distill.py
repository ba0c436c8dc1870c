from arena.core.types import Case, Verdict
from cases.text import normalise, phrase_in
from distill.mistakes import failed, mistakes_for
from distill.qa import qa_for
from judges.committee import COMMITTEE
from tests.conftest import consult


def _v(item, outcome):
    return Verdict(
        consultation_id="c1", item_id=item.id, judge=COMMITTEE, outcome=outcome, points=item.points, tags=item.tags
    )


def test_failed_means_missed_reward_or_harm_done():
    def v(outcome, pts):
        return Verdict(consultation_id="c", item_id="i", judge=COMMITTEE, outcome=outcome, points=pts)

    assert failed(v("not_met", 5)) and failed(v("met", -8))
    assert not failed(v("met", 5)) and not failed(v("not_met", -8)) and not failed(v("unscored", 5))


def test_one_mistake_per_failure_with_context(stemi: Case):
    tr = consult(stemi)[0]
    pos = [i for i in stemi.rubric if i.points > 0]
    harm = next(i for i in stemi.rubric if i.points < 0)
    verdicts = [_v(pos[0], "not_met"), _v(pos[1], "met"), _v(harm, "met"), _v(pos[2], "unscored")]
    ms = mistakes_for(tr, stemi, verdicts)
    assert [m.item_id for m in ms] == [pos[0].id, harm.id]
    omission, harmful = ms
    assert omission.cause == "omission" and str(stemi.demographics.age) in omission.description
    assert harmful.risk == ("critical" if harm.points <= -8 else "high")
    assert len(omission.tags) <= 10
    # Ids are stable: distilling twice gives the same records.
    assert mistakes_for(tr, stemi, verdicts) == ms


def test_qa_items_use_only_what_was_disclosed_and_reject_giveaways(bank):
    for case in bank:
        tr = consult(case)[0]
        verdicts = [_v(i, "not_met" if i.points > 0 else "met") for i in case.rubric]
        for m in mistakes_for(tr, case, verdicts):
            q = qa_for(m, tr, case)
            assert q.scenario.startswith(f"A {case.demographics.age}-year-old")
            item = next(i for i in case.rubric if i.id == m.item_id)
            if item.check and item.check.kind == "diagnose":
                assert q.answer == case.diagnosis.name and q.answer in q.options
                leaked = any(
                    phrase_in(n, normalise(q.scenario)) for n in (case.diagnosis.name, *case.diagnosis.synonyms)
                )
                assert q.valid == (not leaked)
            if not q.valid:
                assert q.rejection
            # Nothing the consultation did not reveal appears in the scenario.
            revealed = {i for t in tr.turns for i in t.revealed}
            for f in case.facts:
                if f.id not in revealed and f.disclosure != "volunteered":
                    assert (f.lay or f.text) not in q.scenario, (case.id, f.id)
