"""Builds the patient policy a model name asks for."""

from __future__ import annotations

from arena.agents import Patient
from arena.models import BuiltinRef, ModelError, get_model
from arena.types import Case, Persona
from personas.builtin_patient import BuiltinPatient
from personas.llm_patient import LLMPatient

BUILTIN_PATIENTS = ("patient",)


def check_patient(name: str) -> None:
    """Raise if ``name`` cannot play the patient.

    Raises:
        ModelError: for malformed names and unknown built-in policies.
    """
    model = get_model(name)
    if isinstance(model, BuiltinRef) and model.policy not in BUILTIN_PATIENTS:
        raise ModelError(f"unknown built-in patient {name!r} (known: builtin/patient)")


def get_patient(name: str, case: Case, persona: Persona) -> Patient:
    """Return a patient policy for one consultation.

    Args:
        name: ``builtin/patient`` or any chat model name.
        case: The case it plays.
        persona: Its voice.
    """
    check_patient(name)
    model = get_model(name)
    if isinstance(model, BuiltinRef):
        return BuiltinPatient(case, persona, name=name)
    return LLMPatient(model, case, persona)
