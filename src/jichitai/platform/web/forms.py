"""HTML forms ↔ request bodies: the screens submit the same bodies the JSON API takes.

Input names are the field paths the API reports errors with (``address.area``, ``persons[0].birth_date``),
so a refusal from the pydantic model or from a service lands next to the input it is about. Blank inputs are
left out, as an API client would leave out an optional field.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from jichitai.platform.errors import DomainError
from jichitai.platform.web.errors import error_message

_PART = re.compile(r"([^.\[\]]+)|\[(\d{1,3})\]")
_UNION_MEMBERS = {"str", "IrregularDate", "int", "bool"}
"""Location parts pydantic adds for the member of a union it tried; they are not input names."""


def _parts(name: str) -> list[str | int]:
    return [int(index) if index else key for key, index in _PART.findall(name)]


def _put(target: dict[str, Any], parts: list[str | int], value: str) -> None:
    node: Any = target
    for here, after in itertools.pairwise(parts):
        empty: Any = [] if isinstance(after, int) else {}
        if isinstance(here, int):
            while len(node) <= here:
                node.append(None)
            if node[here] is None:
                node[here] = empty
            node = node[here]
        else:
            node = node.setdefault(here, empty)
    last = parts[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
        node[last] = value
    else:
        node[last] = value


def unflatten(pairs: Iterable[tuple[str, object]], *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Nest ``a.b[0].c = v`` pairs into ``{"a": {"b": [{"c": v}]}}``; blank values and ``skip`` are left out.

    A list keeps the positions of its rows (missing rows are None) so callers can drop the empty ones
    with :func:`keep_rows` and still map errors back to the row the clerk typed in.
    """
    skipped = set(skip)
    data: dict[str, Any] = {}
    for name, raw in pairs:
        value = raw.strip() if isinstance(raw, str) else ""  # the screens upload no files
        if not value or name in skipped or name.split(".")[0].split("[")[0] in skipped:
            continue
        parts = _parts(name)
        if parts and isinstance(parts[0], str):
            _put(data, parts, value)
    return data


def keep_rows(data: dict[str, Any], key: str, keep: Any = None) -> list[int]:
    """Drop the rows of ``data[key]`` that are empty (or fail ``keep``); return the kept rows' positions.

    The body then numbers its rows 0, 1, …; :func:`remap_errors` turns errors about them back into the
    names of the inputs on screen.
    """
    rows = data.get(key)
    if not isinstance(rows, list):
        return []
    kept = [i for i, row in enumerate(rows) if isinstance(row, dict) and row and (keep is None or keep(row))]
    data[key] = [rows[i] for i in kept]
    return kept


def remap_errors(errors: dict[str, str], key: str, kept: list[int]) -> dict[str, str]:
    """Rename ``key[n]…`` error paths to the position the row had on screen."""
    pattern = re.compile(rf"^{re.escape(key)}\[(\d+)\]")
    renamed: dict[str, str] = {}
    for name, message in errors.items():
        match = pattern.match(name)
        if match and int(match[1]) < len(kept):
            name = f"{key}[{kept[int(match[1])]}]{name[match.end() :]}"
        renamed.setdefault(name, message)
    return renamed


def error_path(loc: Iterable[int | str]) -> str:
    """A pydantic error location as an input name (``persons[0].birth_date``)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _UNION_MEMBERS or "[" in part:
            break
        else:
            path += f".{part}" if path else part
    return path


def _message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind == "string_too_long" and "max_length" in context:
        return f"{context['max_length']}文字以内で入力してください。"
    if kind == "string_pattern_mismatch":
        return "形式が正しくありません (半角数字・カタカナなど、入力例を確認してください)。"
    return error_message(error)


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """Every problem pydantic found, by input name (the first message per input)."""
    found: dict[str, str] = {}
    for error in exc.errors():
        found.setdefault(error_path(error["loc"]) or "", _message(error))
    return found


def domain_errors(exc: DomainError) -> dict[str, str]:
    """A service's refusal, on its field (or on the whole form, under ``""``)."""
    return {exc.field or "": exc.message}


def field_label(name: str, labels: Mapping[str, str], row_names: Mapping[str, str]) -> str:
    """An input's name for the error summary, from the labels of its path's parts.

    ``persons[1].birth_date`` with ``{"persons": "異動する方", "birth_date": "生年月日"}`` and
    ``{"persons": "人目"}`` reads ``異動する方 2人目 生年月日``.
    """
    words: list[str] = []
    current = ""
    for part in _parts(name):
        if isinstance(part, int):
            words.append(f"{part + 1}{row_names.get(current, '')}")
        else:
            current = part
            words.append(labels.get(part, part))
    return " ".join(words)
