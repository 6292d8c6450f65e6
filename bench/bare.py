"""The second ceiling: a bare WSGI callable, no framework, served by the same server with the
same settings as hello.py: the limit of Python on this server."""

from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"hello":"world"}\n'  # what hello.py answers, byte for byte
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
