"""The persona catalogue kept in ``personas.json``, and which persona plays which case."""

from __future__ import annotations

import json
import random
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from arena.core.types import Case, Persona

MIX = "mix"
"""Persona spec for a seeded draw over the catalogue, one persona per case."""
PROXY_COMPLAINTS = ("confusion",)
"""Chief-complaint topics with which an older adult cannot give their own
history, so a proxy speaks for them under ``mix``."""
PROXY_MIN_AGE = 65
"""Age from which a confused patient is spoken for; a younger one who was
muddled earlier can usually say what happened."""


class PersonaError(ValueError):
    """An unknown persona name or a persona file that does not validate."""


def _where(loc: tuple[int | str, ...], raw: list[Any]) -> str:
    # personas[3] (stoic).willingness.asks: the index finds the entry, the id the person.
    parts: list[str] = []
    for i, key in enumerate(loc):
        if isinstance(key, int):
            label = f"[{key}]"
            if i == 0 and key < len(raw) and isinstance(raw[key], dict) and raw[key].get("id"):
                label += f" ({raw[key]['id']})"
            parts.append(label)
        else:
            parts.append(f".{key}")
    return "personas" + "".join(parts)


def load_personas(path: Path | Traversable) -> dict[str, Persona]:
    """Read and validate a persona file.

    Args:
        path: A JSON file holding ``{"personas": [...]}``.

    Returns:
        Every persona in the file by id, in file order.

    Raises:
        PersonaError: one line naming the file and the field at fault.
    """
    name = str(path)
    try:
        raw = json.loads(path.read_text("utf-8"))
    except OSError as e:
        raise PersonaError(f"{name}: cannot read: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise PersonaError(f"{name}: line {e.lineno}: invalid JSON: {e.msg}") from None
    entries = raw.get("personas") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise PersonaError(f"{name}: personas: expected a non-empty list of personas")
    try:
        found = [Persona.model_validate(p) for p in entries]
    except ValidationError as e:
        # The index of the failing entry is not in the error, so validate one by one to find it.
        for i, p in enumerate(entries):
            try:
                Persona.model_validate(p)
            except ValidationError as inner:
                err = inner.errors()[0]
                more = len(inner.errors()) - 1
                extra = f" (and {more} more)" if more else ""
                raise PersonaError(f"{name}: {_where((i, *err['loc']), entries)}: {err['msg']}{extra}") from None
        raise PersonaError(f"{name}: {e.errors()[0]['msg']}") from None
    out: dict[str, Persona] = {}
    for i, p in enumerate(found):
        if p.id == MIX:
            raise PersonaError(f"{name}: {_where((i, 'id'), entries)}: {MIX!r} is reserved for the seeded draw")
        if p.id in out:
            raise PersonaError(f"{name}: {_where((i, 'id'), entries)}: duplicate id {p.id!r}")
        out[p.id] = p
    return out


@cache
def personas() -> dict[str, Persona]:
    """Return every built-in persona by id."""
    return load_personas(resources.files("personas").joinpath("personas.json"))


def get_persona(name: str) -> Persona:
    """Return the persona called ``name``.

    Raises:
        PersonaError: naming the known personas.
    """
    try:
        return personas()[name]
    except KeyError:
        raise PersonaError(f"unknown persona {name!r} (known: {', '.join(sorted(personas()))}, or {MIX})") from None


def check_persona_spec(spec: str) -> None:
    """Raise unless ``spec`` is a persona id or ``mix``.

    Raises:
        PersonaError: naming the known personas.
    """
    if spec != MIX:
        get_persona(spec)


def needs_proxy(case: Case) -> bool:
    """Whether someone else must speak for the patient of ``case``.

    Young children always have a caregiver speaking (``case.speaker``); an
    older adult who presents confused cannot give a reliable history either.
    """
    if case.speaker == "caregiver":
        return True
    opening = [f.topic for f in case.facts if f.disclosure == "volunteered"]
    return case.demographics.age >= PROXY_MIN_AGE and any(t in PROXY_COMPLAINTS for t in opening)


def assign_persona(case: Case, spec: str, seed: int = 0) -> str:
    """Return the id of the persona that plays ``case``.

    Args:
        case: The case to play.
        spec: A persona id, used as given, or ``mix``: a draw over the catalogue
            that depends only on ``seed`` and the case id (so a resumed or
            re-ordered run draws the same), from the proxy personas when the
            case needs a proxy (:func:`needs_proxy`) and from the others when not.
        seed: The run's seed.

    Returns:
        A persona id from the catalogue.

    Raises:
        PersonaError: if ``spec`` is neither ``mix`` nor a known persona.
    """
    if spec != MIX:
        get_persona(spec)
        return spec
    proxy = needs_proxy(case)
    pool = sorted(pid for pid, p in personas().items() if (p.kind == "proxy") == proxy)
    # A string seed is hashed with SHA-512 by random, so the draw is the same in every process.
    return random.Random(f"{seed}|{case.id}").choice(pool)
