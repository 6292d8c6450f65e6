"""The HTTP layer under `Client`: credentials, retries, idempotency keys, the ETag cache
and refreshing an expired access token."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from . import __version__
from .errors import ConnectionFailed, error_for, retry_after_seconds
from .models import TokenPair
from .retries import RETRIED_STATUSES, RetryPolicy

API_PREFIX = "/api/v1"
CACHE_ENTRIES = 256
Files = Mapping[str, tuple[str, bytes, str]]


def api_root(base_url: str) -> str:
    """The server's root URL, whether or not `base_url` ends in /api/v1.

    Example:
        >>> api_root("http://127.0.0.1:8000/api/v1/")
        'http://127.0.0.1:8000'
    """
    return base_url.rstrip("/").removesuffix(API_PREFIX).rstrip("/")


class ApiSession:
    """Sends requests: adds credentials, retries what is safe to retry, revalidates GETs
    against the bodies it holds, and trades a refresh token for new tokens on a 401."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        on_tokens: Callable[[TokenPair], None] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        if api_key and token:
            raise ValueError("Give api_key or token, not both.")
        self.root = api_root(base_url)
        self.api_key = api_key
        self.token = token
        self.refresh_token = refresh_token
        self.on_tokens = on_tokens
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.rng = random.Random()  # noqa: S311 - jitter, not a secret
        self.http = httpx.Client(
            base_url=self.root,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": f"potluck-client/{__version__}"},
        )
        # (url, Accept, credentials) -> the last 200 with an ETag; LRU-bounded.
        self._held: OrderedDict[tuple[str, str, str], httpx.Response] = OrderedDict()
        self.revalidated = 0
        """How many GETs a 304 answered from a held body."""

    def close(self) -> None:
        """Close the connections. Example: ``session.close()``"""
        self.http.close()

    def url(self, path: str) -> str:
        """An absolute URL for an API path ("/recipes") or a server path ("/media/…").

        Example:
            >>> ApiSession("http://127.0.0.1:8000").url("/recipes")
            'http://127.0.0.1:8000/api/v1/recipes'
        """
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith(("/media/", API_PREFIX)):
            return self.root + path
        return self.root + API_PREFIX + path

    def set_tokens(self, tokens: TokenPair) -> None:
        """Use a token pair from now on (and tell `on_tokens`).

        Example:
            >>> session.set_tokens(TokenPair(access_token, refresh_token))
        """
        self.api_key = None
        self.token = tokens.access_token
        self.refresh_token = tokens.refresh_token
        if self.on_tokens:
            self.on_tokens(tokens)

    def _authorization(self) -> str | None:
        secret = self.api_key or self.token
        return f"Bearer {secret}" if secret else None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        files: Files | None = None,
        headers: Mapping[str, str] | None = None,
        authorization: str | None = None,
        refresh: bool = True,
    ) -> httpx.Response:
        """Send one request (with its retries) and return a successful answer, else raise
        the PotluckError for it. GETs are revalidated against a held copy: a 304 gives the
        held answer back.

        Example:
            >>> session.request("GET", "/recipes", params={"q": "soup"}).json()["total"]
            3
        """
        sent = dict(headers or {})
        content = None
        if body is not None:
            # Serialized once, so every retry sends the same bytes under the same key.
            content = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if method == "POST":
            sent.setdefault("Idempotency-Key", str(uuid.uuid4()))
        response = self._send(method, path, params, content, files, sent, authorization)
        if (
            response.status_code == 401
            and refresh
            and authorization is None
            and self.refresh_token
            and not self.api_key
        ):
            self.refresh()
            response = self._send(method, path, params, content, files, sent, None)
        if response.status_code >= 400:
            raise error_for(response)
        return response

    def refresh(self) -> TokenPair:
        """Trade the refresh token for a new pair (the old refresh token stops working).

        Example:
            >>> session.refresh().access_token
        """
        answer = self.request(
            "POST",
            "/tokens/refresh",
            authorization=f"Bearer {self.refresh_token}",
            refresh=False,
        )
        tokens = TokenPair.from_json(answer.json())
        self.set_tokens(tokens)
        return tokens

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        files: Files | None,
        headers: dict[str, str],
        authorization: str | None,
    ) -> httpx.Response:
        url = self.url(path)
        if authorization is None and url.startswith(self.root + "/"):
            authorization = self._authorization()  # never to another host (a cover's origin)
        if authorization:
            headers["Authorization"] = authorization
        request = self.http.build_request(
            method, url, params=params, content=content, files=files, headers=headers
        )
        request.read()  # a multipart body in memory, so a retry can send it again
        key = (str(request.url), request.headers.get("Accept", ""), authorization or "")
        held = self._held.get(key) if method == "GET" else None
        if held is not None:
            request.headers["If-None-Match"] = held.headers["ETag"]
        response = self._send_with_retries(request)
        if held is not None and response.status_code == 304:
            self._held.move_to_end(key)
            self.revalidated += 1
            return held
        if method == "GET" and response.status_code == 200 and "ETag" in response.headers:
            # The server marks every answer to a signed-in request no-store, to keep shared
            # caches from it; this cache is in memory, per client, and always revalidates.
            self._held[key] = response
            while len(self._held) > CACHE_ENTRIES:
                self._held.popitem(last=False)
        return response

    def _send_with_retries(self, request: httpx.Request) -> httpx.Response:
        slept = 0.0
        retry = 0
        while True:
            try:
                response = self.http.send(request)
                response.read()
            except httpx.TransportError as failure:
                wait = self.retry.delay(retry, None, slept, self.rng)
                if wait is None or not self._may_resend(request, failure):
                    raise ConnectionFailed(f"{type(failure).__name__}: {failure}") from failure
            else:
                if response.status_code not in RETRIED_STATUSES:
                    return response
                wait = self.retry.delay(retry, retry_after_seconds(response), slept, self.rng)
                if wait is None:
                    return response
            self.sleep(wait)
            slept += wait
            retry += 1

    @staticmethod
    def _may_resend(request: httpx.Request, failure: httpx.TransportError) -> bool:
        # A refresh token works once: resending one the server may have taken would look
        # like theft and end every session, so only a request never sent is tried again.
        if request.url.path.endswith("/tokens/refresh"):
            return isinstance(failure, httpx.ConnectError)
        return True
