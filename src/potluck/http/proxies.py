"""The client's real address behind reverse proxies, trusted only when configured, and
CORS for the browsers of the configured origins."""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Flask, Response
from flask_cors import CORS

EXPOSED_HEADERS = [
    "ETag",
    "Link",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Request-ID",
    "Idempotent-Replayed",
    "Cache-Status",
]
ALLOWED_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "If-Modified-Since",
    "Idempotency-Key",
    "X-Request-ID",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """WSGI middleware: take the client address (and scheme) from X-Forwarded-For/-Proto
    only when the peer is a configured proxy, and then the rightmost untrusted hop."""

    def __init__(self, app: Any, networks: list[Network]) -> None:
        self.app = app
        self.networks = networks

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._trusted(environ.get("REMOTE_ADDR", "")):
            hops = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
            for hop in reversed([hop for hop in hops if hop]):
                if not self._trusted(hop):
                    environ["REMOTE_ADDR"] = hop
                    break
            scheme = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if scheme in {"http", "https"}:
                environ["wsgi.url_scheme"] = scheme
        return self.app(environ, start_response)


def _vary_on_origin(response: Response) -> Response:
    # CORS headers depend on the Origin, so shared caches must key on it too.
    response.vary.add("Origin")
    return response


def init_app(app: Flask) -> None:
    networks = [
        ipaddress.ip_network(entry, strict=False) for entry in app.config["TRUSTED_PROXIES"]
    ]
    if networks:
        app.wsgi_app = TrustedProxies(app.wsgi_app, networks)  # type: ignore[method-assign]
    if app.config["CORS_ORIGINS"]:
        app.after_request(_vary_on_origin)
    CORS(
        app,
        origins=app.config["CORS_ORIGINS"],
        expose_headers=EXPOSED_HEADERS,
        allow_headers=ALLOWED_REQUEST_HEADERS,
        max_age=600,
        vary_header=True,
    )
