"""Header layers merged case-insensitively (`_http.merged_headers`): one header per name, the last
layer's spelling and value, in the order the names were last set."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ppio_txt2img._http import merged_headers

_NAMES = st.sampled_from(["Authorization", "authorization", "AUTHORIZATION", "X-A", "x-a", "Accept", "b"])
_LAYERS = st.lists(st.dictionaries(_NAMES, st.text(max_size=3), max_size=4), max_size=4)


def _reference(layers: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Each name's last setting, in lower case order of when it was last set."""
    last: dict[str, tuple[int, str, str]] = {}
    position = 0
    for layer in layers:
        for name, value in layer.items():
            last[name.lower()] = (position, name, value)
            position += 1
    return [(name, value) for _, name, value in sorted(last.values())]


@settings(max_examples=300, deadline=None)
@given(_LAYERS)
def test_one_header_per_name_in_any_case_the_last_one_set(layers: list[dict[str, str]]) -> None:
    assert list(merged_headers(*layers).items()) == _reference(layers)


def test_a_default_header_in_lower_case_replaces_the_sdks() -> None:
    merged = merged_headers({"Authorization": "Bearer sdk"}, {"authorization": "Bearer mine"})
    assert merged == {"authorization": "Bearer mine"}
