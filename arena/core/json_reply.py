"""Finding the JSON a model was asked for inside whatever else it wrote.

Pure text handling; asking a model and trying again is :mod:`arena.models.ask_json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_OBJECT = re.compile(r"\{")
_OBJECT_OR_ARRAY = re.compile(r"[\[{]")


def json_values(text: str, *, arrays: bool = True) -> Iterator[Any]:
    """Yield every JSON object (and array, unless ``arrays`` is False) in ``text``, by where it starts.

    Models wrap the value they were asked for in prose or code fences, and may
    write brackets before or after it; each opening bracket is tried in turn,
    and those that start no value that decodes are passed over. A value nested
    in another one is yielded after it.
    """
    decoder = json.JSONDecoder()
    for m in (_OBJECT_OR_ARRAY if arrays else _OBJECT).finditer(text):
        try:
            value, _ = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        yield value


def first_json_object(text: str) -> dict[str, Any] | None:
    """Return the first JSON object anywhere in ``text``, or None."""
    return next((v for v in json_values(text, arrays=False) if isinstance(v, dict)), None)


def valid_entries(schema: type[M], data: object) -> object:
    """Keep the entries of a JSON array that validate as ``schema``; anything else is returned as it is.

    For a reply schema's ``mode="before"`` validator, where one malformed entry
    should cost that entry, not the whole reply.
    """
    if not isinstance(data, list):
        return data
    kept = []
    for entry in data:
        try:
            schema.model_validate(entry)
        except ValidationError:
            continue
        kept.append(entry)
    return kept


def parse_reply(text: str, schema: type[M]) -> M | None:
    """Return the first JSON value in ``text`` that validates as ``schema``, or None.

    Args:
        text: A model's reply.
        schema: The pydantic model of the reply asked for (a ``RootModel`` for an array).

    Returns:
        The validated reply, or None when no value in the text is one.
    """
    for value in json_values(text):
        try:
            return schema.model_validate(value)
        except ValidationError:
            continue
    return None
