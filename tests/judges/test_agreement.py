import random

import pytest

from arena.core.types import Verdict
from judges.agreement import agreement, calibration


def V(c, i, j, o):
    return Verdict(consultation_id=str(c), item_id=str(i), judge=j, outcome=o, points=1)


def test_identical_judges_agree_perfectly():
    vs = [V(c, i, j, "met" if (c + i) % 3 else "not_met") for c in range(10) for i in range(4) for j in "AB"]
    a = agreement(vs, ["A", "B"])
    assert a.items == 40 and a.split == 0 and a.percent_agreement == 1.0
    assert a.fleiss_kappa == pytest.approx(1.0)
    assert a.krippendorff_alpha == pytest.approx(1.0)
    assert a.cohen == {"A | B": pytest.approx(1.0)}


def test_hand_computed_cohen_and_split_count():
    # 4 pairs: A = [1,1,0,0], B = [1,0,0,0]; po = 3/4, pe = (2/4)(1/4) + (2/4)(3/4) = 1/2, kappa = 0.5
    a_out = ["met", "met", "not_met", "not_met"]
    b_out = ["met", "not_met", "not_met", "not_met"]
    vs = [V(k, 0, "A", o) for k, o in enumerate(a_out)] + [V(k, 0, "B", o) for k, o in enumerate(b_out)]
    a = agreement(vs, ["A", "B"])
    assert a.cohen["A | B"] == pytest.approx(0.5)
    assert a.split == 1 and a.percent_agreement == pytest.approx(0.75)


def test_noisy_judges_agree_as_expected():
    rng = random.Random(5)
    vs = []
    for c in range(3000):
        truth = rng.random() < 0.5
        for j in "ABC":
            said = truth if rng.random() < 0.8 else not truth
            vs.append(V(c, 0, j, "met" if said else "not_met"))
    a = agreement(vs, ["A", "B", "C"])
    # Each judge right 80% of the time: pairwise agreement 0.68, kappa about 0.36.
    assert 0.30 < a.fleiss_kappa < 0.44
    assert 0.30 < a.krippendorff_alpha < 0.44
    assert all(0.28 < k < 0.46 for k in a.cohen.values())


def test_unscored_verdicts_do_not_count_and_one_judge_gives_nothing():
    vs = [V(0, 0, "A", "met"), V(0, 0, "B", "unscored"), V(1, 0, "A", "met"), V(1, 0, "B", "met")]
    a = agreement(vs, ["A", "B"])
    assert a.items == 1
    solo = agreement(vs, ["A"])
    assert solo.fleiss_kappa is None and solo.cohen == {}


def test_calibration_against_labels():
    vs = [V(0, 0, "A", "met"), V(1, 0, "A", "met"), V(2, 0, "A", "not_met"), V(3, 0, "A", "unscored")]
    labels = {("0", "0"): True, ("1", "0"): False, ("2", "0"): True, ("3", "0"): True}
    [c] = calibration(vs, labels)
    assert (c.judge, c.n) == ("A", 3)
    assert c.accuracy == pytest.approx(1 / 3)
    assert c.precision == pytest.approx(1 / 2)
    assert c.recall == pytest.approx(1 / 2)
