"""Per-format figures and paired gaps on scores whose values are set by hand."""

import pytest

from arena.core.types import Score
from judges.format_gap import format_figures
from judges.scoring import paired_bootstrap


def _score(cid: str, overall: float, right: bool, left_out: int = 0) -> Score:
    return Score(
        consultation_id=cid, overall=overall, raw=overall, diagnosis="exact" if right else "wrong", left_out=left_out
    )


def test_gaps_pair_the_same_case_and_trial_across_formats():
    # case, trial, dialogue (score, right), vignette (score, right)
    plays = [
        ("a", 0, (0.2, False), (0.8, True)),
        ("a", 1, (0.4, True), (0.6, True)),
        ("b", 0, (0.5, False), (0.5, False)),
        ("c", 0, (0.1, False), (0.7, True)),
    ]
    scores, meta = {}, {}
    for case, trial, dia, vig in plays:
        for fmt, (overall, right), left in (("dialogue", dia, 0), ("vignette", vig, 4)):
            cid = f"{case}/{trial}/{fmt}"
            scores[cid] = _score(cid, overall, right, left)
            meta[cid] = {"doctor": "d", "case_id": case, "trial": trial, "format": fmt}
    figures, gaps = format_figures(scores, meta)
    assert figures["d"]["dialogue"].accuracy.mean == pytest.approx(1 / 4)
    assert figures["d"]["vignette"].accuracy.mean == pytest.approx(3 / 4)
    assert figures["d"]["vignette"].score.mean == pytest.approx((0.8 + 0.6 + 0.5 + 0.7) / 4)
    assert figures["d"]["vignette"].left_out == 4 and figures["d"]["dialogue"].left_out == 0
    [acc, score] = gaps
    assert (acc.measure, acc.minuend, acc.subtrahend, acc.pairs) == ("accuracy", "vignette", "dialogue", 4)
    assert acc.difference == pytest.approx((1 + 0 + 0 + 1) / 4)
    assert score.difference == pytest.approx((0.6 + 0.2 + 0.0 + 0.6) / 4)
    # Resampling whole cases: the smallest mean a resample can reach is case b's alone (0.0), the
    # largest case c's alone (+0.6); the interval lies within them and holds the estimate.
    assert 0.0 <= score.low <= score.difference <= score.high <= 0.6 + 1e-9


def test_one_format_gives_no_format_figures():
    scores = {"x": _score("x", 0.5, True)}
    assert format_figures(scores, {"x": {"doctor": "d", "case_id": "a", "trial": 0, "format": "dialogue"}}) == ({}, [])


def test_the_paired_bootstrap_keeps_a_cases_trials_together():
    # Two clusters; every resample is (a,a), (a,b), (b,a) or (b,b).
    diffs = {"a": [1.0, 1.0, 1.0], "b": [0.0]}
    mean, low, high = paired_bootstrap(diffs, n=2000, seed=1)
    assert mean == pytest.approx(3 / 4)
    possible = {1.0, 0.0, 3 / 4}
    assert low in possible and high in possible
    assert low == 0.0 and high == 1.0
    assert paired_bootstrap({"a": [0.3]}) == (0.3, 0.3, 0.3)
    assert paired_bootstrap({}) == (0.0, 0.0, 0.0)
