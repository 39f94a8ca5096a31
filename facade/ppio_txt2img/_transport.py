"""Which HTTP transport the clients use when the caller brings no `http_client`.

The async client runs on aiohttp's connection pool under asyncio, sending on it directly (`_aiohttp.py`):
with many tasks in flight, httpcore's pool costs milliseconds of CPU per request and aiohttp's does not
(see BENCHMARKS.md). Under trio, which aiohttp does not support, it keeps httpx's own transport. aiohttp
is imported only when the first async request is made, so `import ppio_txt2img` stays light.

Every client the SDK makes shares one TLS context: building one loads the CA bundle, 47 ms of CPU per
client against 0.13 ms with the shared one (measured with `httpx.Client()` on this machine), which an
app making a client per request, or a pool of workers, would otherwise pay each time.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
import ssl
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from . import _constants as C
from ._errors import ValidationError
from ._retry import NoAnswer
from ._wakeups import Closing

if TYPE_CHECKING:
    from ._aiohttp import AiohttpSession
    from ._slots import SlottedHttpx

__all__ = [
    "async_transport_name",
    "corrected_transport_error",
    "exception_chain",
    "own_async_client",
    "own_client_options",
    "own_httpx_client",
    "preload_async_transport",
    "proxy_table",
    "shared_ssl_context",
    "unanswered_error",
    "without_credentials",
]

H = TypeVar("H", httpx.Client, httpx.AsyncClient)


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CA bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` as set when
    the first client is made), made once per process. Never changed after it is made, so connections
    and threads can share it."""
    return httpx.create_ssl_context()


def proxy_table() -> list[tuple[Any, str | None]]:
    """The environment's proxies as httpx reads them (`trust_env`): (URL pattern, proxy or None for
    "directly"), most specific pattern first. Uses httpx's own helpers (private, and pinned below 1.0),
    so that the clients on httpx and on aiohttp never disagree about where a request goes. A `NO_PROXY`
    httpx cannot read is a `ValidationError` (httpx's own error would name no variable)."""
    from httpx._utils import URLPattern, get_environment_proxies

    try:
        return sorted((URLPattern(key), proxy) for key, proxy in get_environment_proxies().items())
    except (ValueError, httpx.InvalidURL) as exc:
        allowed = "host names, IP addresses and scheme://host patterns, comma-separated"
        raise ValidationError("NO_PROXY", str(exc), allowed, "is not a proxy pattern") from None


def without_credentials(text: str) -> str:
    """`text` with the user and password of every URL in it left out (a proxy's, in an error)."""
    return _CREDENTIALS.sub("//", text)


_CREDENTIALS = re.compile(r"//[^/@\s'\"]*@")


def own_httpx_client(factory: Callable[..., H]) -> H:
    """`httpx.Client` or `httpx.AsyncClient` as the clients make their own (`own_client_options`), the
    environment's proxies checked first: a `ValidationError` naming the variable, not httpx's error, for
    a `NO_PROXY` it cannot read or a SOCKS proxy without `httpx[socks]` installed."""
    socks = [p for _, p in proxy_table() if p is not None and httpx.URL(p).scheme.startswith("socks")]
    if socks and importlib.util.find_spec("socksio") is None:
        raise ValidationError(
            "proxy",
            without_credentials(socks[0]),
            "an http:// or https:// proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY), or a SOCKS one with "
            "httpx's SOCKS support installed: pip install 'httpx[socks]'",
        )
    return factory(**own_client_options())


def own_client_options() -> dict[str, Any]:
    """How the clients build their own httpx client: our User-Agent, a pool sized for many tasks, and
    no redirects (the flows follow those of GETs themselves, and none of the POST)."""
    limits = httpx.Limits(
        max_connections=C.DEFAULT_MAX_CONNECTIONS,
        max_keepalive_connections=C.DEFAULT_MAX_CONNECTIONS,
        keepalive_expiry=C.KEEPALIVE_EXPIRY,
    )
    return {
        "follow_redirects": False,
        "headers": {"User-Agent": C.USER_AGENT},
        "limits": limits,
        "verify": shared_ssl_context(),
    }


def preload_async_transport() -> None:
    """Do what the async client's first call would (import aiohttp and Pillow, load the CA bundle) now, when
    an `AsyncClient` is made (an app's start-up, a FastAPI lifespan), not at its first request: the
    imports take 150-250 ms of CPU, which there would stall every other request the event loop is
    serving. aiohttp not under trio (which does not use it), nor when it is not installed."""
    from PIL import Image  # noqa: F401

    shared_ssl_context()  # the CA bundle loaded: 47 ms
    if _async_library() == "asyncio":
        with contextlib.suppress(ImportError):
            import aiohttp  # noqa: F401
            import yarl  # noqa: F401

            from . import _aiohttp  # noqa: F401


def _async_library() -> str:
    """The async library running now; `asyncio` outside any (where the client is made, say)."""
    import sniffio

    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return "asyncio"


def async_transport_name() -> str:
    """`aiohttp` under asyncio when it can be imported, else `httpx` (trio, or aiohttp missing)."""
    if _async_library() != "asyncio":
        return "httpx"
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return "httpx"
    return "aiohttp"


def own_async_client(closing: Closing | None = None) -> AiohttpSession | SlottedHttpx:
    """The async client's own HTTP client, for the async library running now (call it from a task); at
    most `DEFAULT_MAX_CONNECTIONS` requests in flight on aiohttp, `HTTPX_ASYNC_IN_FLIGHT` on httpx, the
    others waiting for a slot (`_slots.py`). Closed once `closing` is, whatever its own state."""
    closing = closing or Closing()
    if async_transport_name() == "aiohttp":
        from ._aiohttp import AiohttpSession

        return AiohttpSession(closing)
    from ._slots import SlottedHttpx

    return SlottedHttpx(own_httpx_client(httpx.AsyncClient), C.HTTPX_ASYNC_IN_FLIGHT, closing)


def _is_aiohttp_connect_failure(cause: BaseException) -> bool:
    names = {kind.__name__ for kind in type(cause).__mro__}
    return bool(names & {"ClientConnectorError", "ConnectionTimeoutError"})


#: How httpcore says that the connection ended before the answer's head began (its end of stream read).
_DISCONNECTED = "Server disconnected without sending a response"


def unanswered_error(exc: httpx.TransportError) -> NoAnswer | None:
    """The `NoAnswer` an error of httpx's sending a request and reading its answer's head (`client.send`
    of a streamed request) stands for: the connection ended before any of the answer came (httpcore's
    end of stream), or was reset (`ConnectionResetError` in its chain) before the head was read whole;
    None for any other error. Not for an error reading a body once `client.send` has returned (a
    response hook of a caller's client that reads the body inside it can make a reset there one: the
    GET is then resent at once, which does no harm)."""
    closed = isinstance(exc, httpx.RemoteProtocolError) and str(exc).startswith(_DISCONNECTED)
    if not (closed or (isinstance(exc, httpx.ReadError) and _reset(exc))):
        return None
    return NoAnswer(str(exc), request=_request_of(exc))


def _request_of(exc: httpx.TransportError) -> httpx.Request | None:
    """The request an httpx error was raised for; None when it was raised without one."""
    try:
        return exc.request
    except RuntimeError:
        return None


def _reset(exc: BaseException) -> bool:
    """Whether a `ConnectionResetError` is in the chain of `exc` (httpx raises its own error from
    httpcore's, raised from the socket's)."""
    return any(isinstance(link, ConnectionResetError) for link in exception_chain(exc))


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, the error it was raised from (or while handling), that one's, and so on, each once."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def corrected_transport_error(exc: httpx.TransportError) -> httpx.TransportError:
    """httpx-aiohttp (in a caller's `http_client=`) reports every aiohttp connection error as
    `httpx.ConnectTimeout`, including a connection reset or closed after the request was sent. That
    would read as "never sent" and let a POST be resent (and billed twice); such an error is turned
    back into the `httpx.ReadError` it is."""
    cause = exc.__cause__
    if (
        isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        and cause is not None
        and type(cause).__module__.startswith("aiohttp")
        and not _is_aiohttp_connect_failure(cause)
    ):
        corrected = httpx.ReadError(str(exc) or type(cause).__name__, request=_request_of(exc))
        corrected.__cause__ = cause
        return corrected
    return exc
