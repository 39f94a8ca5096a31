"""Values made odd in one place: every place in a JSON value, and the value with one of them changed or
deleted (the tests that hold two readings of a value to the same answer use them)."""

from __future__ import annotations

import copy
from typing import Any


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value: keys of objects (and a new one in each), indices of lists."""
    found = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            found += paths(sub, (*prefix, key))
        found.append((*prefix, "new_key"))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            found += paths(sub, (*prefix, i))
    return found


def swapped(value: Any, where: tuple[Any, ...], odd: Any, delete: bool) -> Any:
    """A copy of `value` with the place `where` set to `odd`, or deleted (`delete`, in an object)."""
    if not where:
        return odd
    out = copy.deepcopy(value)
    target = out
    for part in where[:-1]:
        target = target[part]
    if delete and isinstance(target, dict):
        target.pop(where[-1], None)
    elif isinstance(target, dict) or (isinstance(target, list) and where[-1] < len(target)):
        target[where[-1]] = odd
    return out
