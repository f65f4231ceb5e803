"""JSON over HTTP for the network adapters: one POST, its failures mapped to reasons.

Every status a provider answers with becomes a `ProviderError` with a reason of `base`:
429 → rate limited (with `Retry-After`, seconds or an HTTP date, or `retry-after-ms`),
5xx and 529 → unavailable, 401/403 → unauthorized, other 4xx → rejected, a timeout →
timed out, a 2xx whose body is not JSON → bad response. The provider's own error message
is kept (shortened, with the API key blanked out should the provider echo it).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any, Final

import httpx

from ..core.errors import ProviderError
from .base import (
    BAD_RESPONSE,
    RATE_LIMITED,
    REJECTED,
    TIMED_OUT,
    UNAUTHORIZED,
    UNAVAILABLE,
    Completion,
    CompletionRequest,
    provider_error,
)
from .pricing import reported_or_estimated

DETAIL_MAX: Final = 300
"""Longest provider error message kept in our errors."""


class JsonEndpoint:
    """Posts JSON requests to one provider and returns the decoded JSON answers."""

    def __init__(
        self,
        name: str,
        *,
        timeout: float,
        secret: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = name
        self._secret = secret
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
        )

    async def post(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """POST `body` as JSON; the decoded JSON answer, or `ProviderError`."""
        return await self._request("POST", url, body=body, headers=headers, params=params)

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """GET a JSON document (a model list); the decoded answer, or `ProviderError`."""
        return await self._request("GET", url, headers=headers, params=params)

    async def _request(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
    ) -> Any:
        try:
            response = await self._client.request(
                method,
                url,
                json=None if body is None else dict(body),
                headers=dict(headers or {}),
                params=dict(params or {}),
            )
        except httpx.TimeoutException:
            raise provider_error(self.name, TIMED_OUT, "no answer in time") from None
        except httpx.TransportError as error:
            raise provider_error(
                self.name, UNAVAILABLE, f"cannot reach {_origin(url)} ({type(error).__name__})"
            ) from None
        if response.status_code >= 400:
            raise self._status_error(response)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise provider_error(
                self.name,
                BAD_RESPONSE,
                f"HTTP {response.status_code} answer is not JSON: {self._detail(response.text)!r}",
            ) from None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _status_error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        detail = f"HTTP {status}"
        message = self._detail(_error_message(response))
        if message:
            detail += f": {message}"
        retry_after = retry_after_seconds(response.headers)
        if status == 429:
            return provider_error(self.name, RATE_LIMITED, detail, retry_after=retry_after)
        if status >= 500:
            return provider_error(self.name, UNAVAILABLE, detail, retry_after=retry_after)
        if status in (401, 403):
            return provider_error(self.name, UNAUTHORIZED, detail)
        if status == 408:
            return provider_error(self.name, TIMED_OUT, detail, retry_after=retry_after)
        return provider_error(self.name, REJECTED, detail)

    def _detail(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        text = " ".join(text.split())
        return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


def retry_after_seconds(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_message(response: httpx.Response) -> str:
    """The provider's own explanation, from any of the usual error shapes."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            return error
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, str):
                kind = error.get("type") or error.get("status")
                return f"{kind}: {message}" if isinstance(kind, str) else message
    return response.text


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


class HttpProvider:
    """State every network adapter shares: its name, model, base URL, key and endpoint.

    Subclasses set `default_endpoint` and implement `complete`.
    """

    default_endpoint: str = ""

    def __init__(
        self,
        name: str,
        *,
        model: str,
        endpoint: str | None = None,
        api_key: str | None = None,
        timeout: float = 60,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.endpoint = (endpoint or self.default_endpoint).rstrip("/")
        self._api_key = api_key
        self._http = JsonEndpoint(name, timeout=timeout, secret=api_key, client=client)

    def completion(
        self, text: str, request: CompletionRequest, *, usage: tuple[Any, Any], model: Any
    ) -> Completion:
        """The Completion of an answer: token counts as reported (estimated when missing),
        the model the provider says it used (else the one asked for)."""
        input_tokens, output_tokens, estimated = reported_or_estimated(
            usage[0], usage[1], prompt=request.system + request.prompt, answer=text
        )
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            provider=self.name,
            model=model if isinstance(model, str) and model else self.model,
            tokens_estimated=estimated,
        )
