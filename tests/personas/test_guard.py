import asyncio
import json
from dataclasses import replace

import pytest

from arena.core.types import Case
from arena.doctors import ChecklistDoctor
from arena.engine import run_consultation
from arena.models import ChatModel, Completion, Message, get_model
from arena.models.mock_scripts import register_script
from cases.kb import load_kb
from personas.catalog import get_persona
from personas.guard import Guard
from personas.llm_patient import LLMPatient
from personas.matching.base import NEVER
from personas.measurement import CaseMeasurement

FABRICATED = "I've had a blistering rash all over my shins."


def _radiation(case: Case) -> str:
    return next(f for f in case.facts if f.topic == "radiation").lay


def test_claims_skip_small_talk_and_keep_findings(stemi: Case):
    g = Guard(stemi)
    assert g.claims("I'm not sure, doctor. Thanks for asking.") == []
    assert g.claims(f"Well. {FABRICATED}") == [FABRICATED]


def test_fillers_and_courtesies_are_no_claims(stemi: Case):
    # A model-played patient hums and haws; were these claims, each would be rejected as unsupported and
    # the reply regenerated (weighing every word the knowledge base lacks did that to "Hmm").
    g = Guard(stemi)
    for filler in ("Hmm, let me think about that.", "Erm, well.", "Um, I dunno.", "Mm-hmm.", "Ah, right.", "Eh?"):
        assert g.claims(filler) == [], filler
    assert g.check("Hmm, let me think about that.") == []


def test_a_claim_in_words_no_clinical_text_uses_is_still_checked(stemi: Case):
    # A trip or a job the case never mentions shares no word with the knowledge base, yet it is an
    # invention that may steer the doctor (a trip abroad points at tropical infections).
    g = Guard(stemi)
    for invented in ("I've just been trekking in Nepal.", "I'm a plumber in Swindon.", "We keep alpacas and llamas."):
        assert g.claims(invented) == [invented]
        checks = g.check(invented)
        assert len(checks) == 1 and not checks[0].supported, invented
    # Fillers and a lone word of small talk claim nothing, beside a finding the case has or alone.
    assert g.claims(f"Erm, dunno. {_radiation(stemi)}") == [_radiation(stemi)]
    assert g.claims("Pardon?") == g.claims("Cheers, doc.") == []


def test_paraphrase_of_a_fact_passes_and_an_invented_finding_does_not(stemi: Case):
    g = Guard(stemi)
    ok = g.check("It goes down into my left arm, and up to my jaw too.")
    assert ok and all(c.supported for c in ok)
    bad = g.check(FABRICATED)
    assert len(bad) == 1 and not bad[0].supported and bad[0].reason == "unsupported"


def test_asserting_what_the_record_denies_is_a_contradiction():
    from cases.synthesizer import generate

    case = next(c for c in generate(40, seed=5) if any(f.id == "neg.fever" for f in c.facts))
    checks = Guard(case).check("Yes, I've had a high fever.")
    assert checks and not checks[0].supported and checks[0].reason == "contradicts neg.fever"


def _sequence_script(name: str, replies: list[str], seen: list[list[dict]]) -> None:
    def script(messages, params):
        seen.append(list(messages))
        return replies[min(len(seen) - 1, len(replies) - 1)]

    register_script(name, script)


def test_unsupported_claim_is_fed_back_and_the_reply_regenerated(stemi: Case):
    seen: list[list[dict]] = []
    good = _radiation(stemi)
    _sequence_script("guard-then-good", [f"It spreads to my arm. {FABRICATED}", good], seen)
    p = LLMPatient(get_model("mock/guard-then-good"), stemi, get_persona("plain"))
    asyncio.run(p.open())
    r = asyncio.run(p.reply("Does the pain spread anywhere?"))
    assert r.text == good
    assert [(e.claim, e.action, e.reason, e.attempt) for e in r.guard] == [
        (FABRICATED, "regenerated", "unsupported", 0)
    ]
    assert r.usage.calls == 2
    feedback = seen[1][-1]["content"]
    assert FABRICATED in feedback and "supervisor" in feedback
    # The rejected reply and the guidance are not left in the patient's memory.
    assert p.messages[-1] == {"role": "assistant", "content": good}
    assert not any("supervisor" in m["content"] for m in p.messages)


def test_greetings_and_thanks_are_no_claims_but_a_finding_beside_them_is(stemi: Case):
    g = Guard(stemi)
    for courtesy in (
        "Good morning, doctor.",
        "Hello there, doctor, and thank you for seeing me so quickly.",
        "Hi, thanks for fitting me in today.",
        "Sorry to bother you.",
        "Thanks very much for your time, doc.",
    ):
        assert g.claims(courtesy) == [], courtesy
    # A sentence that greets and tells something is still a claim; so are findings that name the morning.
    for finding in ("Good morning, I've had a blistering rash on my shins.", "It's always worse in the morning."):
        assert g.claims(finding) == [finding]
    assert not g.check("Hello, I've had a blistering rash all over my shins.")[0].supported


def test_a_patient_that_greets_the_doctor_is_not_sent_back(stemi: Case):
    # Chat models open with a greeting; rejecting it cost a regeneration per consultation.
    seen: list[list[dict]] = []
    good = _radiation(stemi)
    _sequence_script("guard-greeting", [f"Good morning, doctor. {good}"], seen)
    p = LLMPatient(get_model("mock/guard-greeting"), stemi, get_persona("plain"))
    asyncio.run(p.open())
    r = asyncio.run(p.reply("Does the pain spread anywhere?"))
    assert r.text == f"Good morning, doctor. {good}"
    assert r.guard == [] and r.usage.calls == 1


def test_after_k_tries_the_builtin_answer_is_used(stemi: Case):
    seen: list[list[dict]] = []
    _sequence_script("guard-always-bad", [FABRICATED], seen)
    p = LLMPatient(get_model("mock/guard-always-bad"), stemi, get_persona("plain"), tries=2)
    asyncio.run(p.open())
    q = "Does the pain spread anywhere?"
    r = asyncio.run(p.reply(q))
    assert r.text == p.fallback.answer(q).text and _radiation(stemi) in r.text
    assert [e.action for e in r.guard] == ["regenerated", "regenerated", "replaced"]
    assert [e.attempt for e in r.guard] == [0, 1, 2]
    assert len(seen) == 3 and r.usage.calls == 3


def test_a_verifier_can_accept_a_claim_the_matcher_could_not_back(stemi: Case):
    yes = Guard(stemi, verifier=get_model("mock/verifier?supported=true"))
    checks = asyncio.run(yes.acheck(FABRICATED))
    assert checks[0].supported and checks[0].reason == "verifier"
    # Still a verdict a verifier gave, not one a wording backs.
    assert checks[0].reviewable
    assert yes.usage.calls == 1
    garbled = Guard(stemi, verifier=get_model("mock/verifier?supported=unsure"))
    assert not asyncio.run(garbled.acheck(FABRICATED))[0].supported


def test_a_verifier_that_cannot_be_called_fails_the_reply_instead_of_passing_it(stemi: Case):
    class Down(ChatModel):
        name = "test/down"

        async def complete(self, messages: list[Message]) -> Completion:
            raise ConnectionError("verifier down")

    g = Guard(stemi, verifier=Down())
    with pytest.raises(ConnectionError, match="verifier down"):
        asyncio.run(g.acheck(FABRICATED))
    assert g.usage.calls == 0


LOOSE = "It came on when I was walking up the hill."
"""Untrue of the STEMI case (its pain came on at rest); the lexical matcher backs it only by a loose overlap."""
FIRM = "It spreads to my jaw."


def test_a_verifier_reviews_loose_acceptances_and_leaves_firm_ones_alone(stemi: Case):
    plain = Guard(stemi).check(f"{LOOSE} {FIRM}")
    assert [(c.supported, c.firm) for c in plain] == [(True, False), (True, True)]
    no = Guard(stemi, verifier=get_model("mock/verifier?supported=false"))
    loose, firm = asyncio.run(no.acheck(f"{LOOSE} {FIRM}"))
    assert not loose.supported and loose.reason.startswith("verifier")
    assert firm.supported and firm.reason == ""
    assert no.usage.calls == 1
    # An answer that is not a verdict leaves the matcher's acceptance standing.
    garbled = Guard(stemi, verifier=get_model("mock/verifier?supported=unsure"))
    assert all(c.supported for c in asyncio.run(garbled.acheck(f"{LOOSE} {FIRM}")))
    assert garbled.usage.calls == 1


def test_the_verifier_is_asked_once_per_reply_and_a_verdict_it_leaves_out_changes_nothing(stemi: Case):
    asked: list[str] = []

    def first_only(messages, params):
        asked.append(messages[-1]["content"])
        return json.dumps({"verdicts": [{"statement": 1, "supported": False}]})

    register_script("guard-verifier-first-only", first_only)
    g = Guard(stemi, verifier=get_model("mock/guard-verifier-first-only"))
    checks = asyncio.run(g.acheck(f"{LOOSE} {FIRM} {FABRICATED}"))
    assert g.usage.calls == 1 and len(asked) == 1
    # Statement 1 is the loose acceptance, 2 the rejected invention; the firm claim is not asked about.
    assert f'1. "{LOOSE}"' in asked[0] and f'2. "{FABRICATED}"' in asked[0] and FIRM not in asked[0]
    assert [(c.supported, c.reason.split(":")[0]) for c in checks] == [
        (False, "verifier"),
        (True, ""),
        (False, "unsupported"),
    ]


def test_a_patient_built_with_a_verifier_passes_its_verdicts_to_the_turn(stemi: Case):
    from personas.factory import get_patient

    register_script("guard-loose", lambda m, p: LOOSE)
    patient = get_patient("mock/guard-loose", stemi, get_persona("plain"), "lexical", "mock/verifier?supported=false")
    asyncio.run(patient.open())
    r = asyncio.run(patient.reply("How did it start?"))
    assert [e.action for e in r.guard] == ["regenerated", "regenerated", "replaced"]
    assert all(e.claim == LOOSE and e.reason.startswith("verifier") for e in r.guard)
    # Three patient calls and three verifier calls, all on the patient's bill.
    assert r.usage.calls == 6
    trusting = get_patient("mock/guard-loose", stemi, get_persona("plain"))
    asyncio.run(trusting.open())
    assert asyncio.run(trusting.reply("How did it start?")).guard == []


def test_guard_events_are_stored_on_the_patient_turns(stemi: Case):
    seen: list[list[dict]] = []
    _sequence_script("guard-once", [FABRICATED, "Pardon?"], seen)
    patient = LLMPatient(get_model("mock/guard-once"), stemi, get_persona("plain"))
    tr = asyncio.run(
        run_consultation(
            stemi,
            ChecklistDoctor("builtin/checklist", seed=0),
            patient,
            CaseMeasurement(stemi),
            consultation_id="g1",
            run_id="r1",
            max_turns=6,
        )
    )
    guarded = [t for t in tr.turns if t.role == "patient" and t.guard]
    assert len(guarded) == 1
    assert guarded[0].guard[0].claim == FABRICATED and guarded[0].guard[0].action == "regenerated"
    assert guarded[0].content == "Pardon?" and guarded[0].revealed == []
    dumped = guarded[0].model_dump(mode="json")["guard"][0]
    assert dumped["reason"] == "unsupported" and "attempt" not in dumped


def test_denials_are_judged_clause_by_clause():
    from personas.guard import denies

    assert denies("I haven't been sick.")
    assert denies("No fever, no cough.")
    assert denies("My bowels are fine.")
    # A list under one negation is one denial.
    assert denies("No rash, ulcers or swelling, and no fever.")
    # A denial joined to a finding does not excuse the finding.
    assert not denies("It makes me queasy, though I haven't been sick.")
    # A normal-word under a negation asserts; a failed treatment is a finding.
    assert not denies("There's a discharge that isn't normal for me.")
    assert not denies("Painkillers haven't done anything.")
    assert not denies("I'm not really eating.")
    # A finding with a trailing "not ..." asserts the finding; only the contrast is negated.
    assert not denies("It's a pain across my stomach, not one spot.")
    assert not denies("It's a pressing, squeezing feeling, not throbbing.")
    # A normal state on a timeline is history: an onset, a dated period, a timed episode.
    assert not denies("I was fine until a couple of hours ago.")
    assert not denies("One minute I was fine, then it started.")
    assert not denies("I had a normal period a fortnight ago.")
    assert not denies("It all went back to normal within about twenty minutes.")
    assert denies("I feel fine now.")
    assert denies("My blood tests were within normal limits.")


def test_a_dated_normal_event_the_record_lacks_is_a_new_finding(stemi: Case):
    # Read as a denial it would pass unchecked; it dates a period the case never mentions.
    checks = Guard(stemi).check("I had a normal period a fortnight ago.")
    assert len(checks) == 1 and not checks[0].supported


def test_a_covered_topic_does_not_vouch_for_a_finding_on_a_topic_the_case_never_mentions(stemi: Case):
    # "for hours" / "since it started" tie these to the onset and timing facts; they are about
    # palpitations and cough, which the case never mentions.
    claims = ["My heart has been racing for hours.", "I've been coughing up phlegm since it started."]
    loose = Guard(stemi)
    loose.thresholds = replace(loose.thresholds, off_record_margin=None, reader_off_record=None)
    assert all(c.supported for claim in claims for c in loose.check(claim))
    strict = Guard(stemi)
    for claim in claims:
        checks = strict.check(claim)
        assert len(checks) == 1 and not checks[0].supported
        assert checks[0].reason == "unsupported" or checks[0].reason.startswith("new finding on ")


def test_a_paraphrase_on_a_covered_topic_still_passes(stemi: Case):
    g = Guard(stemi)
    for claim in ("It spreads to my arm.", "I'm sweaty and clammy.", "I've thrown up once and I feel sick."):
        checks = g.check(claim)
        assert checks and all(c.supported for c in checks), claim


def test_two_facts_together_back_one_claim(stemi: Case):
    checks = Guard(stemi).check("I smoke twenty a day and my dad died of a heart attack.")
    assert len(checks) == 1 and checks[0].supported


def test_a_further_wording_of_a_fact_backs_a_claim_said_that_way(stemi: Case):
    claim = "It creeps up behind my ear."
    assert not all(c.supported for c in Guard(stemi, wordings={}).check(claim))
    g = Guard(stemi, wordings={"hpi.radiation": ("It creeps up behind my ear and down my arm.",)})
    checks = g.check(claim)
    assert len(checks) == 1 and checks[0].supported and checks[0].fact_id == "hpi.radiation"


def test_the_persona_voice_is_set_aside_and_its_word_swaps_undone(stemi: Case):
    from personas.guard_voice import VoiceFilter

    persona = get_persona("low_literacy")
    voice = VoiceFilter(persona, stemi)
    assert "vomited" in " ".join(voice.readings("I threw up once."))
    g = Guard(stemi, persona=persona)
    checks = g.check("I feel sick and I threw up once.")
    assert checks and all(c.supported for c in checks)


def test_the_guard_reads_its_thresholds_from_the_matcher_backend(stemi: Case):
    from personas.matching.embedding import LiteLLMEmbeddingMatcher

    lexical = Guard(stemi, matcher="lexical")
    # The tuned lexical values (dev and val splits of bench/guard.py), not the matcher's own support_min of 0.5.
    tuned = lexical.thresholds
    assert (tuned.support_min, tuned.topic_support_min, tuned.topic_min) == (0.6, 0.2, 0.4)
    assert (tuned.reader_off_record, tuned.reader_backs, tuned.rescue_support_min) == (0.07, 0.7, 0.2)
    # An untuned backend: its own levels, and the tuned-only steps off.
    untuned = LiteLLMEmbeddingMatcher("openai/text-embedding-3-small").guard_thresholds
    assert (untuned.support_min, untuned.topic_support_min, untuned.topic_min) == (0.6, 0.3, 0.35)
    assert untuned.reader_off_record is None and untuned.rescue_topic_min is None
    assert untuned.reader_backs > 1.0 and untuned.reader_veto_max > 1.0 and untuned.reader_weak_min == 0.0


def test_an_asserted_finding_does_not_rest_on_a_fact_that_denies_it(stemi: Case):
    # "I haven't had a temperature" shares words with the claim, but it says the opposite.
    denial = next(f for f in stemi.facts if f.id == "ros.fever")
    checks = Guard(stemi).check("I've had a slight temperature.")
    assert [c.supported for c in checks] == [False]
    assert all(c.fact_id != denial.id for c in checks)
    assert all(c.supported for c in Guard(stemi).check(denial.lay))


def test_a_claim_sharing_nearly_enough_words_rests_loosely_on_its_fact():
    from cases.synthesizer import generate

    # Held out, the condition's other wordings of its complaint cannot back the claim; its own does, nearly.
    case = next(c for c in generate(12, seed=5) if c.id.startswith("ischaemic-stroke-"))
    held = frozenset({"ischaemic-stroke"})
    claim = "I can't lift my right arm properly and my right leg drags."
    # The readers' veto on loose backings is set apart (the reader gives an untouched topic, joints, 0.23 here), so
    # that the step under test decides.
    loose = Guard(case, held_out=held)
    loose.thresholds = replace(loose.thresholds, reader_stray_min=0.3)
    checks = loose.check(claim)
    assert [(c.supported, c.fact_id, c.firm) for c in checks] == [(True, "cc", False)]
    strict = Guard(case, held_out=held)
    strict.thresholds = replace(strict.thresholds, reader_stray_min=0.3, near_support_min=NEVER)
    assert not any(c.supported for c in strict.check(claim))


def test_a_paraphrase_like_the_same_findings_as_a_fact_rests_on_it(stemi: Case):
    claim = "It's right in the middle of my chest, behind the breastbone."
    checks = Guard(stemi).check(claim)
    assert [(c.supported, c.reason, c.fact_id, c.firm) for c in checks] == [
        (True, "like hpi.chest_pain", "hpi.chest_pain", False)
    ]
    strict = Guard(stemi)
    strict.thresholds = replace(strict.thresholds, finding_backs=NEVER)
    assert not any(c.supported for c in strict.check(claim))


def test_a_loose_backing_unlike_every_wording_of_the_facts_is_a_new_finding(stemi: Case):
    # With the conditions that call diarrhoea "the runs" held out, only a loose overlap ("went on for days")
    # ties the claim to the timing fact; it reads like nothing the case says, and somewhat like bowel habit.
    held = frozenset(c.id for c in load_kb().conditions if any("runs" in x.lower() for f in c.findings for x in f.lay))
    claim = "I had a bout of the runs that went on for days."
    checks = Guard(stemi, held_out=held).check(claim)
    assert [(c.supported, c.reason) for c in checks] == [(False, "new finding on bowel")]
    lenient = Guard(stemi, held_out=held)
    lenient.thresholds = replace(lenient.thresholds, reader_stray_min=NEVER)
    assert all(c.supported for c in lenient.check(claim))


def test_anatomy_only_the_other_sex_has_contradicts_the_patients_sex():
    from cases.synthesizer import generate

    made = generate(400, 3)
    woman = next(c for c in made if c.id.startswith("ovarian-torsion"))
    man = next(c for c in made if c.id.startswith("testicular-torsion"))
    said = "That side of my scrotum has gone bigger."
    [check] = Guard(woman).check(said)
    assert not check.supported and check.reason == "contradicts the patient's sex"
    assert "female" in check.fact_text
    # The same words fit a man's case, and a man may speak of his wife's pregnancy or deny a woman's finding.
    assert all(c.reason != "contradicts the patient's sex" for c in Guard(man).check(said))
    assert all(c.reason != "contradicts the patient's sex" for c in Guard(man).check("My wife is pregnant."))
    assert all(c.reason != "contradicts the patient's sex" for c in Guard(woman).check("My periods are heavy."))
    [periods] = Guard(man).check("My periods have been really heavy.")
    assert not periods.supported and periods.reason == "contradicts the patient's sex"
