import pytest

from arena.core.types import Case, FinalAnswer, Verdict
from judges.committee import aggregate
from judges.diagnosis import match_diagnosis
from judges.scoring import bootstrap_ci, score_consultation


def V(item, outcome, points, *tags):
    return Verdict(consultation_id="c", item_id=item, judge="j", outcome=outcome, points=points, tags=list(tags))


def test_healthbench_arithmetic_with_a_harmful_item():
    vs = [
        V("a", "met", 5, "axis:history", "priority:must"),
        V("b", "not_met", 5, "axis:history", "priority:must"),
        V("c", "met", 10, "axis:diagnosis"),
        V("d", "met", -8, "axis:safety"),  # the harmful thing happened
    ]
    s = score_consultation("c", vs, "exact")
    # (5 + 10 - 8) / (5 + 5 + 10)
    assert s.raw == pytest.approx(7 / 20)
    assert s.overall == pytest.approx(7 / 20)
    assert s.by_axis == {"history": pytest.approx(0.5), "diagnosis": 1.0}
    assert s.must_ask_coverage == pytest.approx(0.5)


def test_score_is_clipped_and_unscored_items_count_in_neither_sum():
    vs = [V("a", "not_met", 4, "axis:history"), V("h", "met", -10, "axis:safety"), V("u", "unscored", 6)]
    s = score_consultation("c", vs, "wrong")
    assert s.raw == pytest.approx(-10 / 4)
    assert s.overall == 0.0
    assert s.unscored == 1
    assert s.must_ask_coverage is None


@pytest.mark.parametrize(
    ("outcomes", "rule", "want"),
    [
        (["met", "met", "not_met"], "majority", "met"),
        (["met", "not_met"], "majority", "unscored"),
        (["met", "unscored", "unscored"], "majority", "met"),
        (["unscored"], "majority", "unscored"),
        (["met", "met", "not_met"], "unanimous", "not_met"),
        (["met", "met", "unscored"], "unanimous", "met"),
    ],
)
def test_aggregation_rules(outcomes, rule, want):
    assert aggregate(outcomes, rule) == want


def test_diagnosis_matching(stemi: Case):
    assert match_diagnosis(None, stemi) == "missing"
    assert match_diagnosis(FinalAnswer(diagnosis=""), stemi) == "missing"
    assert match_diagnosis(FinalAnswer(diagnosis=stemi.diagnosis.name), stemi) == "exact"
    syn = stemi.diagnosis.synonyms[0]
    assert match_diagnosis(FinalAnswer(diagnosis=f"Acute {syn} probably"), stemi) == "exact"
    assert match_diagnosis(FinalAnswer(diagnosis="Myocardial infarction"), stemi) == "partial"
    assert match_diagnosis(FinalAnswer(diagnosis="Gastro-oesophageal reflux disease"), stemi) == "wrong"


def test_a_different_disease_sharing_a_word_is_wrong(bank):
    meningitis = next(c for c in bank if c.id == "bacterial-meningitis")
    assert match_diagnosis(FinalAnswer(diagnosis="Viral meningitis"), meningitis) == "wrong"
    assert match_diagnosis(FinalAnswer(diagnosis="Meningitis"), meningitis) == "partial"


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    vals = [0.1, 0.4, 0.5, 0.9, 0.7, 0.3]
    lo, hi = bootstrap_ci(vals, seed=1)
    mean = sum(vals) / len(vals)
    assert lo < mean < hi
    assert (lo, hi) == bootstrap_ci(vals, seed=1)
    assert bootstrap_ci([0.5]) == (0.5, 0.5)
