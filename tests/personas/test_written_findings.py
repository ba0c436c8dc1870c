"""The findings written for ``bench/guard.py --fresh`` stay a fair measure of wording the guard never saw.

The dev file's misses are read and rules are made from them; the test file is
written blind to the guard. Neither may hold the knowledge base's own
phrasings, which the guard learns from.
"""

import json
from pathlib import Path

from cases.kb import load_kb

BENCH_DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
LAY_TOPIC_WORDS = Path(__file__).resolve().parents[2] / "personas" / "data" / "lay_topic_words.json"


def _lines(name: str) -> dict[str, list[str]]:
    raw = json.loads((BENCH_DATA / name).read_text("utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def test_both_sets_cover_every_history_topic_with_lines_of_their_own():
    topics = [k for k in json.loads(LAY_TOPIC_WORDS.read_text("utf-8")) if not k.startswith("_")]
    dev, test = _lines("fresh_findings.json"), _lines("fresh_findings_2.json")
    for written in (dev, test):
        assert list(written) == topics
        assert all(len(v) == 3 and all(x.strip() for x in v) for v in written.values())
    shared = {x.lower() for v in dev.values() for x in v} & {x.lower() for v in test.values() for x in v}
    assert not shared


def test_no_written_finding_is_a_knowledge_base_phrasing():
    kb = load_kb()
    phrasings = {
        x.lower().rstrip(".")
        for c in kb.conditions
        for f in (*c.findings, *c.negatives)
        for x in (*f.lay, *f.lay_caregiver, f.text)
    }
    for name in ("fresh_findings.json", "fresh_findings_2.json"):
        said = [x for v in _lines(name).values() for x in v]
        assert not [x for x in said if x.lower().rstrip(".") in phrasings], name
