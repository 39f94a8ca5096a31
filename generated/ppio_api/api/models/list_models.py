from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.model_list_response import ModelListResponse
from ...models.model_source import ModelSource
from ...models.model_type import ModelType
from ...models.model_visibility import ModelVisibility
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    filter_visibility: ModelVisibility | Unset = UNSET,
    filter_source: ModelSource | Unset = UNSET,
    filter_types: ModelType | Unset = UNSET,
    filter_is_sdxl: bool | Unset = UNSET,
    filter_query: str | Unset = UNSET,
    filter_is_inpainting: bool | Unset = False,
    pagination_limit: int | Unset = UNSET,
    pagination_cursor: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_filter_visibility: str | Unset = UNSET
    if not isinstance(filter_visibility, Unset):
        json_filter_visibility = filter_visibility.value

    params["filter.visibility"] = json_filter_visibility

    json_filter_source: str | Unset = UNSET
    if not isinstance(filter_source, Unset):
        json_filter_source = filter_source.value

    params["filter.source"] = json_filter_source

    json_filter_types: str | Unset = UNSET
    if not isinstance(filter_types, Unset):
        json_filter_types = filter_types.value

    params["filter.types"] = json_filter_types

    params["filter.is_sdxl"] = filter_is_sdxl

    params["filter.query"] = filter_query

    params["filter.is_inpainting"] = filter_is_inpainting

    params["pagination.limit"] = pagination_limit

    params["pagination.cursor"] = pagination_cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v3/model",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | ModelListResponse | str | None:
    if response.status_code == 200:
        response_200 = ModelListResponse.from_dict(response.json())

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
) -> Response[ErrorBody | ModelListResponse | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    filter_visibility: ModelVisibility | Unset = UNSET,
    filter_source: ModelSource | Unset = UNSET,
    filter_types: ModelType | Unset = UNSET,
    filter_is_sdxl: bool | Unset = UNSET,
    filter_query: str | Unset = UNSET,
    filter_is_inpainting: bool | Unset = False,
    pagination_limit: int | Unset = UNSET,
    pagination_cursor: str | Unset = UNSET,
) -> Response[ErrorBody | ModelListResponse | str]:
    """List models (checkpoints, LoRAs, VAEs, embeddings, ...)

     One page of the model catalogue; pass `pagination.next_cursor` back to get the next.

    Args:
        filter_visibility (ModelVisibility | Unset): Who can use a model.
        filter_source (ModelSource | Unset): Where a model comes from.
        filter_types (ModelType | Unset): Kinds of model the `filter.types` query accepts. Listed
            models may carry others.
        filter_is_sdxl (bool | Unset):
        filter_query (str | Unset):
        filter_is_inpainting (bool | Unset):  Default: False.
        pagination_limit (int | Unset):
        pagination_cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ModelListResponse | str]
    """

    kwargs = _get_kwargs(
        filter_visibility=filter_visibility,
        filter_source=filter_source,
        filter_types=filter_types,
        filter_is_sdxl=filter_is_sdxl,
        filter_query=filter_query,
        filter_is_inpainting=filter_is_inpainting,
        pagination_limit=pagination_limit,
        pagination_cursor=pagination_cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    filter_visibility: ModelVisibility | Unset = UNSET,
    filter_source: ModelSource | Unset = UNSET,
    filter_types: ModelType | Unset = UNSET,
    filter_is_sdxl: bool | Unset = UNSET,
    filter_query: str | Unset = UNSET,
    filter_is_inpainting: bool | Unset = False,
    pagination_limit: int | Unset = UNSET,
    pagination_cursor: str | Unset = UNSET,
) -> ErrorBody | ModelListResponse | str | None:
    """List models (checkpoints, LoRAs, VAEs, embeddings, ...)

     One page of the model catalogue; pass `pagination.next_cursor` back to get the next.

    Args:
        filter_visibility (ModelVisibility | Unset): Who can use a model.
        filter_source (ModelSource | Unset): Where a model comes from.
        filter_types (ModelType | Unset): Kinds of model the `filter.types` query accepts. Listed
            models may carry others.
        filter_is_sdxl (bool | Unset):
        filter_query (str | Unset):
        filter_is_inpainting (bool | Unset):  Default: False.
        pagination_limit (int | Unset):
        pagination_cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ModelListResponse | str
    """

    return sync_detailed(
        client=client,
        filter_visibility=filter_visibility,
        filter_source=filter_source,
        filter_types=filter_types,
        filter_is_sdxl=filter_is_sdxl,
        filter_query=filter_query,
        filter_is_inpainting=filter_is_inpainting,
        pagination_limit=pagination_limit,
        pagination_cursor=pagination_cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    filter_visibility: ModelVisibility | Unset = UNSET,
    filter_source: ModelSource | Unset = UNSET,
    filter_types: ModelType | Unset = UNSET,
    filter_is_sdxl: bool | Unset = UNSET,
    filter_query: str | Unset = UNSET,
    filter_is_inpainting: bool | Unset = False,
    pagination_limit: int | Unset = UNSET,
    pagination_cursor: str | Unset = UNSET,
) -> Response[ErrorBody | ModelListResponse | str]:
    """List models (checkpoints, LoRAs, VAEs, embeddings, ...)

     One page of the model catalogue; pass `pagination.next_cursor` back to get the next.

    Args:
        filter_visibility (ModelVisibility | Unset): Who can use a model.
        filter_source (ModelSource | Unset): Where a model comes from.
        filter_types (ModelType | Unset): Kinds of model the `filter.types` query accepts. Listed
            models may carry others.
        filter_is_sdxl (bool | Unset):
        filter_query (str | Unset):
        filter_is_inpainting (bool | Unset):  Default: False.
        pagination_limit (int | Unset):
        pagination_cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ModelListResponse | str]
    """

    kwargs = _get_kwargs(
        filter_visibility=filter_visibility,
        filter_source=filter_source,
        filter_types=filter_types,
        filter_is_sdxl=filter_is_sdxl,
        filter_query=filter_query,
        filter_is_inpainting=filter_is_inpainting,
        pagination_limit=pagination_limit,
        pagination_cursor=pagination_cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    filter_visibility: ModelVisibility | Unset = UNSET,
    filter_source: ModelSource | Unset = UNSET,
    filter_types: ModelType | Unset = UNSET,
    filter_is_sdxl: bool | Unset = UNSET,
    filter_query: str | Unset = UNSET,
    filter_is_inpainting: bool | Unset = False,
    pagination_limit: int | Unset = UNSET,
    pagination_cursor: str | Unset = UNSET,
) -> ErrorBody | ModelListResponse | str | None:
    """List models (checkpoints, LoRAs, VAEs, embeddings, ...)

     One page of the model catalogue; pass `pagination.next_cursor` back to get the next.

    Args:
        filter_visibility (ModelVisibility | Unset): Who can use a model.
        filter_source (ModelSource | Unset): Where a model comes from.
        filter_types (ModelType | Unset): Kinds of model the `filter.types` query accepts. Listed
            models may carry others.
        filter_is_sdxl (bool | Unset):
        filter_query (str | Unset):
        filter_is_inpainting (bool | Unset):  Default: False.
        pagination_limit (int | Unset):
        pagination_cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ModelListResponse | str
    """

    return (
        await asyncio_detailed(
            client=client,
            filter_visibility=filter_visibility,
            filter_source=filter_source,
            filter_types=filter_types,
            filter_is_sdxl=filter_is_sdxl,
            filter_query=filter_query,
            filter_is_inpainting=filter_is_inpainting,
            pagination_limit=pagination_limit,
            pagination_cursor=pagination_cursor,
        )
    ).parsed


# Sans-I/O entry points (added by this project's template, openapi/templates/): build the request
# and parse a response without sending anything, so that a caller can send it with its own
# httpx client, per-request auth, timeout and retry policy, and still see the raw response when
# the body does not parse.
build_request = _get_kwargs
parse_response = _build_response
