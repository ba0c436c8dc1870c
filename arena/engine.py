"""One consultation, start to finish: ``run_consultation``.

Pure asyncio: no Ray and no database here, so the same function runs in a
test, in a benchmark and inside the Ray actors. Each turn is handed to an
``on_turn`` callback as soon as it exists, which is how turns reach the store
while the dialogue is still going.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from arena.core.agents import Doctor, Measurement, Patient
from arena.core.types import DEFAULT_PERSONA, Case, DoctorAction, PatientReply, Role, Transcript, Turn, Usage, utcnow
from cases.prices import care_cost

OnTurn = Callable[[Turn], None]


async def run_consultation(
    case: Case,
    doctor: Doctor,
    patient: Patient,
    measurement: Measurement,
    *,
    consultation_id: str,
    run_id: str,
    trial: int = 0,
    seed: int = 0,
    persona: str = DEFAULT_PERSONA,
    max_turns: int = 20,
    timeout_s: float | None = None,
    on_turn: OnTurn | None = None,
) -> Transcript:
    """Play one consultation.

    The patient opens with the chief complaint; then on each doctor turn the
    doctor asks (the patient answers), requests an exam or test (the
    measurement agent answers from the case), or gives a final answer, which
    ends the consultation. After ``max_turns`` doctor turns without a final
    answer it ends with ``stop_reason="max_turns"``.

    Any exception ends only this consultation: it is stored on the transcript
    with ``stop_reason="error"`` (or ``timeout``), never raised.

    However it ends, ``care`` records what the visit and the exams and tests
    ordered so far cost (see :func:`cases.prices.care_cost`).

    Args:
        case: The case played.
        doctor: The doctor policy.
        patient: The patient policy.
        measurement: Answers exam and test requests.
        consultation_id: Id for the transcript and its turns.
        run_id: The run it belongs to.
        trial: Trial number.
        seed: Seed given to the policies (recorded).
        persona: Persona id (recorded).
        max_turns: Doctor turns before the cut-off.
        timeout_s: Wall-clock limit for the whole consultation.
        on_turn: Called with each turn as soon as it is produced.

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
        patient=patient.name,
        persona=persona,
        stop_reason="max_turns",
        usage={"doctor": Usage(), "patient": Usage()},
    )

    def emit(
        role: Role,
        content: str,
        reply: PatientReply | None = None,
        action: DoctorAction | None = None,
        usage: Usage | None = None,
    ) -> None:
        turn = Turn(
            consultation_id=consultation_id,
            index=len(tr.turns),
            role=role,
            content=content,
            action=action,
            revealed=reply.revealed if reply else [],
            guard=reply.guard if reply else [],
            synthesized=reply.synthesized if reply else [],
            usage=usage or (reply.usage if reply else Usage()),
        )
        tr.turns.append(turn)
        if on_turn is not None:
            on_turn(turn)

    async def dialogue() -> None:
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

    try:
        if timeout_s is not None:
            await asyncio.wait_for(dialogue(), timeout_s)
        else:
            await dialogue()
    except TimeoutError:
        tr.stop_reason = "timeout"
        tr.error = f"consultation exceeded {timeout_s} s"
    except Exception as exc:  # noqa: BLE001 - one consultation fails alone, by design
        tr.stop_reason = "error"
        tr.error = f"{type(exc).__name__}: {exc}"[:2000]
    # Priced here, once the turns are final, so an error or a timeout still
    # records what had been ordered.
    tr.care = care_cost(tr.turns, case)
    tr.finished_at = utcnow()
    return tr
