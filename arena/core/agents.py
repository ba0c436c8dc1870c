"""The interfaces the engine talks to: doctors, patients, the measurement agent."""

from __future__ import annotations

from typing import Protocol

from arena.core.types import DoctorAction, PatientReply, Usage


class DialogueLine(Protocol):
    """A line of the dialogue as a doctor sees it."""

    role: str
    content: str


class Doctor(Protocol):
    """A doctor policy for one consultation (it may keep state between turns)."""

    name: str

    async def act(self, dialogue: list[tuple[str, str]], turns_left: int) -> tuple[DoctorAction, Usage, str]:
        """Decide the next action.

        Args:
            dialogue: ``(role, text)`` pairs so far, the patient's opening first.
            turns_left: Doctor turns left including this one; at 1 the doctor
                should conclude.

        Returns:
            The action, the usage of producing it, and the raw model output.
        """
        ...


class Patient(Protocol):
    """A patient policy for one consultation."""

    name: str

    async def open(self) -> PatientReply:
        """Return the opening line (the chief complaint)."""
        ...

    async def reply(self, question: str) -> PatientReply:
        """Answer one doctor turn."""
        ...


class Measurement(Protocol):
    """Answers exam and test requests from the case's findings."""

    async def measure(self, kind: str, request: str) -> PatientReply:
        """Return the finding for an ``exam`` or ``test`` request."""
        ...
