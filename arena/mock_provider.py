"""The ``mock/...`` litellm custom provider.

Registered with litellm by :func:`arena.models.load_litellm`, so a mock model
runs the same litellm code path (argument handling, response objects, usage)
as a real provider, without any network. ``latency=S`` in the name sleeps S
seconds per call, for throughput benchmarks.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

import litellm
from litellm import CustomLLM

from arena.mock_scripts import run_script


def _split(model: str) -> tuple[str, dict[str, str]]:
    # litellm hands over the part after "mock/", parameters included.
    name = model.split("/", 1)[1] if model.startswith("mock/") else model
    base, _, query = name.partition("?")
    return base, dict(parse_qsl(query, keep_blank_values=True))


class MockLLM(CustomLLM):
    """Serves scripted replies as litellm responses."""

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        """Return the script's reply, after the configured latency."""
        name, params = _split(model)
        latency = float(params.get("latency", "0") or 0)
        if latency > 0:
            await asyncio.sleep(latency)
        text = run_script(name, list(messages), params)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(text.split())
        resp = litellm.ModelResponse(
            choices=[{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            usage={
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            model=f"mock/{name}",
        )
        # A mock costs nothing; saying so spares litellm a failing price lookup on every call.
        resp._hidden_params["response_cost"] = 0.0
        return resp

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        """Synchronous form of :meth:`acompletion`."""
        return asyncio.run(self.acompletion(model, messages, *args, **kwargs))
