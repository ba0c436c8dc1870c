"""A model-played patient that says its chief complaint at once and is prepared while the doctor thinks.

Preparing a model-played patient (its guard over the case, the answers it
may make up where the case is silent, its prompt) takes a few milliseconds
of CPU for each case. A worker starting a hundred consultations at once spent
all of them before the last doctor was asked anything, so the last
consultation started that much later. The opening needs none of it: it is
the case's chief complaint in the persona's voice, which the built-in
patient says the same way. So the opening is said at once, and the
preparation runs as soon as the consultation waits on the doctor's first
question; the first answer waits for it, if it is not done by then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from arena.core.agents import Patient
from arena.core.types import Case, PatientReply, Persona
from personas.builtin_patient import BuiltinPatient


class DeferredPatient:
    """Opens with the chief complaint; builds the real patient in the background and hands it every question."""

    def __init__(self, name: str, case: Case, persona: Persona, build: Callable[[], Patient]) -> None:
        """Keep what the patient is made from.

        Args:
            name: The model name recorded on the transcript.
            case: The case played.
            persona: The voice.
            build: Makes the patient that answers the questions (called once, on the event loop).
        """
        self.name = name
        self._case = case
        self._persona = persona
        self._build = build
        self._ready: asyncio.Task[Patient] | None = None

    async def open(self) -> PatientReply:
        """The chief complaint, as the built patient says it; its preparation starts once this consultation waits."""
        self._ready = asyncio.get_running_loop().create_task(self._prepare())
        # A consultation that ends before its first answer never awaits the preparation; a failure there is
        # then taken here, not left for asyncio to log as never retrieved.
        self._ready.add_done_callback(lambda task: task.cancelled() or task.exception())
        return await BuiltinPatient(self._case, self._persona, name=self.name).open()

    async def _prepare(self) -> Patient:
        patient = self._build()
        await patient.open()  # its conversation starts where this one did
        return patient

    async def patient(self) -> Patient:
        """The patient that answers the questions, once prepared.

        Raises:
            RuntimeError: before :meth:`open`.
        """
        if self._ready is None:
            raise RuntimeError("the patient was asked a question before it opened")
        return await self._ready

    async def reply(self, question: str) -> PatientReply:
        """Answer through the built patient, waiting for its preparation if needed."""
        return await (await self.patient()).reply(question)
