# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Command-line values ``LABEL=VALUE`` of ``scripts.compare_networks``: ``--network-kwargs NAME=JSON``,
``--reference-row LABEL=EVAL_DIR`` and ``--reference-train LABEL=JSON``.

One reader of the label and one of a JSON object, so that the three options take the same form and say the same
when it is wrong. argparse has no ``LABEL=VALUE`` type, and the JSON object check is three lines, so they are
written here.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["split_labelled", "json_object"]


def split_labelled(item: str, option: str, what: str) -> tuple[str, str]:
    """``(label, value)`` of ``LABEL=VALUE`` (both stripped; the value may contain ``=``).

    Raises:
        ValueError: no ``=``, or an empty label or value; the message names ``option``, the item and ``what``
            the value should be.
    """
    label, sep, value = item.partition("=")
    if not sep or not label.strip() or not value.strip():
        raise ValueError(f"{option} {item!r}: expected LABEL={what} (the label may not contain '=')")
    return label.strip(), value.strip()


def json_object(text: str, option: str, label: str) -> dict[str, Any]:
    """The JSON object ``text`` of ``option``'s ``label``.

    Raises:
        ValueError: not valid JSON, or JSON that is not an object; the message names ``option`` and ``label``.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{option} {label}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option} {label}: expected a JSON object, got {text!r}")
    return value
