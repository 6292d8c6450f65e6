"""`Client`: the Potluck API as Python methods, typed models and exceptions."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

import httpx

from .accounts import AccountMethods
from .models import TokenPair
from .recipes import RecipeMethods
from .retries import RetryPolicy
from .session import ApiSession


class Client(AccountMethods, RecipeMethods):
    """A client for one Potluck server, signed in with an API key or a token (or neither,
    for public reads). Use it as a context manager, or call `close()`.

    Example:
        >>> with Client("http://127.0.0.1:8000", api_key="pk_...") as client:
        ...     soup = client.create_recipe(name="Tomato Soup", ingredients=["1 kg tomatoes"])
        ...     client.publish(soup.id)

    Every POST carries a fresh `Idempotency-Key`, reused by its retries, so a retry never
    writes twice. Connection errors, 429 and 503 are retried as `retry` says, waiting what
    `Retry-After` asks (`sleep` does the waiting; tests pass their own). Edits send
    `If-Match` with the ETag this client last read, so an edit made meanwhile by someone
    else is a `PreconditionFailed` instead of being overwritten. A GET this client made
    before is revalidated with `If-None-Match`, and a 304 reuses the body it holds. With a
    `refresh_token`, a 401 trades it for new tokens once (passed to `on_tokens`) and retries.

    A PATCH, PUT or DELETE whose answer was lost and that is sent again can then find its
    own change and be refused with `PreconditionFailed`: read the recipe again to see.
    """

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
        self.session = ApiSession(
            base_url,
            api_key=api_key,
            token=token,
            refresh_token=refresh_token,
            on_tokens=on_tokens,
            retry=retry,
            sleep=sleep,
            transport=transport,
            timeout=timeout,
        )
        self._etags: dict[int, str] = {}

    @property
    def base_url(self) -> str:
        """The server's root URL. Example: ``Client("http://h:8000/api/v1").base_url == "http://h:8000"``"""
        return self.session.root

    @property
    def revalidated(self) -> int:
        """How many GETs a 304 answered from a body this client held.

        Example:
            >>> client.recipe(51); client.recipe(51); client.revalidated
            1
        """
        return self.session.revalidated

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections. Example: ``client.close()``"""
        self.session.close()
