"""Asking a chat model for a JSON reply of a declared shape, a bounded number of times.

Every judge, verifier and generator that reads JSON from a model asks through
:func:`ask_json`: each declares the pydantic model of the reply it expects,
and a reply that holds no such value is asked for again, up to ``attempts``
calls, after which the caller gets :class:`Unscored` and records the item as
unscored (or rejected, or leaves the matcher's verdict) instead of looping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel

from arena.core.json_reply import parse_reply
from arena.core.types import Usage
from arena.models import ChatModel, Message

M = TypeVar("M", bound=BaseModel)

DEFAULT_ATTEMPTS = 3
"""Calls made for one reply before it is given up as unscored."""

_SHOWN = 200
"""Characters of an unusable reply quoted in the reason."""


@dataclass(frozen=True)
class Answer(Generic[M]):
    """A reply that validated."""

    value: M
    """The reply, validated against the caller's schema."""
    usage: Usage = field(default_factory=Usage)
    """Tokens and cost of every call it took."""


@dataclass(frozen=True)
class Unscored:
    """No usable reply after the bounded attempts."""

    reason: str
    """Why, with the last failure: an unusable reply (quoted) or the call's error."""
    usage: Usage = field(default_factory=Usage)
    """Tokens and cost of the calls that were answered."""
    error: Exception | None = None
    """The last call's exception, when the last attempt raised one."""


async def ask_json(
    model: ChatModel, prompt: str | list[Message], schema: type[M], attempts: int = DEFAULT_ATTEMPTS
) -> Answer[M] | Unscored:
    """Ask ``model`` until a reply holds a JSON value that validates as ``schema``, at most ``attempts`` times.

    A call that raises counts as an attempt (the model's call policy has
    already retried transient failures inside it).

    Args:
        model: The chat model.
        prompt: A user prompt, or the whole list of chat messages.
        schema: The pydantic model of the expected reply (a ``RootModel`` for a JSON array).
        attempts: Most calls to make (at least one is made).

    Returns:
        The validated reply, or :class:`Unscored` saying what went wrong last.
    """
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    usage = Usage()
    last = ""
    error: Exception | None = None
    n = max(1, attempts)
    for _ in range(n):
        try:
            out = await model.complete(messages)
        except Exception as exc:  # noqa: BLE001 - a failed call is a failed attempt, never the caller's crash
            last, error = f"{type(exc).__name__}: {exc}", exc
            continue
        usage.add(out.usage)
        value = parse_reply(out.text, schema)
        if value is not None:
            return Answer(value, usage)
        last, error = f"unparseable reply: {out.text[:_SHOWN]!r}", None
    return Unscored(f"no usable reply after {n} attempt{'s' if n > 1 else ''}; {last}", usage, error)
