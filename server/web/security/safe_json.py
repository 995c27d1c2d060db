"""Reading JSON request bodies safely: bounded nesting, no NaN or Infinity.

Python's parser recurses once per level, so a body of 100 000 nested brackets
raised RecursionError (a 500) on every JSON endpoint. Here any body nested
deeper than ``MAX_JSON_DEPTH`` is a 400 ``json_too_deep``, and the non-standard
constants ``NaN``, ``Infinity`` and ``-Infinity`` (and numbers too large for a
float, which Python reads as infinity) are not valid JSON (400 ``invalid_json``),
so no handler ever sees a number that is not finite.
"""
from __future__ import annotations

import json
import math
from typing import Any

from engineio import json as engineio_json
from flask.json.provider import DefaultJSONProvider

from server.problems import InputProblem

# The deepest body any endpoint takes is 3 levels ({"frames": [{"image": ...}]}); 32 leaves room
# for clients that wrap their requests, and stays far below the parser's recursion limit (~1000).
MAX_JSON_DEPTH = 32


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def loads_bounded(text: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` with the limits above: ValueError for invalid JSON, InputProblem when too deep."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, **kwargs)
    except RecursionError:
        value = None
        depth = MAX_JSON_DEPTH + 1
    else:
        depth = json_depth(value)
    if depth > MAX_JSON_DEPTH:
        raise InputProblem("json_too_deep", "The JSON body nests more than %(depth)s levels deep.",
                           depth=MAX_JSON_DEPTH)
    return value


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON with :func:`loads_bounded` for everything it reads (request bodies)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_bounded(s, **kwargs)


# The event name a Socket.IO packet too deep to read is delivered as (server/live.py answers it
# json_too_deep): without it the packet would be dropped unread and its sender never answered.
TOO_DEEP_EVENT = "__json_too_deep__"
# The same for a Socket.IO event whose JSON cannot be read at all (broken, or an integer of more than 100
# digits, which Engine.IO's parser refuses): answered invalid_json (set by socket_guard.py's packet class).
BAD_JSON_EVENT = "__invalid_json__"


class SocketJSON:
    """The JSON of Socket.IO and Engine.IO packets: Engine.IO's own (it refuses integers of more than 100
    digits) with nesting bounded; a packet nested too deeply reads as the event TOO_DEEP_EVENT.

    Invalid JSON still raises ValueError here: Engine.IO relies on it to take a packet such as the
    upgrade's ``2probe`` as text. An unreadable Socket.IO event is answered by ``socket_guard.py``.
    """

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> str:
        return engineio_json.dumps(*args, **kwargs)

    @staticmethod
    def loads(*args: Any, **kwargs: Any) -> Any:
        try:
            value = engineio_json.loads(*args, **kwargs)
        except RecursionError:
            return [TOO_DEEP_EVENT]
        return [TOO_DEEP_EVENT] if json_depth(value) > MAX_JSON_DEPTH else value
