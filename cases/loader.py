"""Reading cases: the built-in bank and user case files, with clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from arena.core.types import REPEAT_MARK, Case


class CaseFileError(ValueError):
    """A case file that cannot be read; the message names file, line and field."""


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(record)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field {loc}: {err['msg']}{more}"


@cache
def builtin_cases() -> tuple[Case, ...]:
    """Return the hand-written cases shipped in ``cases/builtin``, sorted by id."""
    folder = resources.files("cases").joinpath("builtin")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            try:
                out.append(Case.model_validate_json(entry.read_text("utf-8")))
            except ValidationError as exc:
                raise CaseFileError(f"cases/builtin/{entry.name}: {_first_error(exc)}") from None
    return tuple(sorted(out, key=lambda c: c.id))


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, parsed object)`` for each non-blank line of a JSONL file.

    Raises:
        CaseFileError: for a missing or unreadable file, or a line that is not
            JSON, naming the file and line.
    """
    for n, value in iter_jsonl_lines(path):
        if isinstance(value, CaseFileError):
            raise value
        yield n, value


def iter_jsonl_lines(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Like :func:`iter_jsonl`, but a line that is not JSON yields its error instead of raising it.

    An importer skips such a line and reads on.

    Raises:
        CaseFileError: for a missing or unreadable file.
    """
    p = Path(path)
    try:
        # utf-8-sig: files saved by some editors start with a byte-order mark.
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CaseFileError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"{p}: cannot read: {exc}") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, CaseFileError(f"{p}:{n}: invalid JSON: {exc.msg} (column {exc.colno})")
        except RecursionError:
            yield n, CaseFileError(f"{p}:{n}: invalid JSON: nested too deeply")


def load_case_file(path: str | Path) -> list[Case]:
    """Read a JSONL file of cases (one JSON object per line; blank lines allowed).

    Args:
        path: The file.

    Returns:
        The cases, in file order.

    Raises:
        CaseFileError: naming the file, line and field of the first problem.
    """
    p = Path(path)
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for n, obj in iter_jsonl(p):
        try:
            case = Case.model_validate(obj)
        except ValidationError as exc:
            raise CaseFileError(f"{p}:{n}: {_first_error(exc)}") from None
        if case.id in seen:
            raise CaseFileError(f"{p}:{n}: field id: duplicate case id {case.id!r} (first on line {seen[case.id]})")
        seen[case.id] = n
        cases.append(case)
    if not cases:
        raise CaseFileError(f"{p}: no cases in file")
    return cases


def select_cases(bank: list[Case] | tuple[Case, ...], n: int) -> list[Case]:
    """Take ``n`` cases from a bank, cycling through it when ``n`` is larger.

    A repeated case gets the id ``<id>#<k>`` so every consultation has its own
    case key; its content is unchanged.
    """
    out: list[Case] = []
    for i in range(n):
        base = bank[i % len(bank)]
        k = i // len(bank)
        out.append(base if k == 0 else base.model_copy(update={"id": f"{base.id}{REPEAT_MARK}{k}"}))
    return out
