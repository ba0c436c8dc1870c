"""Errors shown to a user: one line each."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Record = TypeVar("Record", bound=BaseModel)


def error_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an exception's message, for a one-line error.

    Args:
        exc: The exception to describe.
        limit: Cut the line to at most this many characters.

    Returns:
        The message's first non-empty line, or the exception's class name when
        the message is empty (an empty error line tells the user nothing).
    """
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    return line if limit is None else line[:limit]


def parse_data_file(model: type[Record], raw: str, name: str, error: type[Exception]) -> Record:
    """Read a JSON data file the project ships (knowledge base, price list, reference table) as ``model``.

    Args:
        model: The pydantic type of the whole file.
        raw: The file's text.
        name: The file's name, as the error line shows it.
        error: The exception raised on a bad file.

    Returns:
        The validated file.

    Raises:
        error: one line naming the file and the line (invalid JSON) or the field (a wrong value) of
            the first problem.
    """
    try:
        return model.model_validate(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise error(f"{name}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise error(f"{name}: field {loc}: {msg}") from None
