"""Chat models reached with the official ``openai`` client: OpenAI and OpenAI-compatible endpoints.

``openai/...``, ``hosted_vllm/...``, ``ollama/...`` and ``ollama_chat/...``
names go through ``openai.AsyncOpenAI`` rather than litellm, and so do the
``mock/...`` scripts, served in-process (:mod:`arena.models.mock_transport`).
Measured on one core against a local OpenAI-compatible server, litellm spent
about 3.4 ms of CPU per call and this path about 0.6 ms: a model served on
the user's own machine answers faster than litellm could ask.

What stays the same as through litellm: the name's parameters (``api_base``,
``api_key``, ``temperature``, ``max_tokens``, ``timeout``...), the call
policy (rate limits, concurrency, retries with backoff: the client's own
retries are off), and cost from litellm's price map for OpenAI's own models.
A name with its own ``api_base`` is not priced (a self-hosted model costs
nothing per token); ``?client=litellm`` sends any name through litellm,
which prices what it knows.

Three choices keep the client cheap, each measured:

* one client per endpoint and event loop, over aiohttp (0.4 ms less per call
  than the client's default transport);
* requests go through the client's ``post``, not ``chat.completions.create``:
  the latter walks every message of the request through its parameter
  transformer, which cost 3 ms per call at twenty messages and grows with
  the dialogue; the reply comes back as decoded JSON and only the fields
  read are validated (:class:`ChatReply`);
* a model's price per token is looked up once, not on every call.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from arena.core.errors import error_line
from arena.core.types import Usage
from arena.models.call_policy import CALL_PARAMS, CallPolicy, CallPolicyError, gate_for

CLIENT_PARAMS = frozenset({"api_base", "api_key", "client", "timeout"})
"""Name parameters that configure the client or the call, never sent in the request body."""

_BODY_FLOATS = frozenset({"temperature", "top_p", "presence_penalty", "frequency_penalty"})
_BODY_INTS = frozenset({"max_tokens", "max_completion_tokens", "seed", "n"})


@dataclass(frozen=True)
class Endpoint:
    """Where a provider's names are served by default."""

    base_env: str | None
    """Environment variable that overrides the base URL."""
    default_base: str | None
    """Base URL when neither ``api_base`` nor the variable is set (None: the client's own default)."""
    key_env: str | None
    """Environment variable holding the API key."""
    needs_key: bool
    """Whether a call without a key is refused before it is sent."""
    priced: bool
    """Whether litellm's price map prices this provider's models."""


ENDPOINTS: Mapping[str, Endpoint] = {
    "openai": Endpoint("OPENAI_BASE_URL", None, "OPENAI_API_KEY", True, True),
    "hosted_vllm": Endpoint("HOSTED_VLLM_API_BASE", None, "HOSTED_VLLM_API_KEY", False, False),
    "ollama": Endpoint("OLLAMA_API_BASE", "http://localhost:11434", None, False, False),
    "ollama_chat": Endpoint("OLLAMA_API_BASE", "http://localhost:11434", None, False, False),
}
"""Providers whose names the official client serves, besides ``mock``."""


class ClientConfigError(ValueError):
    """A name the client cannot call as given (no endpoint, no key)."""


def _v1(base: str) -> str:
    # Ollama's OpenAI-compatible routes live under /v1; its native base URL is what users set.
    base = base.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def body_params(params: Mapping[str, str], model: str) -> dict[str, Any]:
    """The request-body fields a name's parameters give, typed.

    Role, call-policy and client parameters are left out; the others go in
    the body as given, so an endpoint's own extensions reach it.

    Raises:
        ModelError: naming a parameter whose value is not the number it must be.
    """
    from arena.models import ROLE_PARAMS, typed_params

    return typed_params(params, model, ROLE_PARAMS | CALL_PARAMS | CLIENT_PARAMS, floats=_BODY_FLOATS, ints=_BODY_INTS)


# ---------------------------------------------------------------- shared clients

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, str], Any]] = (
    weakref.WeakKeyDictionary()
)


_PLATFORM_HEADERS = ("Lang", "Package-Version", "OS", "Arch", "Runtime", "Runtime-Version", "Async")
"""The headers the client adds to describe itself (``X-Stainless-...``), set per client."""
_PER_CALL_HEADERS = ("Retry-Count", "Read-Timeout")
"""The ones it adds per request, unless the request's own headers name them."""


def _without(names: Sequence[str]) -> dict[str, Any]:
    """Headers that tell the client to leave out its ``X-Stainless-<name>`` headers.

    No endpoint needs them to answer, and each header is parsed and copied several times per
    request on its way through the client's layers: about a tenth of the client's CPU per call.
    """
    import openai

    return {f"X-Stainless-{n}": openai.Omit() for n in names}


def shared_client(base_url: str | None, api_key: str, transport: str = "aiohttp") -> Any:
    """The ``AsyncOpenAI`` client of one endpoint in the running event loop, made on first use.

    Args:
        base_url: The endpoint's base URL (None: the client's default, OpenAI).
        api_key: The key sent with each request.
        transport: ``aiohttp`` for a real endpoint; ``mock`` for the in-process scripts.
    """
    import openai

    loop = asyncio.get_running_loop()
    clients = _clients.setdefault(loop, {})
    key = (base_url or "", api_key, transport)
    client = clients.get(key)
    if client is None:
        if transport == "mock":
            from arena.models.mock_transport import mock_http_client

            http_client = mock_http_client()
        else:
            import httpx2

            # Connections are kept for as many calls as a run keeps in flight;
            # the client's default keeps 100, and reconnecting cost CPU on both ends.
            http_client = openai.DefaultAioHttpClient(
                limits=httpx2.Limits(max_connections=4096, max_keepalive_connections=4096)
            )
        client = clients[key] = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,
            http_client=http_client,
            default_headers=_without(_PLATFORM_HEADERS),
        )
    return client


async def close_clients() -> None:
    """Close the clients made in the running event loop (their connections with them)."""
    clients = _clients.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        await client.close()


# ---------------------------------------------------------------- prices

_prices: dict[str, tuple[float, float] | None] = {}


def price_per_token(model: str) -> tuple[float, float] | None:
    """(input, output) USD per token from litellm's price map, looked up once per model; None if unpriced."""
    if model not in _prices:
        from arena.models import load_litellm

        litellm = load_litellm()
        try:
            info = litellm.get_model_info(model)
            _prices[model] = (
                float(info.get("input_cost_per_token") or 0.0),
                float(info.get("output_cost_per_token") or 0.0),
            )
        except Exception:  # noqa: BLE001 - litellm raises plain Exception for a model it does not price
            _prices[model] = None
    return _prices[model]


# ---------------------------------------------------------------- the reply


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str | None = None


class _Choice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: _Message


class _Usage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatReply(BaseModel):
    """The fields of a chat completion the arena reads; the rest of the reply is ignored.

    The client hands over the reply's bytes and this decodes and checks them in one pass: building
    the client's own full ``ChatCompletion`` object took a quarter of the client's CPU per call.
    """

    model_config = ConfigDict(extra="ignore")
    choices: list[_Choice] = []
    """The completions; the first is the reply."""
    usage: _Usage | None = None
    """Tokens, when the endpoint counts them."""


class MalformedReply(ValueError):
    """An endpoint answered 200 with something that is not a chat completion."""


# ---------------------------------------------------------------- the model


class OpenAIClientModel:
    """How one name is called with the official client (used by :class:`arena.models.OpenAIModel`)."""

    def __init__(self, provider: str, name: str, params: Mapping[str, str], raw_name: str) -> None:
        """Read the endpoint, key, body fields and policy from a parsed name.

        Raises:
            ValueError: for a parameter with a bad value.
            CallPolicyError: for a bad pacing or retry parameter.
        """
        self.raw_name = raw_name
        self.provider = provider
        self.mock = provider == "mock"
        self.policy = CallPolicy.from_params(params, raw_name)
        self.body = body_params(params, f"{provider}/{name}")
        self.timeout: float | None = None
        if "timeout" in params:
            try:
                self.timeout = float(params["timeout"])
            except ValueError:
                raise ValueError(f"model {provider}/{name}: parameter timeout must be a number") from None
        if self.mock:
            # The script reads its parameters from the model field, as it did through litellm.
            self.model_field = raw_name.strip().split("/", 1)[1]
            self.base_url: str | None = "http://mock.invalid/v1"
            self.api_key = "mock"
            self.fixed_cost = float(params.get("cost", "0") or 0)
            self.priced_as: str | None = None
            return
        ep = ENDPOINTS[provider]
        self.model_field = name
        base = params.get("api_base") or (os.environ.get(ep.base_env) if ep.base_env else None) or ep.default_base
        self.base_url = _v1(base) if base and provider.startswith("ollama") else base
        self.api_key = params.get("api_key") or (os.environ.get(ep.key_env, "") if ep.key_env else "")
        self.needs_key = ep.needs_key
        self.fixed_cost = 0.0
        # A model behind a base URL of the user's own (a local server, a gateway) is not OpenAI's to
        # price; reading litellm's price map for it would also import litellm, seconds per worker.
        self.priced_as = f"{provider}/{name}" if ep.priced and not params.get("api_base") else None

    def client(self) -> Any:
        """The shared client for this name's endpoint.

        Raises:
            ClientConfigError: when the endpoint needs a key and none is set.
        """
        if self.mock:
            return shared_client(self.base_url, self.api_key, "mock")
        if not self.api_key and self.needs_key and not self.base_url:
            raise ClientConfigError(f"{self.raw_name}: no API key (set OPENAI_API_KEY, or api_key=... in the name)")
        if self.base_url is None and self.provider == "hosted_vllm":
            raise ClientConfigError(
                f"{self.raw_name}: no endpoint (set HOSTED_VLLM_API_BASE, or api_base=... in the name)"
            )
        # Self-hosted endpoints usually take any key; the client refuses none at all.
        return shared_client(self.base_url, self.api_key or "none")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """What a call cost, in USD."""
        if self.fixed_cost or self.priced_as is None:
            return self.fixed_cost
        price = price_per_token(self.priced_as)
        if price is None:
            return 0.0
        return prompt_tokens * price[0] + completion_tokens * price[1]

    async def call(self, messages: list[dict[str, str]], max_tokens_hint: int) -> tuple[str, Usage, float]:
        """One chat completion within the call policy: (text, usage, latency in seconds)."""
        client = self.client()
        gate = gate_for(self.raw_name, self.policy)
        estimate = sum(len(m.get("content") or "") for m in messages) // 4 + max_tokens_hint
        body = {"model": self.model_field, "messages": messages, **self.body}
        options: dict[str, Any] = {"headers": _without(_PER_CALL_HEADERS)}
        if self.timeout is not None:
            options["timeout"] = self.timeout
        # The reply's bytes are read by ChatReply in one pass; asked for a dict, the client decoded
        # the JSON and then walked every value of it again to build its own copy.
        attempt: Callable[[], Any] = lambda: client.post(  # noqa: E731 - one attempt, retried by the gate
            "/chat/completions", body=body, cast_to=bytes, options=options
        )
        t0 = time.perf_counter()
        try:
            raw, retries, waited = await gate.call(attempt, estimate)
        except Exception as exc:  # raised again as it is; a connection error gets its cause named
            _name_the_cause(exc)
            raise
        latency = time.perf_counter() - t0
        try:
            resp = ChatReply.model_validate_json(raw)
        except ValidationError as exc:
            raise MalformedReply(f"{self.raw_name}: the endpoint's reply is not a chat completion: {exc}") from None
        text = (resp.choices[0].message.content or "") if resp.choices else ""
        prompt = resp.usage.prompt_tokens if resp.usage else 0
        completion = resp.usage.completion_tokens if resp.usage else 0
        usage = Usage(
            calls=1,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=self.cost(prompt, completion),
            retries=retries,
            rate_wait_s=waited,
        )
        return text, usage, latency


_settings: dict[tuple[str, str], OpenAIClientModel] = {}


def check_params(provider: str, name: str, params: Mapping[str, str], raw_name: str) -> OpenAIClientModel:
    """Build the call settings of a name, turning bad values into the model layer's error.

    Settings are kept per name and endpoint environment: every consultation builds its models
    anew, and reading the same name again cost a quarter of a millisecond each time.

    Raises:
        ValueError: one line naming the parameter.
    """
    ep = ENDPOINTS.get(provider)
    env = "|".join(os.environ.get(v, "") for v in ((ep.base_env, ep.key_env) if ep else ()) if v)
    key = (raw_name, env)
    found = _settings.get(key)
    if found is None:
        try:
            found = OpenAIClientModel(provider, name, params, raw_name)
        except CallPolicyError as exc:
            raise ValueError(str(exc)) from None
        if len(_settings) > 1024:
            _settings.clear()
        _settings[key] = found
    return found


def _name_the_cause(exc: Exception) -> None:
    """When the client could not reach the endpoint, add what broke to ``exc``'s message.

    The client says only "Connection error." or "Request timed out."; the
    cause says which ("connection reset by peer"), and the consultation's
    stored error is the message's first line.
    """
    from openai import APIConnectionError

    cause = exc.__cause__
    if not isinstance(exc, APIConnectionError) or cause is None:
        return
    said = error_line(cause)
    if said and said not in exc.message:
        exc.message = f"{exc.message} ({said})"
        exc.args = (exc.message,)
