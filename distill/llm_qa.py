"""QA items written by any chat model, validated like the built-in ones."""

from __future__ import annotations

from pydantic import BaseModel, StrictStr, field_validator

from arena.core.templating import render
from arena.core.types import Case, Mistake, QAItem, Transcript
from arena.models import ChatModel
from arena.models.ask_json import Unscored, ask_json
from distill.mistakes import stable_id
from distill.qa import disclosed_lines, validate


class QAReply(BaseModel):
    """A QA item as the model writes it."""

    scenario: StrictStr
    """The vignette."""
    question: StrictStr
    """What is asked."""
    answer: StrictStr
    """The right answer."""
    rationale: str = ""
    """Why it is right."""
    grading: list[str] = []
    """What a free-text answer must contain; blank entries are dropped."""
    options: list[str] = []
    """Choices, for a multiple-choice item; blank entries are dropped."""

    @field_validator("rationale", mode="before")
    @classmethod
    def _as_text(cls, v: object) -> str:
        return str(v)

    @field_validator("grading", "options", mode="before")
    @classmethod
    def _strings(cls, v: object) -> list[str]:
        return [str(x) for x in v if str(x).strip()] if isinstance(v, list) else []


async def llm_qa(model: ChatModel, mistake: Mistake, tr: Transcript, case: Case) -> QAItem:
    """Ask ``model`` for a QA item reproducing ``mistake``; bounded attempts, then a rejected item.

    Args:
        model: The chat model that writes the item.
        mistake: The mistake to reproduce.
        tr: The consultation it came from.
        case: Its case.

    Returns:
        The validated item (``valid`` False with the reason when the model gave nothing usable).
    """
    said, found = disclosed_lines(tr, with_findings=True)
    prompt = render("distill", "qa_generate.j2", mistake=mistake, case=case, said=said, found=found)
    base = {
        "id": stable_id(mistake.id, "qa", model.name),
        "mistake_id": mistake.id,
        "run_id": mistake.run_id,
        "cluster_id": mistake.cluster_id,
        "generator": model.name,
    }
    got = await ask_json(model, prompt, QAReply)
    if isinstance(got, Unscored):
        rejection = f"no usable item: {got.reason}"
        return QAItem(scenario="", question="", answer="", valid=False, rejection=rejection, **base)
    return validate(QAItem(**got.value.model_dump(), **base), mistake, tr, case)
