"""Field overrides: values of a JSON answer replaced by dotted path, to send the odd types real servers send.

    with_overrides({"task": {"eta": 3}, "images": [{"image_url": "u"}]},
                   {"task.eta": "soon", "images.0.image_url": 123})
    == {"task": {"eta": "soon"}, "images": [{"image_url": 123}]}

A path is object keys and list indexes joined by dots: `task.eta`, `images.0.image_url`, `images.-1.x`
(the last image), `images.*.image_url_ttl` (`*`: every item of a list, every value of an object).
A missing last key of an object is added (a new field); any other missing step (an index out of range,
an absent parent object, a step into a number or string) leaves the answer unchanged for that path, so
`images.0.image_url` only applies to answers that list an image.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: The path step that matches every item of a list and every value of an object.
WILDCARD = "*"
_INDEX = re.compile(r"-?[0-9]+")


def parse_path(path: str) -> tuple[str, ...]:
    """The steps of a dotted path; ValueError when it is empty or has an empty step."""
    if not isinstance(path, str) or any(step == "" for step in path.split(".")):
        raise ValueError(f"{path!r} is not a dotted path like task.eta or images.0.image_url")
    return tuple(path.split("."))


def with_overrides(document: Any, overrides: Mapping[str, Any]) -> Any:
    """A copy of `document` with the value at each path replaced, in the order the overrides are given."""
    result = copy.deepcopy(document)
    for path, value in overrides.items():
        _assign(result, parse_path(path), value)
    return result


def _assign(node: Any, steps: tuple[str, ...], value: Any) -> None:
    step, rest = steps[0], steps[1:]
    for key in _children(node, step, last=not rest):
        if rest:
            _assign(node[key], rest, value)
        else:
            node[key] = copy.deepcopy(value)


def _children(node: Any, step: str, *, last: bool) -> Iterable[Any]:
    """The keys or indexes of `node` that `step` names (an object's missing key only as the last step)."""
    if isinstance(node, dict):
        if step == WILDCARD:
            return list(node)
        return [step] if step in node or last else []
    if isinstance(node, list):
        if step == WILDCARD:
            return range(len(node))
        if _INDEX.fullmatch(step) and -len(node) <= int(step) < len(node):
            return [int(step)]
    return []
