import re

import pytest

from cases.kb import KnowledgeBase, check_kb, load_kb

MUST_NOT_MISS = [
    "stemi",
    "pulmonary-embolism",
    "aortic-dissection",
    "bacterial-meningitis",
    "ectopic-pregnancy",
    "sepsis",
    "ischaemic-stroke",
    "dka",
]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb()


def test_kb_is_broad_enough(kb):
    assert len(kb.conditions) >= 80
    assert len({c.organ_system for c in kb.conditions}) >= 12
    reachable = {p.complaint for c in kb.conditions for p in c.presentations}
    assert len(reachable) >= 20
    for cid in MUST_NOT_MISS:
        assert kb.by_id[cid].must_not_miss, cid


def test_every_cross_reference_resolves(kb):
    assert check_kb(kb) == []


def test_check_kb_catches_broken_references(kb):
    c = kb.conditions[0]
    broken = c.model_copy(update={"differentials": ["no-such-condition"]})
    problems = check_kb(KnowledgeBase([broken, *kb.conditions[1:]], list(kb.complaints.values())))
    assert any("no-such-condition" in p for p in problems)


def test_fields_are_well_formed(kb):
    for c in kb.conditions:
        assert re.fullmatch(r"[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?", c.icd10), (c.id, c.icd10)
        assert len(c.must_ask) >= 3 and c.harms and any(t.key for t in c.tests), c.id
        assert all(h.points < 0 for h in c.harms), c.id
        assert c.id not in c.differentials


def test_benign_mimics_point_at_dangerous_conditions(kb):
    dangerous = {c.id for c in kb.conditions if c.must_not_miss}
    mimics = [c for c in kb.conditions if not c.must_not_miss and set(c.differentials) & dangerous]
    assert len(mimics) >= 10
