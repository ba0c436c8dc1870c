"""Deterministic runs for the app's tests: fixed ids, fixed times, built-in cases.

Everything is written through ``Store`` methods, the way the runner, the
committee and the distiller write it. The one exception is a run's
``finished_at``: ``Store.set_run_status`` stamps the current time, so
:func:`finish_run` sets it to a fixed time with one UPDATE to keep snapshots
stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from arena.core.store import RUNS, Store
from arena.core.types import (
    Case,
    DoctorAction,
    FinalAnswer,
    GuardEvent,
    Mistake,
    QAItem,
    Run,
    RunConfig,
    SynthesisRule,
    Synthesized,
    Transcript,
    Turn,
    Usage,
    Verdict,
)
from cases.loader import builtin_cases
from judges.scoring import score_consultation

T0 = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)
RUN_ID = "run-demo"
DOCTOR = "openai/gpt-4o-mini"
OTHER_DOCTOR = "builtin/checklist"
JUDGES = ("openai/gpt-4o?temperature=0", "builtin/rubric")


def at(seconds: float) -> datetime:
    """A fixed time ``seconds`` after :data:`T0`."""
    return T0 + timedelta(seconds=seconds)


def cases() -> dict[str, Case]:
    """The hand-written cases by id."""
    return {c.id: c for c in builtin_cases()}


def create_run(
    store: Store,
    run_id: str = RUN_ID,
    *,
    name: str = "demo",
    case_ids: Sequence[str] = (),
    n_cases: int = 8,
    created: datetime = T0,
) -> Run:
    """Record a run of ``n_cases`` consultations over the given cases."""
    bank = cases()
    chosen = [bank[i] for i in case_ids] or list(bank.values())[:n_cases]
    run = Run(
        id=run_id,
        name=name,
        config=RunConfig(cases=n_cases, doctor=DOCTOR, judges=list(JUDGES)),
        created_at=created,
    )
    store.create_run(run, chosen)
    return run


def cid_of(run_id: str, case_id: str, trial: int = 0) -> str:
    """The consultation id the runner would give."""
    return f"{run_id}/{case_id}/t{trial}"


def start(
    store: Store,
    case: Case,
    *,
    run_id: str = RUN_ID,
    doctor: str = DOCTOR,
    persona: str = "plain",
    started: datetime = T0,
    trial: int = 0,
) -> str:
    """Start one consultation; return its id."""
    cid = cid_of(run_id, case.id, trial)
    store.start_consultations(
        [
            {
                "id": cid,
                "run_id": run_id,
                "case_id": case.id,
                "trial": trial,
                "seed": 7,
                "doctor": doctor,
                "patient": "builtin/patient",
                "persona": persona,
                "started_at": started,
            }
        ]
    )
    return cid


def _doctor_usage(i: int) -> Usage:
    return Usage(calls=1, prompt_tokens=800 + 40 * i, completion_tokens=50 + i, cost_usd=0.00015 + 0.00001 * i)


def _patient_usage(i: int) -> Usage:
    return Usage(calls=1, prompt_tokens=400 + 20 * i, completion_tokens=25, cost_usd=0.00005)


def script(case: Case, cid: str, started: datetime, *, diagnosis: str | None = None) -> list[Turn]:
    """A ten-turn consultation of ``case``: questions, a guarded reply, an exam, a test, a final answer."""
    facts = {f.disclosure: [x for x in case.facts if x.disclosure == f.disclosure] for f in case.facts}
    opening = facts["volunteered"][0]
    asked = facts["on_ask"][0]
    exam = facts["exam"][0]
    test = facts["test"][0]

    def t(i: int, role: str, content: str, **kw: object) -> Turn:
        return Turn(
            consultation_id=cid, index=i, role=role, content=content, created_at=started + timedelta(seconds=i), **kw
        )  # type: ignore[arg-type]

    final = FinalAnswer(
        diagnosis=diagnosis or case.diagnosis.name,
        differential=[d.name for d in case.differentials[:2]],
        plan="Admit, monitor, treat per local protocol, safety-net advice.",
    )
    return [
        t(0, "patient", opening.lay or opening.text, revealed=[opening.id], usage=_patient_usage(0)),
        t(
            1,
            "doctor",
            f"Tell me about the {asked.topic}.",
            action=DoctorAction(kind="ask", text=f"Tell me about the {asked.topic}."),
            usage=_doctor_usage(1),
        ),
        t(2, "patient", asked.lay or asked.text, revealed=[asked.id], usage=_patient_usage(2)),
        t(
            3,
            "doctor",
            "Have you travelled abroad recently?",
            action=DoctorAction(kind="ask", text="Have you travelled abroad recently?"),
            usage=_doctor_usage(3),
        ),
        t(
            4,
            "patient",
            "No, I haven't been abroad recently.",
            guard=[GuardEvent(claim="I came back from Thailand last week", action="replaced")],
            synthesized=[
                Synthesized(
                    topic="travel",
                    rule=SynthesisRule.DENIAL,
                    text="No, I haven't been abroad recently.",
                    source="plain:travel",
                )
            ],
            usage=_patient_usage(4),
        ),
        t(
            5,
            "doctor",
            f"I'd like to examine you: {exam.topic}.",
            action=DoctorAction(kind="exam", text=f"I'd like to examine you: {exam.topic}.", request=exam.topic),
            usage=_doctor_usage(5),
        ),
        t(6, "measurement", exam.text, revealed=[exam.id]),
        t(
            7,
            "doctor",
            f"Let's get a {test.topic}.",
            action=DoctorAction(kind="test", text=f"Let's get a {test.topic}.", request=test.topic),
            usage=_doctor_usage(7),
        ),
        t(8, "measurement", test.text, revealed=[test.id]),
        t(
            9,
            "doctor",
            final.diagnosis,
            action=DoctorAction(kind="final", text=final.diagnosis, final=final),
            usage=_doctor_usage(9),
        ),
    ]


def transcript(
    case: Case,
    cid: str,
    turns: list[Turn],
    *,
    run_id: str = RUN_ID,
    doctor: str = DOCTOR,
    persona: str = "plain",
    started: datetime = T0,
    error: str | None = None,
) -> Transcript:
    """The finished transcript of ``turns`` (or a failed one when ``error`` is given)."""
    usage: dict[str, Usage] = {"doctor": Usage(), "patient": Usage()}
    for tr in turns:
        if tr.role in usage:
            usage[tr.role].add(tr.usage)
    final_turn = turns[-1] if turns and turns[-1].action and turns[-1].action.kind == "final" else None
    return Transcript(
        id=cid,
        run_id=run_id,
        case_id=case.id,
        trial=0,
        seed=7,
        doctor=doctor,
        patient="builtin/patient",
        persona=persona,
        turns=turns,
        final=final_turn.action.final if final_turn and final_turn.action else None,
        stop_reason="error" if error else "final_answer",
        error=error,
        usage=usage,
        started_at=started,
        finished_at=started + timedelta(seconds=len(turns) + 1),
    )


def judge(transcripts: Sequence[Transcript], bank: dict[str, Case]) -> tuple[list[Verdict], list]:
    """Two judges and a committee; the judges split on every fourth item."""
    verdicts: list[Verdict] = []
    scores = []
    for tr in transcripts:
        if tr.error:
            continue
        case = bank[tr.case_id]
        committee: list[Verdict] = []
        for i, item in enumerate(case.rubric):
            first = "met" if i % 2 == 0 else "not_met"
            second = ("not_met" if first == "met" else "met") if i % 4 == 3 else first
            for judge_name, outcome in zip(JUDGES, (first, second), strict=True):
                verdicts.append(
                    Verdict(
                        consultation_id=tr.id,
                        item_id=item.id,
                        judge=judge_name,
                        outcome=outcome,  # type: ignore[arg-type]
                        points=item.points,
                        tags=item.tags,
                        explanation=f"{judge_name} says {outcome}",
                    )
                )
            agreed = first if first == second else "unscored"
            committee.append(
                Verdict(
                    consultation_id=tr.id,
                    item_id=item.id,
                    judge="committee",
                    outcome=agreed,  # type: ignore[arg-type]
                    points=item.points,
                    tags=item.tags,
                )
            )
        verdicts.extend(committee)
        match = "exact" if tr.final and tr.final.diagnosis == case.diagnosis.name else "wrong"
        scores.append(score_consultation(tr.id, committee, match))  # type: ignore[arg-type]
    return verdicts, scores


def distill(
    run_id: str, transcripts: Sequence[Transcript], verdicts: Sequence[Verdict], bank: dict[str, Case]
) -> tuple[list[Mistake], list[QAItem]]:
    """One mistake per unmet positive committee item; one QA item per mistake (the last rejected)."""
    by_id = {tr.id: tr for tr in transcripts}
    mistakes: list[Mistake] = []
    items: list[QAItem] = []
    risks = ("critical", "high", "medium", "low")
    for v in verdicts:
        if v.judge != "committee" or v.outcome != "not_met" or v.points <= 0:
            continue
        tr = by_id[v.consultation_id]
        case = bank[tr.case_id]
        criterion = next(r.criterion for r in case.rubric if r.id == v.item_id)
        n = len(mistakes)
        mid = f"m{n:03d}"
        mistakes.append(
            Mistake(
                id=mid,
                run_id=run_id,
                consultation_id=tr.id,
                case_id=case.id,
                doctor=tr.doctor,
                item_id=v.item_id,
                title=f"Did not: {criterion.lower()}",
                description=f"In a consultation about {case.title.lower()}, the doctor did not meet: {criterion}.",
                category="history_taking" if v.item_id.startswith("hx.") else "management",
                cause="omission",
                tags=list(v.tags),
                risk=risks[n % len(risks)],  # type: ignore[arg-type]
                turns=[1, 3],
            )
        )
        items.append(
            QAItem(
                id=f"q{n:03d}",
                mistake_id=mid,
                run_id=run_id,
                scenario=f"A patient presents: {case.chief_complaint}",
                question="What is the most important next step, and why?",
                answer=criterion,
                rationale=f"It addresses {v.item_id}.",
                options=[criterion, "Reassure and discharge", "Repeat in a week"] if n % 3 == 0 else [],
            )
        )
    if items:
        last = items[-1]
        items[-1] = last.model_copy(update={"valid": False, "rejection": "answer leaks from the scenario"})
    return mistakes, items


def finish_run(store: Store, run_id: str, status: str, finished: datetime) -> None:
    """Set a run's status and a fixed finish time (see the module docstring)."""
    store.set_run_status(run_id, status)  # type: ignore[arg-type]
    with store.engine.begin() as conn:
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(finished_at=finished))


def finished_run(store: Store, run_id: str = RUN_ID, *, name: str = "demo") -> list[Transcript]:
    """A judged and distilled run: six consultations over two doctors, one failed.

    Returns:
        The transcripts, in the order they were started.
    """
    bank = cases()
    ids = ["acs-stemi", "appendicitis", "bacterial-meningitis", "community-pneumonia", "dka", "migraine"]
    create_run(store, run_id, name=name, case_ids=ids, n_cases=len(ids))
    done: list[Transcript] = []
    for i, case_id in enumerate(ids):
        case = bank[case_id]
        doctor = DOCTOR if i % 2 == 0 else OTHER_DOCTOR
        persona = "plain" if i < 3 else "anxious"
        started = at(i * 2)
        cid = start(store, case, run_id=run_id, doctor=doctor, persona=persona, started=started)
        if case_id == "dka":
            turns = script(case, cid, started)[:3]
            tr = transcript(
                case,
                cid,
                turns,
                run_id=run_id,
                doctor=doctor,
                persona=persona,
                started=started,
                error="TimeoutError: doctor model did not answer in 60 s",
            )
        else:
            wrong = "Tension headache" if case_id == "migraine" else None
            turns = script(case, cid, started, diagnosis=wrong)
            tr = transcript(case, cid, turns, run_id=run_id, doctor=doctor, persona=persona, started=started)
        store.add_turns(run_id, turns[:4])
        done.append(tr)
    store.finish_consultations(done, {tr.id: 4 for tr in done})
    verdicts, scores = judge(done, bank)
    store.replace_judgement(run_id, verdicts, scores)
    mistakes, items = distill(run_id, done, verdicts, bank)
    store.replace_distillation(run_id, mistakes, items)
    finish_run(store, run_id, "finished", at(40))
    return done
