"""Putting each QA item to the doctor that made the mistake: does it fail again?"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from arena.core.templating import render
from arena.core.types import QAItem
from arena.doctors import ChecklistDoctor, diligence_of
from arena.models import BuiltinRef, ChatModel, get_model
from cases.text import salient_words

PASS_SHARE = 0.5
"""Share of the expected answer's content words a free-text reply needs to pass."""
# Verbs of the answer's form, not its content: "Order an ECG" is about the ECG.
_FORM_WORDS = frozenset(
    {
        "order",
        "orders",
        "ask",
        "asks",
        "now",
        "whether",
        "patient",
        "give",
        "gives",
        "obtain",
        "check",
        "checks",
        "urgent",
        "urgently",
        "arrange",
        "request",
    }
)


def answered_correctly(q: QAItem, reply: str) -> bool:
    """Grade a reply: the right option for multiple choice, else enough of the expected answer's words."""
    if q.options:
        m = re.match(r"\s*\(?([A-H])[).:\s]", reply + " ")
        if m and ord(m.group(1)) - 65 < len(q.options):
            return q.options[ord(m.group(1)) - 65] == q.answer
        return q.answer.strip().lower() in reply.lower() and not any(
            o != q.answer and o.strip().lower() in reply.lower() for o in q.options
        )
    want = salient_words(q.answer) - _FORM_WORDS
    return bool(want) and len(want & salient_words(reply)) / len(want) >= PASS_SHARE


async def _ask(doctor: str, q: QAItem, seed: int) -> str:
    model = get_model(doctor)
    if isinstance(model, BuiltinRef):
        doc = ChecklistDoctor(doctor, seed, diligence_of(doctor))
        return doc.answer_single_shot(q.scenario, q.question, q.options)
    assert isinstance(model, ChatModel)
    prompt = render("distill", "qa_answer.j2", scenario=q.scenario, question=q.question, options=q.options)
    out = await model.complete([{"role": "user", "content": prompt}])
    return out.text


async def replicate(items: Sequence[QAItem], doctors: dict[str, str], concurrency: int = 16) -> list[QAItem]:
    """Put every valid item to the doctor whose mistake it reproduces.

    Args:
        items: QA items.
        doctors: Mistake id -> doctor model name.
        concurrency: Calls in flight at once.

    Returns:
        The items with ``replicated`` (True: the doctor failed again) and
        ``replication_answer`` set; invalid items are returned unchanged. A
        call that fails leaves ``replicated`` None and the error as the answer.
    """
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int, q: QAItem) -> QAItem:
        if not q.valid or q.mistake_id not in doctors:
            return q
        async with sem:
            try:
                reply = await _ask(doctors[q.mistake_id], q, seed=i)
            except Exception as exc:  # noqa: BLE001 - one failed call leaves one item untried
                return q.model_copy(update={"replicated": None, "replication_answer": f"error: {exc}"[:500]})
        return q.model_copy(update={"replicated": not answered_correctly(q, reply), "replication_answer": reply})

    return list(await asyncio.gather(*(one(i, q) for i, q in enumerate(items))))
