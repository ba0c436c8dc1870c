"""Scripted replies for the ``mock/...`` provider.

A script is a function of the chat messages and the name's parameters that
returns the assistant's text. Scripts are plain Python so tests can register
their own; the provider that serves them through litellm lives in
:mod:`arena.models.mock_provider`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl

Script = Callable[[list[dict[str, str]], dict[str, str]], str]

_SCRIPTS: dict[str, Script] = {}

_QUESTIONS = [
    "When did this start?",
    "Can you describe what it feels like?",
    "Does it spread anywhere?",
    "Have you had a fever?",
    "Are you short of breath?",
    "Any nausea or vomiting?",
    "Do you have any medical conditions?",
    "Do you take any medicines?",
    "Do you have any allergies?",
    "Do you smoke?",
    "Does anything run in your family?",
    "Has anyone around you been unwell?",
]


def register_script(name: str, script: Script) -> None:
    """Register a script under ``mock/<name>``.

    Args:
        name: Script name.
        script: Function of (messages, params) returning the reply text.
    """
    _SCRIPTS[name] = script


def check_script(name: str) -> None:
    """Raise if no script is registered under ``name``.

    Raises:
        ValueError: naming the known scripts.
    """
    if name not in _SCRIPTS:
        from arena.models import ModelError

        raise ModelError(f"unknown mock model 'mock/{name}' (known: {', '.join(sorted(_SCRIPTS))})")


def known_scripts() -> list[str]:
    """Names of the registered scripts, sorted."""
    return sorted(_SCRIPTS)


def run_script(name: str, messages: list[dict[str, str]], params: dict[str, str]) -> str:
    """Return the reply of script ``name`` to ``messages``."""
    check_script(name)
    return _SCRIPTS[name](messages, params)


def split_model(model: str) -> tuple[str, dict[str, str]]:
    """Script name and parameters of a ``mock/NAME?k=v`` model (the ``mock/`` prefix optional).

    ``client``, which picks the client that calls the model, is not the script's.
    """
    base, items = _split(model)
    return base, dict(items)


@lru_cache(maxsize=4096)
def _split(model: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    # Every call of a mock model names it; parsing its parameters each time was a tenth of the call.
    name = model.split("/", 1)[1] if model.startswith("mock/") else model
    base, _, query = name.partition("?")
    return base, tuple((k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "client")


FAULTS = ("429", "500", "timeout", "reset", "empty", "garbage")
"""Fault kinds ``fail=`` draws from."""

_fault_rngs: dict[str, random.Random] = {}


def draw_fault(model: str, params: dict[str, str]) -> str | None:
    """The fault this call suffers under ``fail=``/``faults=``/``fault_seed=``, or None.

    Raises:
        ValueError: for an unknown fault kind.
    """
    rate = float(params.get("fail", "0") or 0)
    if rate <= 0:
        return None
    kinds = [k for k in params.get("faults", ",".join(FAULTS)).split(",") if k]
    unknown = sorted(set(kinds) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown fault {unknown[0]!r} in {model!r} (known: {', '.join(FAULTS)})")
    rng = _fault_rngs.setdefault(model, random.Random(params.get("fault_seed")))
    return rng.choice(kinds) if rng.random() < rate else None


@dataclass(frozen=True)
class MockAnswer:
    """What a mock model does with one call: fail in a way a client sees, or answer."""

    fault: str | None
    """``429``, ``500``, ``timeout`` or ``reset`` when the call fails; None when it answers."""
    text: str = ""
    """The reply (empty for ``empty``, noise for ``garbage``)."""
    prompt_tokens: int = 0
    """Words of the request, as its token count."""
    completion_tokens: int = 0
    """Words of the reply."""


async def answer(model: str, messages: list[dict[str, str]], params: dict[str, str]) -> MockAnswer:
    """Play one call of a mock model: its latency, its ``die`` crash, its faults, then its script.

    Args:
        model: The model as named (fault draws are kept per name).
        messages: The request's messages.
        params: The script's parameters.
    """
    name, _ = split_model(model)
    latency = float(params.get("latency", "0") or 0)
    if latency > 0:
        await asyncio.sleep(latency)
    marker = params.get("die")
    if marker and not Path(marker).exists():
        Path(marker).touch()
        os._exit(1)
    fault = draw_fault(model, params)
    if fault in ("429", "500", "timeout", "reset"):
        return MockAnswer(fault)
    if fault == "empty":
        text = ""
    elif fault == "garbage":
        text = "\x00}{ lorem ipsum ##?? <<" + str(random.random())
    else:
        text = run_script(name, messages, params)
    prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in messages)
    return MockAnswer(None, text, prompt_tokens, len(text.split()))


def _own_turns(messages: list[dict[str, str]]) -> int:
    return sum(1 for m in messages if m.get("role") == "assistant")


def _doctor(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    """Ask ``questions`` questions (default 10), then give a final answer."""
    n = int(params.get("questions", "10"))
    k = _own_turns(messages)
    if k < n:
        return json.dumps({"action": "ask", "text": _QUESTIONS[k % len(_QUESTIONS)]})
    return json.dumps(
        {
            "action": "final",
            "diagnosis": params.get("diagnosis", "Viral illness"),
            "differential": ["Anxiety"],
            "plan": "Rest and fluids; return or call emergency services if it gets worse.",
        }
    )


def _patient(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    """Say ``reply`` to everything; by default words that pass every output check and tell nothing.

    A default of "not sure" would be sent back for a fact the patient knows, so a benchmark of
    instant models would count regenerations, not consultations.
    """
    return params.get("reply", "Hmm, let me think about that.")


def _judge(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    met = params.get("met", "true")
    # "random" is deterministic per prompt, so re-judging gives the same verdicts.
    met_b = random.Random(messages[-1]["content"]).random() < 0.5 if met == "random" else met == "true"
    return json.dumps({"criteria_met": met_b, "explanation": "mock verdict", "evidence_turns": []})


def _verifier(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    """The guard verifier's verdicts, one per numbered statement of the prompt.

    ``supported=true|false`` gives every statement that verdict; any other value answers with text that
    is not JSON.
    """
    supported = params.get("supported", "true")
    if supported not in ("true", "false"):
        return "I could not say."
    numbers = re.findall(r'^(\d+)\. "', messages[-1]["content"] if messages else "", flags=re.MULTILINE)
    verdicts = [{"statement": int(n), "supported": supported == "true"} for n in numbers]
    return json.dumps({"verdicts": verdicts})


def _echo(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    return messages[-1]["content"] if messages else ""


def _garbage(messages: list[dict[str, str]], params: dict[str, str]) -> str:
    return "this is not json {"


register_script("doctor", _doctor)
register_script("patient", _patient)
register_script("judge", _judge)
register_script("verifier", _verifier)
register_script("echo", _echo)
register_script("garbage", _garbage)
