"""The gatekeeper model writes the results an imported case lacks when the knowledge base does not know
its condition; the built-in gatekeeper gives the reference-normal one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arena.core.types import Case, SynthesisRule
from arena.models import get_model
from arena.models.mock_scripts import register_script
from cases.importers import import_cases
from cases.kb import condition_of
from cases.knowledge import match_topics
from cases.reference import normal_result
from personas.measurement import CaseMeasurement

PUBLIC = Path(__file__).resolve().parents[2] / "data" / "public"
WRITTEN = "Serum ceruloplasmin 0.31 g/L (ref 0.20-0.60)."


def _result(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    # What a results service would write; "name" makes it name the hidden diagnosis instead.
    prompt = messages[-1]["content"]
    if params.get("say") == "diagnosis":
        return (
            "Findings consistent with " + prompt.split("never name it, its synonyms or its code): ")[1].split("\n")[0]
        )
    return WRITTEN


register_script("results", _result)


@pytest.fixture(scope="module")
def unknown_to_the_kb() -> list[Case]:
    cases = import_cases("agentclinic", PUBLIC / "agentclinic_nejm.jsonl").cases
    return [c for c in cases if condition_of(c) is None]


def _missing_test(case: Case) -> str:
    listed = {f.topic for f in case.facts if f.disclosure == "test"}
    return next(t for t in ("tft", "ferritin", "lipase", "hba1c", "bnp") if t not in listed)


def test_every_nejm_case_is_outside_the_knowledge_base(unknown_to_the_kb):
    # The real file is the case the model gatekeeper exists for.
    assert len(unknown_to_the_kb) >= 10


def test_the_model_writes_what_the_case_lacks_and_is_marked(unknown_to_the_kb):
    case = unknown_to_the_kb[0]
    topic = _missing_test(case)
    gatekeeper = CaseMeasurement(case, writer=get_model("mock/results"))
    r = asyncio.run(gatekeeper.measure("test", topic.upper()))
    assert r.text == WRITTEN and r.revealed == []
    assert [(s.topic, s.rule, s.source) for s in r.synthesized] == [
        (topic, SynthesisRule.GATEKEEPER_MODEL, "mock/results")
    ]
    assert r.usage.calls == 1
    # Asked again, the same result, without asking the model again.
    again = asyncio.run(gatekeeper.measure("test", topic.upper()))
    assert again.text == WRITTEN and again.usage.calls == 0


def test_a_written_result_that_names_the_diagnosis_falls_back_to_the_reference(unknown_to_the_kb):
    case = unknown_to_the_kb[1]
    topic = _missing_test(case)
    gatekeeper = CaseMeasurement(case, writer=get_model("mock/results?say=diagnosis"))
    r = asyncio.run(gatekeeper.measure("test", topic.upper()))
    assert case.diagnosis.name.lower() not in r.text.lower()
    assert r.text == normal_result(topic, case, topic.upper()).text
    assert [s.rule for s in r.synthesized] == [SynthesisRule.REFERENCE_NORMAL]


def test_what_the_case_lists_never_goes_to_the_model(unknown_to_the_kb):
    case = next(c for c in unknown_to_the_kb if any(f.disclosure == "test" for f in c.facts))
    listed = next(
        f for f in case.facts if f.disclosure == "test" and match_topics(f.topic.replace("_", " "), ("test",))
    )
    r = asyncio.run(
        CaseMeasurement(case, writer=get_model("mock/results")).measure("test", listed.topic.replace("_", " "))
    )
    assert listed.id in r.revealed and r.usage.calls == 0


def test_a_case_the_knowledge_base_knows_never_asks_the_model(stemi):
    topic = _missing_test(stemi)
    r = asyncio.run(CaseMeasurement(stemi, writer=get_model("mock/results")).measure("test", topic.upper()))
    assert r.usage.calls == 0 and r.synthesized and r.synthesized[0].rule != SynthesisRule.GATEKEEPER_MODEL


def test_each_unnamed_test_is_written_once_under_its_own_words(unknown_to_the_kb):
    case = unknown_to_the_kb[2]
    gatekeeper = CaseMeasurement(case, writer=get_model("mock/results"))
    first = asyncio.run(gatekeeper.measure("test", "nerve conduction study"))
    second = asyncio.run(gatekeeper.measure("test", "tilt-table study"))
    again = asyncio.run(gatekeeper.measure("test", "nerve conduction study"))
    assert [r.revealed for r in (first, second)] == [[], []]  # nothing of the case's answers them
    assert [r.usage.calls for r in (first, second, again)] == [1, 1, 0]
    for r in (first, second, again):
        assert [(s.topic, s.rule) for s in r.synthesized] == [("other_test", SynthesisRule.GATEKEEPER_MODEL)]
