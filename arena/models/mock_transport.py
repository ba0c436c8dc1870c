"""The mock scripts served as an OpenAI-compatible endpoint, in-process or over HTTP.

``mock/...`` models are called with the official ``openai`` client, like any
OpenAI-compatible endpoint, through an ``httpx2.MockTransport`` that answers
from the scripts without a socket. Tests and benchmarks therefore run the
client's request building, response parsing and error mapping, as a real
endpoint would. :mod:`arena.models.mock_server` serves the same answers over
real HTTP on 127.0.0.1.

The name's parameters are those of the litellm provider
(:mod:`arena.models.mock_provider`): ``latency``, ``fail``/``faults``/
``fault_seed``, ``die`` and the script's own. Faults reach the client as a
real endpoint's would: ``429`` and ``500`` as HTTP statuses, ``timeout`` as a
read timeout, ``reset`` as a dropped connection.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from arena.models.mock_scripts import answer, check_script, split_model

_ids = itertools.count(1)


class DroppedConnection(ConnectionError):
    """The ``reset`` fault: the endpoint closed the connection."""


class ReadTimedOut(TimeoutError):
    """The ``timeout`` fault: the endpoint never answered."""


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": "mock_error", "code": status}}


async def mock_reply(model: str, messages: list[dict[str, str]], extra: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A chat-completion response (status, JSON body) from the script a model field names.

    Args:
        model: The request's model field, ``NAME?k=v`` (a leading ``mock/`` is allowed).
        messages: The request's messages.
        extra: The request's other body fields; they count as script parameters, after the name's.

    Raises:
        DroppedConnection: for the ``reset`` fault.
        ReadTimedOut: for the ``timeout`` fault.
    """
    name, params = split_model(model)
    params = {**{k: str(v) for k, v in extra.items() if isinstance(v, (str, int, float))}, **params}
    try:
        check_script(name)
    except ValueError as exc:
        return _error(404, str(exc))
    got = await answer(model, messages, params)
    if got.fault == "429":
        return _error(429, "injected fault: rate limited")
    if got.fault == "500":
        return _error(500, "injected fault: server error")
    if got.fault == "timeout":
        raise ReadTimedOut("injected fault: request timed out")
    if got.fault == "reset":
        raise DroppedConnection("injected fault: connection reset by peer")
    text, prompt_tokens, completion_tokens = got.text, got.prompt_tokens, got.completion_tokens
    return 200, {
        "id": f"chatcmpl-mock-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": f"mock/{name}",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def mock_http_client() -> Any:
    """An ``httpx2.AsyncClient`` whose every ``POST .../chat/completions`` is answered by :func:`mock_reply`."""
    import httpx2

    async def handle(request: httpx2.Request) -> httpx2.Response:
        try:
            body = json.loads(request.content)
        except ValueError:
            return httpx2.Response(400, json={"error": {"message": "request body is not JSON"}})
        messages = body.pop("messages", [])
        model = str(body.pop("model", ""))
        try:
            status, payload = await mock_reply(model, messages, body)
        except DroppedConnection as exc:
            raise httpx2.RemoteProtocolError(str(exc), request=request) from None
        except ReadTimedOut as exc:
            raise httpx2.ReadTimeout(str(exc), request=request) from None
        return httpx2.Response(status, json=payload)

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handle))
