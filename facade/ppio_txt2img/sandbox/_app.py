"""The Starlette application: the three API operations of the spec, plus the storage host.

Every API request goes through the same gate, in this order: count it, add the configured latency,
maybe redirect it, check the API key, maybe drop the connection, maybe answer an injected error; only
then does the handler run. Error bodies are always `{code, reason, message, metadata}` with `code`
equal to the status. A successful JSON answer gets its `response_overrides` and `pad_bytes`; then
every answer goes on the wire compressed and dripped as configured (see `_wire`).

Every route is also served under `/_r` (where same-host redirects point), and the same app answers on
the second listener that other-host redirects point at (see `_hosts`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import _catalogue, _validation
from ._config import FINISHED_TASK_RESULT
from ._faults import error_message, error_reason, gateway_page, is_gateway_page
from ._hosts import HOP_PREFIX, host_key, redirect_location
from ._images import CONTENT_TYPES, ImageSpec
from ._overrides import with_overrides
from ._server import TransportRegistry, connection_of
from ._state import SandboxState
from ._stats import OTHER
from ._storage import STORAGE_PREFIX, s3_error
from ._tasks import SUCCEED, TERMINAL, TEST_IMAGE, TEST_IMAGE_PATH, Task
from ._webhooks import EVENT_TYPE, is_loopback_url
from ._wire import accepts, on_the_wire, pad_json

TXT2IMG_PATH = "/v3/async/txt2img"
TASK_RESULT_PATH = "/v3/async/task-result"
MODEL_PATH = "/v3/model"
_MAX_BODY = 1024 * 1024
_OBJECT = re.compile(r"(?P<task_id>[^/]+)/(?P<index>0|[1-9][0-9]{0,2})\.(?P<ext>png|jpeg|webp)")
_S3_CODES = {403: "AccessDenied", 404: "NoSuchKey", 500: "InternalError", 503: "SlowDown"}

Handler = Callable[[Request], Awaitable[Response]]


def json_bytes(content: Any) -> bytes:
    """Compact JSON, ASCII-escaped so that any string the client sent can be echoed."""
    return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class JSONBody(Response):
    """An `application/json` response of `json_bytes`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


def api_error(
    status: int,
    reason: str,
    message: str,
    *,
    metadata: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error in the API's documented shape."""
    body = {"code": status, "reason": reason, "message": message, "metadata": dict(metadata or {})}
    return JSONBody(body, status_code=status, headers=dict(headers or {}))


def invalid_body(problems: list[_validation.Problem]) -> Response:
    """400 INVALID_REQUEST_BODY naming the offending field(s)."""
    return api_error(
        400,
        "INVALID_REQUEST_BODY",
        _validation.describe(problems),
        metadata={"field": problems[0].field},
    )


class Drop(Response):
    """Closes the connection without answering; in-process (ASGI transport) raises what httpx would."""

    def __init__(self, transports: TransportRegistry) -> None:
        super().__init__(status_code=500)
        self._transports = transports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = connection_of(scope.get("server"), scope.get("client"))
        transport = self._transports.get(connection)
        if transport is None:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        transport.close()
        # Return only once the server has seen the connection go (it unregisters it then), so that
        # it neither sends a 500 nor logs "returned without starting response".
        for _ in range(1000):
            if self._transports.get(connection) is not transport:
                break
            await anyio.sleep(0.001)


class SandboxApp:
    """Request handlers over one `SandboxState`."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.config = state.config

    # ---------------------------------------------------------------------------------- plumbing

    def counted(self, endpoint: str, handler: Handler) -> Handler:
        async def endpoint_handler(request: Request) -> Response:
            stats = self.state.stats
            stats.request(endpoint)
            server = request.scope.get("server")
            stats.arrived(
                host_key(server),
                endpoint,
                other_host=self.state.hosts.is_other(server),
                authorization="authorization" in request.headers,
            )
            response = await handler(request)
            if isinstance(response, Drop):
                stats.dropped(endpoint)
                return response
            stats.response(endpoint, response.status_code)
            return self.on_the_wire(request, endpoint, response)

        return endpoint_handler

    def on_the_wire(self, request: Request, endpoint: str, response: Response) -> Response:
        """The answer compressed (when configured and accepted) and dripped (when configured)."""
        coding = self.config.compression.get(endpoint)
        accepted = coding is not None and accepts(request.headers.get("accept-encoding", ""), coding)
        return on_the_wire(
            response,
            coding=coding if accepted else None,
            vary=coding is not None,
            bytes_per_second=self.config.drip_bytes_per_second.get(endpoint),
        )

    def answer(self, endpoint: str, payload: Any, *, finished: bool = False) -> Response:
        """A successful JSON answer, with the endpoint's overrides and padding (`finished`: the task is)."""
        overrides = dict(self.config.response_overrides.get(endpoint, {}))
        if finished:
            overrides.update(self.config.response_overrides.get(FINISHED_TASK_RESULT, {}))
        body = json_bytes(with_overrides(payload, overrides) if overrides else payload)
        size = self.config.pad_bytes.get(endpoint)
        if size is not None:
            body = pad_json(body, size)
        return Response(body, media_type="application/json")

    async def arrive(self, request: Request, endpoint: str) -> Response | None:
        """The endpoint's latency, then its redirect if one is configured (a response: answer it)."""
        slow = self.config.slow_seconds.get(endpoint, 0.0)
        if slow > 0:
            await anyio.sleep(slow)
        target = self.config.redirects.get(endpoint)
        if target is None:
            return None
        url = request.url
        hosts = self.state.hosts
        location = redirect_location(
            target,
            path_and_query=url.path + (f"?{url.query}" if url.query else ""),
            own_base=f"{url.scheme}://{url.netloc}",
            on_other_host=hosts.is_other(request.scope.get("server")),
            primary=hosts.primary,
            other=hosts.other,
        )
        if location is None:
            return None
        status = self.config.redirect_status
        return Response(
            gateway_page(status), status_code=status, media_type="text/html", headers={"Location": location}
        )

    async def gate(self, request: Request, endpoint: str) -> Response | None:
        """Latency, redirect, authentication and injected faults; a response means: answer it instead."""
        detour = await self.arrive(request, endpoint)
        if detour is not None:
            return detour
        refusal = self.authenticate(request)
        if refusal is not None:
            return refusal
        if self.state.dice.drop(endpoint):
            return Drop(self.state.transports)
        status = self.state.dice.error_status(endpoint)
        if status is not None:
            return self.injected_error(status, endpoint)
        return None

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "").strip()
        scheme, _, rest = header.partition(" ")
        key = rest.strip() if scheme.lower() == "bearer" else header
        if not key:
            return api_error(401, "MISSING_API_KEY", "missing api-key")
        accepted = self.config.accepted_api_keys
        if accepted is not None and key not in accepted:
            return api_error(403, "INVALID_API_KEY", "invalid api-key")
        return None

    def retry_after(self, status: int) -> dict[str, str]:
        if status in (429, 503) and self.config.retry_after is not None:
            return {"Retry-After": str(self.config.retry_after)}
        return {}

    def injected_error(self, status: int, endpoint: str) -> Response:
        if is_gateway_page(status):
            return Response(gateway_page(status), status_code=status, media_type="text/html")
        reason = error_reason(status, endpoint)
        return api_error(status, reason, error_message(status), headers=self.retry_after(status))

    # -------------------------------------------------------------------------------- operations

    async def create_task(self, request: Request) -> Response:
        refusal = await self.gate(request, "txt2img")
        if refusal is not None:
            return refusal
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if not (content_type == "application/json" or content_type.endswith("+json")):
            problem = _validation.Problem("body", f"must be application/json, not {content_type!r}")
            return invalid_body([problem])
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > _MAX_BODY:
                return invalid_body([_validation.Problem("body", "is larger than 1 MiB")])
        body, parse_problem = _validation.parse_json_body(bytes(raw))
        if parse_problem is not None:
            return invalid_body([parse_problem])
        problems = _validation.check_component(
            "Txt2ImgBody", body, unknown_fields=self.state.config.unknown_fields == "accept"
        )
        if problems:
            return invalid_body(problems)
        body = _validation.without_nulls(body)
        problems = self.cross_field_problems(body)
        if problems:
            return invalid_body(problems)

        wait = self.state.ratelimit.acquire(int(body["request"]["image_num"]), self.state.clock.now())
        if wait is not None:  # past the account's images per minute: refused, no task created
            retry_after = {"Retry-After": self.state.ratelimit.retry_after_header(wait)}
            return api_error(429, "RATE_LIMIT_EXCEEDED", error_message(429), headers=retry_after)
        task = self.state.tasks.submit(body, str(request.base_url))
        self.schedule_webhook(task)
        if self.state.dice.drop("txt2img_after_create"):
            return Drop(self.state.transports)
        return self.answer("txt2img", {"task_id": task.task_id})

    @staticmethod
    def cross_field_problems(body: Mapping[str, Any]) -> list[_validation.Problem]:
        """Documented rules the schema cannot express, and the sandbox's loopback-only webhooks."""
        problems = []
        extra = body.get("extra", {})
        image_type = extra.get("response_image_type", "png")
        if body["request"].get("enable_transparent_background") and image_type != "png":
            problems.append(
                _validation.Problem(
                    "extra.response_image_type",
                    f"must be 'png' when request.enable_transparent_background is true, not {image_type!r}",
                )
            )
        webhook = extra.get("webhook")
        if webhook is not None and not is_loopback_url(webhook["url"]):
            problems.append(
                _validation.Problem(
                    "extra.webhook.url",
                    "the sandbox only delivers webhooks to http(s) loopback addresses "
                    "(127.0.0.0/8, ::1, localhost)",
                )
            )
        return problems

    def schedule_webhook(self, task: Task) -> None:
        webhook = task.webhook
        if webhook is None:
            return
        test_mode = webhook.get("test_mode") or {}
        forced: str | None = None
        due = task.finished
        if test_mode.get("enabled"):
            forced = str(test_mode["return_task_status"])
            due = self.state.clock.now()
        renderer, clock = self.state.renderer, self.state.clock

        def make_event() -> dict[str, Any]:
            payload = renderer.render(task, task.base_url, clock.now(), status=forced, echo_webhook=True)
            return {"event_type": EVENT_TYPE, "payload": payload}

        self.state.webhooks.schedule(task.task_id, str(webhook["url"]), due, make_event)

    async def task_result(self, request: Request) -> Response:
        refusal = await self.gate(request, "task_result")
        if refusal is not None:
            return refusal
        query, problems = _validation.parse_query(TASK_RESULT_PATH, "get", request.query_params.multi_items())
        if problems:
            return invalid_body(problems)
        task_id = str(query["task_id"])
        task = self.state.tasks.get(task_id)
        if task is None:
            return api_error(
                404, "TASK_NOT_FOUND", f"task {task_id} not found", metadata={"task_id": task_id}
            )
        now = self.state.clock.now()
        payload = self.state.renderer.render(task, str(request.base_url), now)
        return self.answer("task_result", payload, finished=task.status(now) in TERMINAL)

    async def list_models(self, request: Request) -> Response:
        refusal = await self.gate(request, "model")
        if refusal is not None:
            return refusal
        query, problems = _validation.parse_query(MODEL_PATH, "get", request.query_params.multi_items())
        if problems:
            return invalid_body(problems)
        try:
            offset = _catalogue.decode_cursor(str(query.get("pagination.cursor", "")))
        except _catalogue.CursorError as exc:
            return invalid_body([_validation.Problem("pagination.cursor", str(exc))])
        limit = int(query.get("pagination.limit", _catalogue.DEFAULT_PAGE_SIZE))
        chosen = _catalogue.select(_catalogue.CATALOGUE, query)
        paginate = _catalogue.endless_page if self.config.endless_model_pages else _catalogue.page
        models, next_cursor = paginate(chosen, offset=offset, limit=limit)
        payload = {"models": [m.as_json() for m in models], "pagination": {"next_cursor": next_cursor}}
        return self.answer("model", payload)

    # ------------------------------------------------------------------------------------ storage

    async def storage(self, request: Request) -> Response:
        if "authorization" in request.headers:
            self.state.stats.storage_authorization()
        detour = await self.arrive(request, "storage")
        if detour is not None:
            return detour
        dice = self.state.dice
        if dice.drop("storage"):
            return Drop(self.state.transports)
        object_path = str(request.path_params["object_path"])
        resource = f"{STORAGE_PREFIX}/{object_path}"
        status = dice.error_status("storage")
        if status is not None:
            code = _S3_CODES.get(status, "ServiceUnavailable")
            headers = self.retry_after(status)
            body = s3_error(code, "injected storage error, please retry", resource)
            return Response(body, status_code=status, media_type="application/xml", headers=headers)

        denial = self.state.signer.check(
            object_path,
            request.query_params.get("expires"),
            request.query_params.get("sig"),
            self.state.clock.wall(self.state.clock.now()),
        )
        if denial is not None:
            code, _, message = denial.partition(": ")
            return Response(s3_error(code, message, resource), status_code=403, media_type="application/xml")
        spec = self.find_object(object_path)
        if spec is None:
            body = s3_error("NoSuchKey", "The specified key does not exist.", resource)
            return Response(body, status_code=404, media_type="application/xml")
        data = await self.state.images.fetch(spec)
        if dice.chance(self.config.truncated_image_rate):
            data = data[: max(1, int(len(data) * dice.uniform(0.2, 0.8)))]
        return Response(
            data,
            media_type=CONTENT_TYPES[spec.image_type],
            headers={"Cache-Control": f"private, max-age={self.config.image_url_ttl}"},
        )

    def find_object(self, object_path: str) -> ImageSpec | None:
        if object_path == TEST_IMAGE_PATH:
            return TEST_IMAGE
        match = _OBJECT.fullmatch(object_path)
        if match is None:
            return None
        task = self.state.tasks.get(match["task_id"])
        index = int(match["index"])
        if (
            task is None
            or task.status(self.state.clock.now()) != SUCCEED
            or index >= task.image_num
            or match["ext"] != task.image_type
        ):
            return None
        spec = task.image_spec(index)
        size = self.config.image_size_override
        return spec if size is None else dataclasses.replace(spec, width=size[0], height=size[1])

    # ---------------------------------------------------------------------------- everything else

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """Unknown paths (404 API_NOT_FOUND) and wrong methods (405), in the API's error shape."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        self.state.stats.request(OTHER)
        self.state.stats.response(OTHER, status)
        if status == 404:
            return api_error(404, "API_NOT_FOUND", f"{request.url.path} not found")
        if status == 405:
            return api_error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed", headers=headers)
        return api_error(status, "INVALID_REQUEST_BODY", str(getattr(exc, "detail", "")), headers=headers)

    async def server_error(self, request: Request, exc: Exception) -> Response:
        """A bug in the sandbox: still an error body of the documented shape (the traceback is logged)."""
        return api_error(500, "INTERNAL_SERVER_ERROR", f"sandbox error: {type(exc).__name__}")

    def build(self) -> Starlette:
        operations = [
            (TXT2IMG_PATH, "txt2img", self.create_task, "POST"),
            (TASK_RESULT_PATH, "task_result", self.task_result, "GET"),
            (MODEL_PATH, "model", self.list_models, "GET"),
            (STORAGE_PREFIX + "/{object_path:path}", "storage", self.storage, "GET"),
        ]
        routes = [
            Route(prefix + path, self.counted(endpoint, handler), methods=[method])
            for prefix in ("", HOP_PREFIX)
            for path, endpoint, handler, method in operations
        ]
        return Starlette(
            routes=routes,
            exception_handlers={HTTPException: self.http_error, 500: self.server_error},
        )


def build_app(state: SandboxState) -> Starlette:
    """The ASGI application of a sandbox."""
    return SandboxApp(state).build()
