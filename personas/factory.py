"""The patient, verifier and gatekeeper providers: which policy a model name asks for."""

from __future__ import annotations

from collections import OrderedDict

from arena.core.agents import Measurement, Patient
from arena.core.types import Case, Persona
from arena.models import ChatModel, ModelError
from arena.models.registry import Provider, Role, chat_model, resolve
from personas.builtin_patient import BuiltinPatient
from personas.deferred_patient import DeferredPatient
from personas.guard import Guard
from personas.llm_patient import LLMPatient, plausible_answers
from personas.matching import DEFAULT_MATCHER, MatcherError, get_matcher
from personas.measurement import CaseMeasurement
from personas.plausible import PlausibleAnswers, with_answers


def _builtin_patient(name: str, *, case: Case, persona: Persona, **_: object) -> Patient:
    # The built-in patient says only its facts' own words: it has no guard to configure.
    return BuiltinPatient(case, persona, name=name)


_PREPARED_KEEP = 256
"""Cases whose patient preparation a worker keeps (a run's trials and doctors replay the same cases)."""
_prepared: OrderedDict[tuple[str, str, str], tuple[Case, PlausibleAnswers, Guard]] = OrderedDict()


def _patient_parts(
    case: Case, persona: Persona, guard_matcher: str, verifier: ChatModel | None
) -> tuple[PlausibleAnswers, Guard]:
    """What a model-played patient of ``case`` may say where the case is silent, and its guard.

    The guard is given the condition's typical findings too, so a model that tells them is not sent back.
    """
    plausible = plausible_answers(case, persona)
    guard = Guard(with_answers(case, plausible.typical()), matcher=guard_matcher, verifier=verifier, persona=persona)
    return plausible, guard


def _prepared_patient(case: Case, persona: Persona, guard_matcher: str) -> tuple[PlausibleAnswers, Guard]:
    """The made-up answers and the guard of one case and persona, made once per worker.

    Building them reads every fact against the knowledge base, which cost more CPU than the
    consultation's model calls; the trials and doctors of a run share them. Both only cache what
    they compute, so consultations running at once can share them. (A guard with a verifier is
    never shared: it counts the verifier's usage for one consultation.)
    """
    key = (case.id, persona.id, guard_matcher)
    hit = _prepared.get(key)
    if hit is not None and hit[0] is case:
        _prepared.move_to_end(key)
        return hit[1], hit[2]
    plausible, guard = _patient_parts(case, persona, guard_matcher, None)
    _prepared[key] = (case, plausible, guard)
    if len(_prepared) > _PREPARED_KEEP:
        _prepared.popitem(last=False)
    return plausible, guard


def _chat_patient(
    name: str,
    *,
    case: Case,
    persona: Persona,
    guard_matcher: str = DEFAULT_MATCHER,
    guard_verifier: str | None = None,
    **_: object,
) -> Patient:
    model = chat_model(name)
    if guard_verifier is not None:
        plausible, guard = _patient_parts(case, persona, guard_matcher, get_verifier(guard_verifier))
        return LLMPatient(model, case, persona, guard=guard, plausible=plausible)

    def build() -> Patient:
        plausible, guard = _prepared_patient(case, persona, guard_matcher)
        return LLMPatient(model, case, persona, guard=guard, plausible=plausible)

    # Prepared while the doctor's first question is awaited, not before the consultation can start.
    return DeferredPatient(model.name, case, persona, build)


def _case_gatekeeper(name: str, *, case: Case, **_: object) -> Measurement:
    return CaseMeasurement(case)


def _chat_gatekeeper(name: str, *, case: Case, **_: object) -> Measurement:
    # The model writes only what neither the case nor the knowledge base can give.
    return CaseMeasurement(case, writer=chat_model(name))


BUILTIN_PATIENT = Provider(Role.PATIENT, "patient", _builtin_patient, builtin=True)
"""``builtin/patient``: says its case's facts in their own words."""
CHAT_PATIENT = Provider(Role.PATIENT, "chat", _chat_patient, fallback=True, check=chat_model, uses_litellm=True)
"""Any chat model, bounded by the hallucination guard."""
CHAT_VERIFIER = Provider(Role.VERIFIER, "chat", lambda name, **_: chat_model(name), fallback=True, check=chat_model)
"""Any chat model; a verifier has no built-in."""
CASE_GATEKEEPER = Provider(Role.GATEKEEPER, "case", _case_gatekeeper, builtin=True)
"""``builtin/case``: the case's findings, the condition's typical ones, else reference-normal results."""
CHAT_GATEKEEPER = Provider(
    Role.GATEKEEPER, "chat", _chat_gatekeeper, fallback=True, check=chat_model, uses_litellm=True
)
"""Any chat model: writes the results a case lacks when the knowledge base does not know its condition."""


def check_patient(name: str) -> None:
    """Raise if ``name`` cannot play the patient.

    Raises:
        ModelError: for malformed names and unknown built-in policies.
    """
    resolve(Role.PATIENT, name)


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


def check_gatekeeper(name: str) -> None:
    """Raise if ``name`` cannot answer exam and test requests.

    Raises:
        ModelError: for a malformed name or an unknown built-in.
    """
    try:
        resolve(Role.GATEKEEPER, name)
    except ModelError as e:
        raise ModelError(f"--gatekeeper: {e}") from None


def get_verifier(name: str) -> ChatModel:
    """Return the chat model called ``name``, to review the guard's verdicts.

    Raises:
        ModelError: for a malformed name, or a built-in policy, which cannot judge a claim.
    """
    model: ChatModel = resolve(Role.VERIFIER, name).build()
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
    patient: Patient = resolve(Role.PATIENT, name).build(
        case=case, persona=persona, guard_matcher=guard_matcher, guard_verifier=guard_verifier
    )
    return patient
