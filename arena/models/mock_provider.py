"""The ``mock/...`` litellm custom provider.

Registered with litellm by :func:`arena.models.load_litellm`, so a mock model
runs the same litellm code path (argument handling, response objects, usage)
as a real provider, without any network. ``latency=S`` in the name sleeps S
seconds per call, for throughput benchmarks.

Fault injection, for tests of retries and robustness: ``fail=0.2`` makes a
fifth of calls fail, drawing each failure from ``faults`` (comma-separated;
default all of them): ``429`` (rate limit), ``500`` (server error),
``timeout``, ``reset`` (connection dropped), ``empty`` (a reply with no
content) and ``garbage`` (a reply that is not what was asked for).
``fault_seed=N`` makes the draws repeatable within a process.
``die=PATH`` ends the whole process (as a crash would) on the first call
that finds no file at PATH, after creating it: one crash per test.
``cost=USD`` bills each call that much, for tests of budgets.
"""

from __future__ import annotations

import asyncio
from typing import Any

import litellm
from litellm import CustomLLM

from arena.models.mock_scripts import answer, split_model


def _raise_fault(kind: str, model: str) -> None:
    if kind == "429":
        raise litellm.RateLimitError("injected fault: rate limited", llm_provider="mock", model=model)
    if kind == "500":
        raise litellm.InternalServerError("injected fault: server error", llm_provider="mock", model=model)
    if kind == "timeout":
        raise litellm.Timeout("injected fault: request timed out", llm_provider="mock", model=model)
    if kind == "reset":
        raise litellm.APIConnectionError("injected fault: connection reset by peer", llm_provider="mock", model=model)


class MockLLM(CustomLLM):
    """Serves scripted replies as litellm responses."""

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        """Return the script's reply, after the configured latency (or an injected fault)."""
        name, params = split_model(model)
        got = await answer(model, list(messages), params)
        if got.fault is not None:
            _raise_fault(got.fault, f"mock/{name}")
        text, prompt_tokens, completion_tokens = got.text, got.prompt_tokens, got.completion_tokens
        resp = litellm.ModelResponse(
            choices=[{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            usage={
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            model=f"mock/{name}",
        )
        # A mock costs what its name says (default nothing); saying so spares
        # litellm a failing price lookup on every call.
        resp._hidden_params["response_cost"] = float(params.get("cost", "0") or 0)
        return resp

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        """Synchronous form of :meth:`acompletion`."""
        return asyncio.run(self.acompletion(model, messages, *args, **kwargs))
