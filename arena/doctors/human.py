"""``--doctor human``: a person plays the doctor from the terminal, to debug a case.

Each turn shows what the patient (or a result) said and reads one line:

* plain text asks the patient;
* ``/exam WHAT`` and ``/test WHAT`` request an examination or a test;
* ``/final DIAGNOSIS | DIFFERENTIAL, ... | PLAN`` concludes.

End of input concludes with no diagnosis, which is recorded like any other
malformed answer. The consultation runs in the driver's own process, one at
a time, so the terminal belongs to it.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from arena.core.types import DoctorAction, FinalAnswer, Usage

HELP = "type a question, or /exam WHAT, /test WHAT, /final DIAGNOSIS | DIFFERENTIAL, ... | PLAN"


def parse_human_line(line: str) -> DoctorAction:
    """Turn one typed line into a doctor action.

    Args:
        line: What the person typed.

    Returns:
        The action (a question unless the line starts with a command).
    """
    text = line.strip()
    command, _, rest = text.partition(" ")
    rest = rest.strip()
    if command in ("/exam", "/test") and rest:
        kind = "exam" if command == "/exam" else "test"
        return DoctorAction(kind=kind, text=rest, request=rest)
    if command == "/final":
        parts = [p.strip() for p in rest.split("|")]
        final = FinalAnswer(
            diagnosis=parts[0] if parts else "",
            differential=[d.strip() for d in parts[1].split(",") if d.strip()] if len(parts) > 1 else [],
            plan=parts[2] if len(parts) > 2 else "",
        )
        return DoctorAction(
            kind="final",
            text=rest,
            final=final,
            parse_error="" if final.diagnosis else "final answer without a diagnosis",
        )
    return DoctorAction(kind="ask", text=text)


class HumanDoctor:
    """A doctor typed at the terminal."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        """Use the given streams (default the process's own)."""
        self.name = "human"
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self._seen = 0

    def _read(self, turns_left: int) -> str | None:
        self.stdout.write(f"doctor ({turns_left} turns left)> ")
        self.stdout.flush()
        line = self.stdin.readline()
        return line if line else None

    async def act(self, dialogue: list[tuple[str, str]], turns_left: int) -> tuple[DoctorAction, Usage, str]:
        """Show the new lines of the dialogue and read the next action."""
        if self._seen == 0:
            self.stdout.write(HELP + "\n")
        for role, content in dialogue[self._seen :]:
            if role != "doctor":
                self.stdout.write(f"{role}: {content}\n")
        self._seen = len(dialogue)
        while True:
            # Reading the terminal blocks, so it happens off the event loop.
            line = await asyncio.to_thread(self._read, turns_left)
            if line is None:
                action = DoctorAction(
                    kind="final", final=FinalAnswer(), parse_error="input ended before a final answer"
                )
                return action, Usage(), ""
            if line.strip():
                action = parse_human_line(line)
                return action, Usage(), line.strip()
