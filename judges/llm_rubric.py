"""A rubric judge played by any chat model: one call per item, or one per transcript (``?mode=batch``)."""

from __future__ import annotations

import asyncio
import math

from pydantic import BaseModel, RootModel, StrictBool, field_validator, model_validator

from arena.core.json_reply import valid_entries
from arena.core.templating import render
from arena.core.types import Case, DiagnosisMatch, RubricItem, Transcript, Verdict, Verdict3
from arena.models import ChatModel
from arena.models.ask_json import Unscored, ask_json
from judges.base import item_verdict


class RubricReply(BaseModel):
    """The model's verdict on one rubric item."""

    criteria_met: StrictBool
    """Whether the item's criterion is met (a JSON boolean; "true" as text is not one)."""
    explanation: str = ""
    """Why, in a sentence."""
    evidence_turns: list[int] = []
    """Indices of the turns that show it; entries that are not numbers are dropped."""

    @field_validator("explanation", mode="before")
    @classmethod
    def _as_text(cls, v: object) -> str:
        return str(v)

    @field_validator("evidence_turns", mode="before")
    @classmethod
    def _numbers_only(cls, v: object) -> list[int]:
        if not isinstance(v, list):
            return []
        return [int(x) for x in v if isinstance(x, int) or (isinstance(x, float) and math.isfinite(x))]


class RubricBatchEntry(RubricReply):
    """One item's verdict inside a batch reply."""

    item_id: str
    """The rubric item it is about."""

    @field_validator("item_id", mode="before")
    @classmethod
    def _id_as_text(cls, v: object) -> str:
        return str(v)


class RubricBatchReply(RootModel[list[RubricBatchEntry]]):
    """Verdicts on many items (a JSON array); entries that are not verdicts are dropped, the rest kept."""

    @model_validator(mode="before")
    @classmethod
    def _usable_entries(cls, data: object) -> object:
        return valid_entries(RubricBatchEntry, data)


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
        # Asked once: the items a batch reply leaves out are asked one by one, each with its own attempts.
        async with self._sem:
            got = await ask_json(self.model, prompt, RubricBatchReply, attempts=1)
        if isinstance(got, Unscored):
            return {}
        found: dict[str, Verdict] = {}
        for e in got.value.root:
            if e.item_id in items:
                found[e.item_id] = _verdict(tr, items[e.item_id], self.name, e)
        return found

    async def _item(self, tr: Transcript, case: Case, item: RubricItem) -> Verdict:
        prompt = render("judges", "rubric_item.j2", case=case, transcript=tr, item=item)
        async with self._sem:
            got = await ask_json(self.model, prompt, RubricReply)
        if isinstance(got, Unscored):
            return item_verdict(tr, item, self.name, "unscored", got.reason)
        return _verdict(tr, item, self.name, got.value)


def _verdict(tr: Transcript, item: RubricItem, judge: str, reply: RubricReply) -> Verdict:
    outcome: Verdict3 = "met" if reply.criteria_met else "not_met"
    return item_verdict(tr, item, judge, outcome, reply.explanation, reply.evidence_turns)
