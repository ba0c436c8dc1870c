"""Model names resolved in one place.

A model is named ``provider/name`` with optional ``?key=value`` parameters,
e.g. ``openai/gpt-4o-mini?temperature=0`` or ``mock/doctor?latency=0.5``.

* ``builtin/...`` names are in-process policies (doctor, patient, judge) that
  never touch litellm; :func:`get_model` returns a :class:`BuiltinRef` and the
  role's factory builds the policy.
* ``openai/...``, ``hosted_vllm/...``, ``ollama/...``, ``ollama_chat/...`` and
  the ``mock/...`` scripts are chat models called with the official ``openai``
  client (:mod:`arena.models.openai_compat`); the mock scripts are served
  in-process, so tests and benchmarks run the same client path as a real
  OpenAI-compatible endpoint.
* every other name is a chat model called through ``litellm.acompletion``;
  ``?client=litellm`` sends any name that way (``mock/...`` then goes through
  a litellm custom provider registered by this module).

Imports only ``arena.core``. ``registry`` resolves every role's provider by
name; ``ask_json`` gets a validated reply from a model.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict

from arena.core.types import Usage
from arena.models.call_policy import CALL_PARAMS, CallPolicy, CallPolicyError, gate_for

# litellm fetches its price map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

Message = dict[str, str]
T = TypeVar("T")


class ModelError(ValueError):
    """A model name that cannot be resolved."""


class Completion(BaseModel):
    """One chat completion's text and what it cost."""

    model_config = ConfigDict(extra="forbid")

    text: str
    """The assistant's reply."""
    usage: Usage
    """Tokens and cost of this call (``calls`` is 1)."""
    latency_s: float = 0.0
    """Wall time of the call."""


@dataclass(frozen=True)
class ModelName:
    """A parsed ``provider/name?k=v`` model name."""

    provider: str
    """Part before the first slash."""
    name: str
    """Part after it, without parameters."""
    params: dict[str, str] = field(default_factory=dict)
    """Parameters after ``?``."""

    @property
    def base(self) -> str:
        """``provider/name`` without parameters."""
        return f"{self.provider}/{self.name}"


def parse_model_name(spec: str) -> ModelName:
    """Split a model name into provider, name and parameters.

    Args:
        spec: A name such as ``openai/gpt-4o-mini?temperature=0``.

    Returns:
        The parsed name.

    Raises:
        ModelError: if the name has no ``provider/`` prefix.
    """
    spec = spec.strip()
    base, _, query = spec.partition("?")
    provider, sep, name = base.partition("/")
    if not sep or not provider or not name:
        raise ModelError(f"model name {spec!r} must look like provider/name (e.g. builtin/checklist, openai/gpt-4o)")
    return ModelName(provider=provider, name=name, params=dict(parse_qsl(query, keep_blank_values=True)))


class ChatModel(ABC):
    """Anything that turns a list of chat messages into a reply."""

    name: str
    uses_litellm: bool = True
    """Whether its calls go through litellm (which then must be imported)."""

    @abstractmethod
    async def complete(self, messages: list[Message]) -> Completion:
        """Return the model's reply to ``messages``."""


_FLOAT_PARAMS = {"temperature", "top_p", "timeout"}
ROLE_PARAMS = frozenset({"weight", "mode", "style"})
"""Parameters that configure the role a model plays (a judge's vote weight, a
judge's item or batch mode, a doctor's style); they are not sent to the provider."""
_INT_PARAMS = {"max_tokens", "seed"}


def typed_params(
    params: Mapping[str, str], model: str, leave_out: Collection[str], *, floats: Collection[str], ints: Collection[str]
) -> dict[str, Any]:
    """A name's parameters as a client takes them: ``floats`` and ``ints`` as numbers, others as given.

    Args:
        params: The ``?k=v`` parameters of a model name.
        model: ``provider/name``, for error messages.
        leave_out: Parameters that are not the client's (role, call policy...).
        floats: Parameters that must be numbers.
        ints: Parameters that must be whole numbers.

    Raises:
        ModelError: naming the first parameter whose value is not the number it must be.
    """
    out: dict[str, Any] = {}
    for k, v in params.items():
        if k in leave_out:
            continue
        try:
            out[k] = float(v) if k in floats else int(v) if k in ints else v
        except ValueError:
            kind = "a number" if k in floats else "a whole number"
            raise ModelError(f"model {model}: parameter {k} must be {kind}, not {v!r}") from None
    return out


class LiteLLMModel(ChatModel):
    """A chat model called through ``litellm.acompletion``."""

    def __init__(self, spec: ModelName, raw_name: str) -> None:
        """Create a model for a parsed name.

        Args:
            spec: The parsed name.
            raw_name: The name as the user gave it, kept for records.
        """
        self.name = raw_name
        self.litellm_model = spec.base
        self.kwargs: dict[str, Any] = {}
        try:
            self.policy = CallPolicy.from_params(spec.params, raw_name)
        except CallPolicyError as exc:
            raise ModelError(str(exc)) from None
        if spec.provider == "mock":
            # The mock provider reads its script parameters from the model string.
            self.litellm_model = raw_name.strip()
            _price_as_free(self.litellm_model, f"mock/{spec.name}")
            return
        self.kwargs = typed_params(
            spec.params, spec.base, ROLE_PARAMS | CALL_PARAMS | {"client"}, floats=_FLOAT_PARAMS, ints=_INT_PARAMS
        )

    async def complete(self, messages: list[Message]) -> Completion:
        """Call the model through litellm, within its limits and retries, and record tokens and cost."""
        litellm = load_litellm()
        gate = gate_for(self.name, self.policy)
        # A rough prompt size (4 characters a token) is enough to pace a
        # tokens-per-minute limit before the provider counts exactly.
        estimate = sum(len(m.get("content") or "") for m in messages) // 4 + int(self.kwargs.get("max_tokens", 256))
        t0 = time.perf_counter()
        token = _QUIET_CALL.set(True)
        try:
            resp, retries, waited = await gate.call(
                lambda: litellm.acompletion(model=self.litellm_model, messages=messages, **self.kwargs), estimate
            )
        finally:
            _QUIET_CALL.reset(token)
        latency = time.perf_counter() - t0
        text = resp.choices[0].message.content or ""
        u = getattr(resp, "usage", None)
        cost = (getattr(resp, "_hidden_params", None) or {}).get("response_cost") or 0.0
        return Completion(
            text=text,
            usage=Usage(
                calls=1,
                prompt_tokens=int(getattr(u, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(u, "completion_tokens", 0) or 0),
                cost_usd=float(cost),
                retries=retries,
                rate_wait_s=waited,
            ),
            latency_s=latency,
        )


class OpenAIModel(ChatModel):
    """A chat model called with the official ``openai`` client (see :mod:`arena.models.openai_compat`)."""

    def __init__(self, spec: ModelName, raw_name: str) -> None:
        """Create a model for a parsed name.

        Raises:
            ModelError: for a parameter with a bad value.
        """
        from arena.models.openai_compat import check_params

        self.name = raw_name
        try:
            self.call = check_params(spec.provider, spec.name, spec.params, raw_name)
        except ValueError as exc:
            raise ModelError(str(exc)) from None
        self.policy = self.call.policy
        # Pricing a real provider's model reads litellm's price map; self-hosted and mock models are free.
        self.uses_litellm = self.call.priced_as is not None

    async def complete(self, messages: list[Message]) -> Completion:
        """Call the endpoint within the model's limits and retries, and record tokens and cost."""
        text, usage, latency = await self.call.call(messages, int(self.call.body.get("max_tokens", 256)))
        return Completion(text=text, usage=usage, latency_s=latency)


def client_of(spec: ModelName) -> str:
    """Which client calls a parsed name: ``openai`` or ``litellm``.

    Raises:
        ModelError: for a ``client=`` value that is neither.
    """
    from arena.models.openai_compat import ENDPOINTS

    asked = spec.params.get("client")
    if asked is not None:
        if asked not in ("openai", "litellm"):
            raise ModelError(f"model {spec.base}: client must be openai or litellm, not {asked!r}")
        if asked == "openai" and spec.provider not in ENDPOINTS and spec.provider != "mock":
            raise ModelError(
                f"model {spec.base}: the openai client serves {', '.join([*ENDPOINTS, 'mock'])} names only"
            )
        return asked
    return "openai" if spec.provider in ENDPOINTS or spec.provider == "mock" else "litellm"


async def closing(work: Awaitable[T]) -> T:
    """Await ``work``, then close the model clients it opened in this event loop.

    For a loop that ends with the work (``asyncio.run(closing(...))``): an
    HTTP client left open when its loop closes is reported as a leak.
    """
    from arena.models.openai_compat import close_clients

    try:
        return await work
    finally:
        await close_clients()


_free: set[str] = set()


def _price_as_free(*names: str) -> None:
    """Tell litellm these models cost nothing.

    An unpriced model's zero cost sends litellm looking for a price on every
    call (a search through its whole price map, with fallbacks); an explicit
    zero price ends that search early.
    """
    new = [n for n in names if n not in _free]
    if not new:
        return
    litellm = load_litellm()
    free = {
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "cache_creation_input_token_cost": 0.0,
        "cache_read_input_token_cost": 0.0,
        "litellm_provider": "mock",
        "mode": "chat",
    }
    litellm.register_model({n: dict(free) for n in new})
    _free.update(new)


@dataclass(frozen=True)
class BuiltinRef:
    """A ``builtin/...`` name: an in-process policy, built by its role's factory."""

    name: str
    """The full name as given."""
    policy: str
    """The part after ``builtin/``."""
    params: dict[str, str]
    """Parameters after ``?``."""


def get_model(spec: str) -> ChatModel | BuiltinRef:
    """Resolve a model name.

    Args:
        spec: ``provider/name[?k=v...]``.

    Returns:
        A :class:`BuiltinRef` for ``builtin/...`` names, else a chat model:
        an :class:`OpenAIModel` for the names the official client serves
        (see :func:`client_of`), a :class:`LiteLLMModel` for the others.

    Raises:
        ModelError: if the name is malformed, names an unknown mock script or
            local model, or names a local model whose ``[local]`` extra is
            not installed.
    """
    parsed = parse_model_name(spec)
    if parsed.provider == "builtin":
        return BuiltinRef(name=spec, policy=parsed.name, params=parsed.params)
    if parsed.provider == "mock":
        from arena.models import mock_scripts

        mock_scripts.check_script(parsed.name)
    if parsed.provider == "local":
        load_litellm()
        from arena.models import local_provider

        local_provider.check_model(parsed.name)
    if client_of(parsed) == "openai":
        return OpenAIModel(parsed, spec)
    return LiteLLMModel(parsed, spec)


_litellm: Any = None
_QUIET_CALL: Any = None


def load_litellm() -> Any:
    """Import litellm once, quiet and offline, with our providers registered.

    ``mock/...`` is always registered; ``local/...`` when llama-cpp-python is
    installed.

    Importing litellm costs seconds, so it happens on first use, not when the
    CLI starts. The product reads cost and usage from responses and uses none
    of litellm's logging callbacks, so those are switched off: they cost CPU on
    every call and queue work in a background worker.
    """
    global _litellm, _QUIET_CALL
    if _litellm is None:
        import litellm
        from litellm._internal_context import is_internal_call

        from arena.models import local_provider, mock_provider

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        # No logging callbacks are registered, so nothing would log messages;
        # turning message logging "off" would make litellm redact (copy) every
        # request and response for no reader, which costs CPU on each call.
        litellm.turn_off_message_logging = False
        litellm.callbacks = []
        litellm.success_callback = []
        litellm.failure_callback = []
        litellm.drop_params = True
        # litellm skips its success/failure logging pipeline (standard logging
        # payload, zero-cost diagnostics, the logging worker queue) for calls
        # flagged as its own. Nothing here reads that pipeline, and it was
        # about 0.6 ms of the 1.8 ms of CPU each call took; cost and usage are
        # still computed on the response, which is all the product keeps.
        _QUIET_CALL = is_internal_call
        ours: list[Any] = [{"provider": "mock", "custom_handler": mock_provider.MockLLM()}]
        if local_provider.llama_cpp_available():
            # Without the [local] extra, get_model says what to install.
            ours.append({"provider": "local", "custom_handler": local_provider.LocalLLM()})
        names = {p["provider"] for p in ours}
        litellm.custom_provider_map = [
            *[p for p in (litellm.custom_provider_map or []) if p.get("provider") not in names],
            *ours,
        ]
        _litellm = litellm
    return _litellm
