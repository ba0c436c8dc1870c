"""The stages of a run, each callable alone: simulate, judge, distill."""

from __future__ import annotations

import asyncio
import secrets
import zlib
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from arena.core.store import Store, StoreError
from arena.core.types import DEFAULT_RULE, DEFAULT_THRESHOLD, Case, Run, RunConfig
from arena.display import Display
from arena.doctors import HUMAN, check_doctor
from arena.driver_pool import driver_capacity
from arena.models import closing
from arena.ray_local import cluster_address, init_ray, start_ray_in_background
from arena.runner import run_jobs, uses_openai
from arena.worker import ActorSettings, Job
from cases.loader import builtin_cases, load_case_file, select_cases
from cases.prices import price_list
from cases.synthesizer import generate
from distill.pipeline import DistillSummary, distill_run
from judges.committee import Rule, check_judge, judge_run
from judges.diagnosis import diagnosis_judge_model
from personas.catalog import assign_persona, check_persona_spec
from personas.factory import check_gatekeeper, check_guard, check_patient


class RunInterrupted(Exception):
    """A run's consultations were stopped by the user (Ctrl-C) before all were played."""

    def __init__(self, run_id: str, saved: int, total: int) -> None:
        """Keep what a resume needs to know.

        Args:
            run_id: The interrupted run.
            saved: Its consultations whose transcripts are stored.
            total: Its consultations in all.
        """
        super().__init__(f"run {run_id} interrupted: {saved} of {total} consultations saved")
        self.run_id = run_id
        self.saved = saved
        self.total = total


def new_run_id() -> str:
    """A short random run id."""
    return "run-" + secrets.token_hex(4)


def validate_config(config: RunConfig) -> None:
    """Check every name in a config before anything is written.

    Raises:
        ModelError: for unknown or malformed model names.
        PersonaError: for an unknown persona.
        PriceListError: for a malformed price list.
    """
    for d in config.doctors:
        check_doctor(d)
    check_patient(config.patient)
    check_guard(config.guard_matcher, config.guard_verifier)
    check_gatekeeper(config.gatekeeper)
    for j in config.judges:
        check_judge(j)
    check_persona_spec(config.persona)
    # Every consultation prices its care as it ends: a broken price list fails
    # the run here, in one line, rather than every consultation in the workers.
    price_list()


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


def prepare(config: RunConfig, address: str | None = None) -> list[Case]:
    """Make a new run's cases, then start Ray (unless a person plays the doctor); return the cases.

    The cases come first, so a bad case file fails before Ray starts. Making synthesized cases
    while Ray started was no faster: Ray's start is its processes' CPU, and on two cores the
    two slowed each other (600 cases: Ray up 4.6 s after launch that way, 3.6 s one after the other).

    Raises:
        CaseFileError: for a bad case file.
        RayStartError: if Ray cannot be started or joined (a local Ray started in the background,
            see :func:`start_ray`, fails later, when the run first needs it).
    """
    cases = plan_cases(config)
    if HUMAN not in config.doctors:
        start_ray(config, address)
    return cases


def start_ray(config: RunConfig, address: str | None = None) -> Future[Any] | None:
    """Start (or join) Ray for a run; return a future while a local Ray starts in the background, else None.

    A local Ray starts in the background when the driver may play the first consultations meanwhile
    (:func:`arena.driver_pool.driver_capacity`); otherwise, and to join a cluster, this waits for Ray.

    Raises:
        RayStartError: if Ray cannot be started or joined here and now.
    """
    openai = uses_openai(config.doctors, config.patient, config.gatekeeper, config.guard_verifier)
    if cluster_address(address) is None and driver_capacity(
        config.doctors, config.patient, config.gatekeeper, config.guard_verifier, config.guard_matcher
    ):
        return start_ray_in_background(openai_client=openai)
    init_ray(address, openai_client=openai)
    return None


def consultation_seed(run_seed: int, case_id: str, trial: int) -> int:
    """The seed of one (case, trial): the same for every doctor, and for a resumed run."""
    return zlib.crc32(f"{run_seed}/{case_id}/{trial}".encode())


def plan_jobs(run_id: str, config: RunConfig, cases: Sequence[Case]) -> list[Job]:
    """Every consultation of a run: each doctor plays each case ``trials`` times, in each format.

    Doctors share the cases, the seeds and the personas, so their
    consultations differ only by the doctor. The key (run, case, doctor,
    trial, format) is unique. With ``persona="mix"`` each case gets a persona drawn
    from the run's seed and the case id (a proxy for cases that need one).
    """
    jobs = []
    personas = {c.id: assign_persona(c, config.persona, config.seed) for c in cases}
    for t in range(config.trials):
        for c in cases:
            seed = consultation_seed(config.seed, c.id, t)
            for k, doctor in enumerate(config.doctors):
                dialogue_id = f"{run_id}/{c.id}/t{t}" + (f"/d{k}" if k else "")
                for fmt in config.formats:
                    jobs.append(
                        Job(
                            # A dialogue keeps the id it had before formats existed, so older runs resume.
                            consultation_id=dialogue_id if fmt == "dialogue" else f"{dialogue_id}/{fmt}",
                            case_id=c.id,
                            trial=t,
                            seed=seed,
                            doctor=doctor,
                            persona=personas[c.id],
                            format=fmt,
                            source=dialogue_id if fmt == "summary" else None,
                        )
                    )
    return jobs


def simulate(
    store: Store,
    config: RunConfig,
    display: Display,
    *,
    name: str | None = None,
    address: str | None = None,
    run_id: str | None = None,
    resume: bool = False,
    cases: list[Case] | None = None,
) -> Run:
    """Run every consultation of a new run (or the rest of an interrupted one) and store it.

    Args:
        store: The store.
        config: What to run. With ``resume``, only ``max_cost_usd`` is read
            from it (the stored run's config decides the rest).
        display: Progress display.
        name: Run name (default: the id).
        address: Ray cluster to join; default a local Ray.
        run_id: Id for the new run (default: a fresh random one), or the run to resume.
        resume: Continue ``run_id``: consultations already saved are kept, ones
            cut off mid-way are discarded and played again, the rest are played.
        cases: A new run's cases, made already (see :func:`prepare`); None makes them here.

    Returns:
        The finished run.

    Raises:
        RunInterrupted: on Ctrl-C; the run is stored as interrupted and can be resumed.
    """
    spent = 0.0
    if resume:
        if run_id is None:
            raise StoreError("--resume needs a run id or name")
        stored = store.get_run(run_id)
        run_id = stored.id
        budget = config.max_cost_usd if config.max_cost_usd is not None else stored.config.max_cost_usd
        config = stored.config.model_copy(update={"max_cost_usd": budget})
        validate_config(config)
        cases = list(store.cases(run_id).values())
        store.discard_consultations(run_id)
        done = store.finished_ids(run_id)
        spent = store.run_cost(run_id)
        store.set_run_status(run_id, "running")
        planned = plan_jobs(run_id, config, cases)
        jobs = [j for j in planned if j.consultation_id not in done]
        total = len(planned)
    else:
        validate_config(config)
        if cases is None:
            cases = prepare(config, address)
        run_id = run_id or new_run_id()
        store.create_run(Run(id=run_id, name=name or run_id, config=config), cases)
        jobs = plan_jobs(run_id, config, cases)
        total = len(jobs)
    human = HUMAN in config.doctors
    # Up or starting already, unless this is a resumed run.
    ray_ready = None if human else start_ray(config, address)
    settings = ActorSettings(
        run_id=run_id,
        patient=config.patient,
        max_turns=config.max_turns,
        timeout_s=config.timeout_s,
        guard_matcher=config.guard_matcher,
        guard_verifier=config.guard_verifier,
        gatekeeper=config.gatekeeper,
        choices=config.choices,
    )
    budget_left = None if config.max_cost_usd is None else max(0.0, config.max_cost_usd - spent)
    display.start("consultations", len(jobs))
    try:
        progress = run_jobs(
            store,
            settings,
            {c.id: c for c in cases},
            jobs,
            # The person at the terminal plays one consultation at a time, in this process.
            concurrency=1 if human else config.concurrency,
            actors=config.actors,
            in_process=human,
            ray_ready=ray_ready,
            max_cost_usd=budget_left,
            on_done=lambda _tr: display.advance(1),
        )
    except KeyboardInterrupt:
        store.set_run_status(run_id, "interrupted")
        saved = len(store.finished_ids(run_id))
        raise RunInterrupted(run_id, saved, total) from None
    except BaseException:
        store.set_run_status(run_id, "interrupted")
        raise
    finally:
        display.stop()
    store.set_run_status(run_id, "budget_reached" if progress.unscheduled else "finished")
    return store.get_run(run_id)


def judge(
    store: Store,
    run_ref: str,
    display: Display,
    judges: list[str] | None = None,
    rule: Rule = DEFAULT_RULE,
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
        diagnosis_judge_model(diagnosis_judge)
    transcripts = list(store.transcripts(run.id))
    cases = store.cases(run.id)
    display.start("judging", len(transcripts))
    try:
        verdicts, scores = asyncio.run(
            closing(
                judge_run(
                    transcripts, cases, names, rule=rule, diagnosis_judge=diagnosis_judge, progress=display.advance
                )
            )
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
    resume: bool = False,
    judge_run: bool = True,
    distill_run: bool = True,
    cases: list[Case] | None = None,
) -> str:
    """Simulate a new run, then judge and distill it unless told to stop early.

    Ray is shut down as soon as the consultations are done: judging and
    distilling run in this process. ``cases`` are a new run's cases if made
    already (see :func:`prepare`).

    Returns:
        The run's id.
    """
    from arena.ray_local import shutdown_ray

    try:
        rid = simulate(store, config, display, name=name, address=address, run_id=run_id, resume=resume, cases=cases).id
    finally:
        shutdown_ray()
    if judge_run:
        judge(store, rid, display)
        if distill_run:
            distill(store, rid)
    return rid
