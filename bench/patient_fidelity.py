"""How faithfully the simulated side plays its case, per persona and overall.

Cases are drawn from the knowledge base and played by the built-in checklist
doctor, whose questions come from the topic bank, so what each question asks
about is known without asking the patient's own matcher. Each case is played
in one persona (a caregiver persona where the case needs a proxy), by two
patients:

- ``builtin``: the built-in patient;
- ``erring``: a chat-model patient (the ``mock/erring`` script below, through
  the real LLM patient, its guard and its leak check) scripted to make the
  mistakes model-played patients make: "not sure" where the case is silent,
  an invented finding, a fact told unasked.

Figures, in the spirit of PatientSim's per-utterance scores:

- **asked facts told**: of the case's facts on the topics the doctor asked
  about, the share the patient told during the consultation;
- **unbacked claims**: claims in patient replies that neither a case fact nor
  a synthesized answer backs (the guard, with the default matcher, decides);
- **told unasked**: facts a reply revealed that its question did not ask about;
- **edge, patient**: patient replies that say "not sure" (or the persona's
  unknown reply) to a question on a topic the case is silent on: they tell
  the doctor where the case ends;
- **edge, results**: exam and test results that say "not available" or "not
  performed";
- **synthesized contradicting**: synthesized replies that contradict a case
  fact (a patient's denial of a fact, by the guard; a result synthesized for a
  topic the case reports, or naming the diagnosis);
- **simulator-caused failures**: of the failed rubric items, the share the
  simulator caused (:mod:`judges.simulator_review`).

Run: ``python bench/patient_fidelity.py [--cases 120] [--seed 3] [--patients builtin,erring]``.
Targets: edge replies <= 2% of patient replies and <= 2% of results; asked
facts told >= 95%; synthesized replies contradicting a case fact: 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from arena.core.types import Case, Persona, Transcript
from arena.doctors import get_doctor
from arena.engine import run_consultation
from arena.models.mock_scripts import register_script
from cases.knowledge import match_topics, topics
from cases.synthesizer import generate
from cases.text import UNSURE
from judges.builtin_rubric import BuiltinRubricJudge
from judges.simulator_review import review
from personas.catalog import assign_persona, get_persona
from personas.factory import get_patient
from personas.guard import Guard
from personas.leak_check import LeakCheck
from personas.llm_patient import plausible_answers
from personas.measurement import CaseMeasurement
from personas.plausible import with_answers

MAX_TURNS = 20
UNAVAILABLE = re.compile(r"\bnot (?:available|performed)\b", re.IGNORECASE)
_FACT_LINE = re.compile(r"^- \[([^\]]+)\] (.+?)(?: \(sensitive\))?$", re.MULTILINE)
_INVENTED = (
    "I've also had a rash all over my arms.",
    "I've been coughing up green phlegm for weeks.",
    "My ankles have been really swollen lately.",
)


def _erring(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    """A model-played patient that mostly answers from its facts, and sometimes errs as models do."""
    facts = _FACT_LINE.findall(messages[0]["content"]) if messages else []
    question = messages[-1]["content"] if messages else ""
    rng = random.Random(f"{len(messages)}|{question}|{len(facts)}")
    asked = set(match_topics(question))
    told = [lay for _, lay in facts if asked & set(match_topics(lay))]
    roll = rng.random()
    if roll < 0.12:
        return "I'm not sure, doctor."
    if roll < 0.20:
        return rng.choice(_INVENTED)
    if roll < 0.28 and facts:
        told = [*told, rng.choice(facts)[1]]
    return " ".join(told) if told else "No, nothing like that."


register_script("erring", _erring)
PATIENTS = {"builtin": "builtin/patient", "erring": "mock/erring"}


@dataclass
class Tally:
    replies: int = 0
    asked: int = 0
    told: int = 0
    claims: int = 0
    unbacked: int = 0
    revealed: int = 0
    unasked: int = 0
    edge: int = 0
    silent_questions: int = 0
    results: int = 0
    edge_results: int = 0
    synthesized: int = 0
    contradicting: int = 0
    failed: int = 0
    simulator_caused: int = 0
    examples: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for k, v in vars(other).items():
            if isinstance(v, int | list):
                setattr(self, k, getattr(self, k) + v)


def said_by_patient(case: Case, persona: Persona) -> Case:
    """``case`` with every answer the patient would make up for the topics it leaves out, as facts.

    The guard then backs a claim that is a case fact or one of those answers, and flags only what
    neither holds.
    """
    return with_answers(case, plausible_answers(case, persona).every())


def asked_topic(question: str) -> str | None:
    """The topic a checklist question asks about: its bank entry, else the best keyword match."""
    for t in topics().values():
        if t.question == question and t.kind == "history":
            return t.topic
    found = match_topics(question)
    return found[0] if found else None


def score(case: Case, tr: Transcript, guard: Guard, facts_only: Guard, leaks: LeakCheck) -> Tally:
    """Tally one transcript's patient and result turns.

    Args:
        case: The case played.
        tr: Its transcript.
        guard: A guard over everything the patient may say (facts and made-up answers): what it
            rejects is unbacked.
        facts_only: A guard over the case's facts alone: a synthesized reply it finds contradicting
            one is counted.
        leaks: The case's leak check.
    """
    t = Tally()
    history = {f.id: f for f in case.facts if f.disclosure in ("volunteered", "on_ask")}
    covered = {f.topic for f in history.values()}
    listed = {f.topic for f in case.facts if f.disclosure in ("exam", "test")}
    asked_ids: set[str] = set()
    told_ids: set[str] = set()
    unknown = get_persona(tr.persona).unknown_reply
    for i, turn in enumerate(tr.turns):
        told_ids.update(x for x in turn.revealed if x in history)
        if turn.role == "measurement":
            t.results += 1
            t.edge_results += bool(UNAVAILABLE.search(turn.content))
            for made in turn.synthesized:
                t.synthesized += 1
                leak = leaks.find(made.text)
                if made.topic in listed or (leak is not None and leak.kind in ("diagnosis", "icd10")):
                    t.contradicting += 1
                    t.examples.append(f"{case.id}: result {made.topic}: {made.text}")
            continue
        if turn.role != "patient" or i == 0:
            continue
        prev = tr.turns[i - 1]
        if prev.role != "doctor" or prev.action is None or prev.action.kind != "ask":
            continue
        t.replies += 1
        topic = asked_topic(prev.content)
        on_topic = {fid for fid, f in history.items() if f.topic == topic}
        asked_ids |= on_topic
        t.revealed += len(turn.revealed)
        t.unasked += sum(1 for x in turn.revealed if x not in on_topic and history.get(x) and topic is not None)
        if topic is not None and topic not in covered:
            t.silent_questions += 1
            # The persona's own hedges and beliefs ("I'm not sure you'll understand") are voice, not an answer.
            said = guard.voice_free(turn.content)
            if UNSURE.search(said) or turn.content.strip() == unknown:
                t.edge += 1
                t.edges.append(f"{case.id} [{tr.persona}]: {prev.content} -> {turn.content}")
        checks = guard.check(turn.content)
        t.claims += len(checks)
        t.unbacked += sum(1 for c in checks if not c.supported)
        if turn.synthesized:
            t.synthesized += 1
            against = [c for c in facts_only.check(turn.content) if c.reason.startswith("contradicts")]
            if against:
                t.contradicting += 1
                t.examples.append(f"{case.id}: {prev.content} -> {turn.content} ({against[0].reason})")
    t.asked = len(asked_ids)
    t.told = len(asked_ids & told_ids)
    return t


async def play(cases: list[Case], patient: str, seed: int) -> list[tuple[Case, Transcript]]:
    sem = asyncio.Semaphore(32)

    async def one(i: int, case: Case) -> tuple[Case, Transcript]:
        persona = assign_persona(case, "mix", seed)
        async with sem:
            tr = await run_consultation(
                case,
                get_doctor("builtin/checklist", seed + i, MAX_TURNS, case=case),
                get_patient(patient, case, get_persona(persona)),
                CaseMeasurement(case),
                consultation_id=f"fidelity/{case.id}",
                run_id="fidelity",
                seed=seed + i,
                persona=persona,
                max_turns=MAX_TURNS,
            )
        return case, tr

    return await asyncio.gather(*(one(i, c) for i, c in enumerate(cases)))


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f}%" if b else "    -"


def report(name: str, by_persona: dict[str, Tally]) -> Tally:
    total = Tally()
    for tally in by_persona.values():
        total.add(tally)
    print(f"\n== patient {name}")
    head = (
        f"{'persona':<24}{'replies':>8}{'told':>8}{'unbacked':>9}{'unasked':>9}"
        f"{'edge pt':>9}{'edge res':>9}{'contra':>7}{'sim-caused':>11}"
    )
    print(head)
    for persona, tl in [*sorted(by_persona.items()), ("overall", total)]:
        print(
            f"{persona:<24}{tl.replies:>8}{pct(tl.told, tl.asked):>8}{pct(tl.unbacked, tl.claims):>9}"
            f"{pct(tl.unasked, tl.revealed):>9}{pct(tl.edge, tl.replies):>9}{pct(tl.edge_results, tl.results):>9}"
            f"{tl.contradicting:>7}{pct(tl.simulator_caused, tl.failed):>11}"
        )
    print(
        f"overall: {total.asked} asked facts, {total.told} told; {total.claims} claims, {total.unbacked} unbacked; "
        f"{total.silent_questions} questions on topics the case is silent on, {total.edge} answered 'not sure'; "
        f"{total.results} results, {total.edge_results} 'not available'; {total.synthesized} synthesized replies, "
        f"{total.contradicting} contradicting a case fact; {total.failed} failed rubric items, "
        f"{total.simulator_caused} caused by the simulator"
    )
    for line in total.examples[:8]:
        print("  contradiction:", line)
    for line in total.edges[:8]:
        print("  edge:", line)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=120)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--patients", default="builtin,erring")
    args = ap.parse_args()
    cases = generate(args.cases, args.seed)
    judge = BuiltinRubricJudge()
    for name in args.patients.split(","):
        start = time.perf_counter()
        played = asyncio.run(play(cases, PATIENTS[name], args.seed))
        by_persona: dict[str, Tally] = defaultdict(Tally)
        causes: Counter[str] = Counter()
        for case, tr in played:
            persona = get_persona(tr.persona)
            said = Guard(said_by_patient(case, persona), persona=persona)
            tally = score(case, tr, said, Guard(case, persona=persona), LeakCheck(case))
            verdicts = review(case, tr, asyncio.run(judge.judge(tr, case)))
            failed = [v for v in verdicts if v.outcome == "not_met" and v.points > 0]
            tally.failed = len(failed)
            tally.simulator_caused = sum(1 for v in failed if v.simulator_cause)
            causes.update(v.simulator_cause for v in failed if v.simulator_cause)
            by_persona[tr.persona].add(tally)
        report(name, by_persona)
        print(f"simulator causes: {dict(causes)}; {len(played)} consultations in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
