"""`ppio contract`'s checks: schemathesis on the GET operations, the spec's links, one billed task on
request (see `contract.py`, which parses the command line before this module's imports are paid for)."""

from __future__ import annotations

import importlib.resources
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

#: The cheapest task the spec allows: its smallest size, one step, one image.
CHEAPEST_REQUEST: dict[str, Any] = {
    "prompt": "a small red circle",
    "width": 128,
    "height": 128,
    "image_num": 1,
    "steps": 1,
    "guidance_scale": 7,
    "sampler_name": "Euler a",
}
FALLBACK_MODEL = "sd_xl_base_1.0.safetensors"
#: What checks the billed POST's answer: every default check that sends no request of its own.
_CHECKS_THAT_SEND_NOTHING = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TERMINAL = ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED")


@dataclass
class Outcome:
    """What one checked thing gave: how many requests, and the distinct failures."""

    name: str
    requests: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # title -> first message with a repro
    note: str = ""
    skipped: bool = False

    def record(self, error: BaseException, repro: str) -> None:
        failures = error.exceptions if isinstance(error, FailureGroup) else [error]
        for failure in failures:
            title = failure.title if isinstance(failure, Failure) else type(failure).__name__
            message = failure.message if isinstance(failure, Failure) else str(failure)
            self.failures.setdefault(title, f"{message.strip()}\n    reproduce: {repro}".strip())


def error_body_problem(status: int, content: bytes) -> str | None:
    """What an error answer's body does wrong by REFERENCE §3, which the spec leaves open (every key of
    `ErrorBody` optional, to read any body leniently): `{"code": <the status>, "reason": ..., "message":
    ...}`. None for a success, a body that is no JSON object (a gateway's HTML page: its own matter),
    or a body that says it as documented."""
    if status < 400:
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if body.get("code") != status:
        code = body.get("code")
        return f"HTTP {status} with an error body whose code is {code!r} (REFERENCE: the code is the status)"
    if not isinstance(body.get("reason"), str) or not body["reason"]:
        return f"HTTP {status} with an error body without a reason: {content[:200]!r}"
    return None


def load_spec() -> dict[str, Any]:
    text = (importlib.resources.files("ppio_api") / "openapi.json").read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


class Contract:
    def __init__(self, base_url: str, api_key: str, *, rate: str, examples: int, seed: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.spec = load_spec()
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.examples = examples
        self.seed = seed
        self.config = schemathesis.Config.from_dict(
            {
                "headers": self.headers,
                "rate-limit": rate,
                "generation": {"max-examples": examples, "deterministic": True, "database": "none"},
                "suppress-health-check": ["too_slow", "filter_too_much"],
            }
        )
        self.schema = schemathesis.openapi.from_dict(self.spec, config=self.config)
        self.session = requests.Session()
        self.outcomes: list[Outcome] = []
        self.tasks_created = 0
        self.setup_requests = 0  # the GETs that find a real cursor and a model, outside the checks

    # ------------------------------------------------------------------------------ one request
    def send(self, case: Any, outcome: Outcome, *, checks: list[Any] | None = None) -> Any:
        """Send one case (rate-limited by schemathesis), run every check on the answer (or `checks`),
        record failures."""
        outcome.requests += 1
        try:
            response = case.call(
                base_url=self.base_url, session=self.session, headers=self.headers, timeout=60
            )
        except requests.RequestException as exc:
            outcome.record(exc, self.repro(case))
            return None
        try:
            case.validate_response(response, checks=checks)
        except (Failure, FailureGroup) as exc:
            outcome.record(exc, self.repro(case))
        problem = error_body_problem(response.status_code, response.content)
        if problem is not None:
            outcome.failures.setdefault("Error body", f"{problem}\n    reproduce: {self.repro(case)}")
        return response

    @staticmethod
    def repro(case: Any) -> str:
        return str(case.as_curl_command(headers={"Authorization": "Bearer $PPIO_API_KEY"}))

    # ------------------------------------------------------------------------ generated GETs
    def fuzz_gets(self, *, negative: bool = False) -> None:
        """Generated requests to every GET operation: valid ones, or with `negative` invalid ones."""
        mode = GenerationMode.NEGATIVE if negative else GenerationMode.POSITIVE
        cursor = self.first_cursor()

        def real_cursor(case: Any) -> Any:
            # A cursor is opaque: only one the server handed out is valid data, so a generated one is
            # swapped for the first page's (or dropped). Negative cases keep theirs.
            query = case.query
            if mode is GenerationMode.POSITIVE and isinstance(query, dict) and "pagination.cursor" in query:
                if cursor:
                    query["pagination.cursor"] = cursor
                else:
                    del query["pagination.cursor"]
            return case

        for result in self.schema.include(method="GET").get_all_operations():
            if not isinstance(result, Ok):
                continue  # an operation the spec does not describe well enough: the spec lint catches it
            operation = result.ok()
            suffix = "" if mode is GenerationMode.POSITIVE else " (invalid)"
            outcome = Outcome(f"{operation.method.upper()} {operation.path}{suffix}")
            self.outcomes.append(outcome)
            self.generate(operation.as_strategy(generation_mode=mode).map(real_cursor), outcome)
            outcome.note = f"{outcome.requests} generated requests ({mode.value})"

    def generate(self, strategy: Any, outcome: Outcome) -> None:
        """Draw up to `examples` cases (deterministic for the seed) and send each; failures are recorded,
        never raised, so that one bad answer does not hide the others (and nothing is shrunk)."""

        @hypothesis.settings(
            max_examples=self.examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.seed(self.seed)
        @hypothesis.given(strategy)
        def run(case: Any) -> None:
            self.send(case, outcome)

        run()

    # ------------------------------------------------------------------------------- links
    def links(self, operation_id: str, status: str = "200") -> dict[str, Any]:
        for path_item in self.spec["paths"].values():
            for operation in path_item.values():
                if isinstance(operation, Mapping) and operation.get("operationId") == operation_id:
                    links: dict[str, Any] = operation["responses"][status].get("links", {})
                    return links
        raise KeyError(operation_id)

    @staticmethod
    def evaluate(expression: str, body: Any) -> Any:
        """An OpenAPI runtime expression of the form `$response.body#/json/pointer` (the only form used)."""
        prefix = "$response.body#"
        if not expression.startswith(prefix):
            raise ValueError(f"unsupported runtime expression {expression!r}")
        value = body
        for part in expression[len(prefix) :].split("/")[1:]:
            key = part.replace("~1", "/").replace("~0", "~")
            if isinstance(value, list):
                value = value[int(key)]
            elif isinstance(value, Mapping) and key in value:
                value = value[key]
            else:
                return None
        return value

    def follow(self, source: str, link_name: str, body: Any, outcome: Outcome) -> Any:
        """Call the operation a link of `source`'s 200 answer points at, with the parameters it names."""
        link = self.links(source)[link_name]
        query = {name: self.evaluate(expr, body) for name, expr in link.get("parameters", {}).items()}
        if any(value in (None, "") for value in query.values()):
            outcome.note = f"link {link_name}: nothing to follow ({query})"
            return None
        target = self.schema.find_operation_by_id(link["operationId"])
        response = self.send(target.Case(query=query), outcome)
        outcome.note = f"link {source} -> {link_name} ({link['operationId']} with {query})"
        return response

    def check_model_pages(self) -> None:
        outcome = Outcome("link NextPage")
        self.outcomes.append(outcome)
        first = self.send(self.schema.find_operation_by_id("list_models").Case(query={}), outcome)
        if first is not None and first.status_code == 200:
            self.follow("list_models", "NextPage", first.json(), outcome)

    def check_task(self, task_id: str, outcome: Outcome, *, wait: float) -> str | None:
        """Follow GetTaskResult from a `task_id` and poll (through the same link) until the task ends or
        `wait` seconds pass; its last status (None: no answer to read one from)."""
        created = {"task_id": task_id}
        deadline = time.monotonic() + wait
        while True:
            response = self.follow("create_txt2img_task", "GetTaskResult", created, outcome)
            if response is None or response.status_code != 200:
                return None
            try:
                status = (response.json().get("task") or {}).get("status")
            except (ValueError, AttributeError):  # not JSON, not an object: its check has said so
                return None
            if status in TERMINAL or time.monotonic() > deadline:
                outcome.note += f"; last status {status} after {outcome.requests} requests"
                return str(status)
            time.sleep(2)

    # ----------------------------------------------------------------------- the billed POST
    def first_cursor(self) -> str | None:
        """The `next_cursor` of the first page of models (one free GET), if there is a second page."""
        case = self.schema.find_operation_by_id("list_models").Case(query={})
        self.setup_requests += 1
        try:
            response = case.call(
                base_url=self.base_url, session=self.session, headers=self.headers, timeout=60
            )
            cursor = (response.json().get("pagination") or {}).get("next_cursor")
        except (requests.RequestException, ValueError, AttributeError):
            return None
        return str(cursor) if cursor else None

    def cheapest_model(self) -> str:
        case = self.schema.find_operation_by_id("list_models").Case(
            query={"filter.types": "checkpoint", "pagination.limit": 20}
        )
        self.setup_requests += 1
        response = case.call(base_url=self.base_url, session=self.session, headers=self.headers, timeout=60)
        if response.status_code == 200:
            for model in response.json().get("models") or []:
                name = model.get("sd_name") or model.get("model_name")
                if name and model.get("status", 1) == 1:
                    return str(name)
        return FALLBACK_MODEL

    def create_one_task(self, wait: float) -> None:
        """The one billed request: sent once, checked only by checks that send nothing (schemathesis's
        `ignored_auth` sends the same POST again without a key and with a wrong one: two more tasks on a
        server that takes any key), refused as a failure (the body is valid under the spec), then the
        task polled to its end, which must be a success whose image the SDK downloads and checks."""
        outcome = Outcome("POST /v3/async/txt2img")
        self.outcomes.append(outcome)
        body = {"request": {"model_name": self.cheapest_model(), **CHEAPEST_REQUEST}}
        case = self.schema.find_operation_by_id("create_txt2img_task").Case(
            body=cast(Any, body), media_type="application/json"
        )
        response = self.send(case, outcome, checks=_CHECKS_THAT_SEND_NOTHING)  # never re-sent: billed
        self.tasks_created += 1 if response is not None and response.status_code == 200 else 0
        if response is None or response.status_code != 200:
            outcome.note = "one cheapest task asked for; none created"
            if response is not None and 400 <= response.status_code < 500:
                outcome.failures.setdefault(
                    "A valid request was refused",
                    f"the cheapest task the spec allows was answered {response.status_code}: "
                    f"{response.text[:300]}\n    reproduce: {self.repro(case)}",
                )
            return
        task_id = str(response.json().get("task_id"))
        outcome.note = (
            f"one task created: {task_id} (128x128, 1 step, 1 image, {body['request']['model_name']})"
        )
        follow = Outcome("link GetTaskResult")
        self.outcomes.append(follow)
        status = self.check_task(task_id, follow, wait=wait)
        if status != "TASK_STATUS_SUCCEED":
            follow.failures.setdefault(
                "The task did not succeed",
                f"task {task_id}: last status {status} after {wait:g} s (the cheapest task should end "
                "TASK_STATUS_SUCCEED)",
            )
            return
        self.check_images(task_id, follow, wait=wait, cheapest=True)

    def check_images(self, task_id: str, outcome: Outcome, *, wait: float, cheapest: bool = False) -> None:
        """A succeeded task read as the SDK reads it (GETs only, free): its own task id, images that
        download, are whole and decode; for the cheapest task, one image at the size asked for (give or
        take the backend's rounding, as the SDK allows)."""
        from . import Client, PPIOError
        from ._images import SIZE_TOLERANCE

        try:
            with Client(self.api_key, base_url=self.base_url, timeout=max(wait, 60)) as client:
                generation = client.wait(task_id)
        except PPIOError as exc:
            outcome.failures.setdefault("The result does not hold", f"{type(exc).__name__}: {exc}")
            return
        images = generation.images
        if not cheapest:
            outcome.note += f"; its {len(images)} image(s) downloaded and checked"
            return
        asked = (CHEAPEST_REQUEST["width"], CHEAPEST_REQUEST["height"])
        if len(images) != CHEAPEST_REQUEST["image_num"]:
            outcome.failures.setdefault(
                "The result does not hold",
                f"{len(images)} images for image_num {CHEAPEST_REQUEST['image_num']}",
            )
        elif any(abs(got - want) > SIZE_TOLERANCE for got, want in zip(images[0].size, asked, strict=True)):
            outcome.failures.setdefault(
                "The result does not hold", f"an image of {images[0].size}, asked for {asked}"
            )
        else:
            outcome.note += f"; its image downloaded and checked ({images[0].format}, {images[0].size})"

    # ------------------------------------------------------------------------------- report
    def report(self, print_: Callable[[str], None], *, allow_billing: bool, task_id: str | None) -> bool:
        total = self.setup_requests + sum(o.requests for o in self.outcomes)
        failed = [o for o in self.outcomes if o.failures]
        print_(f"Contract test of {self.base_url} against the spec {self.spec['info']['version']}")
        print_(
            f"({self.examples} examples per GET operation; every default schemathesis check on each answer)"
        )
        for outcome in self.outcomes:
            state = (
                "skipped"
                if outcome.skipped
                else (f"{len(outcome.failures)} FAILED" if outcome.failures else "ok")
            )
            print_(f"  {outcome.name:<36} {state:<9} {outcome.note}")
            for title, message in outcome.failures.items():
                print_(f"    - {title}")
                for line in message.splitlines()[:12]:
                    print_(f"      {line}")
        if allow_billing:
            print_(f"Billing: {self.tasks_created} task(s) created, at most 1 image of 128x128 at 1 step.")
        else:
            print_(
                "Billing: 0 tasks created, nothing could have been billed (GETs only; "
                "--allow-billing sends one 128x128, 1-step, 1-image task)."
            )
        if task_id is None and not allow_billing:
            print_(
                "Not checked: a real task's result (give --task-id of a task you have, or --allow-billing)."
            )
        verdict = "FAILED" if failed else "passed"
        print_(f"contract: {total} requests, {len(failed)} of {len(self.outcomes)} checks failed: {verdict}")
        return not failed
