"""Reading a source record: where it came from, typed access to its JSON, and the draft a format module makes of it.

The format modules (:mod:`~cases.importers.agentclinic`, :mod:`~cases.importers.mediq`,
:mod:`~cases.importers.healthbench`) read their records through these, and
:mod:`cases.importers` finishes each :class:`Draft` into a case.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from arena.core.types import Demographics, Fact, RubricItem, Speaker
from cases.importers.facts import parse_demographics, parse_sex
from cases.loader import CaseFileError


@dataclass(frozen=True)
class Where:
    """The file and line a record came from, for error messages."""

    path: Path
    """The file."""
    line: int
    """Line number, from 1."""

    def error(self, message: str, key: str = "") -> CaseFileError:
        """Return an error naming file, line and (when given) the key path.

        Args:
            message: What is wrong.
            key: Dotted key path of the offending field, e.g. ``OSCE_Examination.Correct_Diagnosis``.

        Returns:
            The error, for the caller to raise.
        """
        field_part = f"field {key}: " if key else ""
        return CaseFileError(f"{self.path}:{self.line}: {field_part}{message}")

    def note(self, message: str) -> str:
        """Return a note naming file and line."""
        return f"{self.path}:{self.line}: {message}"


@dataclass
class Draft:
    """One record read by a format module, before rubric and validation."""

    source_id: str
    """Id in the source, or the line number."""
    title: str
    """Short human label."""
    chief_complaint: str
    """The patient's opening line."""
    demographics: Demographics
    """Age and sex."""
    facts: list[Fact]
    """Everything the consultation can reveal."""
    diagnosis: str | None
    """The diagnosis as the source states it; None when the source has none."""
    differentials: list[str] = field(default_factory=list)
    """Alternatives the source offers (other answer options)."""
    options: list[str] = field(default_factory=list)
    """The source's answer options in its order, the diagnosis among them; empty when it has none."""
    speaker: Speaker = "self"
    """Who answers for the patient."""
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    """How hard the case is meant to be."""
    rubric: list[RubricItem] | None = None
    """A rubric the source brings (HealthBench); None to derive one."""


# --------------------------------------------------------------------------- typed access to JSON


def json_type(value: object) -> str:
    """Name a JSON value's type for an error message ("a string", "a list", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _key(prefix: str, key: str | int) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def get_obj(obj: Mapping[str, Any], key: str, where: Where, prefix: str = "") -> dict[str, Any]:
    """Return a required object-valued key.

    Raises:
        CaseFileError: if the key is missing or not an object.
    """
    value = _require(obj, key, where, prefix)
    if not isinstance(value, dict):
        raise where.error(f"expected an object, got {json_type(value)}", _key(prefix, key))
    return value


def get_list(obj: Mapping[str, Any], key: str, where: Where, prefix: str = "", required: bool = True) -> list[Any]:
    """Return a list-valued key (an empty list when it is optional and absent).

    Raises:
        CaseFileError: if the key is required and missing, or not a list.
    """
    if not required and obj.get(key) is None:
        return []
    value = _require(obj, key, where, prefix)
    if not isinstance(value, list):
        raise where.error(f"expected a list, got {json_type(value)}", _key(prefix, key))
    return value


def get_str(
    obj: Mapping[str, Any], key: str, where: Where, prefix: str = "", required: bool = True, number: bool = False
) -> str:
    """Return a string-valued key, stripped (an empty string when optional and absent).

    Args:
        obj: The JSON object.
        key: The key.
        where: File and line, for errors.
        prefix: Dotted path of ``obj`` in the record, for errors.
        required: Whether a missing or empty value is an error.
        number: Whether a number is accepted and turned into text (ids often are numbers).

    Raises:
        CaseFileError: if the key is required and missing or empty, or not a string.
    """
    if not required and obj.get(key) is None:
        return ""
    value = _require(obj, key, where, prefix)
    if number and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise where.error(f"expected a string, got {json_type(value)}", _key(prefix, key))
    if required and not value.strip():
        raise where.error("must not be empty", _key(prefix, key))
    return value.strip()


def get_text(obj: Mapping[str, Any], key: str, where: Where, prefix: str = "") -> list[str]:
    """Return an optional free-form key as sentences of text.

    A string is one text; a list gives one text per item; an object gives
    ``Key: value`` texts (nested objects flattened). Absent or null gives none.

    Raises:
        CaseFileError: if the value is of another type (a number is accepted).
    """
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, str | int | float | list | dict):
        raise where.error(f"expected text, a list or an object, got {json_type(value)}", _key(prefix, key))
    return [t for t in flatten_text(value) if t.strip()]


def flatten_text(value: object, label: str = "") -> list[str]:
    """Free-form JSON as lines of text: ``Label: value`` for object members."""
    if value is None or isinstance(value, bool):
        return [f"{label}: {'yes' if value else 'no'}"] if isinstance(value, bool) and label else []
    if isinstance(value, str | int | float):
        text = str(value).strip()
        if not text:
            return []
        return [f"{label}: {text}" if label else text]
    if isinstance(value, list):
        return [t for item in value for t in flatten_text(item, label)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in flatten_text(v, str(k).replace("_", " ").strip())]
    return []


def leaves(value: object, path: Sequence[str] = ()) -> Iterator[tuple[list[str], str]]:
    """Yield ``(key path, text)`` for every leaf of nested free-form JSON.

    Lists of plain values give one leaf per item under the same path; empty
    strings and nulls give none.
    """
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, [*path, str(k)])
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, path)
    elif isinstance(value, bool):
        yield list(path), "yes" if value else "no"
    elif isinstance(value, str | int | float):
        text = str(value).strip()
        if text:
            yield list(path), text


def read_demographics(where: Where, key: str, notes: list[str], text: str, *fallbacks: str) -> Demographics:
    """Age and sex from ``text``, else from the fallbacks in order; a sex no text states is chosen and noted.

    Args:
        where: File and line, for the error and the note.
        key: The field ``text`` came from, for the error.
        notes: The note on a chosen sex is appended here.
        text: Where the source states age and sex.
        fallbacks: Other texts of the record, in the order they are trusted.

    Raises:
        CaseFileError: if no text gives the patient's age.
    """
    demographics = parse_demographics(text, *fallbacks, choose_sex=True)
    if demographics is None:
        raise where.error(f"cannot read the patient's age from {text[:80]!r}", key)
    if not any(parse_sex(t) for t in (text, *fallbacks) if t):
        notes.append(where.note(f"the record states no sex; {demographics.sex} was chosen for the patient's pronouns"))
    return demographics


def _require(obj: Mapping[str, Any], key: str, where: Where, prefix: str) -> Any:
    if key not in obj or obj[key] is None:
        raise where.error("missing required key", _key(prefix, key))
    return obj[key]
