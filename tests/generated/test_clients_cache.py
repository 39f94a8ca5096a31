"""scripts/clients.py's cache of generated clients: a client made from the same inputs is copied, not
generated again; a change of the spec or of the language is a new entry; a half-written entry is never
seen. openapi-generator itself is replaced by a stand-in that writes one file per client (the real one
runs in `make test`, check-clients)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import clients


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A spec and build dir of their own; returns the languages each generator run was asked for."""
    spec = tmp_path / "ppio.yaml"
    spec.write_text("openapi: 3.0.3\n", encoding="utf-8")
    monkeypatch.setattr(clients, "SPEC", spec)
    monkeypatch.setattr(clients, "OUT", tmp_path / "build")
    runs: list[list[str]] = []

    def fake_generator(langs: list[str]) -> None:
        runs.append(langs)
        for lang in langs:
            (clients.OUT / lang).mkdir(parents=True, exist_ok=True)
            (clients.OUT / lang / "client.txt").write_text(f"{lang} from {spec.read_text()}")

    monkeypatch.setattr(clients, "run_generator", fake_generator)
    return runs


def test_a_second_checkout_copies_the_clients_from_the_cache(
    project: list[list[str]], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    clients.generate(["go", "python"], cache)
    first = (clients.OUT / "go" / "client.txt").read_text()
    (clients.OUT / "go" / "client.txt").unlink()  # another checkout: nothing in build/

    clients.generate(["go", "python", "typescript"], cache)

    assert project == [["go", "python"], ["typescript"]]  # only the new language was generated
    assert (clients.OUT / "go" / "client.txt").read_text() == first
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["go", "python", "typescript"]


def test_a_changed_spec_is_generated_again(project: list[list[str]], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    clients.generate(["go"], cache)
    clients.SPEC.write_text("openapi: 3.1.0\n", encoding="utf-8")

    clients.generate(["go"], cache)

    assert project == [["go"], ["go"]]
    assert (clients.OUT / "go" / "client.txt").read_text() == "go from openapi: 3.1.0\n"
    assert len(list(cache.iterdir())) == 2


def test_without_a_cache_every_run_generates(project: list[list[str]]) -> None:
    clients.generate(["go"], None)
    clients.generate(["go"], None)
    assert project == [["go"], ["go"]]


def test_a_kept_entry_is_whole_and_a_taken_key_is_left_alone(tmp_path: Path) -> None:
    source = tmp_path / "client"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "a.go").write_text("package a")
    entry = tmp_path / "cache" / "go-key"

    clients.keep(source, entry)
    (source / "pkg" / "a.go").write_text("package b")
    clients.keep(source, entry)  # the key is taken (another run kept it first): left as it was

    assert (entry / "pkg" / "a.go").read_text() == "package a"
    assert [p.name for p in entry.parent.iterdir()] == ["go-key"]  # no scratch dir left behind


def test_a_cache_that_cannot_be_written_is_skipped(project: list[list[str]], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")  # no directory can be made under it, even by root

    clients.generate(["go"], blocker / "cache")

    assert project == [["go"]]
    assert (clients.OUT / "go" / "client.txt").is_file()
