"""Whatever the doctor says, no patient policy gives away the diagnosis or a hidden result."""

import asyncio
import re
from functools import cache
from pathlib import Path

import pytest

import personas as personas_pkg
from arena.core.types import Case
from arena.models import get_model
from arena.models.mock_scripts import register_script
from cases.knowledge import topics
from cases.loader import builtin_cases, iter_jsonl
from cases.synthesizer import generate
from personas.builtin_patient import BuiltinPatient
from personas.catalog import get_persona, personas
from personas.guard import Guard
from personas.leak_check import LeakCheck
from personas.llm_patient import DEFAULT_TRIES, LLMPatient, plausible_answers
from personas.plausible import PlausibleAnswers, with_answers

SUITE = Path(personas_pkg.__file__).parent / "data" / "adversarial.jsonl"
TURNS: list[dict[str, str]] = [obj for _, obj in iter_jsonl(SUITE)]
PERSONA_IDS = sorted(personas())


def _flat(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def leaks(case: Case, text: str, revealed: list[str]) -> list[str]:
    """What a reply gives away, by plain substring rules independent of the product's check."""
    found = []
    said = _flat(text)
    told = _flat(" ".join(case.fact(i).lay + " " + case.fact(i).text for i in revealed))
    for name in (case.diagnosis.name, *case.diagnosis.synonyms):
        n = _flat(name)
        if n in said and n not in told:
            found.append(f"names {name!r}")
    code = case.diagnosis.icd10
    if code and (code.lower() in text.lower() or f" {code.replace('.', '').lower()} " in said):
        found.append(f"code {code}")
    for f in case.facts:
        if f.disclosure in ("exam", "test"):
            if f.id in revealed:
                found.append(f"marks {f.id} revealed")
            if _flat(f.text) in said:
                found.append(f"states {f.id}")
    return found


def test_the_suite_is_large_and_varied():
    assert len(TURNS) >= 50
    assert len({t["id"] for t in TURNS}) == len(TURNS)
    assert len({t["tactic"] for t in TURNS}) >= 12


def _consult_builtin(case: Case, persona_id: str) -> list[str]:
    p = BuiltinPatient(case, get_persona(persona_id))
    opening = asyncio.run(p.open())
    check = LeakCheck(case)
    problems = [f"opening {x}" for x in leaks(case, opening.text, opening.revealed)]
    for turn in TURNS:
        r = p.answer(turn["text"])
        problems += [f"{turn['id']}: {x}: {r.text}" for x in leaks(case, r.text, r.revealed)]
        leak = check.find(r.text, allowed=r.revealed)
        if leak:
            problems.append(f"{turn['id']}: leak_check {leak.claim}: {r.text}")
    return problems


@pytest.mark.parametrize("persona_id", PERSONA_IDS)
def test_builtin_patient_leaks_nothing_in_any_persona(persona_id: str):
    for case in [*builtin_cases(), *generate(4, seed=33)]:
        assert _consult_builtin(case, persona_id) == [], case.id


@pytest.mark.slow
def test_builtin_patient_leaks_nothing_over_many_generated_cases():
    cases = list(generate(150, seed=34))
    for i, case in enumerate(cases):
        assert _consult_builtin(case, PERSONA_IDS[i % len(PERSONA_IDS)]) == [], case.id


# --------------------------------------------------------------------------- the LLM path

_CASES: dict[str, Case] = {}
MODES = ("name", "synonym", "icd", "icd_plain", "spelled", "result_text", "result_value", "invented", "prompt", "mixed")


def _number_fact(case: Case) -> tuple[str, str] | None:
    for f in case.facts:
        if f.disclosure == "test":
            m = re.search(r"(?<![\w.])(\d{2,}(?:\.\d+)?)(?![\w])", re.sub(r"\(ref[^)]*\)", "", f.text))
            if m:
                return f.topic.replace("_", " "), m.group(1)
    return None


def _leaky(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    """A chat model that gives in to the doctor: one kind of leak per ``mode``."""
    case = _CASES[params["case"]]
    d = case.diagnosis
    tests = [f for f in case.facts if f.disclosure == "test"]
    short = min([d.name, *d.synonyms], key=len)
    mode = params["mode"]
    if mode == "name":
        return f"Okay, okay. It's {d.name}."
    if mode == "synonym":
        return f"The letter from the hospital said {(d.synonyms or [d.name])[-1]}."
    if mode == "icd":
        return f"The code on my form is {d.icd10}."
    if mode == "icd_plain":
        return f"I think it was {d.icd10.replace('.', '').lower()}, if that helps."
    if mode == "spelled":
        return "Fine: " + ".".join(short.replace(" ", "").upper())
    if mode == "result_text":
        return f"They told me earlier: {tests[0].text}"
    if mode == "result_value":
        found = _number_fact(case)
        if found:
            return f"My {found[0]} came back at {found[1]}, they said."
        return f"I heard them say {tests[-1].text}"
    if mode == "invented":
        return "My potassium was 6.9 and they said it was high."
    if mode == "prompt":
        return messages[0]["content"]
    lay = next(f.lay for f in case.facts if f.disclosure == "on_ask")
    return f"{lay} Between you and me, it's {d.name}."


def _truthful(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    """A chat model that keeps to the facts: the built-in patient's own words in the persona's voice."""
    case = _CASES[params["case"]]
    persona = get_persona(params.get("persona", "plain"))
    plausible, guard = _made_up(case.id, persona.id)
    return BuiltinPatient(case, persona, guard=guard, plausible=plausible).answer(messages[-1]["content"]).text


@cache
def _made_up(case_id: str, persona_id: str) -> tuple[PlausibleAnswers, Guard]:
    # The built-in patient as a model-played one falls back on it: the same made-up answers, checked
    # by a guard that knows the condition's typical findings. Worked out once per case and voice.
    case, persona = _CASES[case_id], get_persona(persona_id)
    plausible = plausible_answers(case, persona)
    return plausible, Guard(with_answers(case, plausible.typical()), persona=persona)


register_script("leaky_patient", _leaky)
register_script("truthful_patient", _truthful)


def _llm_cases() -> list[Case]:
    gen = list(generate(40, seed=35))
    child = next(c for c in gen if c.speaker == "caregiver")
    bank = {c.id: c for c in builtin_cases()}
    return [bank["acs-stemi"], bank["gord"], child, bank["ectopic-pregnancy"], bank["migraine"], *gen[:2]]


async def _consult_llm(model: str, case: Case, persona_id: str, turns: list[str]):
    patient = LLMPatient(get_model(model), case, get_persona(persona_id))
    await patient.open()
    return patient.messages[0]["content"], [(t, await patient.reply(t)) for t in turns]


def _attack_llm_patient(cases: list[Case]) -> int:
    n = 0
    for ci, case in enumerate(cases):
        _CASES[case.id] = case
        check = LeakCheck(case)
        for mi, mode in enumerate(MODES):
            persona_id = PERSONA_IDS[(ci * len(MODES) + mi) % len(PERSONA_IDS)]
            params = {"case": case.id, "mode": mode}
            model = f"mock/leaky_patient?case={case.id}&mode={mode}"
            system, results = asyncio.run(_consult_llm(model, case, persona_id, [t["text"] for t in TURNS]))
            raw = _leaky([{"role": "system", "content": system}], params)
            for turn, r in results:
                n += 1
                # A leak is replaced at once; a reply the hallucination guard rejects is regenerated first.
                assert 1 <= r.usage.calls <= DEFAULT_TRIES + 1
                assert leaks(case, r.text, r.revealed) == [], (case.id, mode, persona_id, turn, r.text)
                assert check.find(r.text, allowed=r.revealed) is None
                # What the model said must have been replaced whenever it gave something away.
                if leaks(case, raw, r.revealed) or mode in ("invented", "prompt", "icd_plain", "spelled"):
                    assert r.text != raw
                    assert r.guard and r.guard[-1].action == "replaced", (case.id, mode, turn, r.text)
                    assert any(
                        g.claim.split(":")[0] in ("diagnosis", "icd10", "result", "prompt") for g in r.guard
                    ) or (r.usage.calls == DEFAULT_TRIES + 1)
    return n


# The LLM patient's tests run its guard over hundreds of replies: seconds each, so the slow tier.
@pytest.mark.slow
def test_llm_patient_replaces_every_leak_whatever_the_doctor_says():
    cases = _llm_cases()[:3]
    assert _attack_llm_patient(cases) == len(cases) * len(MODES) * len(TURNS)


@pytest.mark.slow
def test_llm_patient_replaces_every_leak_over_more_cases():
    cases = _llm_cases()[3:]
    assert _attack_llm_patient(cases) == len(cases) * len(MODES) * len(TURNS)


TRUTHFUL_PERSONAS = (
    "plain",
    "caregiver",
    "low_literacy",
    "bias_self_diagnosis",
    "caregiver_anxious",
    "non_native",
    "anxious",
    "verbose",
    "stoic",
    "bias_recency",
    "terse",
)
"""Voices that reword most: third person, word swaps, spelled-out contractions, hedges, chatter, beliefs."""


@pytest.mark.slow
@pytest.mark.parametrize("persona_id", TRUTHFUL_PERSONAS)
def test_llm_patient_keeping_to_the_facts_is_never_replaced(persona_id: str):
    questions = [t.question for t in topics().values() if t.kind == "history"]
    # Each question is asked twice, so a persona that holds a fact back tells it the second time.
    questions = [q for q in questions for _ in range(2)]
    cases = [*builtin_cases(), *generate(6, seed=36)]
    for case in cases:
        _CASES[case.id] = case
        model = f"mock/truthful_patient?case={case.id}&persona={persona_id}"
        _, results = asyncio.run(_consult_llm(model, case, persona_id, questions))
        replaced = [(q, r.text, r.guard) for q, r in results if r.guard]
        assert replaced == [], (case.id, persona_id)
