"""One consultation, start to finish: ``run_consultation``.

A consultation is a dialogue with the patient, or, in the single-message
formats (``vignette``, ``summary``), the case written out in one message that
the doctor answers once.

Pure asyncio: no Ray and no database here, so the same function runs in a
test, in a benchmark and inside the Ray actors. Each turn is handed to an
``on_turn`` callback as soon as it exists, which is how turns reach the store
while the dialogue is still going.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from arena.core.agents import Doctor, Measurement, Patient
from arena.core.types import (
    DEFAULT_PERSONA,
    Case,
    ConsultFormat,
    DoctorAction,
    PatientReply,
    Role,
    Transcript,
    Turn,
    Usage,
    utcnow,
)
from cases.prices import ORDER_KINDS, care_cost

OnTurn = Callable[[Turn], None]


@dataclass(frozen=True)
class Brief:
    """The case handed over in one message (the ``vignette`` and ``summary`` formats)."""

    format: ConsultFormat
    """The format: ``vignette`` or ``summary``."""
    text: str
    """The message (see :func:`cases.brief.brief_text`)."""
    facts: Sequence[str] = field(default_factory=tuple)
    """Ids of the facts it states, recorded as revealed on its turn."""


async def run_consultation(
    case: Case,
    doctor: Doctor,
    patient: Patient | None,
    measurement: Measurement | None,
    *,
    consultation_id: str,
    run_id: str,
    trial: int = 0,
    seed: int = 0,
    persona: str = DEFAULT_PERSONA,
    max_turns: int = 20,
    timeout_s: float | None = None,
    on_turn: OnTurn | None = None,
    brief: Brief | None = None,
    keep_turns: bool = True,
) -> Transcript:
    """Play one consultation.

    The patient opens with the chief complaint; then on each doctor turn the
    doctor asks (the patient answers), requests an exam or test (the
    measurement agent answers from the case), or gives a final answer, which
    ends the consultation. After ``max_turns`` doctor turns without a final
    answer it ends with ``stop_reason="max_turns"``.

    With a ``brief``, the case is handed over in one message instead (a turn
    of role ``case``) and the doctor has that one turn to answer: a question
    or an order instead of a final answer ends it with ``max_turns``. The
    patient and the measurement agent are not consulted.

    Any exception ends only this consultation: it is stored on the transcript
    with ``stop_reason="error"`` (or ``timeout``), never raised.

    However it ends, ``care`` records what the visit and the exams and tests
    ordered so far cost (see :func:`cases.prices.care_cost`).

    Args:
        case: The case played.
        doctor: The doctor policy.
        patient: The patient policy (None only with a ``brief``).
        measurement: Answers exam and test requests (None only with a ``brief``).
        consultation_id: Id for the transcript and its turns.
        run_id: The run it belongs to.
        trial: Trial number.
        seed: Seed given to the policies (recorded).
        persona: Persona id (recorded).
        max_turns: Doctor turns before the cut-off.
        timeout_s: Wall-clock limit for the whole consultation.
        on_turn: Called with each turn as soon as it is produced.
        brief: The case in one message, for the single-message formats; None for a dialogue.
        keep_turns: Whether the transcript keeps its turns. A caller that takes each turn from
            ``on_turn`` as it comes may say no: a consultation in flight then holds no turns (a
            turn is about 2 KB, a dialogue has 20 or more), and the transcript comes back without them.

    Returns:
        The transcript.
    """
    tr = Transcript(
        id=consultation_id,
        run_id=run_id,
        case_id=case.id,
        trial=trial,
        seed=seed,
        doctor=doctor.name,
        patient=patient.name if patient else "-",
        persona=persona,
        format=brief.format if brief else "dialogue",
        stop_reason="max_turns",
        usage={"doctor": Usage(), "patient": Usage()},
    )
    # Without the turns, the orders and their results are kept all the same: they are what care costs.
    priced: list[Turn] = tr.turns if keep_turns else []
    count = 0

    def emit(
        role: Role,
        content: str,
        reply: PatientReply | None = None,
        action: DoctorAction | None = None,
        usage: Usage | None = None,
        revealed: Sequence[str] = (),
    ) -> None:
        nonlocal count
        turn = Turn(
            consultation_id=consultation_id,
            index=count,
            role=role,
            content=content,
            action=action,
            revealed=reply.revealed if reply else list(revealed),
            guard=reply.guard if reply else [],
            synthesized=reply.synthesized if reply else [],
            usage=usage or (reply.usage if reply else Usage()),
        )
        count += 1
        if keep_turns:
            tr.turns.append(turn)
        elif role == "measurement" or (action is not None and action.kind in ORDER_KINDS):
            priced.append(turn)
        if on_turn is not None:
            on_turn(turn)

    async def dialogue() -> None:
        if patient is None or measurement is None:
            raise ValueError("a dialogue needs a patient and a measurement agent")
        opening = await patient.open()
        tr.usage["patient"].add(opening.usage)
        emit("patient", opening.text, opening)
        lines: list[tuple[str, str]] = [("patient", opening.text)]
        for k in range(max_turns):
            action, usage, _raw = await doctor.act(lines, max_turns - k)
            tr.usage["doctor"].add(usage)
            emit("doctor", action.text, action=action, usage=usage)
            lines.append(("doctor", action.text))
            if action.kind == "final":
                tr.final = action.final
                tr.stop_reason = "final_answer"
                return
            if action.kind == "ask":
                reply = await patient.reply(action.text)
                tr.usage["patient"].add(reply.usage)
                emit("patient", reply.text, reply)
                lines.append(("patient", reply.text))
            else:
                result = await measurement.measure(action.kind, action.request or action.text)
                if result.usage.calls:
                    tr.usage.setdefault("gatekeeper", Usage()).add(result.usage)
                emit("measurement", result.text, result)
                lines.append(("measurement", result.text))
        tr.stop_reason = "max_turns"

    async def single_message(b: Brief) -> None:
        emit("case", b.text, revealed=b.facts)
        action, usage, _raw = await doctor.act([("case", b.text)], 1)
        tr.usage["doctor"].add(usage)
        emit("doctor", action.text, action=action, usage=usage)
        if action.kind == "final":
            tr.final = action.final
            tr.stop_reason = "final_answer"

    play = dialogue() if brief is None else single_message(brief)
    try:
        if timeout_s is not None:
            await asyncio.wait_for(play, timeout_s)
        else:
            await play
    except TimeoutError:
        tr.stop_reason = "timeout"
        tr.error = f"consultation exceeded {timeout_s} s"
    except Exception as exc:  # noqa: BLE001 - one consultation fails alone, by design
        tr.stop_reason = "error"
        tr.error = describe_error(exc)[:2000]
    # Priced here, once the turns are final, so an error or a timeout still
    # records what had been ordered.
    tr.care = care_cost(priced, case)
    tr.finished_at = utcnow()
    return tr


def describe_error(exc: BaseException) -> str:
    """``Type: message``, with the error that caused it when the message does not say.

    A client library's own message can be generic ("Connection error."); what it was raised from
    ("connection reset by peer") is what a reader of the stored error needs.
    """
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({cause})"
    return text


def disclosed(tr: Transcript) -> tuple[str, ...]:
    """The fact ids a dialogue drew out: what the patient said and the results that came back, in order."""
    ids = (fid for t in tr.turns if t.role in ("patient", "measurement") for fid in t.revealed)
    return tuple(dict.fromkeys(ids))
