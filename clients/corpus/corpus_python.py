"""Parses every payload of tests/fixtures/payloads/ with the pydantic client that openapi-generator's
`python` generator makes from openapi/ppio.yaml (default options), writes it back with `to_dict()`, and
checks that nothing was lost: every key of the input comes out with the same value. Run by
`make check-clients` with the generated package on sys.path:

    python corpus_python.py <generated client directory> <payload directory>
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

TARGETS = {
    "task_result": "TaskResultResponse",
    "webhook": "WebhookEvent",
    "models": "ModelListResponse",
    "error": "ErrorBody",
    "create": "CreateTaskResponse",
}


def lost(given: Any, kept: Any, where: str) -> str | None:
    """The first place where `kept` does not hold what `given` had, or None."""
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            return f"{where}: {given!r} became {kept!r}" if kept is not ... else f"{where}: dropped"
        for key, value in given.items():
            problem = lost(value, kept.get(key, ...), f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(given, list):
        if not isinstance(kept, list) or len(kept) != len(given):
            return f"{where}: {kept!r}"
        return next((p for i, v in enumerate(given) if (p := lost(v, kept[i], f"{where}[{i}]"))), None)
    if kept is ...:
        return f"{where}: {given!r} was dropped"
    same = given == kept and type(given) is type(kept)
    return None if same else f"{where}: {given!r} became {kept!r}"


def main() -> int:
    client_dir, root = Path(sys.argv[1]), Path(sys.argv[2])
    sys.path.insert(0, str(client_dir))
    models = importlib.import_module("openapi_client.models")
    passed = failed = 0
    for path in sorted(root.glob("*/*.json")):
        name = f"{path.parent.name}/{path.name}"
        try:
            model = getattr(models, TARGETS[path.parent.name])
            text = path.read_text(encoding="utf-8")
            parsed = model.from_json(text)
            problem = lost(json.loads(text), json.loads(json.dumps(parsed.to_dict())), "$")
            if problem:
                raise ValueError(f"written back differently at {problem}")
        except Exception as exc:  # report every payload, not only the first failure
            failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"python: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    raise SystemExit(main())
