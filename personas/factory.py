"""Builds the patient policy a model name asks for."""

from __future__ import annotations

from arena.core.agents import Patient
from arena.core.types import Case, Persona
from arena.models import BuiltinRef, ChatModel, ModelError, get_model
from personas.builtin_patient import BuiltinPatient
from personas.guard import Guard
from personas.llm_patient import LLMPatient
from personas.matching import DEFAULT_MATCHER, MatcherError, get_matcher

BUILTIN_PATIENTS = ("patient",)


def check_patient(name: str) -> None:
    """Raise if ``name`` cannot play the patient.

    Raises:
        ModelError: for malformed names and unknown built-in policies.
    """
    model = get_model(name)
    if isinstance(model, BuiltinRef) and model.policy not in BUILTIN_PATIENTS:
        raise ModelError(f"unknown built-in patient {name!r} (known: builtin/patient)")


def check_guard(matcher: str, verifier: str | None) -> None:
    """Raise if the guard of a model-played patient cannot use this matcher or verifier.

    Raises:
        ModelError: for an unknown or uninstalled matcher, or a verifier that is not a chat model.
    """
    try:
        get_matcher(matcher)
    except MatcherError as e:
        raise ModelError(f"--guard-matcher: {e}") from None
    if verifier is not None:
        try:
            get_verifier(verifier)
        except ModelError as e:
            raise ModelError(f"--guard-verifier: {e}") from None


def get_verifier(name: str) -> ChatModel:
    """Return the chat model called ``name``, to review the guard's verdicts.

    Raises:
        ModelError: for a malformed name, or a built-in policy, which cannot judge a claim.
    """
    model = get_model(name)
    if not isinstance(model, ChatModel):
        raise ModelError(f"{name!r} is a built-in policy, not a chat model")
    return model


def get_patient(
    name: str,
    case: Case,
    persona: Persona,
    guard_matcher: str = DEFAULT_MATCHER,
    guard_verifier: str | None = None,
) -> Patient:
    """Return a patient policy for one consultation.

    Args:
        name: ``builtin/patient`` or any chat model name.
        case: The case it plays.
        persona: Its voice.
        guard_matcher: Matcher backend of the hallucination guard on a model-played patient.
        guard_verifier: Chat model that reviews the guard's verdicts that are not firm; None trusts the matcher.
    """
    check_patient(name)
    model = get_model(name)
    if isinstance(model, BuiltinRef):
        # The built-in patient says only its facts' own words: it has no guard to configure.
        return BuiltinPatient(case, persona, name=name)
    verifier = get_verifier(guard_verifier) if guard_verifier is not None else None
    guard = Guard(case, matcher=guard_matcher, verifier=verifier, persona=persona)
    return LLMPatient(model, case, persona, guard=guard)
