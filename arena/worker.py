"""What runs inside a Ray actor: :class:`ConsultationWorker`, and the job and settings it is given.

Kept apart from the driver (:mod:`arena.runner`) so that an actor starting up
imports only what playing consultations needs, not the store and its SQL
libraries: a quarter of a second less before each actor takes work.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import weakref
from dataclasses import dataclass, field

from arena.core.errors import error_line
from arena.core.types import (
    DEFAULT_FORMAT,
    DEFAULT_GATEKEEPER,
    DEFAULT_MATCHER,
    DEFAULT_PERSONA,
    Case,
    ConsultFormat,
    Transcript,
    Turn,
)
from arena.heap import settle_heap
from arena.models.registry import Role, resolve
from arena.ray_local import REAL_HOME_VAR

# A local Ray starts its processes with a private HOME (see arena.ray_local); the consultations
# run with the user's own, taken back before anything below reads it.
if os.environ.get(REAL_HOME_VAR):
    os.environ["HOME"] = os.environ[REAL_HOME_VAR]


@dataclass(frozen=True)
class Job:
    """One consultation to run."""

    consultation_id: str
    """Its id."""
    case_id: str
    """The case to play."""
    trial: int
    """Trial number."""
    seed: int
    """Seed for its policies."""
    doctor: str
    """Doctor model name."""
    persona: str = DEFAULT_PERSONA
    """Persona id the patient speaks with."""
    format: ConsultFormat = DEFAULT_FORMAT
    """How the case reaches the doctor."""
    source: str | None = None
    """For a ``summary``: the id of the dialogue it summarizes."""
    disclosed: tuple[str, ...] = ()
    """For a ``summary``: the fact ids that dialogue drew out (filled by the driver once it is stored)."""
    case: Case | None = None
    """The case itself, sent with the job to a worker that does not hold the run's cases (a Ray actor), without
    its rubric, which only the judges read."""


@dataclass(frozen=True)
class ActorSettings:
    """What every consultation of a run shares."""

    run_id: str
    patient: str
    max_turns: int
    timeout_s: float | None = None
    share: float = 1.0
    """This worker's share of each model's rate limits (1/number of workers)."""
    guard_matcher: str = DEFAULT_MATCHER
    """Matcher of the hallucination guard on a model-played patient."""
    guard_verifier: str | None = None
    """Chat model that reviews the guard's verdicts that are not firm; None trusts the matcher."""
    gatekeeper: str = DEFAULT_GATEKEEPER
    """Who answers the doctor's exam and test requests."""
    choices: bool = False
    """Whether doctors are shown a case's answer options."""


def failed_transcript(settings: ActorSettings, job: Job, exc: BaseException) -> Transcript:
    """The transcript stored for a consultation that raised ``exc`` instead of ending.

    Args:
        settings: The run's shared settings.
        job: The consultation.
        exc: What it raised.

    Returns:
        A turnless transcript whose stop reason is ``error`` and whose error names ``exc``.
    """
    return Transcript(
        id=job.consultation_id,
        run_id=settings.run_id,
        case_id=job.case_id,
        trial=job.trial,
        seed=job.seed,
        doctor=job.doctor,
        patient=settings.patient,
        persona=job.persona,
        format=job.format,
        stop_reason="error",
        error=f"{type(exc).__name__}: {error_line(exc, limit=500)}",
    )


@dataclass
class Collected:
    """What a worker hands the driver in one exchange: turns so far, and the consultations that ended."""

    turns: list[Turn] = field(default_factory=list)
    """Turns produced since the last exchange, in the order they happened."""
    finished: list[Transcript] = field(default_factory=list)
    """Consultations that ended since the last exchange (without their turns); a failure as its error."""


class ConsultationWorker:
    """Runs consultations inside one Ray actor, or in the driver's own loop.

    In a Ray actor the driver hands over jobs in batches (:meth:`start`) and
    picks up turns and ended consultations in one call per tick
    (:meth:`collect`). One Ray task per consultation held about 50 KB per
    consultation in flight in Ray's own bookkeeping, half the arena's memory
    budget for one.
    """

    def __init__(
        self, settings: ActorSettings, cases: dict[str, Case], uses_litellm: bool = True, uses_openai: bool = False
    ) -> None:
        """Keep the run's settings and cases.

        Args:
            settings: Shared settings.
            cases: The run's cases by id, for a worker in the driver's process; a Ray actor gets none and
                each job brings its case.
            uses_litellm: Whether any policy of the run calls litellm.
            uses_openai: Whether any policy of the run calls the official openai client.
        """
        from arena.models.call_policy import set_share

        self.settings = settings
        self.cases = cases
        self._arrived: weakref.WeakValueDictionary[str, Case] = weakref.WeakValueDictionary()
        """Cases that came with jobs, while a consultation plays them: jobs of one case share one copy."""
        self._turns: list[Turn] = []
        self._finished: list[Transcript] = []
        self._playing: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        """Set when a consultation ends, for :meth:`collect` to wake on."""
        self.where = _where()
        set_share(settings.share)
        if uses_litellm:
            # Importing litellm takes seconds; doing it here keeps it from
            # stalling the event loop under the first wave of consultations.
            from arena.models import load_litellm

            load_litellm()
        if uses_openai:
            # Half a second of imports, paid before the first consultation rather than during it.
            import openai.types.chat  # noqa: F401

            import arena.models.openai_compat  # noqa: F401
        if self.where is not None:
            settle_heap()

    def _shared(self, case: Case, case_id: str) -> Case:
        """The copy of a case that arrived with a job, shared with the other jobs of that case in flight.

        A case takes about 65 KB once unpickled; without the sharing, a thousand consultations of a dozen
        cases would hold a thousand copies.
        """
        held = self._arrived.get(case_id)
        if held is None:
            held = self._arrived[case_id] = case
        return held

    async def run(self, job: Job) -> Transcript:
        """Run one consultation; its turns are buffered for :meth:`drain`, not returned.

        The transcript comes back without its turns, and is not given them while it runs:
        every turn already goes to the driver through :meth:`drain` or :meth:`collect`.
        Sending them twice doubled the pickling on both sides, and keeping them cost
        about 40 KB per consultation in flight by its end.
        """
        from arena.doctors import get_doctor
        from arena.engine import Brief, run_consultation
        from cases.brief import write_brief
        from personas.catalog import get_persona
        from personas.factory import get_patient

        s = self.settings
        # A job that brought its case had it swapped for the shared copy as it arrived (see start).
        case = job.case if job.case is not None else self.cases[job.case_id]
        brief = None
        if job.format != "dialogue":
            text, facts = write_brief(case, job.format, job.disclosed)
            brief = Brief(job.format, text, [f.id for f in facts])
        options = case.options if s.choices else ()
        # A single-message format consults neither the patient nor the gatekeeper.
        patient = (
            None if brief else get_patient(s.patient, case, get_persona(job.persona), s.guard_matcher, s.guard_verifier)
        )
        tr = await run_consultation(
            case,
            get_doctor(job.doctor, job.seed, 1 if brief else s.max_turns, case=case, options=options),
            patient,
            None if brief else resolve(Role.GATEKEEPER, s.gatekeeper).build(case=case),
            consultation_id=job.consultation_id,
            run_id=s.run_id,
            trial=job.trial,
            seed=job.seed,
            persona=job.persona,
            max_turns=s.max_turns,
            timeout_s=s.timeout_s,
            on_turn=self._buffer,
            brief=brief,
            keep_turns=False,
        )
        tr.worker = self.where
        return tr

    def _buffer(self, turn: Turn) -> None:
        # Looks the list up on each call: drain() swaps in a new one, and a
        # consultation holding the old list's append would lose its later turns.
        self._turns.append(turn)

    async def drain(self) -> list[Turn]:
        """Return and forget the turns produced since the last call."""
        out, self._turns = self._turns, []
        return out

    async def start(self, jobs: list[Job]) -> None:
        """Start ``jobs`` as tasks on this worker's loop and return at once; :meth:`collect` gives their ends."""
        loop = asyncio.get_running_loop()
        for job in jobs:
            if job.case is not None:
                # The job's own copy of its case goes; it plays the one its case's other jobs share.
                job = dataclasses.replace(job, case=self._shared(job.case, job.case_id))
            task = loop.create_task(self._play(job))
            # The loop keeps only weak references to tasks: this set keeps them running.
            self._playing.add(task)
            task.add_done_callback(self._playing.discard)

    async def _play(self, job: Job) -> None:
        try:
            tr = await self.run(job)
        except Exception as exc:  # noqa: BLE001 - one consultation fails alone
            tr = failed_transcript(self.settings, job, exc)
        self._finished.append(tr)
        self._wake.set()

    async def collect(self, timeout_s: float, linger_s: float = 0.0) -> Collected:
        """Wait until a consultation ends or ``timeout_s`` has passed; hand over what there is.

        Args:
            timeout_s: Longest wait, so turns reach the driver (and a viewer) at least this often.
            linger_s: After the first end, how long to wait for more (within ``timeout_s``), so one
                exchange carries several and the driver refills their slots in one go.

        Returns:
            The turns since the last exchange and the consultations that ended. Both lists are taken
            together, with no wait between, so an ended consultation's last turns always come with it.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if not self._finished:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout_s)
        if self._finished and linger_s > 0:
            await asyncio.sleep(max(0.0, min(linger_s, deadline - loop.time())))
        out = Collected(self._turns, self._finished)
        self._turns, self._finished = [], []
        return out


def _where() -> str | None:
    """``node-id:pid`` of this Ray worker; None outside Ray."""
    import ray

    if not ray.is_initialized():
        return None
    return f"{ray.get_runtime_context().get_node_id()}:{os.getpid()}"
