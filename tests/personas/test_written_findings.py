"""The findings written for ``bench/guard.py --fresh`` stay a fair measure of wording the guard never saw.

The dev file's misses are read and rules are made from them; the validation
file (whose totals choose between changes) and the test file are written blind
to the guard. None of the three may hold the knowledge base's own phrasings,
which the guard learns from.
"""

import itertools
import json
from pathlib import Path

from cases.kb import load_kb

BENCH_DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
SETS = ("fresh_findings.json", "fresh_findings_3.json", "fresh_findings_2.json")
"""The dev set (rules are made from its misses), the validation set and the test set (both written blind)."""
LAY_TOPIC_WORDS = Path(__file__).resolve().parents[2] / "personas" / "data" / "lay_topic_words.json"


def _lines(name: str) -> dict[str, list[str]]:
    raw = json.loads((BENCH_DATA / name).read_text("utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def test_every_set_covers_every_history_topic_with_lines_of_its_own():
    topics = [k for k in json.loads(LAY_TOPIC_WORDS.read_text("utf-8")) if not k.startswith("_")]
    sets = {name: _lines(name) for name in SETS}
    for name, written in sets.items():
        assert list(written) == topics, name
        assert all(len(v) == 3 and all(x.strip() for x in v) for v in written.values()), name
    said = {name: {x.lower() for v in written.values() for x in v} for name, written in sets.items()}
    for a, b in itertools.combinations(SETS, 2):
        assert not said[a] & said[b], (a, b)


def test_no_written_finding_is_a_knowledge_base_phrasing():
    kb = load_kb()
    phrasings = {
        x.lower().rstrip(".")
        for c in kb.conditions
        for f in (*c.findings, *c.negatives)
        for x in (*f.lay, *f.lay_caregiver, f.text)
    }
    for name in SETS:
        said = [x for v in _lines(name).values() for x in v]
        assert not [x for x in said if x.lower().rstrip(".") in phrasings], name
