"""What an error answer says, whatever its shape: pure, and it never raises.

Hellotext answers `{"errors": [{"type", "message", "parameter"}]}`, some routes a single
`{"error": {...}}` or `{"error": "text"}`, the text under `message` or `description`, some
nested one level down (`{"data": {"errors": [...]}}`); a proxy or a captive portal answers HTML,
and a dying server nothing at all. `summary` gives 'type:parameter' items for logs and status
('' when the body says nothing usable).
"""

from __future__ import annotations

import json
from typing import Any

MAX_TEXT = 80
MAX_DEPTH = 3
MAX_ITEMS = 5


def _text(value: Any) -> str:
    return " ".join(value.split())[:MAX_TEXT] if isinstance(value, str) else ""


def _item(value: Any) -> str:
    if isinstance(value, str):
        return _text(value)
    if not isinstance(value, dict):
        return ""
    kind = _text(value.get("type")) or _text(value.get("code"))
    param = _text(value.get("parameter")) or _text(value.get("field"))
    if kind:
        return f"{kind}:{param}" if param else kind
    return _text(value.get("message")) or _text(value.get("description"))


def _find(data: Any, depth: int) -> list[str]:
    if not isinstance(data, dict) or depth > MAX_DEPTH:
        return []
    errors = data.get("errors")
    if isinstance(errors, list):
        found = [_item(e) for e in errors[:MAX_ITEMS]]
    elif isinstance(errors, dict):  # {"errors": {"name": ["can't be blank"]}}
        found = [f"invalid:{_text(k)}" for k in list(errors)[:MAX_ITEMS] if isinstance(k, str)]
    elif "error" in data:
        found = [_item(data["error"])]
    else:
        found = [_item(data)] if any(k in data for k in ("type", "message", "description")) else []
    found = [f for f in found if f]
    if found:
        return found
    for value in data.values():  # one level down: {"data": {"errors": [...]}}
        nested = _find(value, depth + 1)
        if nested:
            return nested
    return []


def summary(text: str) -> str:
    """'parameter_missing:name,invalid' from an error body; '' for HTML, empty or unknown."""
    if not text or not text.lstrip().startswith(("{", "[")):
        return ""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return ""
    if isinstance(data, list):  # a bare list of errors
        return ",".join(f for f in (_item(e) for e in data[:MAX_ITEMS]) if f)
    return ",".join(_find(data, 0))
