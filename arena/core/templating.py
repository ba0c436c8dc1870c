"""Jinja2 rendering of the prompt templates kept beside the code that uses them."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def _env(package: str) -> jinja2.Environment:
    # StrictUndefined: a misspelt variable in a prompt is a bug, not an empty string.
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )


@cache
def get_template(package: str, name: str) -> jinja2.Template:
    """Return a compiled template from ``<package>/templates/<name>``.

    Args:
        package: Importable package that holds a ``templates`` folder.
        name: File name of the template.
    """
    return _env(package).get_template(name)


def render(package: str, name: str, **context: Any) -> str:
    """Render ``<package>/templates/<name>`` with ``context``.

    Args:
        package: Importable package that holds a ``templates`` folder.
        name: File name of the template.
        **context: Template variables.

    Returns:
        The rendered text, stripped of surrounding white space.
    """
    return get_template(package, name).render(**context).strip()
