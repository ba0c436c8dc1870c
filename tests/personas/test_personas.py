import asyncio
import json
import re

import pytest

from arena.core.types import Case
from cases.knowledge import topics
from cases.loader import builtin_cases
from cases.synthesizer import generate
from personas.builtin_patient import BuiltinPatient
from personas.catalog import (
    MIX,
    PersonaError,
    assign_persona,
    check_persona_spec,
    get_persona,
    load_personas,
    needs_proxy,
    personas,
)
from personas.voice import Voice, expand_contractions, pick_belief, to_third_person

STYLES = {"terse", "verbose", "anxious", "stoic", "low health literacy", "non-native speaker", "mistrustful"}
BIASES = {
    "recency",
    "frequency",
    "false_consensus",
    "self_diagnosis",
    "gender",
    "race",
    "sexual_orientation",
    "cultural",
    "education",
    "religion",
    "socioeconomic",
}
ASK = {t.topic: t.question for t in topics().values() if t.kind == "history"}


def _cases() -> list[Case]:
    return [*builtin_cases(), *generate(4, seed=21)]


def _questions(case: Case) -> list[str]:
    """The question for every history topic the case covers, and a few it does not."""
    covered = [ASK[f.topic] for f in case.facts if f.topic in ASK]
    return list(dict.fromkeys([*covered, ASK["rash"], ASK["travel"], ASK["sexual_history"]]))


def _interview(case: Case, persona_id: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Ask each question twice (past any willingness).

    Returns:
        The reply that first told each fact, by fact id, and every (question, reply).
    """
    p = BuiltinPatient(case, get_persona(persona_id))
    opening = asyncio.run(p.open())
    told = dict.fromkeys(opening.revealed, opening.text)
    replies = []
    for q in _questions(case):
        for _ in range(2):
            r = p.answer(q)
            for fid in r.revealed:
                told.setdefault(fid, r.text)
            replies.append((q, r.text))
    return told, replies


def test_catalogue_has_every_style_bias_and_a_caregiver_proxy():
    ps = personas().values()
    assert {p.style for p in ps if p.kind == "style"} >= STYLES
    assert {p.bias.name for p in ps if p.bias} == BIASES
    proxies = [p for p in ps if p.kind == "proxy"]
    assert proxies and all(p.third_person for p in proxies)


@pytest.mark.parametrize("persona_id", sorted(personas()))
def test_a_persona_changes_words_never_which_facts_are_disclosed(persona_id):
    for case in _cases():
        plain, _ = _interview(case, "plain")
        got, _ = _interview(case, persona_id)
        assert set(got) == set(plain), (case.id, persona_id)
        # The reply that tells a fact carries every number of the fact.
        for fid, text in got.items():
            for n in re.findall(r"\d+(?:\.\d+)?", case.fact(fid).lay):
                assert n in text, (case.id, persona_id, fid, text)


def test_styles_without_rewording_say_each_fact_word_for_word(stemi: Case):
    asks = {t.topic: t.question for t in topics().values()}
    for pid, p in personas().items():
        if p.vocabulary or p.drop or p.expand_contractions or p.third_person:
            continue
        pt = BuiltinPatient(stemi, p)
        for f in stemi.facts:
            if f.disclosure != "on_ask" or f.topic not in asks:
                continue
            for _ in range(3):
                r = pt.answer(asks[f.topic])
                if f.id in r.revealed:
                    break
            assert f.id in r.revealed, (pid, f.id)
            assert f.lay.lower().rstrip(".") in r.text.lower(), (pid, f.id, r.text)


def test_terse_drops_fillers_and_is_never_longer_than_plain(stemi: Case):
    v = Voice(get_persona("terse"), stemi)
    assert v.render("Honestly quite a lot, probably 40 units a week.") == "Quite a lot, probably 40 units a week."
    assert v.render("I'm not short of breath at all.") == "I'm not short of breath."
    for case in _cases()[:6]:
        _, plain = _interview(case, "plain")
        _, terse = _interview(case, "terse")
        assert all(len(t) <= len(p) for (_, p), (_, t) in zip(plain, terse, strict=True))


def test_verbose_wraps_the_plain_answer_in_chatter(stemi: Case):
    _, plain = _interview(stemi, "plain")
    _, verbose = _interview(stemi, "verbose")
    longer = [(p, v) for (_, p), (_, v) in zip(plain, verbose, strict=True) if len(v) > len(p)]
    assert len(longer) > len(plain) // 2


def test_anxious_asks_whether_it_is_serious(stemi: Case):
    _, replies = _interview(stemi, "anxious")
    assert sum("?" in text for _, text in replies) > len(replies) // 3


def test_low_health_literacy_uses_lay_words(stemi: Case):
    v = Voice(get_persona("low_literacy"), stemi)
    assert v.render("I don't take any regular medicines.") == "I don't take any regular pills."
    assert v.render("My tummy hurts and I vomited twice.") == "My belly hurts and I threw up twice."


def test_non_native_speaker_uses_no_contractions(stemi: Case):
    assert expand_contractions("I've had it since I'm back; it's worse, I can't sleep.") == (
        "I have had it since I am back; it is worse, I cannot sleep."
    )
    p = BuiltinPatient(stemi, get_persona("non_native"))
    opening = asyncio.run(p.open()).text
    assert "English" in opening
    _, replies = _interview(stemi, "non_native")
    for _, text in replies:
        assert not re.search(r"\b(?:I'm|I've|can't|don't|doesn't|haven't|it's|isn't)\b", text), text


@pytest.mark.parametrize("persona_id", ["stoic", "mistrustful"])
def test_guarded_facts_need_a_second_ask(persona_id: str):
    persona = get_persona(persona_id)
    assert persona.willingness is not None
    case = next(
        c
        for c in generate(30, seed=2)
        if any(f.topic == "alcohol" and f.disclosure == "on_ask" for f in c.facts) and c.speaker == "self"
    )
    alcohol = next(f for f in case.facts if f.topic == "alcohol")
    p = BuiltinPatient(case, persona)
    first = p.answer("How much alcohol do you drink?")
    assert first.revealed == [] and first.text in persona.willingness.deflections
    second = p.answer("I do need to know: how much alcohol do you drink?")
    assert second.revealed == [alcohol.id]
    # A plain patient tells at the first ask.
    assert BuiltinPatient(case, get_persona("plain")).answer("How much alcohol do you drink?").revealed == [alcohol.id]


def test_unguarded_facts_are_told_at_once_by_a_guarded_persona(stemi: Case):
    r = BuiltinPatient(stemi, get_persona("mistrustful")).answer("Does the pain spread to your arm or jaw?")
    assert r.revealed and r.text


def test_third_person_for_a_proxy():
    assert to_third_person("I've got a pain in my chest and I always take aspirin for it.", "female") == (
        "She's got a pain in her chest and she always takes aspirin for it."
    )
    assert to_third_person("I don't smoke, I never have. It's not like me.", "male") == (
        "He doesn't smoke, he never has. It's not like him."
    )
    assert to_third_person("My family say I'm not making sense.", "female") == "Her family say she's not making sense."


def test_caregiver_speaks_about_an_adult_in_the_third_person(stemi: Case):
    p = BuiltinPatient(stemi, get_persona("caregiver"))
    opening = asyncio.run(p.open()).text
    assert "my" in opening and " I've got" not in opening
    _, replies = _interview(stemi, "caregiver")
    fact_replies = [t for q, t in replies if t not in {p.voice.say(k) for k in ("unknown", "unclear", "diagnosis")}]
    assert fact_replies
    for text in fact_replies:
        assert not re.search(r"\b(?:I|my|me)\b", text), text


def test_caregiver_of_a_child_names_son_or_daughter():
    child = next(c for c in generate(40, seed=5) if c.speaker == "caregiver")
    opening = asyncio.run(BuiltinPatient(child, get_persona("caregiver")).open()).text
    assert ("daughter" if child.demographics.sex == "female" else "son") in opening
    assert child.chief_complaint in opening


def test_bias_persona_voices_a_belief_without_the_diagnosis():
    gord = next(c for c in builtin_cases() if c.id == "gord")
    assert "heartburn" in [s.lower() for s in gord.diagnosis.synonyms]
    persona = get_persona("bias_self_diagnosis")
    for case in [*_cases(), gord]:
        belief = pick_belief(persona, case)
        assert belief is not None
        for name in (case.diagnosis.name, *case.diagnosis.synonyms):
            assert name.lower() not in belief.lower(), (case.id, belief)
        assert belief in asyncio.run(BuiltinPatient(case, persona).open()).text


def test_mix_is_reproducible_by_seed_and_gives_proxies_where_needed():
    cases = list(generate(200, seed=8))
    a = [assign_persona(c, MIX, seed=1) for c in cases]
    assert a == [assign_persona(c, MIX, seed=1) for c in cases]
    assert [assign_persona(c, MIX, seed=1) for c in reversed(cases)] == list(reversed(a))
    assert a != [assign_persona(c, MIX, seed=2) for c in cases]
    kinds = {pid: p.kind for pid, p in personas().items()}
    for c, pid in zip(cases, a, strict=True):
        assert (kinds[pid] == "proxy") == needs_proxy(c), (c.id, pid)
    assert any(c.speaker == "caregiver" for c in cases)
    assert len(set(a)) >= 15


def test_confused_older_adult_needs_a_proxy_a_clear_one_does_not(stemi: Case):
    assert not needs_proxy(stemi)
    confused = stemi.model_copy(deep=True)
    confused.demographics.age = 88
    for f in confused.facts:
        if f.disclosure == "volunteered":
            f.topic = "confusion"
    assert needs_proxy(confused)


def test_explicit_persona_is_used_as_given_and_unknown_is_refused(stemi: Case):
    assert assign_persona(stemi, "terse", seed=3) == "terse"
    check_persona_spec(MIX)
    with pytest.raises(PersonaError, match=r"unknown persona 'pirate'.*mix"):
        assign_persona(stemi, "pirate", seed=0)


def _write(tmp_path, entries, name="p.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"personas": entries}), "utf-8")
    return path


@pytest.mark.parametrize(
    ("entries", "where"),
    [
        ([{"id": "a", "colour": "red"}], r"personas\[0\] \(a\)\.colour: Extra inputs"),
        (
            [{"id": "a"}, {"id": "b", "willingness": {"guarded": ["mood"], "asks": 1, "deflections": ["No."]}}],
            r"personas\[1\] \(b\)\.willingness\.asks: Input should be greater than or equal to 2",
        ),
        ([{"id": "a", "opening": "Hi {mood}"}], r"personas\[0\] \(a\)\.opening: .*unknown placeholder \{mood\}"),
        ([{"id": "a", "tails": ["ok", "{he"]}], r"personas\[0\] \(a\)\.tails: .*malformed placeholder"),
        ([{"id": "a", "kind": "bias"}], r"personas\[0\] \(a\): .*needs 'bias'"),
        ([{"id": "a", "kind": "proxy"}], r"personas\[0\] \(a\): .*third person"),
        ([{"id": "a"}, {"id": "a"}], r"personas\[1\] \(a\)\.id: duplicate id 'a'"),
        ([{"id": "mix"}], r"personas\[0\] \(mix\)\.id: 'mix' is reserved"),
        ([{"id": ""}], r"personas\[0\]\.id: String should have at least 1 character"),
        ([], r"personas: expected a non-empty list"),
    ],
)
def test_bad_persona_file_gives_one_line_naming_file_and_field(tmp_path, entries, where):
    path = _write(tmp_path, entries)
    with pytest.raises(PersonaError) as e:
        load_personas(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert re.search(where, msg), msg


def test_persona_file_that_is_not_json_names_the_line(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"personas": [\n  {"id": "a",}\n]}', "utf-8")
    with pytest.raises(PersonaError, match=r"p\.json: line 2: invalid JSON"):
        load_personas(path)
    with pytest.raises(PersonaError, match=r"missing\.json: cannot read"):
        load_personas(tmp_path / "missing.json")


def test_a_good_persona_file_loads(tmp_path):
    entry = {"id": "calm", "description": "Calm.", "tails": [" Thanks."], "opening": "Hello. {complaint}"}
    assert list(load_personas(_write(tmp_path, [entry]))) == ["calm"]
