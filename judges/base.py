"""What every judge provides."""

from __future__ import annotations

from typing import Protocol

from arena.types import Case, Transcript, Verdict


class Judge(Protocol):
    """Decides rubric verdicts for one consultation."""

    name: str

    async def judge(self, transcript: Transcript, case: Case) -> list[Verdict]:
        """Return one verdict per rubric item of ``case``."""
        ...
