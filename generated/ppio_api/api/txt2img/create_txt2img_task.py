from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_task_response import CreateTaskResponse
from ...models.error_body import ErrorBody
from ...models.txt2img_body import Txt2ImgBody
from ...types import Response


def _get_kwargs(
    *,
    body: Txt2ImgBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v3/async/txt2img",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CreateTaskResponse | ErrorBody | str | None:
    if response.status_code == 200:
        response_200 = CreateTaskResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())

        return response_500

    if response.status_code == 502:
        response_502 = response.text
        return response_502

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if response.status_code == 504:
        response_504 = response.text
        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[CreateTaskResponse | ErrorBody | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: Txt2ImgBody,
) -> Response[CreateTaskResponse | ErrorBody | str]:
    """Submit a text-to-image task

     Starts an asynchronous text-to-image task and returns its `task_id` at once. Poll
    `GET /v3/async/task-result` (or set `extra.webhook`) for the images. Each accepted call is
    billed: a client must not resend it unless it knows no task was created.

    Args:
        body (Txt2ImgBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateTaskResponse | ErrorBody | str]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: Txt2ImgBody,
) -> CreateTaskResponse | ErrorBody | str | None:
    """Submit a text-to-image task

     Starts an asynchronous text-to-image task and returns its `task_id` at once. Poll
    `GET /v3/async/task-result` (or set `extra.webhook`) for the images. Each accepted call is
    billed: a client must not resend it unless it knows no task was created.

    Args:
        body (Txt2ImgBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateTaskResponse | ErrorBody | str
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: Txt2ImgBody,
) -> Response[CreateTaskResponse | ErrorBody | str]:
    """Submit a text-to-image task

     Starts an asynchronous text-to-image task and returns its `task_id` at once. Poll
    `GET /v3/async/task-result` (or set `extra.webhook`) for the images. Each accepted call is
    billed: a client must not resend it unless it knows no task was created.

    Args:
        body (Txt2ImgBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateTaskResponse | ErrorBody | str]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: Txt2ImgBody,
) -> CreateTaskResponse | ErrorBody | str | None:
    """Submit a text-to-image task

     Starts an asynchronous text-to-image task and returns its `task_id` at once. Poll
    `GET /v3/async/task-result` (or set `extra.webhook`) for the images. Each accepted call is
    billed: a client must not resend it unless it knows no task was created.

    Args:
        body (Txt2ImgBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateTaskResponse | ErrorBody | str
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed


# Sans-I/O entry points (added by this project's template, openapi/templates/): build the request
# and parse a response without sending anything, so that a caller can send it with its own
# httpx client, per-request auth, timeout and retry policy, and still see the raw response when
# the body does not parse.
build_request = _get_kwargs
parse_response = _build_response
