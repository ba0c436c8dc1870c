"""A rubric judge played by any chat model, one call per item."""

from __future__ import annotations

import asyncio
import json
import re

from arena.models import ChatModel
from arena.templating import render
from arena.types import Case, RubricItem, Transcript, Verdict
from judges.base import item_verdict

MAX_ATTEMPTS = 3
"""Calls per item before the item is left unscored: bad JSON never loops forever."""


def parse_verdict(text: str) -> tuple[bool, str, list[int]] | None:
    """Read ``{"criteria_met", "explanation", "evidence_turns"}`` from a reply, or None."""
    m = re.search(r"\{.*\}", text, re.DOTALL)
    if not m:
        return None
    try:
        obj = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    met = obj.get("criteria_met") if isinstance(obj, dict) else None
    if not isinstance(met, bool):
        return None
    ev = obj.get("evidence_turns") or []
    turns = [int(x) for x in ev if isinstance(x, int | float)] if isinstance(ev, list) else []
    return met, str(obj.get("explanation", "")), turns


class LLMRubricJudge:
    """Asks a chat model about each rubric item."""

    def __init__(self, model: ChatModel, concurrency: int = 8) -> None:
        """Create the judge.

        Args:
            model: The chat model.
            concurrency: Item calls in flight at once.
        """
        self.name = model.name
        self.model = model
        self._sem = asyncio.Semaphore(concurrency)

    async def judge(self, transcript: Transcript, case: Case) -> list[Verdict]:
        """Return one verdict per rubric item."""
        return list(await asyncio.gather(*(self._item(transcript, case, it) for it in case.rubric)))

    async def _item(self, tr: Transcript, case: Case, item: RubricItem) -> Verdict:
        prompt = render("judges", "rubric_item.j2", case=case, transcript=tr, item=item)
        last = ""
        for _ in range(MAX_ATTEMPTS):
            try:
                async with self._sem:
                    out = await self.model.complete([{"role": "user", "content": prompt}])
            except Exception as exc:  # noqa: BLE001 - a failed call leaves this item unscored, no more
                last = f"{type(exc).__name__}: {exc}"
                continue
            parsed = parse_verdict(out.text)
            if parsed is not None:
                met, why, turns = parsed
                return item_verdict(tr, item, self.name, "met" if met else "not_met", why, turns)
            last = f"unparseable reply: {out.text[:200]!r}"
        return item_verdict(tr, item, self.name, "unscored", f"no usable verdict after {MAX_ATTEMPTS} attempts; {last}")
