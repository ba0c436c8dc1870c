"""The stages of a run, each callable alone: simulate, judge, distill."""

from __future__ import annotations

import asyncio
import secrets

from arena.display import Display
from arena.doctors import check_doctor
from arena.ray_local import init_ray
from arena.runner import ActorSettings, Job, run_jobs
from arena.store import Store
from arena.types import Case, Run, RunConfig
from cases.loader import builtin_cases, load_case_file, select_cases
from cases.synthesizer import generate
from distill.dedup import DEFAULT_THRESHOLD
from distill.pipeline import DistillSummary, distill_run
from judges.committee import Rule, check_judge, judge_run
from personas.catalog import get_persona
from personas.factory import check_patient


def new_run_id() -> str:
    """A short random run id."""
    return "run-" + secrets.token_hex(4)


def validate_config(config: RunConfig) -> None:
    """Check every name in a config before anything is written.

    Raises:
        ModelError: for unknown or malformed model names.
        PersonaError: for an unknown persona.
    """
    check_doctor(config.doctor)
    check_patient(config.patient)
    for j in config.judges:
        check_judge(j)
    get_persona(config.persona)


BUILTIN_BANK = "builtin"
"""``--case-file`` value that selects the hand-written cases instead of a file."""


def plan_cases(config: RunConfig) -> list[Case]:
    """Return the cases a run will play.

    Without a case file, ``config.cases`` cases are synthesized from the
    knowledge base with ``config.seed``; with one, they are taken from the file
    (cycling if it has fewer); ``builtin`` takes the hand-written cases.
    """
    if config.case_file is None:
        return generate(config.cases, config.seed)
    bank = list(builtin_cases()) if config.case_file == BUILTIN_BANK else load_case_file(config.case_file)
    return select_cases(bank, config.cases)


def simulate(
    store: Store,
    config: RunConfig,
    display: Display,
    *,
    name: str | None = None,
    address: str | None = None,
    run_id: str | None = None,
) -> Run:
    """Run every consultation of a new run on Ray and store it.

    Args:
        store: The store.
        config: What to run.
        display: Progress display.
        name: Run name (default: the id).
        address: Ray cluster to join; default a local Ray.
        run_id: Id for the new run (default: a fresh random one).

    Returns:
        The finished run.
    """
    validate_config(config)
    cases = plan_cases(config)
    run_id = run_id or new_run_id()
    run = Run(id=run_id, name=name or run_id, config=config)
    init_ray(address)
    store.create_run(run, cases)
    jobs = [
        Job(consultation_id=f"{run_id}/{c.id}/t{t}", case_id=c.id, trial=t, seed=config.seed * 100_003 + i * 17 + t)
        for i, c in enumerate(cases)
        for t in range(config.trials)
    ]
    settings = ActorSettings(
        run_id=run_id,
        doctor=config.doctor,
        patient=config.patient,
        persona=config.persona,
        max_turns=config.max_turns,
    )
    display.start("consultations", len(jobs))
    try:
        run_jobs(
            store,
            settings,
            {c.id: c for c in cases},
            jobs,
            concurrency=config.concurrency,
            actors=config.actors,
            on_done=lambda _tr: display.advance(1),
        )
    except BaseException:
        store.set_run_status(run_id, "interrupted")
        raise
    finally:
        display.stop()
    store.set_run_status(run_id, "finished")
    return store.get_run(run_id)


def judge(
    store: Store,
    run_ref: str,
    display: Display,
    judges: list[str] | None = None,
    rule: Rule = "majority",
    diagnosis_judge: str | None = None,
) -> int:
    """(Re-)judge a stored run with a committee; replaces earlier verdicts.

    Args:
        store: The store.
        run_ref: Run id or name.
        display: Progress display.
        judges: Judge names; default the run's configured judges.
        rule: Aggregation rule.
        diagnosis_judge: Optional chat model for diagnoses the rules cannot match.

    Returns:
        Number of consultations scored.
    """
    run = store.get_run(run_ref)
    names = judges or run.config.judges
    for n in names:
        check_judge(n)
    if diagnosis_judge:
        check_judge(diagnosis_judge)
    transcripts = list(store.transcripts(run.id))
    cases = store.cases(run.id)
    display.start("judging", len(transcripts))
    try:
        verdicts, scores = asyncio.run(
            judge_run(transcripts, cases, names, rule=rule, diagnosis_judge=diagnosis_judge, progress=display.advance)
        )
    finally:
        display.stop()
    store.replace_judgement(run.id, verdicts, scores)
    return len(scores)


def distill(
    store: Store,
    run_ref: str,
    *,
    generator: str | None = None,
    replicate_items: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
) -> DistillSummary:
    """Distill a judged run into mistakes, clusters and QA items (see :func:`distill.pipeline.distill_run`)."""
    run = store.get_run(run_ref)
    return distill_run(store, run.id, generator=generator, replicate_items=replicate_items, threshold=threshold)


def run_stages(
    store: Store,
    config: RunConfig,
    display: Display,
    *,
    name: str | None = None,
    address: str | None = None,
    run_id: str | None = None,
    judge_run: bool = True,
    distill_run: bool = True,
) -> str:
    """Simulate a new run, then judge and distill it unless told to stop early.

    Ray is shut down as soon as the consultations are done: judging and
    distilling run in this process.

    Returns:
        The run's id.
    """
    from arena.ray_local import shutdown_ray

    try:
        rid = simulate(store, config, display, name=name, address=address, run_id=run_id).id
    finally:
        shutdown_ray()
    if judge_run:
        judge(store, rid, display)
        if distill_run:
            distill(store, rid)
    return rid
