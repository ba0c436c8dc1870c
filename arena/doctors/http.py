"""A doctor served over HTTP: ``--doctor http://host:port/path``.

Each turn the endpoint receives ``POST {"messages": [...], "patient_context":
{...}}`` and answers ``{"response": "..."}``. ``messages`` is the chat so far
from the doctor's side (the protocol prompt as ``system``, the patient and
results as ``user``, the endpoint's own earlier replies as ``assistant``);
``patient_context`` holds only what a clinician would see on arrival (age,
sex, who is speaking) and the turns left. The response is read by the same
tolerant parser as any chat model's reply, so it may be the JSON action, a
``Final diagnosis:`` line or a plain question.

Calls go through the same retry policy as model calls: 429, 5xx, timeouts
and connection errors are retried with backoff; anything else fails the
consultation (and is stored on it).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from arena.core.templating import render
from arena.core.types import Case, DoctorAction, Usage
from arena.doctors.protocol import lettered, parse_doctor_reply
from arena.models import Message, ModelError
from arena.models.call_policy import CallPolicy, gate_for

TIMEOUT_S = 120.0
"""Longest wait for one reply."""


class HTTPDoctorError(RuntimeError):
    """The endpoint answered with an error status or a reply of the wrong shape."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        """Keep the HTTP status, which decides whether the call is retried."""
        super().__init__(message)
        self.status_code = status_code


def check_url(url: str) -> None:
    """Raise if ``url`` is not a usable http(s) address.

    Raises:
        ModelError: naming the URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelError(f"doctor URL {url!r} must look like http://host:port/path")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ModelError(f"doctor URL {url!r} has a bad port") from None


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def _client() -> httpx.AsyncClient:
    # One pooled client per event loop: a Ray actor's consultations share its connections.
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = httpx.AsyncClient(
            timeout=TIMEOUT_S, limits=httpx.Limits(max_connections=None, max_keepalive_connections=64)
        )
    return client


class HTTPDoctor:
    """Plays the doctor by asking an HTTP endpoint for each turn."""

    def __init__(self, url: str, max_turns: int, case: Case | None = None, options: Sequence[str] = ()) -> None:
        """Prepare the conversation.

        Args:
            url: The endpoint.
            max_turns: The turn cap, stated in the protocol prompt.
            case: The case played; only its demographics and speaker are sent.
            options: Answer options the diagnosis is to be chosen from, stated in the protocol prompt.
        """
        self.name = url
        self.url = url
        self.policy = CallPolicy()
        self.messages: list[Message] = [
            {
                "role": "system",
                "content": render(
                    "arena.doctors",
                    "doctor_system.j2",
                    max_turns=max_turns,
                    style="standard",
                    options=lettered(options),
                ),
            }
        ]
        self.context: dict[str, Any] = {}
        if case is not None:
            self.context = {
                "age": case.demographics.age,
                "sex": case.demographics.sex,
                "speaker": case.speaker,
            }
        self._seen = 0

    async def _post(self, body: dict[str, Any]) -> str:
        resp = await _client().post(self.url, json=body)
        if resp.status_code >= 400:
            raise HTTPDoctorError(f"{self.url} answered HTTP {resp.status_code}", resp.status_code)
        try:
            data = resp.json()
        except ValueError:
            raise HTTPDoctorError(f"{self.url} did not answer JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("response"), str):
            raise HTTPDoctorError(f'{self.url} answered without a "response" string')
        return str(data["response"])

    async def act(self, dialogue: list[tuple[str, str]], turns_left: int) -> tuple[DoctorAction, Usage, str]:
        """Send the dialogue so far to the endpoint and parse its reply."""
        for role, content in dialogue[self._seen :]:
            if role == "doctor":
                continue
            self.messages.append(
                {"role": "user", "content": f"RESULT: {content}" if role == "measurement" else content}
            )
        self._seen = len(dialogue)
        body = {"messages": self.messages, "patient_context": {**self.context, "turns_left": turns_left}}
        text, retries, _ = await gate_for(self.url, self.policy).call(lambda: self._post(body))
        self.messages.append({"role": "assistant", "content": text})
        return parse_doctor_reply(text), Usage(calls=1, retries=retries), text
