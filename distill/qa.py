"""Single-shot QA items that reproduce a mistake, from built-in templates, validated."""

from __future__ import annotations

from arena.templating import render
from arena.types import Case, Mistake, QAItem, Transcript
from cases.knowledge import topics
from distill.mistakes import stable_id
from personas.matcher import normalise, phrase_in


def _scenario(tr: Transcript, case: Case, with_findings: bool) -> str:
    disclosed = [t.content for t in tr.turns[1:] if t.role == "patient" and t.revealed]
    findings = [t.content for t in tr.turns if t.role == "measurement" and t.revealed] if with_findings else []
    return render(
        "distill",
        "qa_scenario.j2",
        age=case.demographics.age,
        sex=case.demographics.sex,
        complaint=case.chief_complaint,
        disclosed=disclosed,
        findings=findings,
    )


def qa_for(mistake: Mistake, tr: Transcript, case: Case) -> QAItem:
    """Build the QA item for one mistake and validate it.

    The scenario uses only what the patient said and the results that came
    back in the consultation; the question asks for the step the doctor
    missed (or, for a harmful action, the step that prevents it).

    Args:
        mistake: The mistake to reproduce.
        tr: The consultation it came from.
        case: Its case.

    Returns:
        The item; ``valid`` is False with a reason when validation fails.
    """
    item = next(i for i in case.rubric if i.id == mistake.item_id)
    kind = item.check.kind if item.check else "mention"
    options: list[str] = []
    if kind == "diagnose":
        question = "What is the most likely diagnosis?"
        answer = case.diagnosis.name
        options = [case.diagnosis.name, *[d.name for d in case.differentials]]
        scenario = _scenario(tr, case, with_findings=True)
        rationale = (
            f"The findings fit {case.diagnosis.name} rather than {', '.join(options[1:]) or 'the alternatives'}."
        )
        giveaway = [case.diagnosis.name, *case.diagnosis.synonyms]
    elif kind == "order":
        names = [topics()[case.fact(f).topic].question for f in item.check.targets] if item.check else []
        question = "Which investigation must be obtained before any decision about this patient?"
        answer = "; ".join(dict.fromkeys(names)) or item.criterion
        scenario = _scenario(tr, case, with_findings=False)
        rationale = item.criterion
        giveaway = [case.fact(f).text for f in item.check.targets] if item.check else []
    elif kind == "elicit":
        question = "What is the most important question to ask this patient next, and why?"
        answer = item.criterion[0].upper() + item.criterion[1:]
        if answer.startswith("Asks "):
            answer = "Ask " + answer[5:]
        scenario = _scenario(tr, case, with_findings=False)
        facts = [case.fact(f) for f in item.check.targets] if item.check else []
        rationale = "It would reveal: " + "; ".join(f.text for f in facts)
        giveaway = [f.lay or f.text for f in facts]
    else:
        question = "What must the doctor tell this patient before the consultation ends?"
        answer = item.criterion
        scenario = _scenario(tr, case, with_findings=True)
        rationale = "Safety-netting advice tells the patient when to seek help again."
        giveaway = []
    reason = ""
    norm = normalise(scenario)
    if not scenario.strip():
        reason = "empty scenario"
    elif any(g and phrase_in(g, norm) for g in giveaway):
        reason = "the answer is given away in the scenario"
    return QAItem(
        id=stable_id(mistake.id, "qa"),
        mistake_id=mistake.id,
        run_id=mistake.run_id,
        scenario=scenario,
        question=question,
        answer=answer,
        rationale=rationale,
        options=options,
        valid=not reason,
        rejection=reason,
    )
