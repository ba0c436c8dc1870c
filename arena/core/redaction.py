"""Secrets out of records: keys that ride along in model names are masked before anything is stored or shown.

A user may pass a provider key as a model parameter
(``openai/gpt-4o?api_key=sk-...``). The model is called with it, but the name
is also what runs, consultations, verdicts, reports and exports record, so
every stored or printed copy carries the mask instead.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_core import to_json

_SECRET_PARAM = re.compile(
    r"(?P<lead>[?&;][\w.-]*?(?:key|token|secret|password|passwd|credentials?)=)(?P<value>[^&\s\"'#,;)\]]+)",
    re.IGNORECASE,
)

REDACTED = "***"
"""What a secret parameter's value becomes."""


def redact_secrets(text: str) -> str:
    """Mask the values of secret-looking parameters (``api_key=``, ``token=``, ...) in ``text``.

    Args:
        text: A model name, or any text that may quote one (an error message).

    Returns:
        The text with each such value replaced by :data:`REDACTED`.
    """
    if "=" not in text:
        return text
    return _SECRET_PARAM.sub(lambda m: m.group("lead") + REDACTED, text)


def redact_data(value: Any) -> Any:
    """Return a JSON-like value (dicts, lists, strings) with every string passed through :func:`redact_secrets`.

    A value none of whose strings holds an ``=`` is returned as it is.
    """
    # Every turn of every consultation passes here on its way to the store. Walking the record in Python
    # cost five times one pass of pydantic's serializer, and that pass finds nearly all of them clean.
    if isinstance(value, dict | list | tuple) and b"=" not in to_json(value, fallback=str):
        return value
    return _redacted(value)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {redact_secrets(k) if isinstance(k, str) else k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value
