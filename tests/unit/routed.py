"""A REST client's transport for unit tests: recorded answers by (method, path), every request kept."""

from __future__ import annotations

import httpx


def routed_transport(routes: dict, not_found: bytes) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """``routes`` maps (method, path) to (status, body); anything else gets 404 with ``not_found``."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = routes.get((request.method, request.url.path), (404, not_found))
        return httpx.Response(status, content=body)

    return httpx.MockTransport(handler), seen
