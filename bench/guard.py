"""Recall and false-positive rate of the hallucination guard, per matcher backend.

Replies are built from generated cases as a patient would give them. Each
case is played in one persona drawn at random (caregivers speak of the
patient, low-literacy patients swap words, bias personas voice a belief,
anxious ones add hedges...). For each history fact the patient says the fact
in *another* of the knowledge base's lay phrasings of the same finding where
one exists (a paraphrase), else in the case's own words, through the
persona's voice, as the built-in patient would. The paraphrase is held out
from the wordings the guard is given, so exact wording cannot carry the
check. At a known rate a fabricated finding is added in the same voice: a lay
phrasing (the caregiver's, for a caregiver) of a finding of another
condition, on a topic the case's facts do not cover (with ``--same-topic``,
another condition's finding on a topic they do cover: a harder test, since
a topic the patient may talk about is then no evidence; with ``--fresh``,
a finding written for this bench in everyday words, none of them the
knowledge base's, so that neither the guard's readers nor any rule made
while reading the knowledge base has seen them: the dev split draws them
from ``bench/data/fresh_findings.json``, whose lines the guard's rules have
since been made from, the val split from ``fresh_findings_3.json`` and the
test split from ``fresh_findings_2.json``, both written blind to the guard,
whose misses are not read). A reply counts as flagged when the guard rejects
any of its claims.

Conditions are split in two by a hash of their id: ``--split dev`` draws the
cases and the fabricated findings from one half (on seed 11 by default;
thresholds and rules are set there), ``--split test`` from the other half on
a different seed (21): the honest figures. ``--split val`` draws from the
test half too, on seed 31 (with ``--fresh``, from the validation file): only
its totals are read, to choose between changes without spending the test
split on them. ``--split all`` uses every condition.

Each backend's line also says how many claims a verifier would be asked
about (rejections, and acceptances that rest only on how a claim reads or on
a loose overlap of words), and the recall a verifier that never erred could
reach: the misses whose fabricated claim was one of those acceptances.
``--verifier MODEL`` asks a real chat model (any litellm name, or
``local/smollm2-135m``) and reports what it does. ``--as-played`` gives the
guard what a model-played patient's guard is given: the case and its
condition's typical findings on the topics the case leaves out (a
fabrication on such a topic then sits beside a finding the patient may say),
and also reports its false alarms on truthful replies that tell one of those
typical findings in another of the knowledge base's phrasings than the one
the patient was given.

Run: `python bench/guard.py [--split test --n 300 --rate 0.3 --backends lexical,minilm] [--verifier MODEL]`.
Targets: recall >= 95%, false positives <= 5%. Each rate is printed with its 95% Wilson interval.
"""

import argparse
import asyncio
import hashlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

from arena.core.types import Case, Persona
from arena.models import ChatModel, ModelError
from cases.kb import load_kb
from cases.synthesizer import generate
from personas.catalog import personas
from personas.factory import get_verifier
from personas.guard import ClaimCheck, Guard
from personas.guard_voice import kb_wordings
from personas.llm_patient import plausible_answers
from personas.matching import MatcherError
from personas.plausible import with_answers
from personas.voice import Voice, to_third_person

SEEDS = {"dev": 11, "test": 21, "val": 31, "all": 21}


@dataclass
class Row:
    case: Case
    persona: Persona
    reply: str
    injected: bool
    fact_id: str
    held_out: str
    """The paraphrase said, kept from the guard's wordings ("" when the case's own words were used)."""
    fabricated: str = ""
    """The fabricated finding added, as said ("" for a truthful reply)."""


def in_split(condition_id: str, split: str) -> bool:
    """Whether a condition id falls in ``split``'s half (``val`` shares the test half)."""
    if split == "all":
        return True
    half = hashlib.sha1(condition_id.encode()).digest()[0] % 2
    return half == (0 if split == "dev" else 1)


FRESH_FILES = {
    "dev": ("fresh_findings.json",),
    "val": ("fresh_findings_3.json",),
    "test": ("fresh_findings_2.json",),
}
FRESH_FILES["all"] = FRESH_FILES["dev"] + FRESH_FILES["test"]


def fresh_findings(split: str) -> dict[str, list[str]]:
    """The findings written for ``--fresh`` that ``split`` draws from, by history topic.

    Args:
        split: ``dev`` (``bench/data/fresh_findings.json``), ``val`` (``fresh_findings_3.json``), ``test``
            (``fresh_findings_2.json``) or ``all`` (dev and test).

    Returns:
        The lines of the split's files, by topic.
    """
    out: dict[str, list[str]] = {}
    for name in FRESH_FILES[split]:
        raw = json.loads((Path(__file__).parent / "data" / name).read_text("utf-8"))
        for topic, lines in raw.items():
            if not topic.startswith("_"):
                out.setdefault(topic, []).extend(lines)
    return out


def build(n: int, seed: int, rate: float, split: str, same_topic: bool = False, fresh: bool = False) -> list[Row]:
    kb = load_kb()
    # The test split's written findings come from a file written after the rules were made from the
    # dev file's misses, so the test figure measures wording no rule was made from.
    written = fresh_findings(split) if fresh else {}
    rng = random.Random(seed)
    pool = [(c.id, f) for c in kb.conditions if in_split(c.id, split) for f in c.findings]
    voices = sorted(personas().values(), key=lambda p: p.id)
    out: list[Row] = []
    for case in generate(n, seed):
        cond = kb.by_id[case.id.rsplit("-", 1)[0]]
        if not in_split(cond.id, split):
            continue
        persona = rng.choice(voices)
        voice = Voice(persona, case)
        covered = {f.topic for f in case.facts}
        caregiver = case.speaker == "caregiver"
        for fact in case.facts:
            if fact.disclosure != "on_ask":
                continue
            others = [x for x in kb_wordings(case).get(fact.id, ()) if x != fact.lay]
            said = rng.choice(others) if others else ""
            told = voice.tell([fact.model_copy(update={"lay": said or fact.lay})])
            if not told.revealed:
                # A guarded persona tells on the doctor's second asking.
                told = voice.tell([fact.model_copy(update={"lay": said or fact.lay})])
            reply = told.text
            injected = rng.random() < rate
            fabricated = ""
            if injected and fresh:
                topic = rng.choice(sorted(t for t in written if t not in covered))
                line = rng.choice(written[topic])
                if caregiver:
                    line = to_third_person(line, case.demographics.sex)
                fabricated = voice.render(line)
                reply = f"{reply} {fabricated}"
            elif injected:
                said_ids = {f.id.partition(".")[2] for f in case.facts}
                fab_pool = [
                    (c, f)
                    for c, f in pool
                    if c != cond.id
                    and (f.topic in covered and f.id not in said_ids if same_topic else f.topic not in covered)
                ]
                _, fab = rng.choice(fab_pool)
                lay = fab.lay_caregiver if caregiver and fab.lay_caregiver else fab.lay
                fabricated = voice.render(rng.choice(lay))
                reply = f"{reply} {fabricated}"
            out.append(Row(case, persona, reply, injected, fact.id, said, fabricated))
    return out


def typical_told(rows: list[Row], seed: int) -> list[Row]:
    """Truthful replies telling a typical finding of each case's condition in other words.

    For each case of ``rows`` (in its persona), one reply per typical finding the patient is
    given that the knowledge base phrases in more than one way: another of its phrasings, in the
    persona's voice, as a model-played patient might say it.
    """
    rng = random.Random(f"{seed}|typical")
    out: list[Row] = []
    for r in {r.case.id: r for r in rows}.values():
        voice = Voice(r.persona, r.case)
        plausible = plausible_answers(r.case, r.persona)
        for answer in plausible.typical():
            others = [x for x in plausible.typical_phrasings(answer.fact.topic) if x != answer.fact.lay]
            if not others:
                continue
            fact = answer.fact.model_copy(update={"lay": rng.choice(others)})
            told = voice.tell([fact])
            if not told.revealed:
                told = voice.tell([fact])
            out.append(Row(r.case, r.persona, told.text, False, fact.id, fact.lay))
    return out


def _wilson(hits: int, n: int) -> str:
    """The 95% Wilson interval of a rate, as text: a few hundred replies leave a point or two either way."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(hits, n, alpha=0.05, method="wilson")
    return f"95% CI {low:.1%}-{high:.1%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("dev", "val", "test", "all"), default="test")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=None, help="default: 11 for dev, 31 for val, 21 for test")
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--backends", default="lexical,minilm")
    ap.add_argument(
        "--same-topic",
        action="store_true",
        help="fabricate findings on topics the case does cover (another condition's finding there)",
    )
    ap.add_argument(
        "--fresh",
        action="store_true",
        help="fabricate with findings written for this bench, not the KB's "
        "(dev: bench/data/fresh_findings.json; val: fresh_findings_3.json; test: fresh_findings_2.json)",
    )
    ap.add_argument("--errors", type=int, default=0, help="print this many misses and false alarms per backend")
    ap.add_argument("--verifier", default=None, help="chat model that reviews the verdicts that are not firm")
    ap.add_argument(
        "--as-played",
        action="store_true",
        help="give the guard the condition's typical findings too, as a model-played patient's guard has",
    )
    args = ap.parse_args()
    if args.errors and args.split != "dev":
        # Rules made from what the held-out splits miss would make their figures no measure of new wording.
        raise SystemExit(f"--errors: misses and false alarms are printed on the dev split only, not on {args.split}")
    seed = SEEDS[args.split] if args.seed is None else args.seed
    rows = build(args.n, seed, args.rate, args.split, args.same_topic, args.fresh)
    # The guard reads topics from the knowledge base's phrasings; those of the conditions under test are
    # kept from it, so neither the fabrications nor the paraphrases are ones it has seen.
    held_out = frozenset(c.id for c in load_kb().conditions if args.split != "all" and in_split(c.id, args.split))
    inj = sum(r.injected for r in rows)
    para = sum(bool(r.held_out) for r in rows)
    cases = len({r.case.id for r in rows})
    print(
        f"split {args.split}, seed {seed}: {len(rows)} replies from {cases} cases in "
        f"{len({r.persona.id for r in rows})} personas; {inj} with a fabricated finding; {para} paraphrase a fact"
    )
    try:
        verifier = get_verifier(args.verifier) if args.verifier else None
    except ModelError as e:
        raise SystemExit(f"--verifier: {e}") from None
    for name in args.backends.split(","):
        name = name.strip()
        try:
            t0 = time.perf_counter()
            got = asyncio.run(_run(rows, name, held_out, verifier, args.as_played))
            ms = (time.perf_counter() - t0) / len(rows) * 1000
        except MatcherError as e:
            print(f"{name:8s} not available: {e}")
            continue
        _report(name, rows, got, ms, args.errors)
        if args.as_played:
            told = typical_told(rows, seed)
            alarms = [
                r.reply
                for r, o in zip(told, asyncio.run(_run(told, name, held_out, None, True)), strict=True)
                if any(not c.supported for c in o.checks)
            ]
            print(
                f"{'':8s} typical findings told in other words: false alarms {len(alarms) / len(told):.1%} "
                f"({len(alarms)}/{len(told)}, {_wilson(len(alarms), len(told))})"
            )
            for line in random.Random(0).sample(alarms, min(args.errors, len(alarms))):
                print(f"  false alarm (typical finding) {line}")


@dataclass
class Outcome:
    checks: list[ClaimCheck]
    fabricated: frozenset[str]
    """The claims the fabricated finding makes, as the guard splits them."""
    calls: int = 0
    """Verifier calls made on this reply."""


VERIFIER_CONCURRENCY = 16
"""Replies whose verifier calls may be in flight at once: a remote model's latency overlaps, a local one queues."""


async def _run(
    rows: list[Row], name: str, held_out: frozenset[str], verifier: ChatModel | None, as_played: bool = False
) -> list[Outcome]:
    gate = asyncio.Semaphore(VERIFIER_CONCURRENCY)
    played: dict[tuple[str, str], Case] = {}

    def as_played_case(r: Row) -> Case:
        # A case's replies share its persona: its typical findings are worked out once, not once per reply.
        key = (r.case.id, r.persona.id)
        if key not in played:
            played[key] = with_answers(r.case, plausible_answers(r.case, r.persona).typical())
        return played[key]

    async def one(r: Row) -> Outcome:
        case = as_played_case(r) if as_played else r.case
        wordings = {k: tuple(x for x in v if x != r.held_out) for k, v in kb_wordings(case).items()}
        g = Guard(case, matcher=name, verifier=verifier, persona=r.persona, wordings=wordings, held_out=held_out)
        async with gate:
            checks = await g.acheck(r.reply) if verifier is not None else g.check(r.reply)
        fabricated = frozenset(g.claims(r.fabricated)) if r.injected else frozenset()
        return Outcome(checks, fabricated, g.usage.calls)

    return list(await asyncio.gather(*(one(r) for r in rows)))


def _report(name: str, rows: list[Row], got: list[Outcome], ms: float, errors: int) -> None:
    tp = fp = ceiling = reviewed = claims = calls = 0
    misses: list[str] = []
    alarms: list[str] = []
    for r, o in zip(rows, got, strict=True):
        rejected = [c for c in o.checks if not c.supported]
        flagged = bool(rejected)
        tp += flagged and r.injected
        fp += flagged and not r.injected
        claims += len(o.checks)
        reviewed += sum(c.reviewable for c in o.checks)
        calls += o.calls
        if r.injected and not flagged:
            misses.append(f"  missed [{r.persona.id}] {r.reply}")
            ceiling += any(c.claim in o.fabricated and c.reviewable for c in o.checks)
        if flagged and not r.injected:
            alarms.append(f"  false alarm [{r.persona.id}] {r.reply} -> {[(c.claim, c.reason) for c in rejected]}")
    inj = sum(r.injected for r in rows)
    clean = len(rows) - inj
    print(
        f"{name:8s} recall {tp / inj:6.1%} ({tp}/{inj}, {_wilson(tp, inj)})   "
        f"false positives {fp / clean:6.1%} ({fp}/{clean}, {_wilson(fp, clean)})   {ms:.2f} ms/reply"
    )
    print(
        f"{'':8s} a verifier would review {reviewed}/{claims} claims ({reviewed / claims:.1%}); "
        f"one that never erred could reach recall {(tp + ceiling) / inj:.1%}"
        + (f"; verifier calls made: {calls}" if calls else "")
    )
    rng = random.Random(0)
    for line in rng.sample(misses, min(errors, len(misses))) + rng.sample(alarms, min(errors, len(alarms))):
        print(line)


if __name__ == "__main__":
    main()
