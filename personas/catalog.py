"""The persona catalogue kept in ``personas.json``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from arena.types import Persona


class PersonaError(ValueError):
    """An unknown persona name."""


@cache
def personas() -> dict[str, Persona]:
    """Return every built-in persona by id."""
    raw = json.loads(resources.files("personas").joinpath("personas.json").read_text("utf-8"))
    return {p["id"]: Persona.model_validate(p) for p in raw["personas"]}


def get_persona(name: str) -> Persona:
    """Return the persona called ``name``.

    Raises:
        PersonaError: naming the known personas.
    """
    try:
        return personas()[name]
    except KeyError:
        raise PersonaError(f"unknown persona {name!r} (known: {', '.join(sorted(personas()))})") from None
