"""Single-shot QA items that reproduce a mistake: the built-in template generator and validation.

A scenario uses only what the patient said and the results that came back in
the consultation; the question asks for the step the doctor missed (or, for a
harmful action, the step that prevents it). Every item, whichever generator
wrote it, passes :func:`validate`; a rejected item is kept with its reason.
"""

from __future__ import annotations

from arena.core.templating import render
from arena.core.types import Case, Mistake, QAItem, RubricItem, Transcript
from cases.knowledge import topics
from cases.text import normalise, phrase_in
from distill.mistakes import stable_id

BUILTIN_GENERATOR = "builtin/templates"


def disclosed_lines(tr: Transcript, with_findings: bool) -> tuple[list[str], list[str]]:
    """What the patient said when asked, and (optionally) the results that came back, each once."""
    said = list(dict.fromkeys(t.content for t in tr.turns[1:] if t.role == "patient" and t.revealed))
    # A case handed over in one message (a vignette or a summary) is what the doctor was told.
    said += [t.content for t in tr.turns if t.role == "case" and t.content not in said]
    found = [t.content for t in tr.turns if t.role == "measurement" and t.revealed] if with_findings else []
    return said, list(dict.fromkeys(found))


def disclosed_facts(tr: Transcript, case: Case, with_findings: bool) -> tuple[list[str], list[str]]:
    """The facts the consultation disclosed after the opening, in clinical words, in the order disclosed.

    A vignette reads better as "Drinks 36 units of alcohol a week" than as the
    patient's reply to a question it no longer shows; the content is the same.
    """
    history: list[str] = []
    results: list[str] = []
    for t in tr.turns:
        if t.role == "case":
            # A vignette or a summary states its facts at once: each goes where its disclosure puts it.
            for fid in t.revealed:
                f = case.fact(fid)
                if f.disclosure in ("exam", "test"):
                    if with_findings:
                        results.append(f.text)
                elif f.disclosure != "volunteered":
                    history.append(f.text)
        elif t.index > 0 and (t.role == "patient" or (with_findings and t.role == "measurement")):
            for fid in t.revealed:
                f = case.fact(fid)
                if f.disclosure == "volunteered":
                    continue  # the opening complaint is already quoted
                (history if t.role == "patient" else results).append(f.text)
    return list(dict.fromkeys(history)), list(dict.fromkeys(results))


def scenario_text(tr: Transcript, case: Case, with_findings: bool) -> str:
    """A short vignette from the consultation's disclosed facts."""
    said, found = disclosed_facts(tr, case, with_findings)
    return render(
        "distill",
        "qa_scenario.j2",
        age=case.demographics.age,
        sex=case.demographics.sex,
        complaint=case.chief_complaint,
        disclosed=said,
        findings=found,
    )


def _item(case: Case, mistake: Mistake) -> RubricItem:
    return next(i for i in case.rubric if i.id == mistake.item_id)


def giveaways(case: Case, item: RubricItem) -> list[str]:
    """Phrases whose presence in a stem would give the answer away."""
    kind = item.check.kind if item.check else "mention"
    if kind == "diagnose":
        return [case.diagnosis.name, *case.diagnosis.synonyms]
    if kind == "order" and item.check:
        return [case.fact(f).text for f in item.check.targets]
    if kind == "elicit" and item.check:
        return [case.fact(f).lay or case.fact(f).text for f in item.check.targets]
    return []


def validate(q: QAItem, mistake: Mistake, tr: Transcript, case: Case) -> QAItem:
    """Check an item and mark it valid or rejected (with the reason).

    Checks: the stem does not contain the answer; the stem carries the chief
    complaint the mistake depends on; the stem mentions no examination or
    test result that the consultation did not produce (nothing the doctor
    could not have known, and nothing that contradicts the case); the
    expected answer is among the options of a multiple-choice item.
    """
    item = _item(case, mistake)
    stem = normalise(f"{q.scenario} {q.question}")
    seen = {i for t in tr.turns for i in t.revealed}
    reason = ""
    if not q.scenario.strip() or not q.question.strip() or not q.answer.strip():
        reason = "empty scenario, question or answer"
    elif any(g and phrase_in(g, stem) for g in giveaways(case, item)):
        reason = "the answer is given away in the scenario"
    elif not phrase_in(case.chief_complaint, normalise(q.scenario)):
        reason = "the scenario leaves out the chief complaint"
    elif any(f.disclosure in ("exam", "test") and f.id not in seen and phrase_in(f.text, stem) for f in case.facts):
        reason = "the scenario states a result the consultation never produced"
    elif q.options and q.answer not in q.options:
        reason = "the answer is not among the options"
    return q.model_copy(update={"valid": not reason, "rejection": reason})


def builtin_qa(mistake: Mistake, tr: Transcript, case: Case) -> QAItem:
    """Write the QA item for one mistake from templates (no LLM), validated.

    Each item has an open question with a grading rubric and a
    multiple-choice variant: for a missed diagnosis the distractors are the
    case's differentials; for a missed question or test they are steps the
    doctor did take (sensible, but not the missing one).
    """
    item = _item(case, mistake)
    kind = item.check.kind if item.check else "mention"
    done = [i for i in case.rubric if i.points > 0 and i.id != item.id and i.check and i.check.kind == kind]
    if kind == "diagnose":
        question = "What is the most likely diagnosis?"
        answer = case.diagnosis.name
        options = [answer, *[d.name for d in case.differentials][:3]]
        scenario = scenario_text(tr, case, with_findings=True)
        rationale = f"The findings fit {answer} rather than {', '.join(options[1:]) or 'the alternatives'}."
        grading = [f"Names {answer} (or a synonym) as the most likely diagnosis", "Does not settle on a differential"]
    elif kind == "order" and item.check:
        names = [topics()[case.fact(f).topic].question for f in item.check.targets]
        question = "Which investigation must be obtained before any decision about this patient?"
        answer = "; ".join(dict.fromkeys(names)) or item.criterion
        others = [topics()[case.fact(f).topic].question for i in done for f in (i.check.targets if i.check else [])]
        options = [answer, *[o for o in dict.fromkeys(others) if o != answer][:3]]
        scenario = scenario_text(tr, case, with_findings=False)
        rationale = item.criterion
        grading = [f"Orders {answer}", "Does not discharge or reassure before the result"]
    elif kind == "elicit":
        question = "What is the most important question to ask this patient next, and why?"
        answer = item.criterion[0].upper() + item.criterion[1:]
        if answer.startswith("Asks "):
            answer = "Ask " + answer[5:]
        options = [
            answer,
            *[("Ask " + i.criterion[5:]) if i.criterion.startswith("Asks ") else i.criterion for i in done][:3],
        ]
        scenario = scenario_text(tr, case, with_findings=False)
        facts = [case.fact(f) for f in item.check.targets] if item.check else []
        rationale = "It would reveal: " + "; ".join(f.text for f in facts)
        grading = [answer, "Explains why the answer changes management"]
    else:
        question = "What must the doctor tell or do for this patient before the consultation ends?"
        answer = item.criterion
        options = []
        scenario = scenario_text(tr, case, with_findings=True)
        rationale = "Safety-netting and a clear plan tell the patient what happens next and when to seek help."
        grading = [item.criterion]
    q = QAItem(
        id=stable_id(mistake.id, "qa", BUILTIN_GENERATOR),
        mistake_id=mistake.id,
        run_id=mistake.run_id,
        scenario=scenario,
        question=question,
        answer=answer,
        rationale=rationale,
        options=options if len(options) > 1 else [],
        grading=grading,
        cluster_id=mistake.cluster_id,
        generator=BUILTIN_GENERATOR,
    )
    return validate(q, mistake, tr, case)


# Kept for callers of the first version.
qa_for = builtin_qa
