"""The noise floor end to end: `arena simulate --trials 2`, then `arena report`, as a user runs them."""

import math
import re
from collections import defaultdict
from statistics import mean, variance

import pytest

from arena.core.store import Store
from tests.conftest import arena

pytestmark = pytest.mark.slow

DOCTOR = "builtin/checklist?diligence=0.6"


def test_simulate_with_two_trials_then_report_shows_the_noise_floor(tmp_path, db_url):
    r = arena(tmp_path, "simulate", "--cases", "6", "--trials", "2", "--doctor", DOCTOR, db=db_url)
    assert r.returncode == 0, r.stderr[-3000:]
    r = arena(tmp_path, "report", "latest", db=db_url)
    assert r.returncode == 0, r.stderr[-3000:]
    out = " ".join(r.stdout.split())
    assert "noise floor (between trials of the same case" in out
    row = re.search(
        re.escape(DOCTOR) + r" │ dialogue │ (\d+) │ (\d+) │ ([\d.]+)% │ ([\d.]+)% │ ([\d.]+) │ ([\d.]+) │", out
    )
    assert row is not None, out
    trials, cases, flip_rate, items_flipped, sd, floor = row.groups()
    assert (trials, cases) == ("2", "6")

    # The same figures from the stored scores and committee verdicts, worked out here.
    store = Store(db_url)
    run = store.get_run("latest")
    scores = {s.consultation_id: s.overall for s in store.scores(run.id)}
    meta = store.consultation_meta(run.id)
    by_case = defaultdict(list)
    for m in meta:
        by_case[m["case_id"]].append(scores[m["id"]])
    assert sorted(len(v) for v in by_case.values()) == [2] * 6
    pooled = mean(variance(v) for v in by_case.values())  # equal trials per case: the mean of the variances
    assert sd == f"{math.sqrt(pooled):.3f}"
    assert floor == f"{1.96 * math.sqrt(2 * pooled / 12):.3f}"
    outcomes = defaultdict(list)
    case_of = {m["id"]: m["case_id"] for m in meta}
    for v in store.verdicts(run.id):
        if v.judge == "committee" and v.outcome != "unscored":
            outcomes[(case_of[v.consultation_id], v.item_id)].append(v.outcome)
    pairs = [o for o in outcomes.values() if len(o) == 2]
    # Two trials: one pair per item, so the flip rate and the share of items flipped agree.
    share = sum(o[0] != o[1] for o in pairs) / len(pairs)
    assert flip_rate == items_flipped == f"{100 * share:.1f}"
    # The checklist doctor skips questions at random, with a seed per trial: verdicts do flip.
    assert share > 0
