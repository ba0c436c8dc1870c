"""The registry of roles: which provider plays a doctor, patient, judge, verifier, generator or gatekeeper.

``resolve(role, name)`` validates a name once and returns a :class:`Resolved`
that says which provider claimed it, whether it calls litellm, and builds the
policy. It is the one place a provider is added.

Providers are declared as entry points of the group ``medarena.roles``, named
``<role>.<key>`` and pointing at a :class:`Provider`. The built-in ones are
listed here, in :data:`BUILTIN_ENTRY_POINTS`, rather than in ``pyproject.toml``:
they then resolve from a source checkout and from an install whose metadata is
older than the code, and they load through the same path as a third party's.
Nothing is imported until a role is resolved, so this module, low in the
layers, never imports the doctors, personas, judges or distiller at load time.

A third party adds a provider in its own package's metadata::

    [project.entry-points."medarena.roles"]
    "doctor.echo" = "my_package.echo:ECHO_DOCTOR"

A built-in provider of a role is named ``builtin/<key>``; any other provider
says which names it claims. A role may have one ``fallback`` provider, the chat
model, that takes every name no other provider claims.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from arena.models import ChatModel, ModelError, get_model, parse_model_name

GROUP = "medarena.roles"
"""The entry-point group providers are declared in."""


class Role(StrEnum):
    """What a named model is asked to do."""

    DOCTOR = "doctor"
    PATIENT = "patient"
    JUDGE = "judge"
    VERIFIER = "verifier"
    """A chat model that reviews a claim: the guard's ``--guard-verifier``, the ``--diagnosis-judge``."""
    GENERATOR = "generator"
    """Writes the distiller's QA items."""
    GATEKEEPER = "gatekeeper"
    """Answers the doctor's exam and test requests from the case."""


def _accept(name: str) -> None:
    return None


@dataclass(frozen=True)
class Provider:
    """One way of playing a role."""

    role: Role
    """The role it plays."""
    key: str
    """Its name within the role: ``checklist`` for ``builtin/checklist``, ``chat``, ``http``."""
    factory: Callable[..., Any]
    """Builds the policy: ``factory(name, **context)``, the context depending on the role."""
    builtin: bool = False
    """Whether it is named ``builtin/<key>`` (with optional ``?`` parameters)."""
    claims: Callable[[str], bool] | None = None
    """Which names it takes; by default a built-in takes ``builtin/<key>`` with any ``?`` parameters,
    and any other provider nothing (the fallback takes what is left)."""
    fallback: bool = False
    """Whether it takes every name that is not ``builtin/...`` and no other provider claims (chat models)."""
    check: Callable[[str], object] = _accept
    """Raises :class:`ModelError` for a name it takes but cannot play (bad parameters)."""
    uses_litellm: bool = False
    """Whether its policies call models through litellm."""

    def takes(self, name: str) -> bool:
        """Whether this provider, not the fallback, is the one for ``name``."""
        if self.claims is not None:
            return self.claims(name)
        if self.builtin:
            parsed = _parse(name)
            return parsed is not None and parsed.provider == "builtin" and parsed.name == self.key
        return False


def _parse(name: str) -> Any:
    try:
        return parse_model_name(name)
    except ModelError:
        return None


@dataclass(frozen=True)
class Resolved:
    """A validated name and the provider that plays it."""

    role: Role
    name: str
    provider: Provider

    @property
    def uses_litellm(self) -> bool:
        """Whether the policy calls models through litellm.

        A chat model's name decides: ``openai/...`` and ``mock/...`` names
        are called with the official client (see :func:`arena.models.client_of`).
        """
        if not self.provider.uses_litellm:
            return False
        if self.provider.fallback:
            model = get_model(self.name)
            return not isinstance(model, ChatModel) or model.uses_litellm
        return True

    def build(self, **context: Any) -> Any:
        """Build the policy (``context`` holds what the role needs: a seed, a case...)."""
        return self.provider.factory(self.name, **context)


def chat_model(name: str) -> ChatModel:
    """Return the chat model called ``name``, for a role's fallback provider.

    Raises:
        ModelError: for a malformed name, bad call parameters, or a ``builtin/`` name.
    """
    model = get_model(name)
    if not isinstance(model, ChatModel):
        raise ModelError(f"{name!r} is a built-in policy, not a chat model")
    return model


def _ep(role: Role, key: str, target: str) -> EntryPoint:
    return EntryPoint(name=f"{role}.{key}", value=target, group=GROUP)


BUILTIN_ENTRY_POINTS: tuple[EntryPoint, ...] = (
    _ep(Role.DOCTOR, "checklist", "arena.doctors:CHECKLIST_DOCTOR"),
    _ep(Role.DOCTOR, "human", "arena.doctors:HUMAN_DOCTOR"),
    _ep(Role.DOCTOR, "http", "arena.doctors:HTTP_DOCTOR"),
    _ep(Role.DOCTOR, "chat", "arena.doctors:CHAT_DOCTOR"),
    _ep(Role.PATIENT, "patient", "personas.factory:BUILTIN_PATIENT"),
    _ep(Role.PATIENT, "chat", "personas.factory:CHAT_PATIENT"),
    _ep(Role.VERIFIER, "chat", "personas.factory:CHAT_VERIFIER"),
    _ep(Role.GATEKEEPER, "case", "personas.factory:CASE_GATEKEEPER"),
    _ep(Role.GATEKEEPER, "chat", "personas.factory:CHAT_GATEKEEPER"),
    _ep(Role.JUDGE, "rubric", "judges.committee:RUBRIC_JUDGE"),
    _ep(Role.JUDGE, "safety", "judges.committee:SAFETY_JUDGE"),
    _ep(Role.JUDGE, "chat", "judges.committee:CHAT_JUDGE"),
    _ep(Role.GENERATOR, "templates", "distill.pipeline:TEMPLATE_GENERATOR"),
    _ep(Role.GENERATOR, "chat", "distill.pipeline:CHAT_GENERATOR"),
)
"""The providers medarena ships, declared as entry points (loaded only on first resolution)."""


def installed_entry_points() -> Iterable[EntryPoint]:
    """Entry points that installed packages declare in :data:`GROUP` (the hook tests replace)."""
    return entry_points(group=GROUP)


@cache
def providers(role: Role) -> tuple[Provider, ...]:
    """Every provider of ``role``: built-ins first, then third parties in installation order.

    Only ``role``'s entry points are loaded, so resolving a doctor does not import the judges.

    Raises:
        ModelError: for an entry point that does not load, or is not a :class:`Provider` of ``role``
            under its own key, or a key two packages provide.
    """
    found: list[Provider] = []
    seen: dict[str, str] = {}
    for ep in (*BUILTIN_ENTRY_POINTS, *installed_entry_points()):
        ep_role, _, key = ep.name.partition(".")
        if ep_role != role:
            continue
        where = f"entry point {ep.name} = {ep.value}"
        if key in seen:
            if seen[key] == ep.value:
                continue  # the same package seen twice (an install and a checkout)
            raise ModelError(f"{where}: {role} {key!r} is already provided by {seen[key]}")
        try:
            provider = ep.load()
        except Exception as e:  # noqa: BLE001 - a broken plugin is named in one line, not a traceback
            raise ModelError(f"{where}: cannot load: {e}") from None
        if not isinstance(provider, Provider) or provider.role != role or provider.key != key:
            raise ModelError(f"{where}: expected a Provider of role {role.value!r} named {key!r}")
        seen[key] = ep.value
        found.append(provider)
    return tuple(found)


def reload() -> None:
    """Forget the loaded providers and resolved names, so entry points are read again on the next resolution."""
    providers.cache_clear()
    _resolve.cache_clear()


def builtin_names(role: Role) -> list[str]:
    """The ``builtin/...`` names ``role`` accepts."""
    return [f"builtin/{p.key}" for p in providers(role) if p.builtin]


def run_policies(
    doctors: Iterable[str], patient: str, gatekeeper: str, verifier: str | None = None
) -> list[tuple[Role, str]]:
    """Every policy a run plays, by role and name: each doctor once, the patient, the gatekeeper, the guard's verifier.

    Args:
        doctors: The doctor names (repeats are played once).
        patient: The patient name.
        gatekeeper: The gatekeeper name.
        verifier: The guard's verifier, if any.

    Returns:
        ``(role, name)`` pairs, doctors first in the order given.
    """
    named = [(Role.DOCTOR, d) for d in dict.fromkeys(doctors)]
    named += [(Role.PATIENT, patient), (Role.GATEKEEPER, gatekeeper)]
    if verifier:
        named.append((Role.VERIFIER, verifier))
    return named


def resolve(role: Role | str, name: str) -> Resolved:
    """Validate ``name`` for ``role`` and return the provider that plays it.

    Args:
        role: The role.
        name: A model name: ``builtin/<key>[?k=v]``, a name a provider claims, or a chat model name.

    Returns:
        The resolved name; ``.build(**context)`` makes the policy.

    Raises:
        ModelError: one line, for a malformed name, a ``builtin/`` name the role does not have
            (naming the ones it has), or parameters the provider rejects.
    """
    return _resolve(Role(role), name)


@cache
def _resolve(role: Role, name: str) -> Resolved:
    # Cached, so a name checked before a run is not checked again for every consultation; errors are not cached.
    found = providers(role)
    chosen = next((p for p in found if p.takes(name)), None)
    if chosen is None:
        parsed = parse_model_name(name)  # a malformed name fails here, with the model layer's text
        if parsed.provider == "builtin":
            known = builtin_names(role)
            if not known:
                raise ModelError(
                    f"{name!r} is a built-in policy, not a chat model (accepted: provider/name, e.g. openai/gpt-4o)"
                )
            raise ModelError(f"unknown built-in {role} {name!r} (known: {', '.join(known)})")
        chosen = next((p for p in found if p.fallback), None)
        if chosen is None:
            raise ModelError(f"no {role} provider takes {name!r}")
    chosen.check(name)
    return Resolved(role, name, chosen)


__all__ = [
    "BUILTIN_ENTRY_POINTS",
    "GROUP",
    "Provider",
    "Resolved",
    "Role",
    "builtin_names",
    "chat_model",
    "installed_entry_points",
    "providers",
    "reload",
    "resolve",
]
