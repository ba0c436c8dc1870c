"""How model calls are paced and retried: rate limits, concurrency caps, backoff.

A model name carries its limits as parameters, e.g.
``openai/gpt-4o-mini?rpm=500&tpm=200000&concurrency=32&retries=5``. They
never reach the provider. Limits are per model over the whole run: each Ray
actor takes an equal share (:func:`set_share`), so N actors together stay
under the stated rate. A call that would exceed a limit waits; it never
fails for that reason.

Transient failures (HTTP 429 and 5xx, timeouts, dropped connections) are
retried with exponential backoff and full jitter, honouring a provider's
``Retry-After`` when it sends one; after ``retries`` attempts the last error
is raised and ends that consultation only.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

T = TypeVar("T")

CALL_PARAMS = frozenset({"rpm", "tpm", "concurrency", "retries", "backoff", "max_backoff"})
"""Model-name parameters that configure pacing and retries, not the provider."""

_TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


class CallPolicyError(ValueError):
    """A pacing or retry parameter with a bad value."""


@dataclass(frozen=True)
class CallPolicy:
    """Limits and retry settings for one model."""

    rpm: float | None = None
    """Requests per minute over the run; None for no limit."""
    tpm: float | None = None
    """Tokens per minute (estimated before the call); None for no limit."""
    concurrency: int | None = None
    """Calls in flight at once over the run; None for no limit."""
    retries: int = 4
    """Extra attempts after a transient failure."""
    backoff_s: float = 0.5
    """First backoff; it doubles per attempt, with full jitter."""
    max_backoff_s: float = 30.0
    """Longest single wait between attempts."""

    @classmethod
    def from_params(cls, params: Mapping[str, str], model: str = "") -> CallPolicy:
        """Read the policy from a model name's parameters.

        Args:
            params: The ``?k=v`` parameters of a model name.
            model: The model name, for error messages.

        Raises:
            CallPolicyError: naming the parameter when a value is not a
                positive number (``retries`` may be 0).
        """

        def number(key: str, *, integer: bool = False, allow_zero: bool = False) -> Any:
            raw = params.get(key)
            if raw is None:
                return None
            try:
                value = int(raw) if integer else float(raw)
            except ValueError:
                value = math.nan
            if not (value > 0 or (allow_zero and value == 0)) or math.isinf(value):
                kind = "a whole number" if integer else "a number"
                floor = ">= 0" if allow_zero else "> 0"
                raise CallPolicyError(f"model {model!r}: parameter {key}={raw!r} must be {kind} {floor}")
            return value

        retries = number("retries", integer=True, allow_zero=True)
        backoff = number("backoff", allow_zero=True)
        max_backoff = number("max_backoff")
        return cls(
            rpm=number("rpm"),
            tpm=number("tpm"),
            concurrency=number("concurrency", integer=True),
            retries=cls.retries if retries is None else retries,
            backoff_s=cls.backoff_s if backoff is None else backoff,
            max_backoff_s=cls.max_backoff_s if max_backoff is None else max_backoff,
        )


def is_transient(exc: BaseException) -> bool:
    """Whether an error is worth another attempt (rate limit, server error, timeout, network)."""
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in _TRANSIENT_STATUS
    name = type(exc).__name__
    # litellm and httpx name their transport failures this way; matching on
    # names keeps this module free of both imports.
    return name in {"APIConnectionError", "Timeout", "ConnectError", "ReadTimeout", "RemoteProtocolError"} or (
        name.endswith("TimeoutError") or name.endswith("ConnectionError")
    )


def retry_after_s(exc: BaseException | None) -> float | None:
    """The provider's ``Retry-After`` in seconds, if the error carries one."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        raw = headers.get("retry-after")
    except Exception:  # noqa: BLE001 - odd header containers are just ignored
        return None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


_share: float = 1.0


def set_share(share: float) -> None:
    """Set this process's share of every model's limits (1/number of actors)."""
    global _share
    _share = min(1.0, max(share, 1e-6))


def _per_minute(rate: float) -> AsyncLimiter:
    # Paced per second rather than per minute, so a limit never allows a
    # whole minute's calls in one burst; below one a second, one call per interval.
    if rate >= 60:
        return AsyncLimiter(rate / 60, 1)
    return AsyncLimiter(1, 60 / rate)


class Gate:
    """One model's limits inside one event loop."""

    def __init__(self, policy: CallPolicy, share: float) -> None:
        """Build the limiters for this process's share of the policy."""
        self.policy = policy
        self.requests = _per_minute(policy.rpm * share) if policy.rpm else None
        self.tokens = _per_minute(policy.tpm * share) if policy.tpm else None
        self.slots = asyncio.Semaphore(max(1, int(policy.concurrency * share))) if policy.concurrency else None

    async def _admit(self, tokens: int) -> float:
        t0 = time.perf_counter()
        if self.requests is not None:
            await self.requests.acquire()
        if self.tokens is not None:
            await self.tokens.acquire(min(float(tokens), self.tokens.max_rate))
        return time.perf_counter() - t0

    async def call(self, fn: Callable[[], Awaitable[T]], tokens: int = 0) -> tuple[T, int, float]:
        """Run ``fn`` within the limits, retrying transient failures.

        Args:
            fn: Makes one attempt.
            tokens: Estimated tokens of one attempt (for ``tpm``).

        Returns:
            The result, the number of retries made and the seconds waited for
            rate limits.
        """
        policy = self.policy
        waited = await self._admit(tokens)
        # The first attempt runs bare: nearly every call succeeds at once, and setting up the
        # retry loop cost more CPU than the rest of the policy together.
        try:
            return await self._attempt(fn), 0, waited
        except Exception as exc:  # sorted just below: only transient errors are retried
            if policy.retries == 0 or not is_transient(exc):
                raise
            first = exc
        retries = 1

        def backoff(attempt: int, exc: BaseException | None) -> float:
            cap = min(policy.max_backoff_s, policy.backoff_s * 2 ** (attempt - 1))
            jittered = random.uniform(0, cap)
            hinted = retry_after_s(exc)
            return max(jittered, min(hinted, policy.max_backoff_s)) if hinted is not None else jittered

        def wait(state: RetryCallState) -> float:
            # Attempt k of this loop is attempt k + 1 of the call: the first ran above.
            return backoff(state.attempt_number + 1, state.outcome.exception() if state.outcome else None)

        def count(_state: RetryCallState) -> None:
            nonlocal retries
            retries += 1

        await asyncio.sleep(backoff(1, first))
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(policy.retries),
            wait=wait,
            retry=retry_if_exception(is_transient),
            before_sleep=count,
            reraise=True,
        ):
            with attempt:
                waited += await self._admit(tokens)
                result = await self._attempt(fn)
        return result, retries, waited

    async def _attempt(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self.slots is None:
            return await fn()
        async with self.slots:
            return await fn()


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Gate]] = weakref.WeakKeyDictionary()


def gate_for(model: str, policy: CallPolicy) -> Gate:
    """The gate of ``model`` in the running event loop (made on first use)."""
    loop = asyncio.get_running_loop()
    gates = _gates.setdefault(loop, {})
    gate = gates.get(model)
    if gate is None:
        gate = gates[model] = Gate(policy, _share)
    return gate
