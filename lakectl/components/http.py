"""HTTP (httpx) for every REST component: one error vocabulary and one retry policy.

Unreachable or timing out -> ServiceUnavailable (exit 3); 401/403 -> UsageError (the
credentials are the user's input); any other failure -> the component's own error with the
server's message. Only idempotent GETs are retried, with jitter and a cap.

What the user hands a client is checked before a request is built from it: the base URL
(``base_url``: http(s) with a host, else ConfigError), a bearer token (``bearer``: what a header
can carry, else ConfigError, never echoing it), and every name that goes into a path
(``segment``: percent-encoded, so a subject or DAG id with ``/``, spaces or control characters
stays one segment instead of another endpoint or an httpx error).
"""

from __future__ import annotations

import random
import re
import time
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from lakectl.errors import ComponentError, ConfigError, ServiceUnavailable, UsageError

TRANSIENT_STATUS = {502, 503, 504}
HEADER_SAFE = re.compile(r"[\x21-\x7e]+")  # a token68-ish credential: visible ASCII, no spaces


def segment(value: object) -> str:
    """One path segment made of user input (a subject, a DAG id, a job id), percent-encoded whole; bytes of a
    command line that were not UTF-8 (surrogate escapes) are sent as those bytes."""
    return quote(str(value), safe="", errors="surrogateescape")


def shown(url: str) -> str:
    """A URL fit for a message: a password in it (``https://user:password@host``) is masked."""
    return re.sub(r"^([^:/?#]*://[^/?#@]*?:)[^/?#@]*@", r"\1***@", url)


def base_url(url: str, service: str) -> str:
    """``url`` as a client's base URL (no trailing slash); ConfigError unless it is http(s) with a host."""
    text = url.rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
        httpx.URL(text)
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(f"{service}: {shown(url)!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise ConfigError(f"{service}: {shown(url)!r} is not an http:// or https:// URL with a host")
    return text


def bearer(token: str, what: str) -> dict[str, str]:
    """The Authorization header for ``token``; ConfigError (without the token) when a header cannot carry it."""
    if not HEADER_SAFE.fullmatch(token):
        raise ConfigError(f"{what} holds characters an HTTP header cannot carry (only visible ASCII, no spaces)")
    return {"Authorization": f"Bearer {token}"}


class HttpError(ComponentError):
    """A service's refusal: its HTTP status and decoded body (the message holds its own words)."""

    def __init__(self, message: str, status: int, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    def detail(self, key: str) -> Any:
        """A field of the service's JSON error body (None when there is none)."""
        return self.body.get(key) if isinstance(self.body, dict) else None


class RestService:
    """Base of the REST components: ``_request`` returns decoded JSON or raises lakectl errors."""

    service = "service"  # used in messages: "<service> at <url> is unreachable"
    up_hint: str | None = None
    error_type: type[HttpError] = HttpError  # what a refusal raises
    error_prefix: str | None = None  # its message's first word(s); the service's name by default

    def __init__(self, client: httpx.Client, *, retries: int = 3) -> None:
        self.client = client
        self.retries = retries

    def close(self) -> None:
        self.client.close()

    def error_message(self, response: httpx.Response, body: Any) -> str:
        """The server's own words for a failed call; components override for their error shape."""
        if isinstance(body, dict):
            return str(body.get("message") or body.get("errors") or body)
        return response.text.strip()[:300] or response.reason_phrase

    def error(self, response: httpx.Response, body: Any) -> HttpError:
        prefix = self.error_prefix or self.service
        return self.error_type(f"{prefix}: {self.error_message(response, body)}", response.status_code, body)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                response = self.client.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise ServiceUnavailable(
                    f"{self.service} at {shown(str(self.client.base_url))} is unreachable ({type(exc).__name__})",
                    hint=self.up_hint,
                ) from None
            except httpx.TimeoutException:
                raise ServiceUnavailable(f"{self.service} at {shown(str(self.client.base_url))} timed out") from None
            if response.status_code in TRANSIENT_STATUS and method == "GET" and attempt < self.retries:
                attempt += 1
                time.sleep(min(2.0, 0.1 * 2**attempt) * (0.5 + random.random()))
                continue
            break
        if response.is_success:
            return response.json() if response.content else None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (401, 403):
            raise UsageError(f"{self.service} refused the credentials ({response.status_code}): "
                             f"{self.error_message(response, body)}")
        raise self.error(response, body)
