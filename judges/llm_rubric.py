"""A rubric judge played by any chat model: one call per item, or one per transcript (``?mode=batch``)."""

from __future__ import annotations

import asyncio
import json
import re

from arena.core.templating import render
from arena.core.types import Case, DiagnosisMatch, RubricItem, Transcript, Verdict
from arena.models import ChatModel
from judges.base import item_verdict

MAX_ATTEMPTS = 3
"""Calls per item before the item is left unscored: bad JSON never loops forever."""


def _verdict_fields(obj: object) -> tuple[bool, str, list[int]] | None:
    met = obj.get("criteria_met") if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or not isinstance(met, bool):
        return None
    ev = obj.get("evidence_turns") or []
    turns = [int(x) for x in ev if isinstance(x, int | float)] if isinstance(ev, list) else []
    return met, str(obj.get("explanation", "")), turns


def parse_verdict(text: str) -> tuple[bool, str, list[int]] | None:
    """Read ``{"criteria_met", "explanation", "evidence_turns"}`` from a reply, or None."""
    m = re.search(r"\{.*\}", text, re.DOTALL)
    if not m:
        return None
    try:
        return _verdict_fields(json.loads(m.group(0)))
    except json.JSONDecodeError:
        return None


def _json_list(text: str) -> list[dict[str, object]]:
    m = re.search(r"\[.*\]", text, re.DOTALL)
    if not m:
        return []
    try:
        obj = json.loads(m.group(0))
    except json.JSONDecodeError:
        return []
    return [x for x in obj if isinstance(x, dict)] if isinstance(obj, list) else []


class LLMRubricJudge:
    """Asks a chat model about each rubric item."""

    def __init__(self, model: ChatModel, concurrency: int = 8, batch: bool = False) -> None:
        """Create the judge.

        Args:
            model: The chat model.
            concurrency: Calls in flight at once.
            batch: Judge all items of a transcript in one call (items the
                reply leaves out are then asked one by one).
        """
        self.name = model.name
        self.model = model
        self.batch = batch
        self._sem = asyncio.Semaphore(concurrency)

    async def judge(self, transcript: Transcript, case: Case, diagnosis: DiagnosisMatch | None = None) -> list[Verdict]:
        """Return one verdict per rubric item (``diagnosis`` is not used: the model reads the transcript)."""
        done: dict[str, Verdict] = await self._batch(transcript, case) if self.batch else {}
        rest = [it for it in case.rubric if it.id not in done]
        singles = await asyncio.gather(*(self._item(transcript, case, it) for it in rest))
        done.update({v.item_id: v for v in singles})
        return [done[it.id] for it in case.rubric]

    async def _batch(self, tr: Transcript, case: Case) -> dict[str, Verdict]:
        prompt = render("judges", "rubric_batch.j2", case=case, transcript=tr, items=case.rubric)
        items = {it.id: it for it in case.rubric}
        try:
            async with self._sem:
                out = await self.model.complete([{"role": "user", "content": prompt}])
        except Exception:  # noqa: BLE001 - the items fall back to one call each
            return {}
        found: dict[str, Verdict] = {}
        for obj in _json_list(out.text):
            iid = str(obj.get("item_id", ""))
            parsed = _verdict_fields(obj)
            if iid in items and parsed is not None:
                met, why, turns = parsed
                found[iid] = item_verdict(tr, items[iid], self.name, "met" if met else "not_met", why, turns)
        return found

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
