"""Every condition of the knowledge base against every topic: the simulator answers, never shows the
case's edge, never contradicts the case and never names the diagnosis."""

from __future__ import annotations

import random
import re
from functools import cache

import pytest

from arena.core.types import Case, SynthesisRule
from cases.kb import Condition, load_kb
from cases.knowledge import match_topics, topics
from cases.reference import case_vitals
from cases.synthesizer import draw_case
from personas.builtin_patient import BuiltinPatient
from personas.catalog import get_persona
from personas.guard import Guard
from personas.leak_check import LeakCheck
from personas.measurement import CaseMeasurement

UNAVAILABLE = re.compile(r"not (?:available|performed)|not indicated", re.IGNORECASE)
UNSURE = re.compile(r"\b(?:not sure|don'?t know|no idea)\b", re.IGNORECASE)


def _conditions() -> list[Condition]:
    return load_kb().conditions


@cache
def _case(condition_id: str) -> Case:
    # Atypical draws too: their hallmarks are missing on purpose, and must be denied, not invented.
    kb = load_kb()
    return draw_case(kb, kb.by_id[condition_id], random.Random(f"edge|{condition_id}"), atypical_rate=0.3)


def _names_diagnosis(check: LeakCheck, text: str, allowed: list[str] | None = None) -> bool:
    # A patient's own history may name the illness ("I had depression five years ago").
    leak = check.find(text, allowed=allowed or [])
    return leak is not None and leak.kind in ("diagnosis", "icd10")


@pytest.mark.parametrize("condition", _conditions(), ids=lambda c: c.id)
def test_every_exam_and_test_gets_a_result_consistent_with_the_case(condition: Condition):
    case = _case(condition.id)
    gatekeeper = CaseMeasurement(case)
    leaks = LeakCheck(case)
    vitals = case_vitals(case)
    for topic in (t for t in topics().values() if t.kind != "history"):
        kind = "exam" if topic.kind == "exam" else "test"
        r = gatekeeper.answer(kind, topic.question)
        where = f"{case.id}: {topic.topic}"
        assert r.text.strip() and not UNAVAILABLE.search(r.text), where
        listed = [f.id for f in case.facts if f.disclosure == kind and f.topic == topic.topic]
        if listed:
            # What the case reports is what the doctor gets: never a made-up result beside it.
            assert set(listed) <= set(r.revealed), where
            assert topic.topic not in {s.topic for s in r.synthesized}, where
            continue
        named = {*match_topics(topic.question, (kind,)), f"other_{kind}"}
        assert {s.topic for s in r.synthesized} <= named, where
        for made in r.synthesized:
            assert made.rule in (SynthesisRule.CONDITION_FINDING, SynthesisRule.REFERENCE_NORMAL), where
            assert made.source, where
            assert not _names_diagnosis(leaks, made.text), (where, made.text)
        # A finding the case files under another topic but whose words name this one is that result,
        # never contradicted by a made-up normal one; otherwise the result is made up.
        elsewhere = [
            f.id
            for f in case.facts
            if f.disclosure == kind and f.topic != topic.topic and topic.topic in match_topics(f.text, (kind,))
        ]
        if elsewhere:
            assert set(elsewhere) & set(r.revealed), where
            assert topic.topic not in {s.topic for s in r.synthesized}, where
        else:
            assert topic.topic in {s.topic for s in r.synthesized}, where
        adult = case.demographics.age >= 16
        if topic.topic == "ecg" and adult and vitals.hr is not None and vitals.hr > 100 and not r.revealed:
            assert "tachycardia" in r.text.lower(), (where, r.text)


@pytest.mark.slow
@pytest.mark.parametrize("condition", _conditions(), ids=lambda c: c.id)
def test_every_history_question_gets_an_answer_that_keeps_to_the_case(condition: Condition):
    case = _case(condition.id)
    persona = get_persona("plain")
    patient = BuiltinPatient(case, persona)
    guard = Guard(case, persona=persona)
    leaks = LeakCheck(case)
    covered = {f.topic for f in case.facts if f.disclosure in ("volunteered", "on_ask")}
    for topic in (t for t in topics().values() if t.kind == "history"):
        r = patient.answer(topic.question)
        where = f"{case.id}: {topic.topic}: {r.text}"
        assert r.text.strip(), where
        assert not _names_diagnosis(leaks, r.text, r.revealed), where
        assert not set(r.revealed) & {f.id for f in case.facts if f.disclosure in ("exam", "test")}, where
        if topic.topic in covered:
            continue
        # No "not sure" where the case is silent (the plain persona's unknown reply is "I'm not sure."),
        # unless a case fact found for the question says so itself ("I don't know why").
        assert r.revealed or not UNSURE.search(r.text), where
        if r.synthesized:
            against = [c for c in guard.check(r.text) if c.reason.startswith("contradicts")]
            assert not against, (where, against[0].reason)
            for made in r.synthesized:
                if made.rule == SynthesisRule.CONDITION_TYPICAL:
                    finding = next(f for f in condition.findings if made.source == f"kb:{condition.id}/{f.id}")
                    # An atypical case lacks its hallmarks on purpose: the patient must not add them back.
                    assert finding.probability >= 0.5 and not (case.atypical and finding.hallmark), where


def test_a_typical_finding_the_case_leaves_out_is_told_not_denied():
    kb = load_kb()
    # A condition whose typical finding on some topic this draw left out.
    for cond in kb.conditions:
        case = _case(cond.id)
        covered = {f.topic for f in case.facts if f.disclosure in ("volunteered", "on_ask")}
        typical = [f for f in cond.findings if f.probability >= 0.5 and f.topic not in covered]
        if typical and not case.atypical and case.speaker == "self":
            break
    else:
        pytest.fail("no condition leaves a typical finding out")
    finding = typical[0]
    question = topics()[finding.topic].question
    r = BuiltinPatient(case, get_persona("plain")).answer(question)
    assert r.revealed == [] or all(case.fact(i).topic != finding.topic for i in r.revealed)
    records = [s for s in r.synthesized if s.topic == finding.topic]
    assert records and records[0].rule == SynthesisRule.CONDITION_TYPICAL, r
    assert records[0].source.startswith(f"kb:{cond.id}/")
    # Said in one of the knowledge base's own lay phrasings of that finding.
    assert any(w.rstrip(".").lower() in r.text.lower() for w in finding.lay), (r.text, finding.lay)
