"""Errors shown to a user: one line each."""

from __future__ import annotations


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
