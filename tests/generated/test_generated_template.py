"""openapi/templates/endpoint_module.py.jinja is upstream's template plus one appendix, nothing else.

The project's template replaces openapi-python-client's own `endpoint_module.py.jinja` whole, so a
generator upgrade that changes upstream's template would otherwise be silently ignored. This diffs the
two: everything before the appendix must be byte-for-byte the installed (pinned) generator's template.
"""

from __future__ import annotations

import difflib
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ROOT / "openapi" / "templates" / "endpoint_module.py.jinja"
#: The first line of what the project adds after upstream's template.
APPENDIX_START = "# Sans-I/O entry points (added by this project's template, openapi/templates/)"


def upstream_template() -> str:
    template = files("openapi_python_client") / "templates" / "endpoint_module.py.jinja"
    return template.read_text(encoding="utf-8")


def test_the_endpoint_template_is_upstream_s_plus_only_the_project_s_appendix() -> None:
    ours = OURS.read_text(encoding="utf-8")
    head, marker, appendix = ours.partition(APPENDIX_START)
    assert marker, f"{OURS.name}: the appendix marker {APPENDIX_START!r} is missing"

    upstream = upstream_template()
    # Upstream's text, then only the blank lines that separate it from the appendix.
    diff = "".join(
        difflib.unified_diff(
            upstream.splitlines(keepends=True),
            head.rstrip("\n").splitlines(keepends=True),
            "openapi_python_client/templates/endpoint_module.py.jinja",
            "openapi/templates/endpoint_module.py.jinja (before the appendix)",
        )
    )
    assert head.rstrip("\n") + "\n" == upstream, "the template differs from upstream's:\n" + diff
    assert head[len(upstream) :].strip("\n") == ""

    # The appendix only aliases the two private helpers upstream's template defines.
    code = [line for line in (marker + appendix).splitlines() if line.strip() and not line.startswith("#")]
    assert code == ["build_request = _get_kwargs", "parse_response = _build_response"]
