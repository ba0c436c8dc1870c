"""Doctor policies: any chat model, the built-in checklist baseline, an HTTP endpoint, a person at the terminal.

A stage beside ``personas`` and ``judges``: may import ``cases``,
``arena.models`` and ``arena.core``. Its providers reach the registry
(``arena.models.registry``) as entry points.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from functools import cache

from arena.core.agents import Doctor
from arena.core.templating import render
from arena.core.types import Case, DoctorAction, FinalAnswer, Usage
from arena.doctors.protocol import lettered, parse_doctor_reply
from arena.models import ChatModel, Message, ModelError, parse_model_name
from arena.models.registry import Provider, Role, chat_model, resolve
from cases.condition_summaries import Condition, conditions
from cases.kb import find_condition, load_kb
from cases.knowledge import topics
from cases.text import negative_or_normal, normalise, phrase_in, salient_words, sentences

DEFAULT_DILIGENCE = 0.85
"""Chance the checklist doctor performs each step when ``?diligence=`` is not given."""
DEFAULT_DOCTOR_STYLE = "standard"
"""The style of a chat-model doctor whose name gives no ``?style=``."""
DOCTOR_STYLES = (DEFAULT_DOCTOR_STYLE, "thorough", "efficient", "cautious", "patient_centred")
"""Styles a chat-model doctor can be given with ``?style=``; each is a template
in ``arena/doctors/templates/doctor_styles/``."""
HUMAN = "human"
"""``--doctor human``: a person plays the doctor from the terminal."""
_GENERAL_HISTORY = ("onset", "pmh", "medications", "allergies", "smoking", "family_history")


@cache
def _idf() -> dict[str, float]:
    conds = conditions()
    df: dict[str, int] = {}
    for c in conds:
        for w in c.features:
            df[w] = df.get(w, 0) + 1
    return {w: math.log(len(conds) / n) for w, n in df.items()}


class LLMDoctor:
    """A doctor played by a chat model through the JSON action protocol."""

    def __init__(
        self, model: ChatModel, max_turns: int, style: str = DEFAULT_DOCTOR_STYLE, options: Sequence[str] = ()
    ) -> None:
        """Prepare the system prompt.

        Args:
            model: The chat model.
            max_turns: The turn cap, stated in the prompt.
            style: One of :data:`DOCTOR_STYLES`.
            options: Answer options the diagnosis is to be chosen from (none: free text).
        """
        self.name = model.name
        self.model = model
        system = render(
            "arena.doctors", "doctor_system.j2", max_turns=max_turns, style=style, options=lettered(options)
        )
        self.messages: list[Message] = [{"role": "system", "content": system}]
        self._seen = 0

    async def act(self, dialogue: list[tuple[str, str]], turns_left: int) -> tuple[DoctorAction, Usage, str]:
        """Send the new lines of the dialogue to the model and parse its reply."""
        for role, content in dialogue[self._seen :]:
            if role == "doctor":
                continue
            text = f"RESULT: {content}" if role == "measurement" else content
            self.messages.append({"role": "user", "content": text})
        self._seen = len(dialogue)
        if turns_left <= 1 and self.messages[-1]["role"] == "user":
            last = self.messages[-1]["content"]
            self.messages[-1] = {"role": "user", "content": render("arena.doctors", "last_turn.j2", text=last)}
        out = await self.model.complete(self.messages)
        self.messages.append({"role": "assistant", "content": out.text})
        return parse_doctor_reply(out.text), out.usage, out.text


class ChecklistDoctor:
    """A rule-based baseline: works through a checklist chosen by the complaint.

    It picks the conditions the opening complaint suggests, asks their history
    topics, examines, orders their tests, then names the condition whose
    typical features best match what it heard. ``diligence`` (0-1) is the
    chance it performs each checklist step; steps taken are kept in
    ``performed`` and skipped ones in ``skipped``, so what it did and did not
    do is known exactly (ground truth for testing judges).
    """

    def __init__(self, name: str, seed: int, diligence: float = DEFAULT_DILIGENCE, options: Sequence[str] = ()) -> None:
        """Create a checklist doctor.

        Args:
            name: The model name recorded on the transcript.
            seed: Seed for the skips.
            diligence: Probability of performing each checklist step.
            options: Answer options its diagnosis is chosen from (none: any condition it knows).
        """
        if not 0.0 <= diligence <= 1.0:
            raise ModelError(f"diligence must be between 0 and 1, got {diligence}")
        self.name = name
        self.rng = random.Random(seed)
        self.diligence = diligence
        self.plan: list[tuple[str, str]] = []
        self.skipped: list[str] = []
        self.performed: list[tuple[str, str]] = []
        self.ordered: list[str] = []
        self.candidates: list[Condition] = []
        self.options = list(options)
        self._planned = False

    def _make_plan(self, opening: str, budget: int) -> None:
        norm = normalise(opening)
        self.candidates = [c for c in conditions() if any(phrase_in(w, norm) for w in c.complaints)]
        pool = self.candidates or list(conditions())
        history: list[str] = []
        exams: list[str] = []
        tests: list[str] = []
        for c in pool:
            history.extend(t for t in c.history_topics if t not in history)
            exams.extend(t for t in c.exams if t not in exams)
            tests.extend(t for t in c.workup if t not in tests)
        history.extend(t for t in _GENERAL_HISTORY if t not in history)
        # Vital signs come first in every examination.
        exams = ["vitals", *(e for e in exams if e != "vitals")]
        n_tests = min(len(tests), max(1, budget // 4))
        n_exams = min(len(exams), max(1, budget // 5))
        n_hist = max(0, budget - n_tests - n_exams)
        self.plan = (
            [("ask", t) for t in history[:n_hist]]
            + [("exam", t) for t in exams[:n_exams]]
            + [("test", t) for t in tests[:n_tests]]
        )

    def _conclude(self, dialogue: list[tuple[str, str]]) -> DoctorAction:
        heard: set[str] = set()
        for role, text in dialogue:
            if role == "doctor":
                continue
            # A case handed over in one message lists a finding per line.
            for sentence in (s for line in text.splitlines() for s in sentences(line)):
                if not negative_or_normal(sentence):
                    heard |= salient_words(sentence)
        cand = {c.name for c in self.candidates}
        idf = _idf()

        def score(c: Condition) -> float:
            # Rare words weigh more; dividing by the vocabulary's size keeps
            # conditions with long descriptions from winning on volume.
            hit = sum(idf[w] for w in heard.intersection(c.features))
            return hit / math.sqrt(len(c.features) or 1) + (0.5 if c.name in cand else 0.0)

        ranked = sorted(conditions(), key=lambda c: (-score(c), c.name))
        safety_net = self.rng.random() < self.diligence
        if not safety_net:
            self.skipped.append("safety_net")
        top = self._choose(ranked, heard) if self.options else ranked[0].name
        plan = render("arena.doctors", "checklist_plan.j2", tests=self.ordered, diagnosis=top, safety_net=safety_net)
        final = FinalAnswer(diagnosis=top, differential=[c.name for c in ranked[1:4]], plan=plan)
        return DoctorAction(kind="final", text=top, final=final)

    def _choose(self, ranked: list[Condition], heard: set[str]) -> str:
        """The answer option naming the condition it ranks highest; by shared words when no option names one."""
        place = {c.name: i for i, c in enumerate(ranked)}
        kb = load_kb()

        def rank(option: str) -> tuple[int, int]:
            cond = find_condition(kb, option)
            at = place.get(cond.name, len(place)) if cond is not None else len(place)
            return at, -len(heard & salient_words(option))

        return min(self.options, key=rank)

    def answer_single_shot(self, scenario: str, question: str, options: list[str]) -> str:
        """Answer a single-shot question the way this doctor works in a consultation.

        It ranks diagnoses from the scenario, names its first test for the
        complaint, or its first history question the scenario leaves open;
        with probability ``1 - diligence`` it slips, as it does when it skips
        a checklist step.

        Args:
            scenario: The vignette.
            question: The question.
            options: Multiple-choice options (may be empty).

        Returns:
            The chosen option, or a free-text answer.
        """
        self._make_plan(scenario, budget=40)
        q = question.lower()
        if "diagnosis" in q:
            reply = self._conclude([("patient", scenario)]).text
        elif "investigation" in q or "test" in q:
            tests = [t for k, t in self.plan if k == "test"]
            reply = topics()[tests[0]].question if tests else "No investigation needed"
        elif "ask" in q:
            norm = normalise(scenario)
            open_topics = [
                t for k, t in self.plan if k == "ask" and not any(phrase_in(w, norm) for w in topics()[t].keywords)
            ]
            reply = topics()[open_topics[0]].question if open_topics else "No further questions"
        else:
            reply = "Explain the diagnosis and the plan."
        if options:
            words = salient_words(reply)
            reply = max(options, key=lambda o: (len(words & salient_words(o)), -options.index(o)))
            if self.rng.random() >= self.diligence:
                reply = self.rng.choice(options)
        return reply

    async def act(self, dialogue: list[tuple[str, str]], turns_left: int) -> tuple[DoctorAction, Usage, str]:
        """Take the next checklist step, or conclude on the last turn."""
        if not self._planned:
            self._make_plan(dialogue[0][1] if dialogue else "", max(0, turns_left - 1))
            self._planned = True
        while self.plan and turns_left > 1:
            kind, topic = self.plan.pop(0)
            if self.rng.random() >= self.diligence:
                self.skipped.append(topic)
                continue
            t = topics()[topic]
            self.performed.append((kind, topic))
            if kind == "ask":
                action = DoctorAction(kind="ask", text=t.question)
            else:
                if kind == "test":
                    self.ordered.append(t.question)
                action = DoctorAction(kind="exam" if kind == "exam" else "test", text=t.question, request=t.question)
            return action, Usage(), action.text
        action = self._conclude(dialogue)
        return action, Usage(), action.text


def is_http_doctor(name: str) -> bool:
    """Whether ``name`` is the URL of a doctor served over HTTP."""
    return name.startswith(("http://", "https://"))


def diligence_of(name: str) -> float:
    """The ``?diligence=`` of a ``builtin/checklist`` name, or :data:`DEFAULT_DILIGENCE`.

    Raises:
        ModelError: if it is not a number.
    """
    raw = parse_model_name(name).params.get("diligence")
    if raw is None:
        return DEFAULT_DILIGENCE
    try:
        return float(raw)
    except ValueError:
        raise ModelError(f"{name!r}: diligence must be a number") from None


def _check_http(name: str) -> None:
    from arena.doctors.http import check_url

    check_url(name)


def _check_chat(name: str) -> None:
    chat_model(name)
    style = parse_model_name(name).params.get("style", DEFAULT_DOCTOR_STYLE)
    if style not in DOCTOR_STYLES:
        raise ModelError(f"{name!r}: unknown doctor style {style!r} (known: {', '.join(DOCTOR_STYLES)})")


def _human(name: str, **_: object) -> Doctor:
    from arena.doctors.human import HumanDoctor

    return HumanDoctor()


def _http(name: str, *, max_turns: int, case: Case | None = None, options: Sequence[str] = (), **_: object) -> Doctor:
    from arena.doctors.http import HTTPDoctor

    return HTTPDoctor(name, max_turns, case, options)


def _checklist(name: str, *, seed: int, options: Sequence[str] = (), **_: object) -> Doctor:
    return ChecklistDoctor(name, seed, diligence_of(name), options)


def _chat(name: str, *, max_turns: int, options: Sequence[str] = (), **_: object) -> Doctor:
    style = parse_model_name(name).params.get("style", DEFAULT_DOCTOR_STYLE)
    return LLMDoctor(chat_model(name), max_turns, style, options)


CHECKLIST_DOCTOR = Provider(Role.DOCTOR, "checklist", _checklist, builtin=True, check=diligence_of)
"""``builtin/checklist[?diligence=P]``: the rule-based baseline (P defaults to :data:`DEFAULT_DILIGENCE`)."""
HUMAN_DOCTOR = Provider(Role.DOCTOR, "human", _human, claims=lambda name: name == HUMAN)
"""``human``: a person at the terminal."""
HTTP_DOCTOR = Provider(Role.DOCTOR, "http", _http, claims=is_http_doctor, check=_check_http)
"""An ``http(s)://`` endpoint speaking the doctor protocol."""
CHAT_DOCTOR = Provider(Role.DOCTOR, "chat", _chat, fallback=True, check=_check_chat, uses_litellm=True)
"""Any chat model (``?style=`` picks one of :data:`DOCTOR_STYLES`)."""


def check_doctor(name: str) -> None:
    """Raise if ``name`` cannot play the doctor.

    Raises:
        ModelError: for malformed names, unknown built-ins and styles, and bad parameters.
    """
    resolve(Role.DOCTOR, name)


def get_doctor(name: str, seed: int, max_turns: int, case: Case | None = None, options: Sequence[str] = ()) -> Doctor:
    """Return a doctor policy for one consultation.

    Args:
        name: ``builtin/checklist[?diligence=P]``, ``human``, an
            ``http(s)://`` endpoint, or any chat model name
            (``?style=`` picks one of :data:`DOCTOR_STYLES`).
        seed: Seed for stochastic policies.
        max_turns: The consultation's turn cap.
        case: The case played (an HTTP doctor is told the patient's
            age, sex and setting; nothing hidden).
        options: Answer options the final diagnosis is to be chosen from (``--choices``); none for free text.
    """
    doctor: Doctor = resolve(Role.DOCTOR, name).build(seed=seed, max_turns=max_turns, case=case, options=options)
    return doctor
