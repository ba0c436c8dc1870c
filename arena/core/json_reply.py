"""Finding the JSON a model was asked for inside whatever else it wrote."""

from __future__ import annotations

import json
import re
from typing import Any


def first_json_object(text: str) -> dict[str, Any] | None:
    """Return the first JSON object anywhere in ``text``, or None.

    Models wrap the object they were asked for in prose or code fences, and
    may write braces before or after it; each ``{`` is tried in turn until one
    starts an object that decodes.
    """
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None
