"""Failures the simulated patient or gatekeeper caused: found per item, stored, reported, never distilled."""

from __future__ import annotations

import asyncio
import math

import pytest

from arena import pipeline
from arena.cli import main
from arena.core.store import Store
from arena.core.types import (
    Case,
    DoctorAction,
    Fact,
    FinalAnswer,
    PersonaWillingness,
    RubricItem,
    Run,
    RunConfig,
    SynthesisRule,
    Synthesized,
    Transcript,
    Turn,
    Verdict,
    utcnow,
)
from arena.display import SilentDisplay
from cases.knowledge import match_topics
from cases.synthesizer import generate
from distill.mistakes import mistakes_for, simulator_caused
from distill.pipeline import distill_run
from judges.analysis import analyze_run
from judges.builtin_rubric import BuiltinRubricJudge
from judges.committee import COMMITTEE, judge_run
from judges.report_html import render_report
from judges.scoring import failed, wilson_interval
from judges.simulator_review import (
    PERSISTENCE,
    asked_about,
    counts_against_doctor_by_absence,
    main_topics,
    ordered,
    read_answer,
    review,
)
from tests.conftest import consult

RADIATION_Q = "Does the pain spread anywhere, like your arm or jaw?"
ALLERGY_Q = "Are you allergic to any medicines?"
SMOKING_Q = "Do you smoke?"
GORD = FinalAnswer(diagnosis="Gastro-oesophageal reflux", plan="Antacids and review in a week")

Reply = tuple[str, list[str], list[Synthesized]]


def ask(question: str) -> DoctorAction:
    return DoctorAction(kind="ask", text=question)


def order(kind: str, request: str) -> DoctorAction:
    return DoctorAction(kind=kind, text=request, request=request)  # type: ignore[arg-type]


def said(text: str, revealed: list[str] | None = None, synthesized: list[Synthesized] | None = None) -> Reply:
    return text, revealed or [], synthesized or []


def transcript(
    case: Case, *exchanges: tuple[DoctorAction, Reply], cid: str = "c1", run_id: str = "r1", doctor: str = "d"
) -> Transcript:
    """A consultation written by hand: the opening, each doctor action with the reply to it, a wrong diagnosis."""
    turns = [
        Turn(
            consultation_id=cid,
            index=0,
            role="patient",
            content=case.chief_complaint,
            revealed=[f.id for f in case.facts if f.disclosure == "volunteered"],
        )
    ]
    for action, (text, revealed, synthesized) in exchanges:
        turns.append(Turn(consultation_id=cid, index=len(turns), role="doctor", content=action.text, action=action))
        turns.append(
            Turn(
                consultation_id=cid,
                index=len(turns),
                role="patient" if action.kind == "ask" else "measurement",
                content=text,
                revealed=revealed,
                synthesized=synthesized,
            )
        )
    final = DoctorAction(kind="final", text=GORD.diagnosis, final=GORD)
    turns.append(Turn(consultation_id=cid, index=len(turns), role="doctor", content=final.text, action=final))
    return Transcript(
        id=cid,
        run_id=run_id,
        case_id=case.id,
        doctor=doctor,
        patient="builtin/patient",
        turns=turns,
        final=GORD,
        stop_reason="final_answer",
    )


def judged(case: Case, tr: Transcript) -> dict[str, Verdict]:
    """The built-in judge's verdicts on a consultation, reviewed, by item id."""
    verdicts = asyncio.run(BuiltinRubricJudge().judge(tr, case))
    return {v.item_id: v for v in review(case, tr, verdicts)}


def causes(case: Case, tr: Transcript) -> dict[str, str]:
    """The items the simulator caused to fail, with how."""
    return {i: v.simulator_cause for i, v in judged(case, tr).items() if v.simulator_cause}


# --------------------------------------------------------------------------- the patient


def test_an_asked_fact_the_patient_did_not_give_is_withheld(stemi: Case):
    tr = transcript(stemi, (ask(RADIATION_Q), said("I'm not sure.")))
    v = judged(stemi, tr)
    assert v["hx.radiation"].outcome == "not_met"
    assert v["hx.radiation"].simulator_cause == "withheld"
    # Every other failed item was never asked about: the doctor's own failures.
    assert causes(stemi, tr) == {"hx.radiation": "withheld"}


def test_a_reply_about_something_else_withholds_the_asked_fact(stemi: Case):
    tr = transcript(stemi, (ask(RADIATION_Q), said("I've been feeling a bit sick.", ["ros.nausea"])))
    assert causes(stemi, tr) == {"hx.radiation": "withheld"}


@pytest.mark.parametrize(
    "reply",
    [
        said("No, it stays in the middle of my chest."),
        said("No, I don't think so."),
        said("I don't have any pain in my arm or jaw."),
        said("It's fine.", synthesized=[Synthesized(topic="radiation", rule=SynthesisRule.DENIAL, text="It's fine.")]),
    ],
)
def test_a_positive_finding_the_patient_denied(stemi: Case, reply: Reply):
    assert causes(stemi, transcript(stemi, (ask(RADIATION_Q), reply))) == {"hx.radiation": "denied"}


@pytest.mark.parametrize(
    "reply",
    [
        said("Yes, I'm allergic to penicillin, it gives me a rash."),
        said("Yes."),
        said("A rash.", synthesized=[Synthesized(topic="allergies", rule=SynthesisRule.CONDITION_TYPICAL, text="x")]),
    ],
)
def test_a_pertinent_negative_the_patient_contradicted(stemi: Case, reply: Reply):
    assert stemi.fact("allergy.none").negative
    assert causes(stemi, transcript(stemi, (ask(ALLERGY_Q), reply))) == {"hx.allergies": "contradicted"}


def test_a_negative_said_but_not_recorded_is_not_the_simulators(stemi: Case):
    # The patient gave the pertinent negative; only its record is missing, so the judge, not the patient, failed it.
    tr = transcript(stemi, (ask(ALLERGY_Q), said("No, I'm not allergic to anything.")))
    assert judged(stemi, tr)["hx.allergies"].outcome == "not_met"
    assert causes(stemi, tr) == {}


def test_a_finding_paraphrased_without_a_record_is_not_the_simulators(stemi: Case):
    tr = transcript(stemi, (ask(RADIATION_Q), said("Yes, it goes down into my left arm and up into my jaw.")))
    assert judged(stemi, tr)["hx.radiation"].outcome == "not_met"
    assert causes(stemi, tr) == {}


@pytest.mark.parametrize(
    ("fact_id", "reply", "reading"),
    [
        ("ros.leg_swelling", "My legs are fine.", "disclosed"),
        ("ros.leg_swelling", "My left calf is swollen and sore.", "contradicted"),
        ("ros.syncope", "No, I haven't fainted.", "disclosed"),
        ("ros.syncope", "I passed out this morning.", "contradicted"),
        ("hpi.relief", "Nothing helps at all, not even paracetamol.", "disclosed"),  # a finding worded as a "no"
        ("ros.sweating", "I've been feeling really low and I can't shake it.", "withheld"),  # a "no" about else
        ("ros.sweating", "I don't think so, no sweating.", "denied"),
        ("social.smoking", "We don't really talk about things like that.", "deflected"),
    ],
)
def test_how_a_reply_is_read(stemi: Case, fact_id: str, reply: str, reading: str):
    turn = Turn(consultation_id="c1", index=2, role="patient", content=reply)
    assert read_answer(stemi.fact(fact_id), turn) == reading


def test_items_the_doctor_never_asked_about_are_the_doctors(stemi: Case):
    tr = transcript(stemi, (ask(SMOKING_Q), said("I'm not sure.")))
    found = causes(stemi, tr)
    assert found == {"hx.smoking": "withheld"}
    for item in ("hx.radiation", "hx.onset", "hx.family", "tx.ecg", "dx.final", "plan.emergency"):
        assert failed(judged(stemi, tr)[item]) and item not in found


def test_a_fact_given_later_clears_an_earlier_refusal(stemi: Case):
    # A judge that still fails the item disagrees with the transcript: not the simulator's doing.
    tr = transcript(
        stemi,
        (ask(RADIATION_Q), said("I'm not sure.")),
        (ask(RADIATION_Q), said("It goes down my left arm.", ["hpi.radiation"])),
    )
    stale = Verdict(consultation_id="c1", item_id="hx.radiation", judge="j", outcome="not_met", points=5)
    assert review(stemi, tr, [stale])[0].simulator_cause is None


def test_a_question_naming_a_topic_in_passing_did_not_ask_about_it():
    spotting = Fact(id="hpi.spotting", category="hpi", disclosure="on_ask", text="Light spotting", topic="bleeding")
    pmh = "Do you have any medical conditions, such as diabetes, high blood pressure or heart problems?"
    assert "bleeding" in match_topics(pmh)  # "blood" is one of its keywords...
    assert "bleeding" not in main_topics(pmh)  # ...but the question is about past history
    assert not asked_about(spotting, pmh)
    assert asked_about(spotting, "Have you noticed any bleeding?")
    # Several topics named equally are all asked about.
    assert {"fever", "cough", "breathlessness"} <= main_topics("Any fever, cough or shortness of breath?")
    # A pronoun does not make a question about contacts, nor a word in two forms count twice.
    assert main_topics("Has anyone noticed confusion or drowsiness?") == {"confusion"}
    assert main_topics("Has anyone around you been unwell?") == {"contacts"}
    assert main_topics("Are you allergic to any medicines?") == {"allergies", "medications"}


def test_a_facts_own_keywords_ask_for_it(stemi: Case):
    chest = stemi.fact("hpi.chest_pain")
    assert "chest pain" in chest.keywords
    assert asked_about(chest, "Tell me more about the chest pain.")


def test_a_reticent_patient_is_the_doctors_to_ask_again_until_it_is_not(stemi: Case):
    put_off = said("Why do you need to know that?")
    once = transcript(stemi, (ask(SMOKING_Q), put_off))
    assert causes(stemi, once) == {}
    # The most asks any persona may need, and no fewer.
    PersonaWillingness(guarded=["smoking"], asks=PERSISTENCE, deflections=["Why?"])
    with pytest.raises(ValueError):
        PersonaWillingness(guarded=["smoking"], asks=PERSISTENCE + 1, deflections=["Why?"])
    stubborn = transcript(stemi, *[(ask(SMOKING_Q), put_off)] * PERSISTENCE)
    assert causes(stemi, stubborn) == {"hx.smoking": "withheld"}
    short = transcript(stemi, *[(ask(SMOKING_Q), put_off)] * (PERSISTENCE - 1))
    assert causes(stemi, short) == {}


# --------------------------------------------------------------------------- the gatekeeper


def test_a_normal_result_for_an_abnormal_finding_is_contradicted(stemi: Case):
    tr = transcript(stemi, (order("test", "12-lead ECG"), said("12-lead ECG: normal sinus rhythm, no ST changes.")))
    found = causes(stemi, tr)
    # The rewarded order and the harmful omission read the same event, and the gatekeeper caused both.
    assert found == {"tx.ecg": "contradicted", "safety.no_ecg": "contradicted"}


def test_a_reference_normal_result_for_an_abnormal_finding_is_contradicted(stemi: Case):
    normal = [Synthesized(topic="troponin", rule=SynthesisRule.REFERENCE_NORMAL, text="Troponin < 14 ng/L")]
    tr = transcript(stemi, (order("test", "High-sensitivity troponin"), said("Troponin < 14 ng/L", [], normal)))
    assert causes(stemi, tr) == {"tx.troponin": "contradicted"}


def test_an_ordered_test_not_available_is_withheld(stemi: Case):
    tr = transcript(stemi, (order("test", "ECG"), said("ECG: Not performed / not available for this patient.")))
    assert causes(stemi, tr) == {"tx.ecg": "withheld", "safety.no_ecg": "withheld"}


def test_a_normal_finding_reported_normal_is_not_the_simulators(stemi: Case):
    with_cxr = stemi.model_copy(
        update={
            "rubric": [
                *stemi.rubric,
                RubricItem.model_validate(
                    {
                        "id": "tx.cxr",
                        "criterion": "Requests a chest X-ray",
                        "points": 2,
                        "check": {"kind": "order", "targets": ["test.chest_xray"]},
                    }
                ),
            ]
        }
    )
    tr = transcript(with_cxr, (order("test", "Chest X-ray"), said("Chest X-ray: normal.")))
    assert "tx.cxr" not in causes(with_cxr, tr)


def test_a_harmful_act_is_never_the_simulators(stemi: Case):
    harm = RubricItem.model_validate(
        {
            "id": "harm.xray",
            "criterion": "Delays reperfusion for a chest X-ray",
            "points": -4,
            "check": {"kind": "order", "targets": ["test.chest_xray"]},
        }
    )
    done = Verdict(consultation_id="c1", item_id=harm.id, judge="j", outcome="met", points=-4)
    assert failed(done) and not counts_against_doctor_by_absence(done, harm)
    omission = next(i for i in stemi.rubric if i.id == "safety.no_ecg")
    missed = Verdict(consultation_id="c1", item_id=omission.id, judge="j", outcome="met", points=omission.points)
    assert counts_against_doctor_by_absence(missed, omission)


def test_an_order_names_its_test_under_either_kind(stemi: Case):
    ecg = stemi.fact("test.ecg")
    assert ordered(ecg, "12-lead ECG") and ordered(ecg, "electrocardiogram")
    assert not ordered(ecg, "Full blood count")


def test_review_clears_a_stale_cause(stemi: Case):
    tr = transcript(stemi, (ask(RADIATION_Q), said("It goes down my left arm.", ["hpi.radiation"])))
    stale = Verdict(
        consultation_id="c1", item_id="hx.radiation", judge="j", outcome="met", points=5, simulator_cause="withheld"
    )
    assert review(stemi, tr, [stale])[0].simulator_cause is None


def test_the_builtin_patient_and_gatekeeper_are_rarely_blamed():
    # They answer from the case, so what the checklist doctor asked for comes back.
    blamed = failures = 0
    for i, case in enumerate(generate(25, seed=7)):
        tr, _ = consult(case, 0.7, seed=i, cid=f"c{i}")
        for v in judged(case, tr).values():
            failures += failed(v)
            blamed += v.simulator_cause is not None
    assert failures > 50
    assert blamed <= failures * 0.02


# --------------------------------------------------------------------------- stored, re-judged, reported, distilled


@pytest.fixture
def judged_run(store: Store, stemi: Case) -> str:
    """A stored run with two doctors on the STEMI case whose failures are known.

    ``doc-a`` asks about radiation (withheld) and orders an ECG (reported normal): of its 13 failed items
    (12 rewarded items missed, the harmful omission of an ECG counted) the simulator caused 3. ``doc-b``
    asks nothing and fails the same 13 items on its own.
    """
    run = Run(id="run-sim", name="sim", config=RunConfig(cases=1, judges=["builtin/rubric", "builtin/safety"]))
    store.create_run(run, [stemi])
    a = transcript(
        stemi,
        (ask(RADIATION_Q), said("I'm not sure.")),
        (order("test", "12-lead ECG"), said("12-lead ECG: normal sinus rhythm, no ST changes.")),
        cid="run-sim/a",
        run_id=run.id,
        doctor="doc-a",
    )
    b = transcript(stemi, cid="run-sim/b", run_id=run.id, doctor="doc-b")
    for tr in (a, b):
        store.start_consultations(
            [
                {
                    "id": tr.id,
                    "run_id": run.id,
                    "case_id": stemi.id,
                    "trial": 0,
                    "seed": 0,
                    "doctor": tr.doctor,
                    "patient": tr.patient,
                    "persona": "plain",
                    "started_at": utcnow(),
                }
            ]
        )
    store.finish_consultations([a, b], {})
    assert pipeline.judge(store, run.id, SilentDisplay()) == 2
    return run.id


def test_stored_verdicts_carry_the_cause(store: Store, judged_run: str):
    stored = store.verdicts(judged_run)
    caused = {(v.consultation_id, v.item_id, v.judge): v.simulator_cause for v in stored if v.simulator_cause}
    assert caused == {
        ("run-sim/a", "hx.radiation", COMMITTEE): "withheld",
        ("run-sim/a", "hx.radiation", "builtin/rubric"): "withheld",
        ("run-sim/a", "tx.ecg", COMMITTEE): "contradicted",
        ("run-sim/a", "tx.ecg", "builtin/rubric"): "contradicted",
        ("run-sim/a", "safety.no_ecg", COMMITTEE): "contradicted",
        ("run-sim/a", "safety.no_ecg", "builtin/rubric"): "contradicted",
        # The safety judge votes on safety items only, and its failing verdict carries the cause too.
        ("run-sim/a", "safety.no_ecg", "builtin/safety"): "contradicted",
    }


def test_rejudging_recomputes_the_cause(store: Store, judged_run: str, stemi: Case):
    # Stale causes written into the store are replaced by what the transcript shows.
    wrong = [v.model_copy(update={"simulator_cause": "denied"}) for v in store.verdicts(judged_run)]
    store.replace_judgement(judged_run, wrong, store.scores(judged_run))
    assert all(v.simulator_cause == "denied" for v in store.verdicts(judged_run))
    pipeline.judge(store, judged_run, SilentDisplay(), judges=["builtin/rubric"])
    caused = {(v.consultation_id, v.item_id, v.judge) for v in store.verdicts(judged_run) if v.simulator_cause}
    assert caused == {
        (cid, item, judge)
        for cid, item in (("run-sim/a", "hx.radiation"), ("run-sim/a", "tx.ecg"), ("run-sim/a", "safety.no_ecg"))
        for judge in (COMMITTEE, "builtin/rubric")
    }


def test_judge_run_reviews_committee_and_judges_alike(stemi: Case):
    tr = transcript(stemi, (ask(RADIATION_Q), said("No.")))
    verdicts, scores = asyncio.run(judge_run([tr], {stemi.id: stemi}, ["builtin/rubric", "mock/judge?met=false"]))
    on_radiation = {v.judge: v.simulator_cause for v in verdicts if v.item_id == "hx.radiation"}
    assert on_radiation == {"builtin/rubric": "denied", "mock/judge?met=false": "denied", COMMITTEE: "denied"}
    assert len(scores) == 1


def test_report_shows_the_share_per_doctor(store: Store, judged_run: str, db_url: str, tmp_path, capsys):
    a = analyze_run(store, judged_run)
    sa, sb = a.simulator["doc-a"], a.simulator["doc-b"]
    assert (sa.failed, sa.caused, sa.by_cause) == (13, 3, {"withheld": 1, "contradicted": 2})
    assert (sb.failed, sb.caused, sb.by_cause) == (13, 0, {})
    assert sa.share == pytest.approx(3 / 13)
    assert (sa.low, sa.high) == pytest.approx(wilson_interval(3, 13))
    assert sb.share == 0 and sb.low == 0 and 0.2 < (sb.high or 0) < 0.3

    html = tmp_path / "r.html"
    assert main(["report", judged_run, "--html", str(html), "--db", db_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "failures caused by the simulator" in out
    lo, hi = wilson_interval(3, 13)
    assert f"doc-a │ 13 │ 3 │ 23.1% [{100 * lo:.1f}%, {100 * hi:.1f}%] │ 1 │ 0 │ 2" in out
    assert "doc-b │ 13 │ 0 │ 0.0%" in out
    page = html.read_text()
    section = page[page.index('<section id="simulator">') : page.index('<section id="agreement">')]
    assert "doc-a" in section and "23.1%" in section and f"[{100 * lo:.1f}%, {100 * hi:.1f}%]" in section
    # Both consultations are among the worst listed; doc-a's verdict tables name the causes.
    assert "simulator: withheld" in page and "simulator: contradicted" in page


def test_html_shows_the_cause_on_a_verdict(stemi: Case):
    tr = transcript(stemi, (ask(RADIATION_Q), said("No.")), cid="c9")
    verdicts, _ = asyncio.run(judge_run([tr], {stemi.id: stemi}, ["builtin/rubric"]))
    from arena.core.types import ConsultationBrief, Estimate, RunAnalysis

    analysis = RunAnalysis(
        run_id="r",
        name="r",
        judges=["builtin/rubric"],
        rule="majority",
        consultations=1,
        overall=Estimate(mean=0.0, low=0.0, high=0.0, n=1),
        worst=[
            ConsultationBrief(
                consultation_id="c9",
                case_id=stemi.id,
                doctor="d",
                diagnosis_given="GORD",
                diagnosis_true="STEMI",
                match="wrong",
                score=0.0,
            )
        ],
    )
    page = render_report(analysis, {"c9": tr}, {"c9": verdicts})
    assert page.count("simulator: denied") == 2  # the judge's verdict and the committee's
    assert "No failed items." in page


def test_the_distiller_makes_nothing_from_simulator_caused_failures(store: Store, judged_run: str, db_url: str, capsys):
    assert main(["distill", judged_run, "--db", db_url]) == 0
    assert "3 failed items skipped because the simulated patient or gatekeeper caused them" in " ".join(
        capsys.readouterr().out.split()
    )
    summary = distill_run(store, judged_run)
    assert summary.simulator_skipped == 3
    mistakes = store.mistakes(judged_run)
    from_a = {m.item_id for m in mistakes if m.consultation_id == "run-sim/a"}
    from_b = {m.item_id for m in mistakes if m.consultation_id == "run-sim/b"}
    assert len(from_b) == 13 and from_a == from_b - {"hx.radiation", "tx.ecg", "safety.no_ecg"}
    # No QA item reproduces a failure the simulator caused: each reproduces a stored mistake, and the
    # clusters that hold those three items hold only doctor b's.
    by_id = {m.id: m for m in mistakes}
    items = store.qa_items(judged_run)
    assert items and {q.mistake_id for q in items} <= set(by_id)
    for c in store.clusters(judged_run):
        if {by_id[m].item_id for m in c.members} & {"hx.radiation", "tx.ecg", "safety.no_ecg"}:
            assert c.consultations == ["run-sim/b"]


def test_mistakes_for_skips_a_simulator_caused_verdict(stemi: Case):
    tr = transcript(stemi, (ask(RADIATION_Q), said("I'm not sure.")))
    verdicts = list(judged(stemi, tr).values())
    committee = [v.model_copy(update={"judge": COMMITTEE}) for v in verdicts]
    made = {m.item_id for m in mistakes_for(tr, stemi, committee)}
    assert "hx.radiation" not in made and "hx.onset" in made
    assert simulator_caused(committee) == 1
    # Without the review, the same failure would have become a mistake.
    plain = [v.model_copy(update={"simulator_cause": None}) for v in committee]
    assert "hx.radiation" in {m.item_id for m in mistakes_for(tr, stemi, plain)}


def test_wilson_interval():
    lo, hi = wilson_interval(3, 13)
    p, z, n = 3 / 13, 1.96, 13
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (lo, hi) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 100)[0] == 0.0 and 0.03 < wilson_interval(0, 100)[1] < 0.04
